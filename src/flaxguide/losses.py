"""The two terms of the VAE loss, per example, in nats."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


# --8<-- [start:kl]
def kl_divergence(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, I)) for each example, summed over latent dimensions."""
    # $D_{KL} = -\frac{1}{2} \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$
    return -0.5 * jnp.sum(1.0 + logvar - mean**2 - jnp.exp(logvar), axis=-1)
    # --8<-- [end:kl]


# --8<-- [start:reconstruction]
def reconstruction_loss(logits: jax.Array, x: jax.Array) -> jax.Array:
    """-log p(x | z, c) for each example: sigmoid cross-entropy summed over the 784 pixels.

    `x` holds pixel intensities in [0, 1], used as (soft) Bernoulli targets.
    """
    # Optax computes this from logits with log-sigmoid, which stays finite where
    # log(sigmoid(logits)) would underflow to -inf.
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), axis=-1)
    # --8<-- [end:reconstruction]
