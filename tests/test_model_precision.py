"""bfloat16 compute with float32 parameters: the product, the layers, both models."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from flaxguide.chapters.debugging import dot_operand_types
from flaxguide.config import ConfigError, get_config
from flaxguide.model import nnx as nnx_models
from flaxguide.model.linen import build_model
from flaxguide.model.precision import bf16_dot_general, product_options

BF16 = jnp.bfloat16


def test_the_product_is_a_float32_accumulated_bfloat16_product(key):
    kx, kw, kg = jax.random.split(key, 3)
    x = jax.random.normal(kx, (3, 64, 96)).astype(BF16)  # any leading axes
    w = jax.random.normal(kw, (96, 48))
    cotangent = jax.random.normal(kg, (3, 64, 48))

    def product(dot_general, x, w):
        y = dot_general(x, w, (((2,), (0,)), ((), ())))
        return jnp.sum(y.astype(jnp.float32) * cotangent), y

    (_, y), (dx, dw) = jax.value_and_grad(
        lambda x, w: product(bf16_dot_general, x, w), argnums=(0, 1), has_aux=True
    )(x, w)
    assert (y.dtype, dx.dtype, dw.dtype) == (BF16, BF16, jnp.float32)

    # The same products in float32 on the same bfloat16 values.
    x32, w32 = x.astype(jnp.float32), w.astype(BF16).astype(jnp.float32)
    np.testing.assert_allclose(y.astype(jnp.float32), x32 @ w32, rtol=1e-2, atol=1e-1)
    g = cotangent.astype(BF16).astype(jnp.float32)
    np.testing.assert_allclose(dx.astype(jnp.float32), g @ w32.T, rtol=1e-2, atol=1e-1)
    expected_dw = jnp.einsum("bik,bin->kn", x32, g)
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-3, atol=1e-2)


def test_the_product_refuses_what_is_not_a_dense_layers(key):
    x, w = jnp.ones((4, 8), BF16), jnp.ones((4, 8))
    with pytest.raises(ValueError, match="a dense layer's product"):
        bf16_dot_general(x, w, (((0,), (0,)), ((), ())))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the mend is for XLA's CPU backend")
def test_on_a_cpu_every_product_of_a_bfloat16_layer_takes_bfloat16_operands(key):
    # A dense layer's forward product and the two of its backward pass. Flax's own bfloat16
    # layer leaves XLA running the weight's gradient on operands converted back to float32;
    # with the options the guide's models use, all three read bfloat16 and accumulate in
    # float32.
    x = jax.random.normal(key, (128, 794)).astype(BF16)

    def products(layer):
        params = layer.init(key, x)

        def loss(params, x):
            return jnp.sum(layer.apply(params, x).astype(jnp.float32) ** 2)

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return dot_operand_types(grad.lower(params, x).compile().as_text())

    plain = products(nn.Dense(512, dtype=BF16, param_dtype=jnp.float32))
    mended = products(
        nn.Dense(512, dtype=BF16, param_dtype=jnp.float32, **product_options(BF16, "linen"))
    )
    assert plain == {"bf16 x bf16 -> bf16": 2, "f32 x f32 -> f32": 1}
    assert mended == {"bf16 x bf16 -> f32": 3}


def test_float32_needs_no_options_and_float16_is_refused():
    assert product_options(jnp.float32, "linen") == {}
    with pytest.raises(ValueError, match="not float16"):
        product_options(jnp.float16, "nnx")
    with pytest.raises(ConfigError, match="precision must be 'float32' or 'bfloat16'"):
        get_config("quick", precision="float16")


def cosine(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("api", ["linen", "nnx"])
def test_a_bfloat16_model_keeps_float32_parameters_and_returns_float32(api, key):
    config = get_config("quick", precision="bfloat16")
    x = jax.random.uniform(key, (16, 784))
    c = jnp.arange(16) % 10
    if api == "linen":
        model32, model16 = build_model(config), build_model(config, "bfloat16")
        params = model32.init(key, x, c, key)

        def outputs(model, params):
            return model.apply(params, x, c, key)

    else:
        model16 = nnx_models.VAE(config, rngs=nnx.Rngs(0))
        graph16, params = nnx.split(model16)
        graph32, _ = nnx.split(nnx_models.VAE(get_config("quick"), rngs=nnx.Rngs(0)))

        def outputs(graph, params):
            return nnx.merge(graph, params)(x, c, key)

        model32, model16 = graph32, graph16
    assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
    out16, out32 = outputs(model16, params), outputs(model32, params)
    # logits, mean and log-variance: float32 for the loss and the KL, close to float32's
    assert [o.dtype for o in out16] == [jnp.float32] * 3
    for a, b in zip(out16, out32, strict=True):
        assert cosine(a, b) > 0.9999

    def loss(model, params):
        logits, mean, logvar = outputs(model, params)
        return jnp.mean(logits**2) + jnp.mean(mean**2 + logvar**2)

    grads16 = jax.grad(lambda p: loss(model16, p))(params)
    grads32 = jax.grad(lambda p: loss(model32, p))(params)
    assert {leaf.dtype for leaf in jax.tree.leaves(grads16)} == {jnp.dtype(jnp.float32)}
    for a, b in zip(jax.tree.leaves(grads16), jax.tree.leaves(grads32), strict=True):
        assert cosine(a, b) > 0.99
