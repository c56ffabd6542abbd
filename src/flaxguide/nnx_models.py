"""The class-conditioned VAE as a Flax NNX module, and moving trained Linen parameters into it.

The same layers as the Linen [`VAE`][flaxguide.models.VAE], computed the same way; the
difference is where the parameters live: an NNX module holds them (as `nnx.Param`), the way a
PyTorch module does, while a Linen module is a stateless description applied to a separate tree.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from flaxguide.config import Config
from flaxguide.data import to_unit
from flaxguide.losses import kl_divergence, reconstruction_loss
from flaxguide.steps import scan_epoch


class FeedForward(nnx.Module):
    """Dense layers with a ReLU between them (and after the last, unless `drop_last_activation`)."""

    def __init__(
        self, in_features: int, dims: Sequence[int], *, rngs: nnx.Rngs, drop_last_activation=False
    ):
        sizes = (in_features, *dims)
        self.layers = nnx.List([nnx.Linear(i, o, rngs=rngs) for i, o in itertools.pairwise(sizes)])
        self.drop_last_activation = drop_last_activation

    def __call__(self, x: jax.Array) -> jax.Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if not (self.drop_last_activation and i == len(self.layers) - 1):
                x = jax.nn.relu(x)
        return x


class VAE(nnx.Module):
    """The CVAE of chapter 4, as an NNX module: encoder and decoder see the class as one-hot."""

    def __init__(self, config: Config, *, rngs: nnx.Rngs):
        self.num_classes, self.latent_dim = config.num_classes, config.latent_dim
        self.encoder = FeedForward(784 + config.num_classes, config.encoder_dims, rngs=rngs)
        # One layer emits both halves of q(z | x, c): no activation, they may be negative.
        self.to_latent = nnx.Linear(config.encoder_dims[-1], 2 * config.latent_dim, rngs=rngs)
        decoder_in = config.latent_dim + config.num_classes
        self.decoder = FeedForward(
            decoder_in, config.decoder_dims, rngs=rngs, drop_last_activation=True
        )

    def one_hot(self, c: jax.Array) -> jax.Array:
        return jax.nn.one_hot(c, self.num_classes)

    def encode(self, x: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = self.encoder(jnp.concatenate([x, self.one_hot(c)], axis=-1))
        mean, logvar = jnp.split(self.to_latent(h), 2, axis=-1)  # (B, latent_dim) each
        return mean, logvar

    def decode(self, z: jax.Array, c: jax.Array) -> jax.Array:
        return self.decoder(jnp.concatenate([z, self.one_hot(c)], axis=-1))  # (B, 784) logits

    def __call__(self, x: jax.Array, c: jax.Array, key: jax.Array):
        mean, logvar = self.encode(x, c)
        # z = mu + sigma * eps, eps ~ N(0, I): the key is passed in, as in the Linen model, so
        # both draw the same eps from the same key.
        z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
        return self.decode(z, c), mean, logvar


def from_linen(config: Config, variables: dict) -> VAE:
    """An NNX `VAE` holding the parameters of a Linen `VAE`'s `variables` (`{"params": ...}`).

    Both store a dense layer's kernel as `(in_features, out_features)`, so the arrays move over
    unchanged; a shape that differs (another config) is an error naming the layer.
    """
    model = VAE(config, rngs=nnx.Rngs(0))
    params = variables["params"]
    layers = {
        f"{name}/Dense_{i}": layer
        for name, stack in (("encoder", model.encoder), ("decoder", model.decoder))
        for i, layer in enumerate(stack.layers)
    } | {"to_latent": model.to_latent}
    for path, layer in layers.items():
        source = params
        for part in path.split("/"):
            source = source[part]
        for name in ("kernel", "bias"):
            target = getattr(layer, name)
            if target.get_value().shape != source[name].shape:
                raise ValueError(
                    f"{path}/{name}: the Linen parameters have shape {source[name].shape}, "
                    f"the NNX model {target.get_value().shape}; build both from the same config"
                )
            target.set_value(jnp.asarray(source[name]))
    return model


def create_nnx_epoch(graphdef: nnx.GraphDef, kl_weight: float, batch_size: int):
    """A jitted `train_epoch(state, images, labels, key) -> (state, metrics)` for NNX.

    `graphdef, state = nnx.split((model, optimizer))` separates the Python objects from their
    arrays: inside the jitted epoch each step merges them back, takes a step the NNX way
    (`nnx.value_and_grad`, `optimizer.update`), and splits the arrays out again, so the carry of
    [`scan_epoch`][flaxguide.steps.scan_epoch] is an ordinary pytree.
    """

    def loss_fn(model: VAE, images, labels, key):
        x = to_unit(images)
        logits, mean, logvar = model(x, labels, key)
        rec = reconstruction_loss(logits, x).mean()
        kl = kl_divergence(mean, logvar).mean()
        loss = rec + kl_weight * kl  # the beta-VAE objective, as in `make_loss_fn`
        return loss, {"loss": loss, "rec": rec, "kl": kl}

    def step(state, images, labels, key):
        model, optimizer = nnx.merge(graphdef, state)
        grads, metrics = nnx.grad(loss_fn, has_aux=True)(model, images, labels, key)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), metrics

    @jax.jit
    def train_epoch(state, images, labels, key):
        shuffle_key, step_key = jax.random.split(key)
        return scan_epoch(step, state, images, labels, shuffle_key, step_key, batch_size)

    return train_epoch
