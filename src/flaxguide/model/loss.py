"""The VAE loss: its two terms per example, in nats, and the loss of a
batch, written once for both Flax APIs."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from flaxguide.data import binarize, to_unit
from flaxguide.model.linen import VAE


# --8<-- [start:kl]
def kl_divergence(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) for each example, summed over
    latent dimensions.

    Args:
        mean: `(B, latent_dim)` means of q(z | x, c).
        logvar: `(B, latent_dim)` log-variances of q(z | x, c).

    Returns:
        `(B,)` KL divergences, in nats.
    """
    # $D_{KL} = -\frac{1}{2} \sum_j (1 + \log\sigma_j^2 - \mu_j^2 -
    # \sigma_j^2)$
    return -0.5 * jnp.sum(1.0 + logvar - mean**2 - jnp.exp(logvar), axis=-1)


# --8<-- [end:kl]


# --8<-- [start:reconstruction]
def reconstruction_loss(logits: jax.Array, x: jax.Array) -> jax.Array:
    """-log p(x | z, c) for each example: sigmoid cross-entropy summed over
    the 784 pixels.

    `x` holds pixel intensities in [0, 1], used as (soft) Bernoulli targets.

    Args:
        logits: `(B, 784)` decoder logits.
        x: `(B, 784)` float targets in `[0, 1]`.

    Returns:
        `(B,)` losses, in nats.
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


# --8<-- [start:batch_loss]
def batch_loss(
    forward: Callable, images, labels, key, kl_weight: float, binarize: bool
) -> tuple[jax.Array, dict]:
    """The loss of one batch and its parts, `(loss, {"loss", "rec", "kl"})`,
    given `forward(x, labels, key) -> (logits, mean, logvar)`.

    The one body of both APIs' losses: only how the model is called differs
    (a Linen model is applied to its parameters, an NNX model called).
    """
    x, key = targets(images, key, binarize)
    logits, mean, logvar = forward(x, labels, key)
    rec = reconstruction_loss(logits, x).mean()
    kl = kl_divergence(mean, logvar).mean()
    # The beta-VAE objective; kl_weight = 1 is the negative ELBO.
    loss = rec + kl_weight * kl
    return loss, {"loss": loss, "rec": rec, "kl": kl}


# --8<-- [end:batch_loss]


# --8<-- [start:loss_fn]
def make_loss_fn(
    model: VAE, kl_weight: float, binarize: bool = False
) -> Callable:
    """`loss_fn(params, images, labels, key) -> (loss, metrics)` for one
    batch.

    With `binarize`, the targets are 0s and 1s drawn afresh from the pixel
    intensities (part of the key goes to the draw); otherwise the grey levels
    themselves.

    Args:
        model: the `VAE`.
        kl_weight: the weight of the KL term; 1 gives the negative ELBO.
        binarize: score binary pixels drawn afresh, not the grey levels.

    Returns:
        `loss_fn`. Its `images` are `(B, 784)` uint8 (or float in
            `[0, 1]`), `labels` `(B,)` integers; `loss` and the metrics
            `"loss"`, `"rec"` and `"kl"` are scalar batch means, in nats.
    """

    def loss_fn(params, images, labels, key):
        # the stateless model, applied to the parameters being differentiated
        forward = functools.partial(model.apply, params)
        return batch_loss(forward, images, labels, key, kl_weight, binarize)

    return loss_fn


# --8<-- [end:loss_fn]


# --8<-- [start:nnx_loss_fn]
def make_nnx_loss_fn(kl_weight: float, binarize: bool = False) -> Callable:
    """`loss_fn(model, images, labels, key) -> (loss, metrics)`: the Linen
    loss, given the model.

    Where Linen's `loss_fn(params, ...)` applies a stateless model to a
    parameter tree, the NNX loss takes the model itself; `nnx.grad`
    differentiates with respect to its `nnx.Param`s.
    """

    def loss_fn(model, images, labels, key):
        # the model holds its parameters: calling it is the forward pass
        return batch_loss(model, images, labels, key, kl_weight, binarize)

    return loss_fn


# --8<-- [end:nnx_loss_fn]
