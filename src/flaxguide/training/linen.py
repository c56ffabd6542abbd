"""Training with Flax Linen: the run's state, its whole-epoch step, and
selective finetuning.

The state is Flax's `TrainState`, extended with an EMA of the parameters, the
PRNG key and the modules a finetuning run keeps frozen, so that one pytree is
the whole state of a run. Finetuning keeps some modules of a pretrained model
fixed and trains the rest: their leaves are labelled for
`optax.partition`, and the epoch never differentiates them. The NNX twin of
this module is [`flaxguide.training.nnx`][flaxguide.training.nnx].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from flaxguide.config import Config
from flaxguide.model.linen import build_model
from flaxguide.model.loss import make_loss_fn
from flaxguide.training.epoch import jit_state_epoch
from flaxguide.training.optim import (
    current_learning_rate,
    ema_update,
    make_optimiser,
)


# --8<-- [start:train_state]
class TrainState(train_state.TrainState):
    """Parameters, optimiser state and step (from Flax), plus an EMA of the
    parameters and the PRNG key, so that one pytree is the whole state of a
    run: save it, and you can resume."""

    ema_params: Any
    key: jax.Array
    ema_decay: float = struct.field(pytree_node=False, default=0.999)
    # a finetuning run's fixed modules (see `finetune_state`)
    frozen: tuple[str, ...] = struct.field(pytree_node=False, default=())

    def apply_gradients(self, *, grads, **kwargs) -> Self:
        state = super().apply_gradients(grads=grads, **kwargs)
        ema = ema_update(
            self.ema_params, state.params, state.step, self.ema_decay
        )
        return state.replace(ema_params=ema)


# --8<-- [end:train_state]


# --8<-- [start:create_train_state]
def create_train_state(
    config: Config, key: jax.Array, steps_per_epoch: int
) -> TrainState:
    """A fresh state for `config`: initial parameters, optimiser, EMA and
    key.

    Args:
        config: the run's `Config`.
        key: the random key of the initial parameters and of the run.
        steps_per_epoch: training steps per epoch, for the schedule.

    Returns:
        A `TrainState` at step 0, its EMA equal to the initial parameters.
    """
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


# --8<-- [start:state_epoch]
def create_state_epoch(
    config: Config,
    batch_size: int | None = None,
    grad_fn=None,
    batch_sharding=None,
):
    """A jitted `train_epoch(state, images, labels) -> (state, metrics)`.

    The state carries everything, the key included (see `jit_state_epoch`).
    `grad_fn(params, images, labels, key) -> (grads, metrics)` defaults to
    the gradient of the whole loss; `batch_sharding` spreads each batch over
    devices (see `scan_epoch`).

    Args:
        config: the run's `Config`: the model, the loss, the batch size.
        batch_size: examples per step; `None` for `config.batch_size`.
        grad_fn (Callable | None): the gradient of one batch; `None` for
            the whole loss's.
        batch_sharding (NamedSharding | None): the sharding of each batch.

    Returns:
        (Callable): `train_epoch`. It takes a split's `(N, 784)` images and
            `(N,)` labels; its metrics `"loss"`, `"rec"`, `"kl"`,
            `"grad_norm"` and `"learning_rate"` hold one value per step.
    """
    # the model computes in the run's precision while it trains
    model = build_model(config, config.precision)
    loss_fn = make_loss_fn(model, config.kl_weight, config.binarize)
    grad_fn = grad_fn or jax.grad(loss_fn, has_aux=True)
    batch_size = batch_size or config.batch_size

    def step(state: TrainState, images, labels, key):
        grads, metrics = grad_fn(state.params, images, labels, key)
        metrics["grad_norm"] = optax.tree.norm(grads)  # before clipping
        state = state.apply_gradients(grads=grads)
        metrics["learning_rate"] = current_learning_rate(state.opt_state)
        return state, metrics

    return jit_state_epoch(step, batch_size, batch_sharding)


# --8<-- [end:state_epoch]


# --8<-- [start:frozen]
# The encoder (with its projection to the latent) describes a digit's style;
# the decoder draws a digit of a given class from it. Finetuning on new
# classes retrains only the drawing.
FROZEN = ("encoder", "to_latent")


def _check_frozen(params, frozen: Sequence[str]) -> None:
    """Fail unless `params` is `{"params": {module: ...}}` and has every
    module in `frozen`."""
    if not (
        isinstance(params, Mapping)
        and isinstance(params.get("params"), Mapping)
    ):
        got = (
            f"keys {sorted(params)}"
            if isinstance(params, Mapping)
            else type(params).__name__
        )
        raise TypeError(
            f"expected the variables of `model.init`, {{'params': "
            f"{{...}}}}; got {got}"
        )
    # A single name would otherwise be read as a sequence of one-letter
    # names.
    if isinstance(frozen, str):
        raise TypeError(
            f"frozen must be a sequence of module names, e.g. ({frozen!r},)"
        )
    names = sorted(params["params"])
    unknown = [name for name in frozen if name not in names]
    if unknown:
        raise ValueError(
            f"cannot freeze {unknown}: the parameters have no such "
            f"module; they have {names}"
        )


# --8<-- [end:frozen]


# --8<-- [start:param_labels]
def param_labels(params, frozen: Sequence[str] = FROZEN):
    """A tree shaped like `params` whose leaves say `"frozen"` or
    `"trainable"`.

    The label of a leaf is decided by its top-level module under `"params"`:
    every leaf of a module named in `frozen` is `"frozen"`, every other leaf
    `"trainable"`.
    """
    _check_frozen(params, frozen)

    def label_module(name: str, module):
        label = "frozen" if name in frozen else "trainable"
        return jax.tree.map(lambda _: label, module)

    return {
        "params": {
            name: label_module(name, m)
            for name, m in params["params"].items()
        }
    }


# --8<-- [end:param_labels]


# --8<-- [start:make_finetune_optimiser]
def make_finetune_optimiser(
    tx: optax.GradientTransformation, params, frozen: Sequence[str] = FROZEN
) -> optax.GradientTransformation:
    """`tx` for the trainable leaves; zero updates, and no state, for the
    frozen ones.

    Args:
        tx: the optimiser of the trainable leaves.
        params (dict): the variables it will update,
            `{"params": {module: ...}}`.
        frozen: the names of the top-level modules to keep fixed.

    Returns:
        The `optax.partition` of `tx` and `optax.set_to_zero()`.

    Raises:
        TypeError: `params` is not `{"params": {...}}`, or `frozen` is a
            string.
        ValueError: a module in `frozen` is not in `params`.
    """
    return optax.partition(
        {"trainable": tx, "frozen": optax.set_to_zero()},
        param_labels(params, frozen),
    )


# --8<-- [end:make_finetune_optimiser]


# --8<-- [start:split_merge]
def split_params(params, frozen: Sequence[str] = FROZEN):
    """`(frozen_params, trainable_params)`: two variable dicts, each
    `{"params": {...}}`."""
    _check_frozen(params, frozen)
    modules = params["params"]
    frozen_params = {
        name: m for name, m in modules.items() if name in frozen
    }
    trainable_params = {
        name: m for name, m in modules.items() if name not in frozen
    }
    return {"params": frozen_params}, {"params": trainable_params}


def merge_params(frozen_params, trainable_params):
    """The inverse of `split_params`."""
    both = set(frozen_params["params"]) & set(trainable_params["params"])
    if both:
        raise ValueError(
            f"modules {sorted(both)} are in both halves; split them "
            "with split_params"
        )
    return {
        "params": {**frozen_params["params"], **trainable_params["params"]}
    }


# --8<-- [end:split_merge]


# --8<-- [start:trainable_grad]
def trainable_grad(
    loss_fn: Callable, frozen: Sequence[str] = FROZEN
) -> Callable:
    """Like `jax.grad(loss_fn, has_aux=True)`, differentiating only the
    trainable modules.

    The returned `grad_fn(params, *args) -> (grads, aux)` gives gradients
    shaped like `params`, with zeros for the frozen modules: the backward
    pass never computes theirs.

    Args:
        loss_fn: `loss_fn(params, *args) -> (loss, aux)`, `params` being
            `{"params": {module: ...}}`.
        frozen: the names of the top-level modules not differentiated.

    Returns:
        `grad_fn`.
    """

    def grad_fn(params, *args):
        frozen_params, trainable_params = split_params(params, frozen)

        def loss_of_trainable(trainable_params):
            return loss_fn(
                merge_params(frozen_params, trainable_params), *args
            )

        grads, aux = jax.grad(loss_of_trainable, has_aux=True)(
            trainable_params
        )
        # for `optax.partition`'s tree
        zeros = jax.tree.map(jnp.zeros_like, frozen_params)
        return merge_params(zeros, grads), aux

    return grad_fn


# --8<-- [end:trainable_grad]


# --8<-- [start:finetune_state]
def finetune_state(
    state: TrainState,
    config: Config,
    steps_per_epoch: int,
    frozen: Sequence[str] = FROZEN,
) -> TrainState:
    """A fresh run that starts from a pretrained `state` with the modules in
    `frozen` fixed.

    Parameters, EMA and key carry over; the step restarts at 0 (so the
    schedule warms up again), the EMA decay is `config.ema_decay`, and the
    optimiser is `make_optimiser(config, steps_per_epoch)` for the trainable
    modules only.

    Args:
        state: the pretrained `TrainState`.
        config: the finetuning run's `Config`.
        steps_per_epoch: training steps per epoch, for the schedule.
        frozen: the names of the top-level modules to keep fixed.

    Returns:
        A new `TrainState` at step 0 that records `frozen`.

    Raises:
        TypeError: `frozen` is a string, or the parameters are not
            `{"params": {...}}`.
        ValueError: a module in `frozen` is not in the parameters.
    """
    tx = make_finetune_optimiser(
        make_optimiser(config, steps_per_epoch), state.params, frozen
    )
    return TrainState.create(
        apply_fn=state.apply_fn,
        params=state.params,
        tx=tx,
        ema_params=state.ema_params,
        key=state.key,
        ema_decay=config.ema_decay,
        frozen=tuple(frozen),
    )


# --8<-- [end:finetune_state]


# --8<-- [start:finetune_epoch]
def create_finetune_epoch(
    config: Config,
    frozen: Sequence[str] = FROZEN,
    batch_size: int | None = None,
    batch_sharding=None,
):
    """A jitted `train_epoch(state, images, labels) -> (state, metrics)` for
    finetuning.

    Like `create_state_epoch`, except that the frozen modules are not
    differentiated at all: their backward pass is never computed, whatever
    the step logs, and `grad_norm` is the norm of the gradients the optimiser
    uses. Pair it with a state from `finetune_state` with the same `frozen`.

    Args:
        config: the run's `Config`: the model, the loss, the batch size.
        frozen: the names of the top-level modules not differentiated.
        batch_size: examples per step; `None` for `config.batch_size`.
        batch_sharding (NamedSharding | None): the sharding of each batch.

    Returns:
        (Callable): `train_epoch`, as `create_state_epoch` returns it.
    """
    # the model computes in the run's precision while it trains
    model = build_model(config, config.precision)
    loss_fn = make_loss_fn(model, config.kl_weight, config.binarize)
    grad_fn = trainable_grad(loss_fn, frozen)
    # The frozen zeros add nothing to the logged `grad_norm`.
    return create_state_epoch(config, batch_size, grad_fn, batch_sharding)


# --8<-- [end:finetune_epoch]


# The backend interface: what `flaxguide.training.backend` calls for a Linen
# run. `flaxguide.training.nnx` has the same four names.
create_state = create_train_state
finetuning_state = finetune_state


def create_epoch(config: Config, state: TrainState, batch_sharding=None):
    """The jitted epoch of a Linen state; a finetuning state's frozen
    modules (`state.frozen`) are never differentiated."""
    if state.frozen:
        return create_finetune_epoch(
            config, state.frozen, batch_sharding=batch_sharding
        )
    return create_state_epoch(config, batch_sharding=batch_sharding)


def as_linen(state: TrainState, config: Config) -> TrainState:
    """A Linen state, read as it is."""
    return state
