"""Chapter 4: the first training loop of the VAE, with parameters and
optimiser state apart.

The chapter builds it in three steps: a jitted step, a whole epoch in one
`jit`, and a loop that evaluates after each epoch. The loop that `python -m
flaxguide train` runs ([`fit`][flaxguide.training.loop.fit]) is the same idea
with everything carried in one `TrainState`.

Each piece has a Flax NNX twin (`init_nnx_training`, `create_nnx_train_step`,
...), where the model and its `nnx.Optimizer` hold their arrays and the steps
update them in place. From the same parameters and keys, the two train to the
same bits.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

# plain text: tqdm.auto warns in notebooks without widgets
from tqdm import tqdm

from flaxguide.config import Config, seed_for
from flaxguide.model import nnx as nnx_models
from flaxguide.model.linen import VAE, build_model
from flaxguide.model.loss import make_loss_fn, make_nnx_loss_fn
from flaxguide.training.epoch import create_eval_step, scan_epoch


# --8<-- [start:train_step]
def create_train_step(
    model: VAE, optimiser: optax.GradientTransformation, kl_weight: float
):
    """A jitted `train_step(params, opt_state, images, labels, key)`.

    The model, the optimiser and the KL weight are closed over, so only
    arrays cross the `jit` boundary and the step compiles once.
    """
    loss_fn = make_loss_fn(model, kl_weight)

    @jax.jit
    def train_step(params, opt_state, images, labels, key):
        grads, metrics = jax.grad(loss_fn, has_aux=True)(
            params, images, labels, key
        )
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    return train_step


# --8<-- [end:train_step]


# --8<-- [start:train_epoch]
def create_train_epoch(
    model: VAE,
    optimiser: optax.GradientTransformation,
    kl_weight: float,
    batch_size: int,
):
    """A jitted `train_epoch(params, opt_state, images, labels, key)`: a
    whole epoch in one call.

    `scan_epoch` shuffles the data on the device and runs every
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
        carry, metrics = scan_epoch(
            step, carry, images, labels, shuffle_key, step_key, batch_size
        )
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
def train_and_evaluate(
    config: Config, train, test, *, progress: bool = True
):
    """Train for `config.epochs` epochs; evaluate on `test` after each.
    Returns params, history.

    `train` and `test` are `(images, labels)` pairs from `prepare`.
    """
    key = jax.random.key(seed_for(config, "train"))
    key, init_key = jax.random.split(key)
    model, params, optimiser, opt_state = init_training(config, init_key)
    train_epoch = create_train_epoch(
        model, optimiser, config.kl_weight, config.batch_size
    )
    eval_step = create_eval_step(model)

    history = []
    bar = tqdm(
        range(1, config.epochs + 1), desc="epochs", disable=not progress
    )
    for epoch in bar:
        key, epoch_key, eval_key = jax.random.split(key, 3)
        start = time.perf_counter()
        params, opt_state, metrics = train_epoch(
            params, opt_state, *train, epoch_key
        )
        # waits for the epoch: the timing is honest
        metrics = jax.device_get(metrics)
        seconds = time.perf_counter() - start
        test_metrics = jax.device_get(eval_step(params, *test, eval_key))
        row = {"epoch": epoch, "seconds": round(seconds, 3)}
        row |= {f"train_{k}": float(np.mean(v)) for k, v in metrics.items()}
        row |= {f"test_{k}": float(v) for k, v in test_metrics.items()}
        history.append(row)
        bar.set_postfix(
            loss=f"{row['train_loss']:.2f}",
            test_nelbo=f"{row['test_nelbo']:.2f}",
        )
    return model, params, history


# --8<-- [end:train_and_evaluate]


# --8<-- [start:nnx_train_step]
def create_nnx_train_step(kl_weight: float):
    """A jitted `train_step(model, optimizer, images, labels, key) ->
    metrics` for NNX.

    The model and the `nnx.Optimizer` are arguments, not closed over: they
    hold the arrays that change, and the step updates them in place. Only the
    KL weight is fixed.
    """
    loss_fn = make_nnx_loss_fn(kl_weight)

    @nnx.jit
    def train_step(
        model: nnx.Module, optimizer: nnx.Optimizer, images, labels, key
    ):
        # Differentiates with respect to the model's nnx.Params (argument 0).
        grads, metrics = nnx.grad(loss_fn, has_aux=True)(
            model, images, labels, key
        )
        # Adam's update, written into the model
        optimizer.update(model, grads)
        return metrics

    return train_step


# --8<-- [end:nnx_train_step]


# --8<-- [start:nnx_eval_step]
def create_nnx_eval_step():
    """A jitted `eval_step(model, images, labels, key)`: the negative ELBO
    (KL weight 1)."""
    loss_fn = make_nnx_loss_fn(kl_weight=1.0)

    @nnx.jit
    def eval_step(model: nnx.Module, images, labels, key):
        _, metrics = loss_fn(model, images, labels, key)
        return {
            "nelbo": metrics["loss"],
            "rec": metrics["rec"],
            "kl": metrics["kl"],
        }

    return eval_step


# --8<-- [end:nnx_eval_step]


# --8<-- [start:nnx_train_epoch]
def create_nnx_train_epoch(kl_weight: float, batch_size: int):
    """A jitted `train_epoch(model, optimizer, images, labels, key) ->
    metrics`: a whole epoch.

    The step updates objects in place, while `lax.scan` threads its carry as
    a value: the carry is the state of the model and optimizer (`nnx.split`),
    each step rebuilds the objects from it (`nnx.merge`) and returns their
    new state, and the last one is written back into them.
    """
    train_step = create_nnx_train_step(kl_weight)

    @nnx.jit
    def train_epoch(
        model: nnx.Module, optimizer: nnx.Optimizer, images, labels, key
    ):
        graphdef, state = nnx.split((model, optimizer))

        def step(state, images, labels, key):
            model, optimizer = nnx.merge(graphdef, state)
            metrics = train_step(model, optimizer, images, labels, key)
            return nnx.state((model, optimizer)), metrics

        shuffle_key, step_key = jax.random.split(key)
        state, metrics = scan_epoch(
            step, state, images, labels, shuffle_key, step_key, batch_size
        )
        nnx.update((model, optimizer), state)
        return metrics  # (num_steps,) arrays

    return train_epoch


# --8<-- [end:nnx_train_epoch]


# --8<-- [start:nnx_init]
def init_nnx_training(config: Config, key: jax.Array):
    """The NNX model, built with its parameters, and an `nnx.Optimizer`
    holding Adam's state."""
    model = nnx_models.VAE(config, rngs=nnx.Rngs(params=key))
    optimizer = nnx.Optimizer(
        model, optax.adam(config.learning_rate), wrt=nnx.Param
    )
    return model, optimizer


# --8<-- [end:nnx_init]


# --8<-- [start:nnx_train_and_evaluate]
def nnx_train_and_evaluate(
    config: Config, train, test, *, progress: bool = True
):
    """`train_and_evaluate` for the NNX model: the same loop and the same
    keys, with the model and optimizer updated in place. Returns the trained
    model and the history."""
    key = jax.random.key(seed_for(config, "train"))
    key, init_key = jax.random.split(key)
    model, optimizer = init_nnx_training(config, init_key)
    train_epoch = create_nnx_train_epoch(config.kl_weight, config.batch_size)
    eval_step = create_nnx_eval_step()

    history = []
    bar = tqdm(
        range(1, config.epochs + 1), desc="epochs", disable=not progress
    )
    for epoch in bar:
        key, epoch_key, eval_key = jax.random.split(key, 3)
        start = time.perf_counter()
        metrics = jax.device_get(
            train_epoch(model, optimizer, *train, epoch_key)
        )
        seconds = time.perf_counter() - start
        test_metrics = jax.device_get(eval_step(model, *test, eval_key))
        row = {"epoch": epoch, "seconds": round(seconds, 3)}
        row |= {f"train_{k}": float(np.mean(v)) for k, v in metrics.items()}
        row |= {f"test_{k}": float(v) for k, v in test_metrics.items()}
        history.append(row)
        bar.set_postfix(
            loss=f"{row['train_loss']:.2f}",
            test_nelbo=f"{row['test_nelbo']:.2f}",
        )
    return model, history


# --8<-- [end:nnx_train_and_evaluate]


# --8<-- [start:nnx_generate]
def nnx_generate(
    model: nnx.Module,
    key: jax.Array,
    labels: jax.Array,
    temperature: float = 1.0,
):
    """`generate` for the NNX model: the decoder is a method."""
    z = temperature * jax.random.normal(
        key, (labels.shape[0], model.latent_dim)
    )
    return jax.nn.sigmoid(model.decode(z, labels)).reshape(-1, 28, 28)


# --8<-- [end:nnx_generate]
