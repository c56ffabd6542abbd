"""One run, either API: where the code that trains a run chooses between
Linen and NNX.

A run's `config.api` picks its state class
([`TrainState`][flaxguide.state.TrainState] or
[`NNXTrainState`][flaxguide.nnx_train.NNXTrainState]); from then on the
state's type decides which epoch trains it. Everything that only reads a
trained model (evaluation, metrics, sampling, figures) sees the Linen layout:
[`as_linen`][flaxguide.apis.as_linen].
"""

from __future__ import annotations

import jax
import optax
from flax import nnx

from flaxguide.config import Config, seed_for
from flaxguide.finetune import FROZEN, create_finetune_epoch, finetune_state
from flaxguide.models import build_model
from flaxguide.nnx_models import from_linen, to_linen
from flaxguide.nnx_train import (
    NNXTrainState,
    create_nnx_state_epoch,
    create_nnx_train_state,
    nnx_finetune_state,
    nnx_state_around,
)
from flaxguide.state import TrainState, create_train_state
from flaxguide.steps import create_state_epoch


def initial_state(
    config: Config, steps_per_epoch: int
) -> TrainState | NNXTrainState:
    """A new run's first state, in the API `config.api` names, from the run's
    training seed."""
    key = jax.random.key(seed_for(config, "train"))
    if config.api == "nnx":
        return create_nnx_train_state(config, key, steps_per_epoch)
    return create_train_state(config, key, steps_per_epoch)


def finetuning_state(
    state, config: Config, steps_per_epoch: int, frozen=FROZEN
):
    """A finetuning run's first state from a trained `state`, in that state's
    own API."""
    if isinstance(state, NNXTrainState):
        return nnx_finetune_state(state, config, steps_per_epoch, frozen)
    return finetune_state(state, config, steps_per_epoch, frozen)


def from_linen_state(
    state: TrainState, config: Config, steps_per_epoch: int
) -> NNXTrainState:
    """A Linen `TrainState`'s parameters, EMA and key in a fresh NNX state (a
    new optimiser)."""
    ema = nnx.state(from_linen(config, state.ema_params))
    return nnx_state_around(
        from_linen(config, state.params),
        ema,
        state.key,
        config,
        steps_per_epoch,
    )


def create_epoch(
    config: Config, state, frozen: tuple[str, ...], batch_sharding=None
):
    """The jitted epoch for `state`'s API; a finetuning run never
    differentiates its frozen modules (see the finetuning page).
    `batch_sharding` spreads each batch over devices."""
    # the frozen modules are in the state
    if isinstance(state, NNXTrainState):
        return create_nnx_state_epoch(config, batch_sharding=batch_sharding)
    if frozen:
        return create_finetune_epoch(
            config, frozen, batch_sharding=batch_sharding
        )
    return create_state_epoch(config, batch_sharding=batch_sharding)


# --8<-- [start:as_linen]
def as_linen(
    state: NNXTrainState | TrainState, config: Config
) -> TrainState:
    """The parameters and EMA of an NNX state in the Linen layout, for
    evaluation and figures (a Linen `TrainState` is returned as it is).

    The Linen model computes exactly what the NNX model computes from the
    same arrays (tested bit for bit), so an NNX run is measured by the very
    code that measures a Linen run. The result has no optimiser: it is for
    reading, not for training.
    """
    if not isinstance(state, NNXTrainState):
        return state
    model, _ = state.objects()
    ema_model = nnx.merge(state.model_def, state.ema_params)
    return TrainState(
        step=state.step,
        apply_fn=build_model(config).apply,
        params=to_linen(model),
        tx=optax.identity(),
        opt_state=optax.EmptyState(),
        ema_params=to_linen(ema_model),
        key=state.key,
        ema_decay=state.ema_decay,
    )
    # --8<-- [end:as_linen]
