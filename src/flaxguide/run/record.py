"""A run's record: `run.json`, read once into a typed
[`Run`][flaxguide.run.record.Run] and passed down.

`run.json` is written when a run starts. It holds the config, the digits the
run trains on, its steps per epoch, the modules it keeps frozen, the run it
was finetuned from, and where and with what it was made: with it, the run's
state can be rebuilt without loading any data. A command reads it once
([`read_run`][flaxguide.run.record.read_run]), which checks every field it
reads, and hands the record to everything that needs it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from flaxguide.config import Config, ConfigError, from_dict, to_dict
from flaxguide.training.backend import FROZEN

# in run.json, so a foreign folder is never mistaken for a run
RUN_FORMAT = "flaxguide-run/2"
# before run.json recorded steps per epoch and frozen modules
OLD_FORMAT = "flaxguide-run/1"


class RunError(ValueError):
    """A folder that is not a usable flaxguide run, or one that would be
    overwritten."""


@dataclasses.dataclass(frozen=True)
class Run:
    """What `run.json` says of a run, checked.

    `provenance` holds the rest of the file as written: the commit, the
    library versions, the device (see `flaxguide.provenance`).
    """

    directory: Path
    config: Config
    preset: str
    digits: tuple[int, ...] | None
    steps_per_epoch: int
    # a finetuned run trains with these modules fixed (its optimiser state
    # is partitioned)
    frozen: tuple[str, ...]
    finetuned_from: dict | None
    provenance: dict

    @property
    def api(self) -> str:
        """The Flax API the run trains with (a run keeps it)."""
        return self.config.api

    def to_json(self) -> dict:
        """The record as `run.json` holds it."""
        return {
            "format": RUN_FORMAT,
            "preset": self.preset,
            "digits": list(self.digits) if self.digits is not None else None,
            "steps_per_epoch": self.steps_per_epoch,
            "frozen": list(self.frozen),
            "finetuned_from": self.finetuned_from,
            "config": to_dict(self.config),
            **self.provenance,
        }


def new_run(
    directory: Path,
    config: Config,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None,
    steps_per_epoch: int,
    finetuned_from: dict | None = None,
) -> Run:
    """The record of a run about to start in `directory`."""
    return Run(
        directory=Path(directory),
        config=config,
        preset=preset,
        digits=tuple(digits) if digits is not None else None,
        steps_per_epoch=steps_per_epoch,
        frozen=FROZEN if finetuned_from else (),
        finetuned_from=finetuned_from,
        provenance=dict(provenance),
    )


def write_json(path: Path, value: dict) -> None:
    """Write `value` to `path` as JSON, atomically."""
    # Write then rename: a crash mid-write never leaves a half-written file
    # behind.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def write_run(run: Run) -> None:
    """Write `run.json` into the run's directory, atomically."""
    write_json(run.directory / "run.json", run.to_json())


def read_run(run_dir: Path) -> Run:
    """The record of a run directory (finished or not), with a `RunError`
    that names the file and field for anything else.

    A run of the older format is read too: its missing fields are derived
    where they can be.

    Args:
        run_dir: the run directory, which holds `run.json`.

    Returns:
        The run's `Run` record, every field checked.

    Raises:
        RunError: `run_dir` is not a directory; its `run.json` is missing,
            not JSON, of another format, or has a field of the wrong kind;
            or it is an unfinished run of the older format.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(
            f"run directory {run_dir} does not exist; make one with "
            "`train --out`"
        )
    path = run_dir / "run.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(
            f"{run_dir} is not a flaxguide run (no readable run.json): {err}"
        ) from err
    if not isinstance(raw, dict):
        raise RunError(f"{path} is not a {RUN_FORMAT} file")
    if raw.get("format") == OLD_FORMAT:
        raw = _from_old_format(run_dir, raw)
    elif raw.get("format") != RUN_FORMAT:
        raise RunError(f"{path} is not a {RUN_FORMAT} file")
    return _checked(path, raw)


def _checked(path: Path, raw: dict) -> Run:
    """`raw` (a parsed run.json) as a `Run`, every field checked."""

    def wrong(field: str, what: str) -> RunError:
        return RunError(
            f"{path}: {field} must be {what}, got {raw.get(field)!r}; the "
            "file was changed by hand or by another program"
        )

    missing = [
        name
        for name in ("config", "preset", "digits", "steps_per_epoch")
        if name not in raw
    ]
    if missing:
        raise RunError(f"{path} lacks {', '.join(missing)}")
    if not isinstance(raw["config"], dict):
        raise wrong("config", "an object of config fields")
    try:
        config = from_dict(raw["config"])
    except ConfigError as err:
        field = f"config.{err.field}" if err.field else "config"
        raise RunError(f"{path}: {field}: {err}") from err
    if not isinstance(raw["preset"], str):
        raise wrong("preset", "text")
    digits = raw["digits"]
    if digits is not None and not (
        isinstance(digits, list)
        and digits
        and all(type(d) is int and 0 <= d <= 9 for d in digits)
    ):
        raise wrong("digits", "a list of digits 0-9 or null")
    steps = raw["steps_per_epoch"]
    if not (type(steps) is int and steps > 0):
        raise wrong("steps_per_epoch", "a whole number above 0")
    frozen = raw.get("frozen", [])
    if not (
        isinstance(frozen, list) and all(isinstance(n, str) for n in frozen)
    ):
        raise wrong("frozen", "a list of module names")
    source = raw.get("finetuned_from")
    if source is not None and not isinstance(source, dict):
        raise wrong("finetuned_from", "an object or null")
    known = {"format", "config", "preset", "digits", "steps_per_epoch"}
    known |= {"frozen", "finetuned_from"}
    return Run(
        directory=path.parent,
        config=config,
        preset=raw["preset"],
        digits=tuple(digits) if digits is not None else None,
        steps_per_epoch=steps,
        frozen=tuple(frozen),
        finetuned_from=source,
        provenance={k: v for k, v in raw.items() if k not in known},
    )


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
    try:
        steps = json.loads(metrics.read_text())["steps_per_epoch"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise RunError(
            f"{metrics} is not a finished run's metrics (no "
            f"steps_per_epoch): {err}"
        ) from err
    frozen = list(FROZEN) if run.get("finetuned_from") else []
    return {**run, "steps_per_epoch": steps, "frozen": frozen}


def check_api(run: Run, api: str | None, what: str) -> str:
    """The API `run` was trained with; `RunError` if `api` names the other
    one (a run keeps the API it started with). `what` begins the message:
    "--resume continues"."""
    if api is not None and api != run.api:
        raise RunError(
            f"{what} {run.directory}, a run trained with {run.api}; drop "
            f"--api {api}"
        )
    return run.api
