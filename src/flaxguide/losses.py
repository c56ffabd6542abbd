"""The VAE loss: its two terms per example, in nats, and the loss of a
batch."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from flaxguide.data import binarize, to_unit
from flaxguide.models import VAE


# --8<-- [start:kl]
def kl_divergence(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) for each example, summed over
    latent dimensions."""
    # $D_{KL} = -\frac{1}{2} \sum_j (1 + \log\sigma_j^2 - \mu_j^2 -
    # \sigma_j^2)$
    return -0.5 * jnp.sum(1.0 + logvar - mean**2 - jnp.exp(logvar), axis=-1)
    # --8<-- [end:kl]


# --8<-- [start:reconstruction]
def reconstruction_loss(logits: jax.Array, x: jax.Array) -> jax.Array:
    """-log p(x | z, c) for each example: sigmoid cross-entropy summed over
    the 784 pixels.

    `x` holds pixel intensities in [0, 1], used as (soft) Bernoulli targets.
    """
    # Optax computes this from logits with log-sigmoid, which stays finite
    # where log(sigmoid(logits)) would underflow to -inf.
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), axis=-1)
    # --8<-- [end:reconstruction]


# --8<-- [start:targets]
def targets(
    images: jax.Array, key: jax.Array, binary: bool
) -> tuple[jax.Array, jax.Array]:
    """The pixels the likelihood scores (binary ones drawn afresh if
    `binary`, else the grey levels), and the key that is left for z."""
    if not binary:
        return to_unit(images), key  # grey levels: the key is untouched
    pixel_key, key = jax.random.split(key)
    return binarize(pixel_key, images), key
    # --8<-- [end:targets]


# --8<-- [start:loss_fn]
def make_loss_fn(
    model: VAE, kl_weight: float, binarize: bool = False
) -> Callable:
    """`loss_fn(params, images, labels, key) -> (loss, metrics)` for one
    batch.

    With `binarize`, the targets are 0s and 1s drawn afresh from the pixel
    intensities (part of the key goes to the draw); otherwise the grey levels
    themselves.
    """

    def loss_fn(params, images, labels, key):
        x, key = targets(images, key, binarize)
        logits, mean, logvar = model.apply(params, x, labels, key)
        rec = reconstruction_loss(logits, x).mean()
        kl = kl_divergence(mean, logvar).mean()
        # The beta-VAE objective; kl_weight = 1 is the negative ELBO.
        loss = rec + kl_weight * kl
        return loss, {"loss": loss, "rec": rec, "kl": kl}

    return loss_fn
    # --8<-- [end:loss_fn]
