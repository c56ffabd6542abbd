"""Run directories: what a training run writes, and everything that reads it
back.

A run directory holds three things:

- `run.json`, written when the run starts: the config, the digits it trains
  on, its steps per epoch, the modules it keeps frozen, the run it was
  finetuned from, and where and with what it was made. With it, the run's
  state can be rebuilt without loading any data.
- `checkpoints/`, the Orbax checkpoints of
  [`flaxguide.checkpoint`][flaxguide.checkpoint].
- `metrics.json`, once training has finished.

Both JSON files are written atomically, so a killed run never leaves half a
file behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import orbax.checkpoint as ocp

from flaxguide.apis import as_linen, finetuning_state, initial_state
from flaxguide.checkpoint import checkpoint_manager, restore_checkpoint
from flaxguide.config import Config, from_dict, to_dict
from flaxguide.finetune import FROZEN
from flaxguide.integrity import CheckpointCorruptError
from flaxguide.lock import LOCK_FILE
from flaxguide.models import VAE, build_model
from flaxguide.nnx_train import NNXTrainState
from flaxguide.state import TrainState

# in run.json, so a foreign folder is never mistaken for a run
RUN_FORMAT = "flaxguide-run/2"
# before run.json recorded steps per epoch and frozen modules
OLD_FORMAT = "flaxguide-run/1"


class RunError(ValueError):
    """A folder that is not a usable flaxguide run, or one that would be
    overwritten."""


def check_new_run_dir(out: Path) -> None:
    """Refuse to write a run over anything that is already there: nothing
    gets lost."""
    if out.exists() and (
        not out.is_dir() or any(p.name != LOCK_FILE for p in out.iterdir())
    ):
        raise RunError(
            f"{out} already exists and is not empty; choose another "
            "--out or remove it"
        )


def make_run_dir(out: Path) -> None:
    """Create the run directory `out`, or say in one line why it cannot
    be."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(
            f"cannot create the run directory {out}: {err.strerror}"
        ) from err


def write_json(path: Path, value: dict) -> None:
    """Write `value` to `path` as JSON, atomically."""
    # Write then rename: a crash mid-write never leaves a half-written file
    # behind.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def new_run(
    config: Config,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None,
    steps_per_epoch: int,
    finetuned_from: dict | None = None,
) -> dict:
    """The `run.json` record of a run about to start."""
    return {
        "format": RUN_FORMAT,
        "preset": preset,
        "digits": list(digits) if digits is not None else None,
        "steps_per_epoch": steps_per_epoch,
        # A finetuned run trains with these modules fixed; its optimiser
        # state is partitioned.
        "frozen": list(FROZEN) if finetuned_from else [],
        "finetuned_from": finetuned_from,
        "config": to_dict(config),
        **provenance,
    }


def read_run(run_dir: Path) -> dict:
    """The `run.json` of a run directory (finished or not), with a clear
    error for anything else.

    A run of the older format is read too: its missing fields are derived
    where they can be.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(
            f"run directory {run_dir} does not exist; make one with "
            "`train --out`"
        )
    try:
        run = json.loads((run_dir / "run.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(
            f"{run_dir} is not a flaxguide run (no readable run.json): {err}"
        ) from err
    if run.get("format") == OLD_FORMAT:
        return _from_old_format(run_dir, run)
    if run.get("format") != RUN_FORMAT:
        raise RunError(f"{run_dir}/run.json is not a {RUN_FORMAT} file")
    return run


def _from_old_format(run_dir: Path, run: dict) -> dict:
    """An old `run.json` with the fields it lacks: frozen from
    `finetuned_from`, and steps per epoch from `metrics.json` (so only a
    finished old run can be read)."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise RunError(
            f"{run_dir} is an unfinished run of the older format "
            f"{OLD_FORMAT}, which does not "
            "record its steps per epoch; finish it with the version "
            "that started it, or train anew"
        )
    steps = json.loads(metrics.read_text())["steps_per_epoch"]
    frozen = list(FROZEN) if run.get("finetuned_from") else []
    return {**run, "steps_per_epoch": steps, "frozen": frozen}


def run_config(run: dict) -> Config:
    """The config a run was (or is being) trained with, from its `run.json`
    record."""
    return from_dict(run["config"])


def check_api(run_dir: Path, api: str | None, what: str) -> str:
    """The API a run was trained with; `RunError` if `api` names the other
    one (a run keeps the API it started with). `what` begins the message:
    "--resume continues"."""
    trained = run_config(read_run(run_dir)).api
    if api is not None and api != trained:
        raise RunError(
            f"{what} {run_dir}, a run trained with {trained}; drop "
            f"--api {api}"
        )
    return trained


def read_metrics(run_dir: Path) -> dict:
    """`metrics.json` of a finished run, with a clear error for an unfinished
    one."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise RunError(
            f"{run_dir} has not finished training (no metrics.json); "
            f"continue it with `train --resume --out {run_dir}`"
        )
    return json.loads(path.read_text())


def run_manager(run_dir: Path, config: Config) -> ocp.CheckpointManager:
    """The checkpoint manager of a run directory, with the run's own
    retention settings."""
    return checkpoint_manager(
        Path(run_dir) / "checkpoints",
        save_every=config.save_every,
        keep=config.keep_checkpoints,
    )


def restore_target(run: dict) -> TrainState | NNXTrainState:
    """A fresh state shaped like the run's: the target its checkpoints
    restore into.

    Built from `run.json` alone: the config (its API too), the steps per
    epoch (the schedule's length) and the frozen modules (a finetuned run's
    optimiser state has no moments for them).
    """
    config = run_config(run)
    steps = run["steps_per_epoch"]
    state = initial_state(config, steps)
    if run["frozen"]:
        state = finetuning_state(state, config, steps, tuple(run["frozen"]))
    return state


def restore_run(
    run_dir: Path,
    epoch: int | None = None,
    *,
    manager: ocp.CheckpointManager | None = None,
) -> tuple[TrainState, list[dict], int]:
    """Checkpoint `epoch` of a run (by default its latest) as `(state,
    history, epoch)`.

    `manager` is the run's own manager when the caller goes on saving through
    it.
    """
    run = read_run(run_dir)
    manager = manager or run_manager(run_dir, run_config(run))
    if manager.latest_step() is None:
        raise RunError(
            f"{run_dir} has no checkpoint yet: it stopped before its "
            "first save"
        )
    return restore_checkpoint(manager, restore_target(run), epoch)


def resume_newest_intact(
    run_dir: Path, notify: Callable[[str], None]
) -> tuple[TrainState, list[dict], ocp.CheckpointManager]:
    """The newest checkpoint of a run that restores intact, as `(state,
    history, manager)`.

    A damaged checkpoint is never restored: it is moved to `run_dir/damaged/`
    (kept, for a look), `notify` is told which and why, and the next newest
    is tried.
    """
    run = read_run(run_dir)
    target = restore_target(run)
    while True:
        manager = None
        try:
            manager = run_manager(run_dir, run_config(run))
            if manager.latest_step() is None:
                raise RunError(
                    f"{run_dir} has no intact checkpoint to resume from"
                )
            state, history, _ = restore_checkpoint(manager, target)
            return state, history, manager
        except CheckpointCorruptError as err:
            if manager is not None:
                manager.close()
            aside = Path(run_dir) / "damaged" / err.path.name
            aside.parent.mkdir(exist_ok=True)
            while aside.exists():
                aside = aside.with_name(aside.name + "+")
            shutil.move(err.path, aside)
            notify(
                f"{err}\nmoved it to {aside}; resuming from the "
                "newest intact checkpoint"
            )


def load_trained(run_dir: Path) -> tuple[Config, VAE, TrainState, dict]:
    """The config, model, final state and metrics of a finished run.

    The model is the Linen `VAE`, and an NNX run's parameters come in its
    layout (`as_linen`): every run is sampled and drawn by one code.
    """
    run = read_run(run_dir)
    config = run_config(run)
    metrics = read_metrics(run_dir)
    state, _, _ = restore_run(run_dir, epoch=config.epochs)
    return config, build_model(config), as_linen(state, config), metrics


def compare_runs(run_dirs: list[Path]) -> list[dict]:
    """What each finished run was trained with, and the quality it
    reached."""
    rows = []
    for run_dir in run_dirs:
        run = read_run(run_dir)
        config = run_config(run)
        metrics = read_metrics(run_dir)
        rows.append(
            {
                "run": Path(run_dir).name,
                "commit": run.get("commit"),
                "api": config.api,
                "seed": config.seed,
                "binarize": config.binarize,
                "epochs": config.epochs,
                "kl_weight": config.kl_weight,
                "schedule": config.schedule,
                "clip_norm": config.clip_norm,
                "ema_decay": config.ema_decay,
                "test_nelbo_ema": metrics["test_nelbo"],
                "test_nll": metrics.get("test_nll"),  # binarised runs only
                "test_nelbo_raw": metrics["test_nelbo_raw_params"],
                "conditional_accuracy_ema": metrics["conditional_accuracy"],
                "conditional_accuracy_raw": metrics[
                    "conditional_accuracy_raw_params"
                ],
                "train_seconds": metrics["train_seconds"],
            }
        )
    return rows
