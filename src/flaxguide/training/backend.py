"""The one place that knows there are two Flax APIs: each function here takes
a run's config or state and hands it to the Linen backend
([`flaxguide.training.linen`][flaxguide.training.linen]) or the NNX one
([`flaxguide.training.nnx`][flaxguide.training.nnx]).

A run's `config.api` picks its state class
([`TrainState`][flaxguide.training.linen.TrainState] or
[`NNXTrainState`][flaxguide.training.nnx.NNXTrainState]); from then on the
state's type decides which epoch trains it. Both states carry the modules a
finetuning run keeps frozen. Everything that only reads a trained model
(evaluation, metrics, sampling, figures) sees the Linen layout
([`as_linen`][flaxguide.training.backend.as_linen]), and a checkpoint sees
plain arrays ([`state_arrays`][flaxguide.training.backend.state_arrays]):
no other package imports an API's backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import nnx

from flaxguide.config import Config, seed_for
from flaxguide.training import linen
from flaxguide.training import nnx as nnx_backend
from flaxguide.training.linen import FROZEN, TrainState
from flaxguide.training.nnx import NNXTrainState

# a training state of either API
State = TrainState | NNXTrainState

# Each API's backend module, with the same four functions: `create_state`,
# `finetuning_state`, `create_epoch` and `as_linen`.
BACKENDS = {"linen": linen, "nnx": nnx_backend}


def _backend_of(state: State):
    """The backend module of `state`'s API."""
    return nnx_backend if isinstance(state, NNXTrainState) else linen


__all__ = [
    "BACKENDS",
    "FROZEN",
    "NNXTrainState",
    "State",
    "TrainState",
    "abstract_state",
    "as_linen",
    "create_epoch",
    "fill_state",
    "finetuning_state",
    "initial_state",
    "state_arrays",
]


def initial_state(config: Config, steps_per_epoch: int) -> State:
    """A new run's first state, in the API `config.api` names, from the run's
    training seed.

    Args:
        config: the run's `Config`.
        steps_per_epoch: training steps per epoch, for the schedule.

    Returns:
        A `TrainState` (Linen) or an `NNXTrainState`, at step 0.
    """
    key = jax.random.key(seed_for(config, "train"))
    return BACKENDS[config.api].create_state(config, key, steps_per_epoch)


def finetuning_state(
    state: State,
    config: Config,
    steps_per_epoch: int,
    frozen: Sequence[str] = FROZEN,
) -> State:
    """A finetuning run's first state from a trained `state`, in that state's
    own API, with the modules in `frozen` fixed."""
    return _backend_of(state).finetuning_state(
        state, config, steps_per_epoch, frozen
    )


def abstract_state(
    config: Config, steps_per_epoch: int, frozen: Sequence[str] = ()
) -> State:
    """The shapes and dtypes of a run's state (and its code: `apply_fn`, the
    optimiser, the NNX graphs), with no array computed: a checkpoint's
    restore target.

    `jax.eval_shape` traces the state's construction without running it, so
    no model is initialised and no optimiser state allocated only to be
    overwritten by the checkpoint's arrays.
    """

    def build() -> State:
        state = initial_state(config, steps_per_epoch)
        if frozen:
            state = finetuning_state(
                state, config, steps_per_epoch, tuple(frozen)
            )
        return state

    shapes = jax.eval_shape(build)
    # A typed key's implementation is part of its type, which restoring its
    # raw data needs: the key alone is made for real (two integers).
    return shapes.replace(key=jax.random.key(seed_for(config, "train")))


def create_epoch(config: Config, state: State, batch_sharding=None):
    """The jitted epoch for `state`'s API; a finetuning state's frozen
    modules are never differentiated (see the finetuning page).
    `batch_sharding` spreads each batch over devices."""
    return _backend_of(state).create_epoch(config, state, batch_sharding)


def as_linen(state: State, config: Config) -> TrainState:
    """The parameters and EMA of an NNX state in the Linen layout, for
    evaluation and figures (a Linen `TrainState` is returned as it is).

    The Linen model computes exactly what the NNX model computes from the
    same arrays (tested bit for bit), so an NNX run is measured by the very
    code that measures a Linen run. The result has no optimiser: it is for
    reading, not for training.

    Args:
        state: a `TrainState` or an `NNXTrainState`.
        config: the run's `Config`, which builds the Linen model.

    Returns:
        A Linen `TrainState` with the same step, parameters, EMA and key.
    """
    return _backend_of(state).as_linen(state, config)


# --8<-- [start:state_arrays]
def state_arrays(tree):
    """An NNX `State` as the nested dict of its arrays, the form a checkpoint
    stores; any other tree (Linen's) as it is."""
    return nnx.to_pure_dict(tree) if isinstance(tree, nnx.State) else tree


def fill_state(target, arrays):
    """The inverse of `state_arrays`: `arrays` in the form of `target` (a new
    `State`)."""
    if not isinstance(target, nnx.State):
        return arrays
    # a new State: the target stays untouched
    state = jax.tree.map(lambda x: x, target)
    # int keys (layer indices) read back as text too
    nnx.replace_by_pure_dict(state, arrays)
    return state


# --8<-- [end:state_arrays]
