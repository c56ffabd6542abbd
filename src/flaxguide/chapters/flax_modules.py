"""Chapter 2: Flax modules, the two ways to write them, and
PyTorch-compatible initialisation.

[`Model`][flaxguide.chapters.flax_modules.Model] and
[`ModelCompact`][flaxguide.chapters.flax_modules.ModelCompact] are the same
layer written with `setup` and with `nn.compact`;
[`NNXModel`][flaxguide.chapters.flax_modules.NNXModel] is that layer in Flax
NNX, holding its parameters. The `torch_*` helpers give a Flax `Dense` (or an
NNX `Linear`) the default initialisation of `torch.nn.Linear`, or copy a
trained `torch.nn.Linear` across.

Example:
    ```python
    import jax
    import jax.numpy as jnp

    from flaxguide.chapters.flax_modules import torch_like_dense

    layer = torch_like_dense(256, 64)
    params = layer.init(jax.random.key(0), jnp.zeros((1, 256)))["params"]
    # Both kernel and bias lie in (-1/16, 1/16): 1/sqrt(256) = 0.0625.
    print({k: round(float(jnp.abs(p).max()), 4) for k, p in params.items()})
    ```

    ```text title="Output"
    {'kernel': 0.0625, 'bias': 0.0608}
    ```
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import nnx
from jax.nn.initializers import Initializer

if TYPE_CHECKING:
    import torch


# --8<-- [start:setup]
class Model(nn.Module):
    """A dense layer followed by an activation, written with `setup`.

    `setup` declares the submodules once; every method can then use them,
    which is what a module with several entry points (an encoder's `encode`
    and `decode`, say) needs.
    """

    dim: int
    activation_fn: Callable[[jax.Array], jax.Array] = nn.relu

    def setup(self) -> None:
        self.layer = nn.Dense(self.dim)

    def pre_activation(self, x: jax.Array) -> jax.Array:
        """The layer's output before the activation: a second method sharing
        `self.layer`."""
        return self.layer(x)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.activation_fn(self.pre_activation(x))


# --8<-- [end:setup]


# --8<-- [start:compact]
class ModelCompact(nn.Module):
    """The same layer as `Model`, declared inline with
    `nn.compact`."""

    dim: int
    activation_fn: Callable[[jax.Array], jax.Array] = nn.relu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # Unnamed, the submodule would be called "Dense_0"; naming it "layer"
        # gives the exact parameter tree of `Model`, so the two can share
        # parameters.
        x = nn.Dense(self.dim, name="layer")(x)
        return self.activation_fn(x)


# --8<-- [end:compact]


# --8<-- [start:nnx_model]
class NNXModel(nnx.Module):
    """The layer of `Model`, written with Flax NNX.

    `__init__` builds the layer and, with it, its parameters, as a PyTorch
    module does: the layer needs its input size up front, and `rngs` supplies
    the keys of the initialisers.
    """

    def __init__(
        self,
        in_features: int,
        dim: int,
        *,
        rngs: nnx.Rngs,
        activation_fn: Callable[[jax.Array], jax.Array] = nnx.relu,
    ):
        self.layer = nnx.Linear(in_features, dim, rngs=rngs)
        self.activation_fn = activation_fn

    def pre_activation(self, x: jax.Array) -> jax.Array:
        """The layer's output before the activation."""
        return self.layer(x)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.activation_fn(self.pre_activation(x))


# --8<-- [end:nnx_model]


# --8<-- [start:torch_init]
def torch_linear_kernel_init() -> Initializer:
    """The default weight initialisation of `torch.nn.Linear`, for a Flax
    kernel.

    PyTorch draws the weight with `kaiming_uniform_(w, a=sqrt(5))`: gain
    `sqrt(2 / (1 + 5))`, standard deviation `gain / sqrt(fan_in)`, and bound
    `sqrt(3) * std = 1 / sqrt(fan_in)`. A uniform distribution of variance
    `scale / fan_in` has bound `sqrt(3 * scale / fan_in)`, hence `scale =
    1/3`.
    """
    return nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def torch_linear_bias_init(fan_in: int) -> Initializer:
    """The default bias initialisation of `torch.nn.Linear`:
    `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`.

    The bound depends on the layer's input size `fan_in`, which a bias
    initialiser cannot see (it only gets the bias shape), so it is passed in.
    """
    bound = 1 / math.sqrt(fan_in)

    def init(
        key: jax.Array,
        shape: tuple[int, ...],
        dtype: jax.typing.DTypeLike = jnp.float32,
    ) -> jax.Array:
        return jax.random.uniform(
            key, shape, dtype, minval=-bound, maxval=bound
        )

    return init


def torch_like_dense(in_features: int, out_features: int) -> nn.Dense:
    """A Flax `Dense` initialised like `torch.nn.Linear(in_features,
    out_features)`.

    Its parameters have the layout of any `nn.Dense` (`kernel` of shape
    `(in_features, out_features)` and `bias`); only their initial
    distribution changes.
    """
    return nn.Dense(
        out_features,
        kernel_init=torch_linear_kernel_init(),
        bias_init=torch_linear_bias_init(in_features),
    )


# --8<-- [end:torch_init]


# --8<-- [start:nnx_torch_init]
def torch_like_linear(
    in_features: int, out_features: int, *, rngs: nnx.Rngs
) -> nnx.Linear:
    """An NNX `Linear` initialised like `torch.nn.Linear(in_features,
    out_features)`.

    NNX layers take the same initialisers as Linen's, and build their
    parameters at once.
    """
    return nnx.Linear(
        in_features,
        out_features,
        kernel_init=torch_linear_kernel_init(),
        bias_init=torch_linear_bias_init(in_features),
        rngs=rngs,
    )


# --8<-- [end:nnx_torch_init]


# --8<-- [start:from_torch]
def dense_params_from_torch(
    linear: torch.nn.Linear,
) -> dict[str, dict[str, jax.Array]]:
    """The variables of a Flax `Dense` holding the weights of a
    `torch.nn.Linear`.

    PyTorch stores the weight as `(out_features, in_features)` and computes
    `x @ W.T + b`; Flax stores the kernel as `(in_features, out_features)`
    and computes `x @ kernel + bias`. So the kernel is the transposed weight.
    """
    # (out_features, in_features)
    weight = linear.weight.detach().cpu().numpy()
    bias = linear.bias.detach().cpu().numpy()  # (out_features,)
    return {
        "params": {
            "kernel": jnp.asarray(weight.T),
            "bias": jnp.asarray(bias),
        }
    }


# --8<-- [end:from_torch]


# --8<-- [start:nnx_from_torch]
def linear_from_torch(linear: torch.nn.Linear) -> nnx.Linear:
    """An NNX `Linear` holding the weights of a `torch.nn.Linear`.

    Its `kernel` has the layout of a Linen `Dense` kernel, `(in_features,
    out_features)`, so the arrays of `dense_params_from_torch` fit it as they
    are.
    """
    # The initial values are overwritten at once; any key will do.
    layer = nnx.Linear(
        linear.in_features, linear.out_features, rngs=nnx.Rngs(0)
    )
    nnx.update(layer, dense_params_from_torch(linear)["params"])
    return layer


# --8<-- [end:nnx_from_torch]
