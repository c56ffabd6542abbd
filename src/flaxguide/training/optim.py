"""The optimiser of the final training loop: a schedule, clipping, Adam,
chained."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from flaxguide.config import Config


# --8<-- [start:schedule]
def learning_rate_schedule(
    config: Config, steps_per_epoch: int
) -> optax.Schedule:
    """Linear warmup from 0 to `config.learning_rate`, then cosine decay to
    1% of it.

    Args:
        config: the run's `Config`: its `learning_rate`, `warmup_epochs`
            and `epochs`.
        steps_per_epoch: training steps per epoch.

    Returns:
        The schedule: the learning rate as a function of the step.
    """
    warmup = config.warmup_epochs * steps_per_epoch
    # at least one step of decay
    total = max(config.epochs * steps_per_epoch, warmup + 1)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=warmup,  # 1. warm up
        decay_steps=total,  # 2. decay over the rest of the run
        end_value=0.01 * config.learning_rate,  # 3. end low, not at zero
    )


# --8<-- [end:schedule]


# --8<-- [start:optimiser]
def make_optimiser(
    config: Config, steps_per_epoch: int
) -> optax.GradientTransformation:
    """Clip the global gradient norm, then Adam with the learning-rate
    schedule.

    `inject_hyperparams` keeps the current learning rate in the optimiser
    state, where the training loop can read and log it.

    Args:
        config: the run's `Config`: `schedule`, `learning_rate` and
            `clip_norm`.
        steps_per_epoch: training steps per epoch, for the schedule.

    Returns:
        The optimiser; Adam alone if `config.clip_norm` is `None`, at a
            constant `config.learning_rate` if `config.schedule` is
            `"constant"`.
    """
    if config.schedule == "warmup_cosine":
        learning_rate = learning_rate_schedule(config, steps_per_epoch)
    else:
        learning_rate = config.learning_rate
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)
    if config.clip_norm is None:
        return adam
    # Order matters: clip the raw gradient, before Adam rescales it per
    # coordinate.
    return optax.chain(optax.clip_by_global_norm(config.clip_norm), adam)


# --8<-- [end:optimiser]


# --8<-- [start:current_learning_rate]
def current_learning_rate(opt_state):
    """The learning rate of the latest update, from the `inject_hyperparams`
    state."""
    # The schedule keeps a state named `learning_rate` too, so look up the
    # unique `hyperparams`.
    return optax.tree.get(opt_state, "hyperparams")["learning_rate"]


# --8<-- [end:current_learning_rate]


# --8<-- [start:ema_update]
def ema_update(ema_params, params, step, decay: float):
    """The EMA of the parameters after `step` updates, given the new
    `params`."""
    # Early on, average over the steps so far rather than over 1 / (1 -
    # decay) of them, so the average does not drag the random initial
    # parameters along for thousands of steps.
    beta = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    # $\bar\theta \leftarrow \beta \bar\theta + (1 - \beta) \theta$: an
    # average of the parameters themselves. (`optax.ema` chained into the
    # optimiser would average the updates.)
    return optax.incremental_update(params, ema_params, 1.0 - beta)


# --8<-- [end:ema_update]
