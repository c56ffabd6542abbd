"""Chapter 4: the first training loop of the VAE, with parameters and optimiser state apart.

The chapter builds it in three steps: a jitted step, a whole epoch in one `jit`, and a loop
that evaluates after each epoch. The loop that `python -m flaxguide train` runs
([`fit`][flaxguide.train.fit]) is the same idea with everything carried in one `TrainState`.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm  # plain text: tqdm.auto warns in notebooks without widgets

from flaxguide.config import Config, seed_for
from flaxguide.losses import make_loss_fn
from flaxguide.models import VAE, build_model
from flaxguide.steps import create_eval_step, scan_epoch


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


# --8<-- [start:train_epoch]
def create_train_epoch(
    model: VAE, optimiser: optax.GradientTransformation, kl_weight: float, batch_size: int
):
    """A jitted `train_epoch(params, opt_state, images, labels, key)`: a whole epoch in one call.

    [`scan_epoch`][flaxguide.steps.scan_epoch] shuffles the data on the device and runs every
    step under `lax.scan`; the carry is the pair `(params, opt_state)`.
    """
    train_step = create_train_step(model, optimiser, kl_weight)

    def step(carry, images, labels, key):
        params, opt_state, metrics = train_step(*carry, images, labels, key)
        return (params, opt_state), metrics

    @jax.jit
    def train_epoch(params, opt_state, images, labels, key):
        shuffle_key, step_key = jax.random.split(key)
        carry = (params, opt_state)
        carry, metrics = scan_epoch(step, carry, images, labels, shuffle_key, step_key, batch_size)
        return *carry, metrics  # metrics: (num_steps,) arrays

    return train_epoch
    # --8<-- [end:train_epoch]


# --8<-- [start:init]
def init_training(config: Config, key: jax.Array):
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

    `train` and `test` are `(images, labels)` pairs from [`prepare`][flaxguide.data.prepare].
    """
    key = jax.random.key(seed_for(config, "train"))
    key, init_key = jax.random.split(key)
    model, params, optimiser, opt_state = init_training(config, init_key)
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
