"""The final training loop's state: Flax's `TrainState`, extended with an EMA
and the key."""

from __future__ import annotations

from typing import Any, Self

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from flaxguide.config import Config
from flaxguide.models import build_model
from flaxguide.optim import make_optimiser


# --8<-- [start:train_state]
class TrainState(train_state.TrainState):
    """Parameters, optimiser state and step (from Flax), plus an EMA of the
    parameters and the PRNG key, so that one pytree is the whole state of a
    run: save it, and you can resume."""

    ema_params: Any
    key: jax.Array
    ema_decay: float = struct.field(pytree_node=False, default=0.999)

    def apply_gradients(self, *, grads, **kwargs) -> Self:
        state = super().apply_gradients(grads=grads, **kwargs)
        ema = ema_update(
            self.ema_params, state.params, state.step, self.ema_decay
        )
        return state.replace(ema_params=ema)

    # --8<-- [end:train_state]


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


# --8<-- [start:create_train_state]
def create_train_state(
    config: Config, key: jax.Array, steps_per_epoch: int
) -> TrainState:
    """A fresh state for `config`: initial parameters, optimiser, EMA and
    key."""
    model = build_model(config)
    init_key, call_key, key = jax.random.split(key, 3)
    params = model.init(
        init_key, jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), call_key
    )
    return TrainState.create(
        apply_fn=model.apply,
        params=params,
        tx=make_optimiser(config, steps_per_epoch),
        ema_params=params,
        key=key,
        ema_decay=config.ema_decay,
    )
    # --8<-- [end:create_train_state]
