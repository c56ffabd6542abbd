"""Binarised MNIST and the importance-weighted estimate of log p(x): numbers
a reader can put beside the VAE literature's.

A Bernoulli likelihood is a density over images whose pixels are 0 or 1.
Grey-level targets in [0, 1] give a number that is neither a bound on log
p(x) nor comparable with published results, so the model is scored on
**binarised** images, and with the importance-weighted estimate of Burda,
Grosse & Salakhutdinov (2015) rather than the ELBO alone:

$$\\log p(x \\mid c) \\approx \\log \\frac{1}{k} \\sum_{i=1}^{k}
\\frac{p(x \\mid z_i, c)\\, p(z_i)}{q(z_i \\mid x, c)}, \\qquad z_i \\sim q(z
\\mid x, c),$$

a lower bound that rises towards log p(x | c) as k grows (k = 1 is the ELBO).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from flaxguide.data import to_unit
from flaxguide.model.linen import VAE


# --8<-- [start:log_weights]
def _log_normal(x: jax.Array, mean, logvar) -> jax.Array:
    """log N(x; mean, exp(logvar)), summed over the last axis."""
    return -0.5 * jnp.sum(
        math.log(2 * math.pi) + logvar + (x - mean) ** 2 / jnp.exp(logvar),
        -1,
    )


def vae_log_weights(
    model: VAE, params, x: jax.Array, c: jax.Array
) -> Callable:
    """`log_weights(key, n) -> (n, B)`: n importance log weights for each of
    the B images.

    log w = log p(x | z, c) + log p(z) - log q(z | x, c), with z drawn from
    q(z | x, c).

    Args:
        model: the `VAE`.
        params (dict): its variables.
        x: `(B, 784)` float pixels, 0s and 1s.
        c: `(B,)` integer classes.

    Returns:
        `log_weights`: its `(n, B)` log weights are in nats.
    """
    # (B, D) each
    mean, logvar = model.apply(params, x, c, method=VAE.encode)

    def log_weights(key: jax.Array, n: int) -> jax.Array:
        eps = jax.random.normal(key, (n, *mean.shape))
        z = mean[None] + jnp.exp(0.5 * logvar)[None] * eps  # (n, B, D)
        flat_z = z.reshape(-1, mean.shape[-1])
        logits = model.apply(
            params, flat_z, jnp.tile(c, n), method=VAE.decode
        )
        logits = logits.reshape(n, *x.shape)  # (n, B, 784)
        # log p(x | z, c): Bernoulli, the negative of the reconstruction
        # loss, per image.
        log_px = -jnp.sum(
            optax.sigmoid_binary_cross_entropy(logits, x[None]), axis=-1
        )
        # log p(z), p = N(0, I)
        log_pz = _log_normal(z, 0.0, jnp.zeros_like(z))
        log_qz = _log_normal(z, mean[None], logvar[None])  # log q(z | x, c)
        return log_px + log_pz - log_qz

    return log_weights


# --8<-- [end:log_weights]


# --8<-- [start:iwae]
def iwae(
    log_weights: Callable, key: jax.Array, k: int, chunk: int
) -> jax.Array:
    """log (1/k) sum_i w_i for each image, drawing the k weights `chunk` at a
    time.

    Memory holds one chunk, whatever k: a running log-sum-exp adds each
    chunk's weights in. Call it inside `jax.jit`; `k` must be a multiple of
    `chunk`.

    Args:
        log_weights: `log_weights(key, n) -> (n, B)`, e.g. from
            `vae_log_weights`.
        key: the random key of the draws.
        k: importance samples per image.
        chunk: samples drawn at a time.

    Returns:
        `(B,)` estimates, in nats: log p(x | c) for `vae_log_weights`.

    Raises:
        ValueError: `k` is not a multiple of `chunk`.
    """
    if k % chunk:
        raise ValueError(f"k ({k}) must be a multiple of chunk ({chunk})")

    def add(total, key):
        # log(e^total + sum_i e^{log w_i}), computed without leaving
        # float32's range.
        return jnp.logaddexp(
            total, jax.nn.logsumexp(log_weights(key, chunk), axis=0)
        ), None

    first = jax.nn.logsumexp(log_weights(key, chunk), axis=0)
    keys = jax.random.split(jax.random.fold_in(key, 1), k // chunk - 1)
    total, _ = jax.lax.scan(add, first, keys)
    return total - math.log(k)


# --8<-- [end:iwae]


# --8<-- [start:log_likelihood]
def create_log_likelihood(
    model: VAE, k: int, chunk: int = 100, extra: int = 0
):
    """A jitted `log_likelihood(params, x, key, guess) -> (log p(x), log p(x
    | c) for every c)`.

    `x` holds B binary images; the second result has shape (B, num_classes).
    The class is marginalised with its uniform prior: log p(x) = log (1/C)
    sum_c p(x | c), which is what the literature's unconditional numbers
    measure. Each class gets `k` importance samples, and the class `guess`
    names for each image (shape (B,), e.g. a classifier's reading) gets
    `extra` more: nearly all of p(x) lies in one class, so that is where
    samples pay.

    Args:
        model: the `VAE`.
        k: importance samples per image and class.
        chunk: samples drawn at a time; it must divide `k`.
        extra: more samples for each image's guessed class; 0 for none.

    Returns:
        (Callable): `log_likelihood`, whose results are in nats: `(B,)`
            log p(x) and `(B, num_classes)` log p(x | c).
    """

    @jax.jit
    def log_likelihood(params, x, key, guess=None):
        def given(c, key):
            labels = jnp.full((x.shape[0],), c, jnp.int32)
            return iwae(
                vae_log_weights(model, params, x, labels), key, k, chunk
            )

        classes = jnp.arange(model.num_classes)
        # One class at a time (lax.map, not vmap): memory holds one class's
        # chunk of decodes.
        keys = jax.random.split(key, classes.size)
        # (B, C)
        per_class = jax.lax.map(lambda args: given(*args), (classes, keys)).T
        if extra:  # (without extra, guess is not read and may be None)
            # a stream of its own
            more_key = jax.random.fold_in(key, classes.size)
            log_weights = vae_log_weights(model, params, x, guess)
            more = iwae(log_weights, more_key, extra, math.gcd(extra, chunk))
            # The guessed class's k + extra weights pooled: still the mean of
            # i.i.d. weights, so still unbiased for p(x | c), because the
            # guess never saw these draws.
            own = jnp.take_along_axis(per_class, guess[:, None], axis=1)[
                :, 0
            ]
            pooled = jnp.logaddexp(own + math.log(k), more + math.log(extra))
            pooled = pooled - math.log(k + extra)
            per_class = jnp.where(
                classes[None] == guess[:, None], pooled[:, None], per_class
            )
        return jax.nn.logsumexp(per_class, axis=1) - math.log(
            model.num_classes
        ), per_class

    return log_likelihood


# --8<-- [end:log_likelihood]


# --8<-- [start:estimate_by_k]
def estimate_by_k(
    model: VAE,
    params,
    test,
    key: jax.Array,
    ks=(1, 10, 100, 1000, 5000),
    images: int = 100,
) -> list[dict]:
    """The mean of -log p(x | c) over the first `images` test images (each
    with its own class), estimated with each k in `ks`: k = 1 is the ELBO,
    and the estimate falls as k grows, towards the true value.

    Args:
        model: the `VAE`.
        params (dict): its variables, e.g. `state.ema_params`.
        test (tuple): `(images, labels)`: `(N, 784)` binarised uint8
            images (0 and 255) and `(N,)` int32 labels.
        key: the random key of the samples, the same for every k.
        ks (Sequence[int]): the numbers of importance samples to try.
        images: how many test images, from the first.

    Returns:
        One dict per k, in order: `{"k": k, "nll_conditional": nats}`,
            rounded to 3 decimals.
    """
    x, labels = to_unit(test[0][:images]), test[1][:images]
    log_weights = vae_log_weights(model, params, x, labels)
    rows = []
    for k in ks:
        estimate = jax.jit(
            lambda key, k=k: iwae(log_weights, key, k, math.gcd(k, 100))
        )(key)
        rows.append(
            {"k": k, "nll_conditional": round(-float(estimate.mean()), 3)}
        )
    return rows


# --8<-- [end:estimate_by_k]
