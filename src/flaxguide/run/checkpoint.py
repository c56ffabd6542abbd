"""Training checkpoints, written with Orbax: the whole training state of an
epoch (a Linen `TrainState` or an `NNXTrainState`, as plain arrays).

`checkpoint_manager`, `save_checkpoint` and `restore_checkpoint` hold
everything a run needs to resume exactly where it stopped, and restoring
checks that a checkpoint is what was saved (see
`flaxguide.run.integrity`). Where a run keeps its checkpoints, and what else
its directory holds, is `flaxguide.run.directory`'s business.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from flaxguide.config import check_positive
from flaxguide.run.integrity import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointWriteError,
    check_fits,
    content_digest,
    unreadable_json,
)
from flaxguide.training.backend import State, fill_state, state_arrays

# The errors live with the checks that raise them (`integrity`); they are
# this API too.
__all__ = [
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointMismatchError",
    "CheckpointWriteError",
    "best_epoch",
    "checkpoint_manager",
    "latest_epoch",
    "restore_checkpoint",
    "save_checkpoint",
    "saver",
]


# --8<-- [start:checkpoint_manager]
def checkpoint_manager(
    directory: Path, *, save_every: int, keep: int
) -> ocp.CheckpointManager:
    """An Orbax `CheckpointManager` whose steps are epochs.

    It saves when `epoch % save_every == 0` (or when `save_checkpoint` is
    forced), and keeps the latest `keep` checkpoints plus the best one by
    test negative ELBO, however old. Close it (or use it in a `with` block)
    when training ends.

    Args:
        directory: the folder of the checkpoints, one subfolder per epoch.
        save_every: epochs between saves.
        keep: how many of the latest checkpoints to keep, besides the best.

    Returns:
        The `ocp.CheckpointManager`.

    Raises:
        ConfigError: `save_every` or `keep` is not a positive number.
        CheckpointCorruptError: a checkpoint in `directory` has metadata
            or metrics that are not readable JSON.
    """
    check_positive("save_every", save_every)
    check_positive("keep", keep)

    # what `save_checkpoint` records with each step
    def saved_nelbo(metrics: dict) -> float:
        return metrics["test_nelbo"]

    policies = ocp.checkpoint_managers
    options = ocp.CheckpointManagerOptions(
        # Only every `save_every` epochs; Orbax's default would also save
        # whenever no checkpoint exists yet, and at the step JAX picks after
        # a preemption notice.
        save_decision_policy=policies.FixedIntervalPolicy(save_every),
        preservation_policy=policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                # BestN keeps the *last* n after sorting; reverse=True puts
                # the lowest last.
                policies.BestN(get_metric_fn=saved_nelbo, reverse=True, n=1),
            ]
        ),
        # `best_fn` makes the manager write each step's metrics and answer
        # `best_step()`.
        best_fn=saved_nelbo,
        best_mode="min",
        # Half-written steps of a killed run are deleted before the next
        # save.
        cleanup_tmp_directories=True,
    )
    # Naming each item's save and restore arguments lets a fresh manager (a
    # resumed run) read a checkpoint's metadata before anything has been
    # saved or restored through it.
    registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
    for item, save_args, restore_args in [
        ("state", ocp.args.StandardSave, ocp.args.StandardRestore),
        ("history", ocp.args.JsonSave, ocp.args.JsonRestore),
        ("digest", ocp.args.JsonSave, ocp.args.JsonRestore),
    ]:
        registry.add(item, save_args)
        registry.add(item, restore_args)
    directory = Path(directory).resolve()
    # The manager reads every checkpoint's metrics when it starts: a damaged
    # one would stop it with a decoding error that names no checkpoint.
    for step_dir in sorted(directory.glob("[0-9]*")):
        problem = unreadable_json(step_dir)
        if problem:
            raise CheckpointCorruptError(
                step_dir, f"{problem} is not readable JSON"
            )
    return ocp.CheckpointManager(
        directory, options=options, handler_registry=registry
    )


# --8<-- [end:checkpoint_manager]


# --8<-- [start:state_tree]
def _state_tree(state: State) -> dict:
    """Everything of a training state that changes during training, as arrays
    Orbax can write.

    Code and config (`apply_fn`, `tx`, the EMA decay, NNX graph definitions)
    come back from the target state. A typed key is stored as its raw
    `uint32` data; an NNX `State` as the nested dict of its arrays
    (`nnx.to_pure_dict`), the form Flax's checkpointing guide uses.
    """
    return {
        # a fresh state's step is a Python 0
        "step": jnp.asarray(state.step, jnp.int32),
        "params": state_arrays(state.params),
        "opt_state": state_arrays(state.opt_state),
        "ema_params": state_arrays(state.ema_params),
        "key": jax.random.key_data(state.key),
    }


# --8<-- [end:state_tree]


# --8<-- [start:save_checkpoint]
def save_checkpoint(
    manager: ocp.CheckpointManager,
    epoch: int,
    state: State,
    history: list[dict],
    nelbo: float,
    *,
    force: bool = False,
    wait: bool = True,
) -> bool:
    """Save the whole training state and the metrics `history` as checkpoint
    `epoch`.

    `nelbo`, the epoch's test negative ELBO, decides which checkpoint is the
    best one.

    Returns whether it saved: not when `epoch % save_every != 0` (unless
    `force`, for the last epoch or an interruption), and never over an epoch
    already on disk. With `wait=False` the files are written in the
    background while training goes on; then call
    `manager.wait_until_finished()` (or close the manager) before the program
    ends.

    Args:
        manager: the run's manager, from `checkpoint_manager`.
        epoch: the epoch just finished; the checkpoint's step.
        state: a `TrainState` or an `NNXTrainState`.
        history: one dict of metrics per epoch so far.
        nelbo: the epoch's test negative ELBO, in nats.
        force: save even if `epoch` is not a multiple of `save_every`.
        wait: return only once the files are written.

    Returns:
        Whether the checkpoint was saved.

    Raises:
        CheckpointWriteError: writing failed with an operating-system
            error (a full disk, an I/O error).
    """
    if epoch in manager.all_steps():
        return False
    # A NaN would sort anywhere; an infinite nELBO is simply the worst.
    nelbo = float(nelbo) if math.isfinite(nelbo) else math.inf
    # NumPy and JAX scalars in the history become Python numbers, which JSON
    # can write.
    history = jax.tree.map(
        lambda x: x.item() if hasattr(x, "item") else x, history
    )
    tree = _state_tree(state)
    # The digest is taken from the arrays in memory, before Orbax writes a
    # byte of them.
    digest = {"sha256": content_digest(tree, history)}
    try:
        saved = manager.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(tree),
                history=ocp.args.JsonSave(history),
                digest=ocp.args.JsonSave(digest),
            ),
            metrics={"test_nelbo": nelbo},
            force=force,
        )
        if saved and wait:
            # the step directory is renamed into place here
            manager.wait_until_finished()
    # a full disk, an I/O error: Orbax's half-written step is left aside
    except OSError as err:
        raise CheckpointWriteError(
            f"could not write checkpoint {epoch} to "
            f"{manager.directory}: {err}; "
            "the checkpoints saved before it are intact"
        ) from err
    return saved


# --8<-- [end:save_checkpoint]


# --8<-- [start:restore_checkpoint]
def restore_checkpoint(
    manager: ocp.CheckpointManager,
    target_state: State,
    epoch: int | None = None,
    *,
    verify: bool = True,
) -> tuple[State, list[dict], int]:
    """Checkpoint `epoch` (by default the latest) as `(state, history,
    epoch)`.

    `target_state` is a state built from the run's config, real or abstract
    (its shapes only, from `jax.eval_shape`, as
    `flaxguide.training.backend.abstract_state` builds it): it
    supplies `apply_fn` and `tx`, and the shapes and dtypes every array must
    have. A checkpoint of another config raises `CheckpointMismatchError`
    that says which arrays differ; a damaged one (its content no longer
    matches the digest taken when it was saved, or a file that cannot be
    read) raises `CheckpointCorruptError` naming its folder. `verify=False`
    skips the digest, for checkpoints saved before digests were recorded.

    Args:
        manager: the run's manager, from `checkpoint_manager`.
        target_state: a state of the run's config, real or abstract.
        epoch: the epoch to restore; `None` for the latest.
        verify: check the checkpoint against its digest.

    Returns:
        `(state, history, epoch)`: `target_state` holding the checkpoint's
            arrays, the history saved with it, and the epoch restored.

    Raises:
        CheckpointError: there is no checkpoint, or none of `epoch`.
        CheckpointMismatchError: its arrays do not fit `target_state`.
        CheckpointCorruptError: it is damaged, or has no digest to verify.
    """
    manager.wait_until_finished()  # a save of this manager still in flight
    if epoch is None:
        epoch = manager.latest_step()
        if epoch is None:
            raise CheckpointError(
                f"no checkpoint in {manager.directory}: nothing was "
                "saved there"
            )
    if epoch not in manager.all_steps():
        found = list(manager.all_steps())
        raise CheckpointError(
            f"no checkpoint for epoch {epoch} in {manager.directory} "
            f"(found: {found})"
        )
    target = _restore_target(target_state)
    tree, history = _read_verified(manager, epoch, target, verify)
    state = target_state.replace(
        step=tree["step"],
        params=fill_state(target_state.params, tree["params"]),
        opt_state=fill_state(target_state.opt_state, tree["opt_state"]),
        ema_params=fill_state(target_state.ema_params, tree["ema_params"]),
        key=jax.random.wrap_key_data(
            tree["key"], impl=jax.random.key_impl(target_state.key)
        ),
    )
    return state, history, epoch


def _restore_target(state: State) -> dict:
    """The shapes, dtypes and devices of `_state_tree(state)`: what Orbax
    restores into. An array of a real `state` is restored onto the devices it
    is on; one of an abstract state (`jax.eval_shape`) onto the default
    device."""
    default = jax.sharding.SingleDeviceSharding(jax.devices()[0])

    def placed(leaf, abstract):
        sharding = getattr(leaf, "sharding", None) or default
        return jax.ShapeDtypeStruct(
            abstract.shape, abstract.dtype, sharding=sharding
        )

    # the same tree as `_state_tree`'s, with the state's own leaves
    leaves = {
        "step": state.step,
        "params": state_arrays(state.params),
        "opt_state": state_arrays(state.opt_state),
        "ema_params": state_arrays(state.ema_params),
        "key": state.key,
    }
    return jax.tree.map(placed, leaves, jax.eval_shape(_state_tree, state))


def _read_verified(
    manager, epoch: int, target: dict, verify: bool
) -> tuple[dict, list[dict]]:
    """The state tree and history of checkpoint `epoch`, checked against its
    digest.

    Any failure to read a checkpoint that fits the target is damage: Orbax
    and TensorStore raise many kinds of errors on damaged files, and each
    becomes a `CheckpointCorruptError`.
    """
    step_dir = Path(manager.directory) / str(epoch)
    problem = unreadable_json(step_dir)
    if problem:
        raise CheckpointCorruptError(
            step_dir, f"{problem} is not readable JSON"
        )
    if verify and not (step_dir / "digest").is_dir():
        raise CheckpointCorruptError(
            step_dir,
            "it has no digest, so it cannot be verified (checkpoints "
            "saved before digests "
            "were recorded); restore it with verify=False if you trust it",
        )
    args = {
        "state": ocp.args.StandardRestore(target),
        "history": ocp.args.JsonRestore(),
    }
    if verify:
        args["digest"] = ocp.args.JsonRestore()
    try:
        check_fits(manager, epoch, target)
        restored = manager.restore(epoch, args=ocp.args.Composite(**args))
    except CheckpointError:
        raise
    # re-raised below: named, with its cause chained
    except Exception as err:
        detail = (
            str(err).strip().splitlines()[0][:200]
            if str(err).strip()
            else ""
        )
        raise CheckpointCorruptError(
            step_dir, f"reading it failed: {type(err).__name__}: {detail}"
        ) from err
    if verify and content_digest(
        restored.state, restored.history
    ) != restored.digest.get("sha256"):
        raise CheckpointCorruptError(
            step_dir,
            "its arrays or history differ from what was saved "
            "(sha256 mismatch)",
        )
    return restored.state, restored.history


# --8<-- [end:restore_checkpoint]


def saver(manager: ocp.CheckpointManager):
    """The `save` callback of [`fit`][flaxguide.training.loop.fit] that keeps
    each epoch as a checkpoint of `manager` (see `save_checkpoint`)."""

    def save(epoch, state, history, nelbo, force):
        return save_checkpoint(
            manager, epoch, state, history, nelbo, force=force
        )

    return save


def best_epoch(manager: ocp.CheckpointManager) -> int | None:
    """The kept epoch with the lowest test negative ELBO (None before the
    first save)."""
    return manager.best_step()


def latest_epoch(manager: ocp.CheckpointManager) -> int | None:
    """The newest saved epoch (None before the first save)."""
    return manager.latest_step()
