"""Run directories: what `train` writes and what `sample` and `figures` read back.

A run directory holds `run.json` (the config and where the run came from), `metrics.json`
(history and final quality numbers) and `checkpoint/` (the parameters, written with Orbax).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from flaxguide.config import Config, from_dict, to_dict
from flaxguide.models import VAE, build_model

RUN_FORMAT = "flaxguide-run/1"  # in run.json, so a foreign folder is never mistaken for a run


class RunError(ValueError):
    """A folder that is not a usable flaxguide run, or one that would be overwritten."""


def check_new_run_dir(out: Path) -> None:
    """Refuse to write a run over anything that is already there: nothing gets lost."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out} already exists and is not empty; choose another --out or remove it")


def save_params(directory: Path, params) -> None:
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(directory.resolve(), params)


def save_run(out: Path, config: Config, params, metrics: dict, provenance: dict) -> None:
    """Write a complete run: config and provenance, metrics, and the parameters."""
    out.mkdir(parents=True, exist_ok=True)
    save_params(out / "checkpoint", params)
    run = {"format": RUN_FORMAT, "config": to_dict(config), **provenance}
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def read_run(run_dir: Path) -> tuple[dict, dict]:
    """`run.json` and `metrics.json` of a run, with a clear error for anything else."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run directory {run_dir} does not exist; make one with `train --out`")
    try:
        run = json.loads((run_dir / "run.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(
            f"{run_dir} is not a flaxguide run (no readable run.json and metrics.json): {err}"
        ) from err
    if run.get("format") != RUN_FORMAT:
        raise RunError(f"{run_dir}/run.json is not a {RUN_FORMAT} file")
    return run, metrics


def load_run(run_dir: Path) -> tuple[Config, VAE, dict, dict]:
    """The config, model, parameters and metrics of a finished run."""
    run, metrics = read_run(run_dir)
    config = from_dict(run["config"])
    model = build_model(config)
    # Orbax restores into the structure, shapes and dtypes of an abstract target.
    target = jax.eval_shape(
        lambda: model.init(
            jax.random.key(0),
            jax.numpy.zeros((1, 784)),
            jax.numpy.zeros((1,), jax.numpy.int32),
            jax.random.key(1),
        )
    )
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            params = checkpointer.restore((Path(run_dir) / "checkpoint").resolve(), target)
    except (FileNotFoundError, ValueError) as err:
        raise RunError(f"cannot restore the parameters of {run_dir}: {err}") from err
    return config, model, params, metrics
