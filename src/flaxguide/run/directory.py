"""Run directories: what a training run writes, and the checks around it.

A run directory holds three things:

- `run.json`, written when the run starts (see
  [`flaxguide.run.record`][flaxguide.run.record]);
- `checkpoints/`, the Orbax checkpoints of
  [`flaxguide.run.checkpoint`][flaxguide.run.checkpoint];
- `metrics.json`, once training has finished.

Both JSON files are written atomically, so a killed run never leaves half a
file behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from flaxguide.run.lock import LOCK_FILE
from flaxguide.run.record import Run, RunError


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


def compare_runs(runs: list[Run]) -> list[dict]:
    """What each finished run was trained with, and the quality it
    reached.

    Args:
        runs: the records of finished runs.

    Returns:
        One dict per run, in order: its directory's name, commit, API,
            precision and main settings, then its test negative ELBO and
            conditional accuracy (EMA and raw parameters), `test_nll`
            (`None` for a run without it) and training seconds.

    Raises:
        RunError: a run has not finished (it has no `metrics.json`).
    """
    rows = []
    for run in runs:
        config = run.config
        metrics = read_metrics(run.directory)
        rows.append(
            {
                "run": run.directory.name,
                "commit": run.provenance.get("commit"),
                "api": config.api,
                "precision": config.precision,
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
