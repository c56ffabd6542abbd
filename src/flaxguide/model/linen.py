"""The class-conditioned VAE: a feed-forward stack, the model, and sampling
from it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from flaxguide.model.precision import product_options


# --8<-- [start:feedforward]
class FeedForward(nn.Module):
    """Dense layers with an activation between them (and, optionally, after
    the last)."""

    dimensions: Sequence[int] = (256, 128, 64)
    activation_fn: Callable[[jax.Array], jax.Array] = nn.relu
    drop_last_activation: bool = False
    # what the layers compute in (their parameters stay float32)
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, dim in enumerate(self.dimensions):
            x = nn.Dense(
                dim,
                dtype=self.dtype,
                param_dtype=jnp.float32,
                **product_options(self.dtype, "linen"),
            )(x)
            is_last = i == len(self.dimensions) - 1
            if not (is_last and self.drop_last_activation):
                x = self.activation_fn(x)
        return x


# --8<-- [end:feedforward]


# --8<-- [start:vae]
class VAE(nn.Module):
    """A VAE whose encoder and decoder both see the class label, as a one-hot
    vector."""

    encoder_dims: Sequence[int] = (512, 256)
    decoder_dims: Sequence[int] = (256, 512, 784)
    latent_dim: int = 32
    num_classes: int = 10
    dtype: Any = jnp.float32  # what the layers compute in (chapter 6)

    def setup(self):
        self.encoder = FeedForward(self.encoder_dims, dtype=self.dtype)
        # One layer emits both halves of q(z | x, c): no activation, they may
        # be negative.
        self.to_latent = nn.Dense(
            2 * self.latent_dim,
            dtype=self.dtype,
            param_dtype=jnp.float32,
            **product_options(self.dtype, "linen"),
        )
        # The decoder's last layer emits logits, so it must not end in a
        # ReLU.
        self.decoder = FeedForward(
            self.decoder_dims, drop_last_activation=True, dtype=self.dtype
        )

    def encode(
        self, x: jax.Array, c: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        h = self.encoder(jnp.concatenate([x, self.one_hot(c)], axis=-1))
        # (B, latent_dim) each, float32 whatever the layers computed in: the
        # KL and the sampling of z need it
        stats = self.to_latent(h).astype(jnp.float32)
        mean, logvar = jnp.split(stats, 2, axis=-1)
        return mean, logvar

    def reparam(
        self, mean: jax.Array, logvar: jax.Array, key: jax.Array
    ) -> jax.Array:
        eps = jax.random.normal(key, mean.shape)
        # z = mu + sigma * eps, eps ~ N(0, I)
        return mean + jnp.exp(0.5 * logvar) * eps

    def decode(self, z: jax.Array, c: jax.Array) -> jax.Array:
        # (B, 784) logits, float32 for the likelihood's sums
        h = self.decoder(jnp.concatenate([z, self.one_hot(c)], axis=-1))
        return h.astype(jnp.float32)

    def __call__(
        self, x: jax.Array, c: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean, logvar = self.encode(x, c)
        z = self.reparam(mean, logvar, key)
        return self.decode(z, c), mean, logvar

    def one_hot(self, c: jax.Array) -> jax.Array:
        return jax.nn.one_hot(c, self.num_classes)


# --8<-- [end:vae]


# --8<-- [start:build_model]
def build_model(config, precision: str = "float32") -> VAE:
    """The model a `Config` describes, computing in `precision`.

    Training builds it in `config.precision`; evaluation leaves the default,
    float32. The parameters are float32 either way, so one set serves both.

    Args:
        config (Config): the run's config; its layer sizes, `latent_dim` and
            `num_classes` are read.
        precision: `"float32"` or `"bfloat16"`, what the layers compute in.

    Returns:
        The `VAE`, without parameters: `model.init` makes them.
    """
    return VAE(
        config.encoder_dims,
        config.decoder_dims,
        config.latent_dim,
        config.num_classes,
        dtype=jnp.dtype(precision),
    )


# --8<-- [end:build_model]


# --8<-- [start:generate]
def generate(
    model: VAE,
    params,
    key: jax.Array,
    labels: jax.Array,
    temperature: float = 1.0,
) -> jax.Array:
    """Decode latents drawn from the prior N(0, T^2 I): `(len(labels), 28,
    28)` images in [0, 1].

    Args:
        model: the `VAE`.
        params (dict): its variables, as `model.init` returns them.
        key: the random key of the latents.
        labels: `(B,)` integer classes, one image each.
        temperature: T, the prior's standard deviation.

    Returns:
        `(B, 28, 28)` float32 pixel probabilities: the decoder's mean.
    """
    z = temperature * jax.random.normal(
        key, (labels.shape[0], model.latent_dim)
    )
    logits = model.apply(params, z, labels, method=VAE.decode)
    # the mean of p(x | z, c)
    return jax.nn.sigmoid(logits).reshape(-1, 28, 28)


# --8<-- [end:generate]
