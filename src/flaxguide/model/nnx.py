"""The class-conditioned VAE as a Flax NNX module, and moving parameters
between it and Linen.

The same layers as the Linen [`VAE`][flaxguide.model.linen.VAE], computed
the same way; the difference is where the parameters live: an NNX module
holds them (as `nnx.Param`), the way a PyTorch module does, while a Linen
module is a stateless description applied to a separate tree.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from flaxguide.config import Config
from flaxguide.model.precision import product_options


# --8<-- [start:feedforward]
class FeedForward(nnx.Module):
    """Dense layers with a ReLU between them (and after the last, unless
    `drop_last_activation`)."""

    def __init__(
        self,
        in_features: int,
        dims: Sequence[int],
        *,
        rngs: nnx.Rngs,
        drop_last_activation=False,
        dtype=jnp.float32,
    ):
        sizes = (in_features, *dims)
        # NNX needs the input size up front: it creates the parameters here,
        # not at first call. (`dtype`: what the layers compute in; their
        # parameters stay float32.)
        self.layers = nnx.List(
            [
                nnx.Linear(
                    i,
                    o,
                    dtype=dtype,
                    param_dtype=jnp.float32,
                    **product_options(dtype, "nnx"),
                    rngs=rngs,
                )
                for i, o in itertools.pairwise(sizes)
            ]
        )
        self.drop_last_activation = drop_last_activation

    def __call__(self, x: jax.Array) -> jax.Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if not (self.drop_last_activation and i == len(self.layers) - 1):
                x = jax.nn.relu(x)
        return x


# --8<-- [end:feedforward]


# --8<-- [start:vae]
class VAE(nnx.Module):
    """The CVAE of chapter 4, as an NNX module: encoder and decoder see the
    class as one-hot. It computes in `config.precision` (its parameters are
    float32); evaluation reads its parameters into the float32 Linen
    model."""

    def __init__(self, config: Config, *, rngs: nnx.Rngs):
        self.num_classes, self.latent_dim = (
            config.num_classes,
            config.latent_dim,
        )
        dtype = jnp.dtype(config.precision)
        self.encoder = FeedForward(
            784 + config.num_classes,
            config.encoder_dims,
            rngs=rngs,
            dtype=dtype,
        )
        # One layer emits both halves of q(z | x, c): no activation, they may
        # be negative.
        self.to_latent = nnx.Linear(
            config.encoder_dims[-1],
            2 * config.latent_dim,
            dtype=dtype,
            param_dtype=jnp.float32,
            **product_options(dtype, "nnx"),
            rngs=rngs,
        )
        decoder_in = config.latent_dim + config.num_classes
        self.decoder = FeedForward(
            decoder_in,
            config.decoder_dims,
            rngs=rngs,
            drop_last_activation=True,
            dtype=dtype,
        )

    def one_hot(self, c: jax.Array) -> jax.Array:
        return jax.nn.one_hot(c, self.num_classes)

    def encode(
        self, x: jax.Array, c: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        h = self.encoder(jnp.concatenate([x, self.one_hot(c)], axis=-1))
        # (B, latent_dim) each, float32 whatever the layers computed in: the
        # KL and the sampling of z need it
        stats = self.to_latent(h).astype(jnp.float32)
        mean, logvar = jnp.split(stats, 2, axis=-1)
        return mean, logvar

    def decode(self, z: jax.Array, c: jax.Array) -> jax.Array:
        # (B, 784) logits, float32 for the likelihood's sums
        h = self.decoder(jnp.concatenate([z, self.one_hot(c)], axis=-1))
        return h.astype(jnp.float32)

    def __call__(self, x: jax.Array, c: jax.Array, key: jax.Array):
        mean, logvar = self.encode(x, c)
        # z = mu + sigma * eps, eps ~ N(0, I): the key is passed in, as in
        # the Linen model, so both draw the same eps from the same key.
        z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
        return self.decode(z, c), mean, logvar


# --8<-- [end:vae]


# --8<-- [start:from_linen]
def _layers(model: VAE) -> dict[str, nnx.Linear]:
    """Each dense layer of `model`, under the path its Linen twin has in
    `variables["params"]`."""
    stacks = (("encoder", model.encoder), ("decoder", model.decoder))
    layers = {
        f"{name}/Dense_{i}": layer
        for name, s in stacks
        for i, layer in enumerate(s.layers)
    }
    return layers | {"to_latent": model.to_latent}


def from_linen(config: Config, variables: dict) -> VAE:
    """An NNX `VAE` holding the parameters of a Linen `VAE`'s `variables`
    (`{"params": ...}`).

    Both store a dense layer's kernel as `(in_features, out_features)`, so
    the arrays move over unchanged; a shape that differs (another config) is
    an error naming the layer.

    Args:
        config: the `Config` the Linen model was built from.
        variables: the Linen model's variables, `{"params": ...}`.

    Returns:
        A new NNX `VAE` holding those parameters.

    Raises:
        ValueError: the layers differ, or a kernel or bias has another
            shape than the NNX model's.
    """
    model = VAE(config, rngs=nnx.Rngs(0))
    linen = {
        top if "kernel" in layers else f"{top}/{name}"
        for top, layers in variables["params"].items()
        for name in layers
    }
    if linen != set(_layers(model)):
        raise ValueError(
            f"the Linen parameters have the layers {sorted(linen)}, the NNX "
            f"model {sorted(_layers(model))}; build both from one config"
        )
    for path, layer in _layers(model).items():
        source = variables["params"]
        for part in path.split("/"):
            source = source[part]
        for name in ("kernel", "bias"):
            target = getattr(layer, name)
            if target.get_value().shape != source[name].shape:
                raise ValueError(
                    f"{path}/{name}: the Linen parameters have shape "
                    f"{source[name].shape}, "
                    f"the NNX model {target.get_value().shape}; "
                    "build both from the same config"
                )
            target.set_value(jnp.asarray(source[name]))
    return model


def to_linen(model: VAE) -> dict:
    """The parameters of an NNX `VAE` as the `variables` of the Linen `VAE`
    of the same config.

    Args:
        model: the NNX `VAE`.

    Returns:
        `{"params": ...}`, the Linen layout, holding the model's arrays.
    """
    params: dict = {}
    for path, layer in _layers(model).items():
        *parents, leaf = path.split("/")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = {
            name: getattr(layer, name).get_value()
            for name in ("kernel", "bias")
        }
    return {"params": params}


# --8<-- [end:from_linen]
