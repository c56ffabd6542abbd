"""Restoring a run: its checkpoint manager, the state of an epoch, the
newest intact checkpoint of an interrupted run, and a finished run's model.

Every function takes the run's record ([`Run`][flaxguide.run.record.Run]),
read once by the command, so `run.json` is never parsed again here. The
restore target is the run's state in shapes only
([`abstract_state`][flaxguide.training.backend.abstract_state]): no model is
initialised just to be overwritten.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import orbax.checkpoint as ocp

from flaxguide.model.linen import VAE, build_model
from flaxguide.run.checkpoint import checkpoint_manager, restore_checkpoint
from flaxguide.run.integrity import CheckpointCorruptError
from flaxguide.run.record import Run, RunError
from flaxguide.training.backend import (
    State,
    TrainState,
    abstract_state,
    as_linen,
)


def run_manager(run: Run) -> ocp.CheckpointManager:
    """The checkpoint manager of a run directory, with the run's own
    retention settings."""
    return checkpoint_manager(
        run.directory / "checkpoints",
        save_every=run.config.save_every,
        keep=run.config.keep_checkpoints,
    )


def restore_target(run: Run) -> State:
    """The run's state in shapes and dtypes: the target its checkpoints
    restore into.

    Built from the record alone: the config (its API too), the steps per
    epoch (the schedule's length) and the frozen modules (a finetuned run's
    optimiser state has no moments for them).
    """
    return abstract_state(run.config, run.steps_per_epoch, run.frozen)


def restore_run(
    run: Run,
    epoch: int | None = None,
    *,
    manager: ocp.CheckpointManager | None = None,
) -> tuple[State, list[dict], int]:
    """Checkpoint `epoch` of a run (by default its latest) as `(state,
    history, epoch)`.

    `manager` is the run's own manager when the caller goes on saving through
    it.

    Args:
        run: the run's record.
        epoch: the epoch to restore; `None` for the latest checkpoint.
        manager: the run's checkpoint manager; `None` opens one.

    Returns:
        `(state, history, epoch)`: the state in the run's API (a
            `TrainState` or an `NNXTrainState`), the history saved with it,
            and the epoch restored.

    Raises:
        RunError: the run has no checkpoint yet.
        CheckpointError: no checkpoint of `epoch` is kept, or (its
            subclasses) the checkpoint does not fit the run's config or is
            damaged.
    """
    if manager is None:
        # opened here, so closed here
        with run_manager(run) as own:
            return restore_run(run, epoch, manager=own)
    if manager.latest_step() is None:
        raise RunError(
            f"{run.directory} has no checkpoint yet: it stopped before its "
            "first save"
        )
    return restore_checkpoint(manager, restore_target(run), epoch)


def resume_newest_intact(
    run: Run, notify: Callable[[str], None]
) -> tuple[State, list[dict], ocp.CheckpointManager]:
    """The newest checkpoint of a run that restores intact, as `(state,
    history, manager)`.

    A damaged checkpoint is never restored: it is moved to `damaged/` in the
    run directory (kept, for a look), `notify` is told which and why, and the
    next newest is tried.
    """
    target = restore_target(run)
    while True:
        manager = None
        try:
            manager = run_manager(run)
            if manager.latest_step() is None:
                raise RunError(
                    f"{run.directory} has no intact checkpoint to resume "
                    "from"
                )
            state, history, _ = restore_checkpoint(manager, target)
            return state, history, manager
        except CheckpointCorruptError as err:
            if manager is not None:
                manager.close()
            aside = run.directory / "damaged" / err.path.name
            aside.parent.mkdir(exist_ok=True)
            while aside.exists():
                aside = aside.with_name(aside.name + "+")
            shutil.move(err.path, aside)
            notify(
                f"{err}\nmoved it to {aside}; resuming from the "
                "newest intact checkpoint"
            )


def load_trained(run: Run) -> tuple[VAE, TrainState]:
    """The model and final state of a finished run.

    The model is the Linen `VAE`, and an NNX run's parameters come in its
    layout (`as_linen`): every run is sampled and drawn by one code.

    Args:
        run: the record of a finished run.

    Returns:
        `(model, state)`: the Linen `VAE`, and the last epoch's state as a
            Linen `TrainState`.

    Raises:
        RunError: the run has no checkpoint yet.
        CheckpointError: the last epoch has no checkpoint (the run has not
            finished), or (its subclasses) it does not fit or is damaged.
    """
    state, _, _ = restore_run(run, epoch=run.config.epochs)
    return build_model(run.config), as_linen(state, run.config)
