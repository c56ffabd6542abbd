"""A whole training run in its run directory: start, resume or finetune it,
train it with [`fit`][flaxguide.train.fit], and measure it when it
finishes."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax

from flaxguide.apis import as_linen
from flaxguide.config import Config, ConfigError
from flaxguide.data import binarize_split, load_splits
from flaxguide.lock import LOCK_FILE, run_lock
from flaxguide.metrics import final_metrics
from flaxguide.runs import (
    check_new_run_dir,
    finetuning_state,
    initial_state,
    make_run_dir,
    new_run,
    read_metrics,
    read_run,
    restore_run,
    resume_newest_intact,
    run_config,
    run_manager,
    write_json,
)
from flaxguide.sharding import check_batch_divides, data_mesh, on_devices
from flaxguide.steps import steps_per_epoch
from flaxguide.train import fit

# What a finetuned run takes from the run it starts from; the rest of its
# config is its own.
MODEL_FIELDS = ("encoder_dims", "decoder_dims", "latent_dim", "num_classes")


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def train_run(
    config: Config | None,
    out: Path,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None = None,
    resume: bool = False,
    finetune_from: Path | None = None,
    stop_after: int | None = None,
    notify: Callable[[str], None] = _to_stderr,
    devices: int = 1,
) -> dict | None:
    """Train into the run directory `out`: a new run, a resumed one
    (`resume`, which takes everything from `out/run.json` and ignores
    `config`), or one finetuned from another run.

    One process at a time trains in a directory (see `flaxguide.lock`). A
    resumed run continues from its newest intact checkpoint; damaged ones are
    moved aside and reported through `notify`. Returns the final metrics, or
    None when `stop_after` ended the session early. `devices` > 1 trains
    data-parallel on that many devices (`flaxguide.sharding`); a run may
    resume on another number of devices than it started on.
    """
    start = time.perf_counter()
    out = Path(out)
    if resume:
        # A missing or foreign directory is reported before anything is
        # written.
        _check_devices(run_config(read_run(out)), devices)
    else:
        _check_devices(config, devices)
        check_new_run_dir(out)
        created = not out.exists()
        make_run_dir(out)
    try:
        with run_lock(out):
            if resume:
                state, history, manager = resume_newest_intact(out, notify)
                run = read_run(out)
                config = run_config(run)
                train, test, judge_test = _splits(config, run["digits"])
            else:
                run, config, state, train, test, judge_test = _start(
                    config, out, preset, provenance, digits, finetune_from
                )
                history, manager = [], run_manager(out, config)
            # The state and the data on every device, each batch split (one
            # device: as is).
            (state, train_on_mesh, test_on_mesh), sharding = on_devices(
                (state, train, test), devices
            )
            state, history, finished = fit(
                config,
                state,
                train_on_mesh,
                test_on_mesh,
                history=history,
                manager=manager,
                stop_after=stop_after,
                frozen=tuple(run["frozen"]),
                batch_sharding=sharding,
            )
            manager.wait_until_finished()
            if not finished:
                return None
            # The final measurements run on one device: they need no
            # partitioning.
            state = jax.device_put(state, jax.devices()[0])
            metrics = final_metrics(
                config,
                as_linen(state, config),
                train,
                test,
                history,
                run["preset"],
                run["digits"],
                judge_test=judge_test,
            )
            metrics["total_seconds"] = round(time.perf_counter() - start, 1)
            write_json(out / "metrics.json", metrics)
            return metrics
    finally:
        # A new run that failed before it wrote run.json leaves no directory
        # behind.
        if not resume and created and not (out / "run.json").exists():
            (out / LOCK_FILE).unlink(missing_ok=True)
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()


def _check_devices(config: Config, devices: int) -> None:
    """Refuse a device count this process cannot use before anything is
    written."""
    check_batch_divides(config.batch_size, devices)
    # raises ConfigError unless 1 <= devices <= the devices JAX sees
    data_mesh(devices)


def _start(config, out, preset, provenance, digits, finetune_from):
    """A new run's record (written to run.json), config, initial state and
    data."""
    # again, under the lock: another process may have started here
    check_new_run_dir(out)
    train, test, judge_test = _splits(config, digits)
    if config.batch_size > train[0].shape[0]:
        which = (
            ""
            if digits is None
            else f" of the digits {', '.join(map(str, digits))}"
        )
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the "
            "training set "
            f"({train[0].shape[0]:,} examples{which}); choose at "
            f"most {train[0].shape[0]}",
            "batch_size",
        )
    steps = steps_per_epoch(config, train)
    finetuned_from = None
    if finetune_from is None:
        state = initial_state(config, steps)
    else:
        source_config = run_config(read_run(finetune_from))
        if source_config.api != config.api:
            raise ConfigError(
                f"{finetune_from} was trained with "
                f"{source_config.api}, and a finetuned run "
                "keeps its source's API; use --api "
                f"{source_config.api} (or leave --api out)",
                "api",
            )
        # The architecture comes from the source run; the training settings
        # from `config`.
        config = dataclasses.replace(
            config,
            **{name: getattr(source_config, name) for name in MODEL_FIELDS},
        )
        source_state, _, source_epoch = restore_run(finetune_from)
        state = finetuning_state(source_state, config, steps)
        finetuned_from = {"run": str(finetune_from), "epoch": source_epoch}
    run = new_run(
        config,
        preset=preset,
        provenance=provenance,
        digits=digits,
        steps_per_epoch=steps,
        finetuned_from=finetuned_from,
    )
    write_json(out / "run.json", run)
    return run, config, state, train, test, judge_test


def _splits(config: Config, digits) -> tuple:
    """The training split, the test split the run is scored on (binarised
    once, for a binarised run), and the grey test split, on which the judge's
    own accuracy is measured."""
    train, grey_test = load_splits(digits)
    return (
        train,
        binarize_split(grey_test) if config.binarize else grey_test,
        grey_test,
    )


def measure_run(run_dir: Path, provenance: dict) -> dict:
    """Measure a finished run's final state again, with this code's metrics,
    and rewrite its `metrics.json`: the training history and times are kept,
    and `measured` records where, when and with which code the numbers were
    taken."""
    run_dir = Path(run_dir)
    old = read_metrics(run_dir)
    run = read_run(run_dir)
    config = run_config(run)
    state, _, _ = restore_run(run_dir, epoch=config.epochs)
    train, test, judge_test = _splits(config, run["digits"])
    metrics = final_metrics(
        config, as_linen(state, config), train, test, old["history"],
        run["preset"], run["digits"], judge_test=judge_test,
    )  # fmt: skip
    metrics |= {
        "total_seconds": old["total_seconds"],
        "measured": provenance,
    }
    with run_lock(run_dir):
        write_json(run_dir / "metrics.json", metrics)
    return metrics
