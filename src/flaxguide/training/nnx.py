"""Training the NNX CVAE: the state a run carries, its whole-epoch step, and
finetuning.

The same optimiser
([`make_optimiser`][flaxguide.training.optim.make_optimiser]), the same EMA,
the same keys and the same epoch
([`scan_epoch`][flaxguide.training.epoch.scan_epoch]) as the Linen run; only
the model and the optimiser are NNX objects. Flax 0.12 registers NNX
objects as pytrees, so `jax.jit` would take them as they are (though it keeps
what a model changes in itself only if the model is returned); the state
holds their arrays instead (`nnx.split`), with the graph definitions as
static fields, and every step rebuilds the objects (`nnx.merge`). That keeps
the state what the Linen one is, a pytree of arrays that a checkpoint saves
as it is, and keeps the graph's sharing, which a plain pytree loses (a
`Variable` reached by two paths would become two).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from flaxguide.config import Config
from flaxguide.model import nnx as nnx_models
from flaxguide.model.linen import build_model
from flaxguide.model.loss import make_nnx_loss_fn
from flaxguide.model.nnx import from_linen, to_linen
from flaxguide.training.epoch import jit_state_epoch
from flaxguide.training.linen import TrainState
from flaxguide.training.optim import ema_update, make_optimiser


# --8<-- [start:trainable]
def trainable(frozen: Sequence[str] = ()) -> nnx.filterlib.Filter:
    """The filter of the parameters a run trains: every `nnx.Param` outside
    the `frozen` modules.

    Where Linen labels every leaf of a parameter tree (`optax.partition`),
    NNX names the parameters to train with a filter, given to both
    `nnx.Optimizer` and `nnx.grad`.

    Args:
        frozen: the names of the modules to keep fixed; empty for none.

    Returns:
        The filter; `nnx.Param` itself when nothing is frozen.

    Raises:
        TypeError: `frozen` is a string, not a sequence of names.
    """
    # a single name would be read as one-letter names
    if isinstance(frozen, str):
        raise TypeError(
            f"frozen must be a sequence of module names, e.g. ({frozen!r},)"
        )
    if not frozen:
        return nnx.Param
    return nnx.All(
        nnx.Param,
        nnx.Not(nnx.Any(*(nnx.PathContains(name) for name in frozen))),
    )


# --8<-- [end:trainable]


# --8<-- [start:nnx_train_state]
class NNXTrainState(struct.PyTreeNode):
    """The NNX run's state, the counterpart of `TrainState`: the arrays of
    the model (`params`) and of its `nnx.Optimizer` (`opt_state`), the EMA of
    the parameters, the step and the key; the graph definitions to rebuild
    both objects from them, and the frozen modules, are static."""

    step: jax.Array
    params: nnx.State
    opt_state: nnx.State
    ema_params: nnx.State
    key: jax.Array
    model_def: Any = struct.field(pytree_node=False)
    optimizer_def: Any = struct.field(pytree_node=False)
    ema_decay: float = struct.field(pytree_node=False, default=0.999)
    frozen: tuple[str, ...] = struct.field(pytree_node=False, default=())

    def objects(self) -> tuple[nnx_models.VAE, nnx.Optimizer]:
        """The model and the optimizer, rebuilt from the arrays
        (`nnx.merge`).

        Returns:
            `(model, optimizer)`: a new NNX `VAE` and its `nnx.Optimizer`.
        """
        return nnx.merge(self.model_def, self.params), nnx.merge(
            self.optimizer_def, self.opt_state
        )


# --8<-- [end:nnx_train_state]


# --8<-- [start:create_nnx_train_state]
def create_nnx_train_state(
    config: Config, key: jax.Array, steps_per_epoch: int
) -> NNXTrainState:
    """A fresh NNX state for `config`: a new model, the optimiser, the EMA
    and the key.

    Args:
        config: the run's `Config`.
        key: the random key of the initial parameters and of the run.
        steps_per_epoch: training steps per epoch, for the schedule.

    Returns:
        An `NNXTrainState` at step 0, its EMA a copy of the parameters.
    """
    # The same split as the Linen state's, so both runs shuffle and sample
    # with the same keys.
    init_key, _, key = jax.random.split(key, 3)
    model = nnx_models.VAE(config, rngs=nnx.Rngs(params=init_key))
    return nnx_state_around(
        model, None, key, config, steps_per_epoch, frozen=()
    )


def nnx_state_around(
    model,
    ema_params,
    key,
    config: Config,
    steps_per_epoch: int,
    frozen: Sequence[str] = (),
) -> NNXTrainState:
    """A state around `model` and a fresh optimiser for its parameters
    outside `frozen`."""
    tx = make_optimiser(config, steps_per_epoch)
    # no state for frozen leaves
    optimizer = nnx.Optimizer(model, tx, wrt=trainable(frozen))
    model_def, params = nnx.split(model)
    optimizer_def, opt_state = nnx.split(optimizer)
    if ema_params is None:
        # a copy: the two are updated apart
        ema_params = jax.tree.map(jnp.copy, params)
    return NNXTrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=opt_state,
        ema_params=ema_params,
        key=key,
        model_def=model_def,
        optimizer_def=optimizer_def,
        ema_decay=config.ema_decay,
        frozen=tuple(frozen),
    )


# --8<-- [end:create_nnx_train_state]


def from_linen_state(
    state, config: Config, steps_per_epoch: int
) -> NNXTrainState:
    """A Linen `TrainState`'s parameters, EMA and key in a fresh NNX state (a
    new optimiser).

    Args:
        state (TrainState): the Linen state.
        config: the run's `Config`, which builds the NNX model.
        steps_per_epoch: training steps per epoch, for the schedule.

    Returns:
        An `NNXTrainState` at step 0, nothing frozen.
    """
    ema = nnx.state(from_linen(config, state.ema_params))
    return nnx_state_around(
        from_linen(config, state.params),
        ema,
        state.key,
        config,
        steps_per_epoch,
    )


# --8<-- [start:nnx_finetune_state]
def nnx_finetune_state(
    state: NNXTrainState,
    config: Config,
    steps_per_epoch: int,
    frozen: Sequence[str],
) -> NNXTrainState:
    """A fresh NNX run from a pretrained `state`, with the modules in
    `frozen` fixed: like `finetune_state`, with a filter instead of
    labels.

    Args:
        state: the pretrained `NNXTrainState`.
        config: the finetuning run's `Config`.
        steps_per_epoch: training steps per epoch, for the schedule.
        frozen: the names of the top-level modules to keep fixed.

    Returns:
        A new `NNXTrainState` at step 0 that records `frozen`.

    Raises:
        ValueError: a name in `frozen` is not a module of the model.
    """
    trainable(frozen)  # a single name is refused there, clearly
    model, _ = state.objects()
    names = sorted(nnx.to_pure_dict(state.params))
    unknown = [name for name in frozen if name not in names]
    if unknown:
        raise ValueError(
            f"cannot freeze {unknown}: the model has no such module; "
            f"it has {names}"
        )
    return nnx_state_around(
        model, state.ema_params, state.key, config, steps_per_epoch, frozen
    )


# --8<-- [end:nnx_finetune_state]


# --8<-- [start:nnx_state_epoch]
def create_nnx_state_epoch(
    config: Config, batch_size: int | None = None, batch_sharding=None
):
    """A jitted `train_epoch(state, images, labels) -> (state, metrics)` for
    an `NNXTrainState`.

    The NNX twin of `create_state_epoch`: the same keys, batches, metrics and
    EMA. Frozen modules (`state.frozen`) are not differentiated at all.

    Args:
        config: the run's `Config`: the loss and the batch size.
        batch_size: examples per step; `None` for `config.batch_size`.
        batch_sharding (NamedSharding | None): the sharding of each batch.

    Returns:
        (Callable): `train_epoch`, whose metrics are those of
            `create_state_epoch`.
    """
    loss_fn = make_nnx_loss_fn(config.kl_weight, config.binarize)
    batch_size = batch_size or config.batch_size

    def step(state: NNXTrainState, images, labels, key):
        model, optimizer = state.objects()
        # gradients of the trained leaves only
        wrt = nnx.DiffState(0, trainable(state.frozen))
        grads, metrics = nnx.grad(loss_fn, argnums=wrt, has_aux=True)(
            model, images, labels, key
        )
        metrics["grad_norm"] = optax.tree.norm(grads)  # before clipping
        # updates the model's parameters in place
        optimizer.update(model, grads)
        hyperparams = optax.tree.get(optimizer.opt_state, "hyperparams")
        metrics["learning_rate"] = hyperparams["learning_rate"].get_value()
        params, step = nnx.state(model), state.step + 1
        state = state.replace(
            step=step,
            params=params,
            opt_state=nnx.state(optimizer),
            ema_params=ema_update(
                state.ema_params, params, step, state.ema_decay
            ),
        )
        return state, metrics

    return jit_state_epoch(step, batch_size, batch_sharding)


# --8<-- [end:nnx_state_epoch]


# The backend interface: what `flaxguide.training.backend` calls for an NNX
# run. `flaxguide.training.linen` has the same four names.
create_state = create_nnx_train_state
finetuning_state = nnx_finetune_state


def create_epoch(config: Config, state: NNXTrainState, batch_sharding=None):
    """The jitted epoch of an NNX state (its frozen modules are in the
    state, and never differentiated)."""
    return create_nnx_state_epoch(config, batch_sharding=batch_sharding)


# --8<-- [start:as_linen]
def as_linen(state: NNXTrainState, config: Config) -> TrainState:
    """The parameters and EMA of an NNX state in the Linen layout, for
    evaluation and figures.

    The Linen model computes exactly what the NNX model computes from the
    same arrays (tested bit for bit), so an NNX run is measured by the very
    code that measures a Linen run. The result has no optimiser: it is for
    reading, not for training.

    Args:
        state: an `NNXTrainState`.
        config: the run's `Config`, which builds the Linen model.

    Returns:
        A Linen `TrainState` with the same step, parameters, EMA and key.
    """
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
