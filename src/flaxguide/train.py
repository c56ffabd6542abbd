"""Train and evaluate the VAE: step functions, a whole epoch in one `jit`, and the loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from flaxguide.config import Config
from flaxguide.losses import kl_divergence, reconstruction_loss
from flaxguide.models import VAE, build_model


# --8<-- [start:prepare]
def prepare(images: np.ndarray, labels: np.ndarray) -> tuple[jax.Array, jax.Array]:
    """Put a whole split on the device once: uint8 pixels `(N, 784)` and int32 labels `(N,)`.

    uint8 keeps the training set at 47 MB; batches become floats inside the step.
    """
    return jnp.asarray(images.reshape(len(images), -1)), jnp.asarray(labels, dtype=jnp.int32)


def to_unit(images: jax.Array) -> jax.Array:
    """uint8 pixels to floats in [0, 1]; float input is taken to be in [0, 1] already."""
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) / 255.0
    return images.astype(jnp.float32)
    # --8<-- [end:prepare]


# --8<-- [start:loss_fn]
def make_loss_fn(model: VAE, kl_weight: float) -> Callable:
    """`loss_fn(params, images, labels, key) -> (loss, metrics)` for one batch."""

    def loss_fn(params, images, labels, key):
        x = to_unit(images)
        logits, mean, logvar = model.apply(params, x, labels, key)
        rec = reconstruction_loss(logits, x).mean()
        kl = kl_divergence(mean, logvar).mean()
        # The beta-VAE objective; kl_weight = 1 is the negative ELBO.
        loss = rec + kl_weight * kl
        return loss, {"loss": loss, "rec": rec, "kl": kl}

    return loss_fn
    # --8<-- [end:loss_fn]


# --8<-- [start:train_step]
def create_train_step(model: VAE, optimiser: optax.GradientTransformation, kl_weight: float):
    """A jitted `train_step(params, opt_state, images, labels, key)`.

    The model, the optimiser and the KL weight are closed over, so only arrays cross the `jit`
    boundary and the step compiles once.
    """
    loss_fn = make_loss_fn(model, kl_weight)

    @jax.jit
    def train_step(params, opt_state, images, labels, key):
        grads, metrics = jax.grad(loss_fn, has_aux=True)(params, images, labels, key)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    return train_step
    # --8<-- [end:train_step]


# --8<-- [start:eval_step]
def create_eval_step(model: VAE):
    """A jitted `eval_step(params, images, labels, key)`: the negative ELBO (KL weight 1)."""
    loss_fn = make_loss_fn(model, kl_weight=1.0)

    @jax.jit
    def eval_step(params, images, labels, key):
        _, metrics = loss_fn(params, images, labels, key)
        return {"nelbo": metrics["loss"], "rec": metrics["rec"], "kl": metrics["kl"]}

    return eval_step
    # --8<-- [end:eval_step]


# --8<-- [start:train_epoch]
def create_train_epoch(
    model: VAE, optimiser: optax.GradientTransformation, kl_weight: float, batch_size: int
):
    """A jitted `train_epoch(params, opt_state, images, labels, key)`: a whole epoch in one call.

    The data already lives on the device; the epoch shuffles it there and runs every step under
    `lax.scan`, so Python is not in the loop at all. A last partial batch is dropped.
    """
    step = create_train_step(model, optimiser, kl_weight)

    @jax.jit
    def train_epoch(params, opt_state, images, labels, key):
        perm_key, step_key = jax.random.split(key)
        num_steps = images.shape[0] // batch_size
        perm = jax.random.permutation(perm_key, images.shape[0])
        batches = perm[: num_steps * batch_size].reshape(num_steps, batch_size)

        def body(carry, inputs):
            params, opt_state = carry
            idx, key = inputs
            params, opt_state, metrics = step(params, opt_state, images[idx], labels[idx], key)
            return (params, opt_state), metrics

        keys = jax.random.split(step_key, num_steps)
        (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), (batches, keys))
        return params, opt_state, metrics  # metrics: (num_steps,) arrays

    return train_epoch
    # --8<-- [end:train_epoch]


# --8<-- [start:init]
def create_state(config: Config, key: jax.Array):
    """The model, its initial parameters, the optimiser and its state."""
    model = build_model(config)
    init_key, call_key = jax.random.split(key)
    x = jnp.zeros((1, 784), jnp.float32)
    c = jnp.zeros((1,), jnp.int32)
    params = model.init(init_key, x, c, call_key)
    optimiser = optax.adam(config.learning_rate)
    return model, params, optimiser, optimiser.init(params)
    # --8<-- [end:init]


# --8<-- [start:train_and_evaluate]
def train_and_evaluate(config: Config, train, test, *, progress: bool = True):
    """Train for `config.epochs` epochs; evaluate on `test` after each. Returns params, history.

    `train` and `test` are `(images, labels)` pairs from [`prepare`][flaxguide.train.prepare].
    """
    key = jax.random.key(config.seed)
    key, init_key = jax.random.split(key)
    model, params, optimiser, opt_state = create_state(config, init_key)
    train_epoch = create_train_epoch(model, optimiser, config.kl_weight, config.batch_size)
    eval_step = create_eval_step(model)

    history = []
    bar = tqdm(range(1, config.epochs + 1), desc="epochs", disable=not progress)
    for epoch in bar:
        key, epoch_key, eval_key = jax.random.split(key, 3)
        start = time.perf_counter()
        params, opt_state, metrics = train_epoch(params, opt_state, *train, epoch_key)
        metrics = jax.device_get(metrics)  # waits for the epoch: the timing is honest
        seconds = time.perf_counter() - start
        test_metrics = jax.device_get(eval_step(params, *test, eval_key))
        row = {"epoch": epoch, "seconds": round(seconds, 3)}
        row |= {f"train_{k}": float(np.mean(v)) for k, v in metrics.items()}
        row |= {f"test_{k}": float(v) for k, v in test_metrics.items()}
        history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.2f}", test_nelbo=f"{row['test_nelbo']:.2f}")
    return model, params, history
    # --8<-- [end:train_and_evaluate]
