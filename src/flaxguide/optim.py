"""The optimiser of the final training loop: a schedule, clipping, Adam,
chained."""

from __future__ import annotations

import optax

from flaxguide.config import Config


# --8<-- [start:schedule]
def learning_rate_schedule(
    config: Config, steps_per_epoch: int
) -> optax.Schedule:
    """Linear warmup from 0 to `config.learning_rate`, then cosine decay to
    1% of it."""
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
