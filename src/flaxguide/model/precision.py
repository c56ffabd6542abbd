"""What a model computes in: float32, or bfloat16 with float32 parameters.

A Flax layer takes two dtypes: `param_dtype`, what its parameters are
stored in (float32 here, always: Adam's updates and the EMA are far below
bfloat16's resolution of a weight), and `dtype`, what it computes in. The
models set both;
[`product_options`][flaxguide.model.precision.product_options] adds what
bfloat16 needs on XLA's CPU backend.

XLA keeps a transpose as a view of the array it transposes, and its CPU
backend does not read every such view in bfloat16: of a dense layer's
backward products, the weight's gradient `x.T @ g` runs as a float32
product on converted operands, and the input's gradient `g @ w.T` does
too once it is asked to accumulate in float32. So the backward pass runs at
float32 speed.
[`bf16_dot_general`][flaxguide.model.precision.bf16_dot_general] gives both
products real row-major copies. And a bias added in bfloat16 has for
gradient a sum over the batch that XLA's CPU backend reduces slowly in
bfloat16; the bias is added in float32 instead.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from flaxguide.config import PRECISIONS


# --8<-- [start:matmul]
def _row_major_transpose(a: jax.Array) -> jax.Array:
    """`a.T` as a row-major copy: flattened behind an optimization barrier,
    so that XLA cannot keep it as a transposed view of `a`."""
    flat = jax.lax.optimization_barrier(a.T.reshape(-1))
    return flat.reshape(a.shape[::-1])


def _matmul_forward(x, w):
    # (B, K) bfloat16 @ (K, N) float32 kernel, cast here, accumulated in
    # float32, returned in bfloat16; the backward pass keeps the cast kernel
    w = w.astype(x.dtype)
    y = jnp.dot(x, w, preferred_element_type=jnp.float32).astype(x.dtype)
    return y, (x, w)


@jax.custom_vjp
def _matmul(x: jax.Array, w: jax.Array) -> jax.Array:
    return _matmul_forward(x, w)[0]


def _matmul_backward(saved, g):
    x, w = saved  # bfloat16, as the forward pass had them
    g = g.astype(x.dtype)
    # Both products on row-major operands, accumulated in float32; the
    # kernel's gradient stays float32, as the kernel is.
    dx = jnp.dot(
        g, _row_major_transpose(w), preferred_element_type=jnp.float32
    )
    dw = jnp.dot(
        _row_major_transpose(x), g, preferred_element_type=jnp.float32
    )
    return dx.astype(x.dtype), dw


_matmul.defvjp(_matmul_forward, _matmul_backward)
# --8<-- [end:matmul]


def bf16_dot_general(
    lhs: jax.Array,
    rhs: jax.Array,
    dimension_numbers: tuple,
    precision: object = None,
    preferred_element_type: object = None,
    out_sharding: object = None,
) -> jax.Array:
    """A dense layer's product `lhs @ rhs` in bfloat16 whose backward pass
    stays bfloat16 on XLA's CPU backend.

    A `dot_general` for `nn.Dense` and `nnx.Linear`, for the product they
    make: the inputs' last axis against the kernel's first. The kernel comes
    in float32 and is cast here, so that its gradient, accumulated in
    float32, comes back float32 without a round trip through bfloat16.

    Args:
        lhs: `(..., K)` bfloat16 inputs.
        rhs: `(K, N)` float32 kernel.
        dimension_numbers: `(((lhs.ndim - 1,), (0,)), ((), ()))`, as a
            dense layer passes them.
        precision: ignored: bfloat16 operands have one precision.
        preferred_element_type: `None`, or `lhs`'s dtype.
        out_sharding: `None`: the output is sharded as the inputs are.

    Returns:
        `(..., N)`, in `lhs`'s dtype.

    Raises:
        ValueError: another product than a dense layer's.
    """
    dense = (((lhs.ndim - 1,), (0,)), ((), ()))
    if (
        rhs.ndim != 2
        or dimension_numbers != dense
        or preferred_element_type not in (None, lhs.dtype)
        or out_sharding is not None
    ):
        raise ValueError(
            "bf16_dot_general makes a dense layer's product, (..., K) @ "
            f"(K, N); got {lhs.shape} @ {rhs.shape} with dimension numbers "
            f"{dimension_numbers}, preferred_element_type "
            f"{preferred_element_type}, out_sharding {out_sharding}"
        )
    # (..., K) -> (B, K) -> (B, N) -> (..., N)
    y = _matmul(lhs.reshape(-1, lhs.shape[-1]), rhs)
    return y.reshape(*lhs.shape[:-1], rhs.shape[1])


def _inputs_only(inputs, kernel, bias, dtype=None):
    """Linen's `promote_dtype`: only the inputs are cast to the layer's
    dtype; the kernel is cast in the product, the bias added in float32."""
    return inputs.astype(dtype), kernel, bias


def _inputs_only_nnx(arrays, dtype=None):
    """NNX's `promote_dtype`, which takes the three arrays as one tuple."""
    return _inputs_only(*arrays, dtype=dtype)


def product_options(dtype: jnp.dtype | type, api: str) -> dict:
    """What a dense layer computing in `dtype` needs besides `dtype` and
    `param_dtype`: nothing, but for bfloat16 on XLA's CPU backend.

    Args:
        dtype: the layer's computation dtype, float32 or bfloat16.
        api: `"linen"` (for `nn.Dense`) or `"nnx"` (for `nnx.Linear`), whose
            `promote_dtype` take their arrays differently.

    Returns:
        Keyword arguments for the layer: `{}`, or `dot_general` (see
            `bf16_dot_general`) and `promote_dtype` (which leaves the kernel
            and the bias float32).

    Raises:
        ValueError: `dtype` is neither float32 nor bfloat16.
    """
    name = jnp.dtype(dtype).name
    if name not in PRECISIONS:
        raise ValueError(
            f"a model computes in one of {PRECISIONS}, not {name}"
        )
    # What was measured slow, and mended, is XLA's CPU backend; elsewhere
    # the layer computes as Flax makes it.
    if name == "float32" or jax.default_backend() != "cpu":
        return {}
    promote = _inputs_only if api == "linen" else _inputs_only_nnx
    return {"dot_general": bf16_dot_general, "promote_dtype": promote}
