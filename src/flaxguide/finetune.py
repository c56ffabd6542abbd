"""Selective finetuning: keep some modules of a pretrained model fixed and
train the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import optax

from flaxguide.config import Config
from flaxguide.losses import make_loss_fn
from flaxguide.models import build_model
from flaxguide.optim import make_optimiser
from flaxguide.state import TrainState
from flaxguide.steps import create_state_epoch

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
    frozen ones."""
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
    """
    loss_fn = make_loss_fn(
        build_model(config), config.kl_weight, config.binarize
    )
    grad_fn = trainable_grad(loss_fn, frozen)
    # The frozen zeros add nothing to the logged `grad_norm`.
    return create_state_epoch(config, batch_size, grad_fn, batch_sharding)
    # --8<-- [end:finetune_epoch]
