"""A whole training session in a run directory, in one of three modes:

- **new** ([`train_run`][flaxguide.run.session.train_run]): check the
  directory is free, load the data, build the first state, write `run.json`;
- **finetuned** (`train_run` with `finetune_from`): the same, but the first
  state is a finished run's final one, with its encoder frozen and the
  architecture taken from that run;
- **resumed** ([`resume_run`][flaxguide.run.session.resume_run]): everything
  comes from the run's record; training goes on from its newest intact
  checkpoint.

All three then train with [`fit`][flaxguide.training.loop.fit], each epoch
kept by a checkpoint, under the directory's lock (one writer at a time, see
`flaxguide.run.lock`), and when the last epoch is done measure the run and
write `metrics.json`. [`measure_run`][flaxguide.run.session.measure_run]
measures a finished run again.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax

from flaxguide.config import Config, ConfigError
from flaxguide.data import binarize_split, load_splits, steps_per_epoch
from flaxguide.evaluate.metrics import final_metrics
from flaxguide.run.checkpoint import saver
from flaxguide.run.directory import (
    check_new_run_dir,
    make_run_dir,
    read_metrics,
)
from flaxguide.run.lock import LOCK_FILE, run_lock
from flaxguide.run.record import (
    Run,
    new_run,
    read_run,
    write_json,
    write_run,
)
from flaxguide.run.restore import (
    restore_run,
    resume_newest_intact,
    run_manager,
)
from flaxguide.training.backend import (
    as_linen,
    finetuning_state,
    initial_state,
)
from flaxguide.training.loop import fit
from flaxguide.training.sharding import (
    check_batch_divides,
    data_mesh,
    on_devices,
)
from flaxguide.training.stops import StopSignals

# What a finetuned run takes from the run it starts from; the rest of its
# config is its own.
MODEL_FIELDS = ("encoder_dims", "decoder_dims", "latent_dim", "num_classes")


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def train_run(
    config: Config,
    out: Path,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None = None,
    finetune_from: Run | Path | None = None,
    stop_after: int | None = None,
    devices: int = 1,
    stops: StopSignals | None = None,
) -> dict | None:
    """Train a new run into the empty directory `out`, from scratch or
    finetuned from a finished run.

    Args:
        config: the run's config. A finetuned run takes its architecture
            (`MODEL_FIELDS`) and API from the source run instead.
        out: a directory that does not exist or is empty; a run that fails
            before it has written `run.json` leaves none behind.
        preset: the preset `config` came from, recorded in `run.json`.
        provenance: where and with what the run is made
            (`flaxguide.provenance.provenance()`).
        digits: train (and be scored) on these digits only.
        finetune_from: a finished run (its record, or its directory) whose
            final state this run starts from, with its encoder frozen.
        stop_after: end this session after so many epochs, leaving a run
            that `resume_run` continues.
        devices: train data-parallel on this many devices
            (`flaxguide.training.sharding`).
        stops: the process's installed `StopSignals`: a stop signal then
            waits for the epoch in flight (see `fit`).

    Returns:
        The final metrics (also written to `out/metrics.json`), or None when
            `stop_after` ended the session early.

    Raises:
        ConfigError: `devices` does not fit the batch size or the devices
            JAX sees, the batch is larger than the training set, or
            `config.api` is not the source run's.
        RunError: `out` is not empty or cannot be created, or
            `finetune_from` is not a run or has no checkpoint.
        LockError: another process holds `out`'s lock.
        DivergedError: training diverged; the last finished epoch is kept.
    """
    start = time.perf_counter()
    out = Path(out)
    _check_devices(config, devices)
    if isinstance(finetune_from, (str, Path)):
        finetune_from = read_run(finetune_from)
    check_new_run_dir(out)
    created = not out.exists()
    make_run_dir(out)
    try:
        with run_lock(out):
            # again, under the lock: another process may have started here
            check_new_run_dir(out)
            run, state, splits = _start(
                config, out, preset, provenance, digits, finetune_from
            )
            return _train(run, state, [], run_manager(run), splits,
                          stop_after, devices, stops, start)  # fmt: skip
    finally:
        # A new run that failed before it wrote run.json leaves no directory
        # behind.
        if created and not (out / "run.json").exists():
            (out / LOCK_FILE).unlink(missing_ok=True)
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()


def resume_run(
    run: Run | Path,
    *,
    stop_after: int | None = None,
    notify: Callable[[str], None] = _to_stderr,
    devices: int = 1,
    stops: StopSignals | None = None,
) -> dict | None:
    """Go on training an interrupted run from its newest intact checkpoint.

    Args:
        run: the run's record (or its directory): its config, digits and
            steps per epoch are the run's own, not this call's.
        stop_after: end this session after so many more epochs.
        notify: told of each damaged checkpoint, which is never restored but
            moved to `damaged/` in the run directory.
        devices: the devices to train on now; a run may resume on another
            number of devices than it started on.
        stops: the process's installed `StopSignals` (see `fit`).

    Returns:
        The final metrics, or None when `stop_after` ended the session early.

    Raises:
        ConfigError: `devices` does not fit the batch size or the devices
            JAX sees.
        RunError: `run` is not a run, or has no intact checkpoint.
        LockError: another process is training the run.
        DivergedError: training diverged; the last finished epoch is kept.
    """
    start = time.perf_counter()
    if not isinstance(run, Run):
        run = read_run(run)
    # before anything is written
    _check_devices(run.config, devices)
    with run_lock(run.directory):
        state, history, manager = resume_newest_intact(run, notify)
        splits = _splits(run.config, run.digits)
        return _train(run, state, history, manager, splits, stop_after,
                      devices, stops, start)  # fmt: skip


def _train(
    run, state, history, manager, splits, stop_after, devices, stops, start
):
    """Train `run` on `splits` from `state` (its `history` so far), keeping
    each epoch through `manager`; measure it if it finished."""
    train, test, judge_test = splits
    # The state and the data on every device, each batch split (one device:
    # as is).
    (state, train_on_mesh, test_on_mesh), sharding = on_devices(
        (state, train, test), devices
    )
    state, history, finished = fit(
        run.config,
        state,
        train_on_mesh,
        test_on_mesh,
        history=history,
        save=saver(manager),
        stop_after=stop_after,
        batch_sharding=sharding,
        stops=stops,
    )
    manager.wait_until_finished()
    if not finished:
        return None
    # The final measurements run on one device: they need no partitioning.
    state = jax.device_put(state, jax.devices()[0])
    metrics = final_metrics(
        run.config,
        as_linen(state, run.config),
        train,
        test,
        history,
        run.preset,
        run.digits,
        judge_test=judge_test,
    )
    metrics["total_seconds"] = round(time.perf_counter() - start, 1)
    write_json(run.directory / "metrics.json", metrics)
    return metrics


def _check_devices(config: Config, devices: int) -> None:
    """Refuse a device count this process cannot use before anything is
    written."""
    check_batch_divides(config.batch_size, devices)
    # raises ConfigError unless 1 <= devices <= the devices JAX sees
    data_mesh(devices)


def _start(config, out, preset, provenance, digits, source: Run | None):
    """A new run's record (written to run.json), first state and data."""
    splits = _splits(config, digits)
    train = splits[0]
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
    if source is None:
        state = initial_state(config, steps)
    else:
        if source.api != config.api:
            raise ConfigError(
                f"{source.directory} was trained with "
                f"{source.api}, and a finetuned run "
                "keeps its source's API; use --api "
                f"{source.api} (or leave --api out)",
                "api",
            )
        # The architecture comes from the source run; the training settings
        # from `config`.
        config = dataclasses.replace(
            config,
            **{name: getattr(source.config, name) for name in MODEL_FIELDS},
        )
        source_state, _, source_epoch = restore_run(source)
        state = finetuning_state(source_state, config, steps)
        finetuned_from = {
            "run": str(source.directory),
            "epoch": source_epoch,
        }
    run = new_run(
        out,
        config,
        preset=preset,
        provenance=provenance,
        digits=digits,
        steps_per_epoch=steps,
        finetuned_from=finetuned_from,
    )
    write_run(run)
    return run, state, splits


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


def measure_run(run: Run | Path, provenance: dict) -> dict:
    """Measure a finished run's final state again, with this code's metrics,
    and rewrite its `metrics.json`: the training history and times are kept,
    and `measured` records where, when and with which code the numbers were
    taken."""
    if not isinstance(run, Run):
        run = read_run(run)
    old = read_metrics(run.directory)
    state, _, _ = restore_run(run, epoch=run.config.epochs)
    train, test, judge_test = _splits(run.config, run.digits)
    metrics = final_metrics(
        run.config, as_linen(state, run.config), train, test,
        old["history"], run.preset, run.digits, judge_test=judge_test,
    )  # fmt: skip
    metrics |= {
        "total_seconds": old["total_seconds"],
        "measured": provenance,
    }
    with run_lock(run.directory):
        write_json(run.directory / "metrics.json", metrics)
    return metrics
