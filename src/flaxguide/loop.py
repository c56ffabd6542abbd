"""Chapter 1: the shape of a training loop in plain JAX, on a problem small enough to read."""

from __future__ import annotations

import jax
import jax.numpy as jnp

# The line the tiny regression problem hides behind its noise: y = x @ W_TRUE + B_TRUE.
W_TRUE = jnp.array([[2.0], [-3.0]])
B_TRUE = jnp.array([0.5])


# --8<-- [start:make_dataset]
def make_dataset(key: jax.Array, num_examples: int = 512) -> tuple[jax.Array, jax.Array]:
    """A noisy linear regression problem: `x` of shape `(N, 2)`, `y` of shape `(N, 1)`."""
    x_key, noise_key = jax.random.split(key)
    x = jax.random.normal(x_key, (num_examples, 2))
    noise = 0.1 * jax.random.normal(noise_key, (num_examples, 1))
    return x, x @ W_TRUE + B_TRUE + noise
    # --8<-- [end:make_dataset]
