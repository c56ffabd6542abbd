"""Faults and bad input: no run ends "successfully" on garbage, and nothing is lost.

Each test here is a row of the fault table on the checkpoints page (`fault_cases.py`).
"""

import ast
import dataclasses
import errno
import gc
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, mnist_slices
from fault_cases import FAULTS
from orbax.checkpoint._src.handlers import json_checkpoint_handler

import flaxguide.run.session
from flaxguide.cli.commands import main
from flaxguide.config import get_config
from flaxguide.run.checkpoint import (
    CheckpointCorruptError,
    CheckpointWriteError,
    checkpoint_manager,
    latest_epoch,
    restore_checkpoint,
    save_checkpoint,
    saver,
)
from flaxguide.run.record import new_run, read_run, write_run
from flaxguide.run.restore import restore_target, resume_newest_intact, run_manager
from flaxguide.training.backend import initial_state
from flaxguide.training.linen import create_train_state
from flaxguide.training.loop import DivergedError, fit

SMALL = get_config(
    "quick", encoder_dims=(32,), decoder_dims=(32, 784), latent_dim=4, batch_size=128
)


def run_cli(capsys, *argv) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def one_line_error(err: str) -> str:
    """The message of a failed command: exactly one line, no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def raw(leaf):
    """A leaf as plain numbers: typed PRNG keys as their data, which NumPy can compare."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(leaf)
    return leaf


def assert_same(a, b) -> None:
    leaves_a, leaves_b = (
        jax.tree.leaves(jax.tree.map(raw, a)),
        jax.tree.leaves(jax.tree.map(raw, b)),
    )
    assert len(leaves_a) == len(leaves_b)
    assert all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b, strict=True))


@pytest.fixture(scope="module")
def data(mnist_mirror, tmp_path_factory):
    return mnist_slices(mnist_mirror, tmp_path_factory.mktemp("mnist"), train=512, test=256)


def make_run(run_dir: Path, epochs: int) -> list:
    """A run directory with `epochs` checkpoints of a small model (states differ by step)."""
    run = new_run(run_dir, SMALL, preset="quick", provenance={}, digits=None, steps_per_epoch=4)
    run_dir.mkdir(parents=True)
    write_run(run)
    state, states = initial_state(SMALL, 4), []
    with run_manager(run) as manager:
        for epoch in range(1, epochs + 1):
            state = state.replace(step=jnp.asarray(epoch, jnp.int32))
            history = [{"epoch": e, "test_ema_nelbo": 100.0 - e} for e in range(1, epoch + 1)]
            assert save_checkpoint(manager, epoch, state, history, 100.0 - epoch, force=True)
            states.append(state)
    return states


# Hyper-parameters


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "5"])
def test_absurd_hyperparameters_are_refused_up_front(capsys, tmp_path, value):
    code, err = run_cli(capsys, "train", f"--learning-rate={value}", "--out", tmp_path / "run")
    assert code == 2
    assert "argument --learning-rate: learning_rate" in one_line_error(err)
    assert not (tmp_path / "run").exists()


# Divergence


def test_a_nan_batch_stops_the_run_and_keeps_the_last_epoch(data, tmp_path):
    train, test = data
    # Grey levels: a binarised batch would draw a 0 or a 1 from a NaN intensity, not a NaN.
    config = get_config(
        "quick", encoder_dims=(32,), decoder_dims=(32, 784), latent_dim=4, binarize=False
    )
    state = create_train_state(config, jax.random.key(0), steps_per_epoch=4)
    manager = checkpoint_manager(tmp_path, save_every=5, keep=2)
    one = dataclasses.replace(config, epochs=1)
    state, history, _ = fit(one, state, train, test, progress=False)
    # Epoch 2 sees float images with one NaN pixel: its loss and gradients become NaN.
    bad = train[0].astype(jnp.float32).at[7, 300].set(jnp.nan) / 255.0
    message = r"diverged in epoch 2: .* from step \d of 4 on; epoch 1 is saved, and no metrics"
    with pytest.raises(DivergedError, match=message):
        fit(
            config,
            state,
            (bad, train[1]),
            test,
            history=history,
            save=saver(manager),
            progress=False,
        )
    manager.wait_until_finished()
    assert latest_epoch(manager) == 1  # not a multiple of save_every, but the last good one
    restored, restored_history, _ = restore_checkpoint(
        manager, create_train_state(config, jax.random.key(0), steps_per_epoch=4)
    )
    assert_same(restored.params, state.params)
    assert [row["epoch"] for row in restored_history] == [1]


def test_a_diverging_command_exits_3_and_writes_no_metrics(capsys, data, tmp_path, monkeypatch):
    train, test = data
    poisoned = (train[0].astype(jnp.float32).at[0, 0].set(jnp.nan) / 255.0, train[1])
    monkeypatch.setattr(flaxguide.run.session, "load_splits", lambda digits: (poisoned, test))
    out = tmp_path / "run"
    # --grey, as above: binarising would turn the NaN pixel into a 0 or a 1.
    code, err = run_cli(
        capsys, "train", "--grey", "--epochs", "1", "--batch-size", "128", "--out", out
    )
    assert code == 3
    assert "diverged in epoch 1" in err.strip().splitlines()[-1]
    assert (out / "run.json").is_file() and not (out / "metrics.json").exists()


# Damaged checkpoints


def kind_of(name: str) -> str:
    """Which of the four kinds of checkpoint file `name` (relative to the step folder) is."""
    if name == "_CHECKPOINT_METADATA":
        return "checkpoint metadata"
    if name.startswith(("history/", "digest/", "metrics/")):
        return "JSON items"
    if "/d/" in name:
        return "array data"
    return "array metadata"


# A read that fails part-way leaves Orbax's background coroutines to complain, as their event
# loop closes, that it is closed: noise from Orbax's threads, not an error of the read itself.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_damaged_checkpoint_is_never_restored(tmp_path):
    states = make_run(tmp_path / "run", epochs=1)
    step = tmp_path / "run" / "checkpoints" / "1"
    files = sorted(p.relative_to(step).as_posix() for p in step.rglob("*") if p.is_file())
    detected, rng = {}, np.random.default_rng(0)
    for name in files:
        if name.endswith("commit_success.txt"):
            continue  # a marker Orbax writes last; its content is never read
        work = tmp_path / "work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(tmp_path / "run", work)
        target = work / "checkpoints" / "1" / name
        data = bytearray(target.read_bytes())
        count = min(len(data), 1000)
        start = (len(data) - count) // 2
        data[start : start + count] = rng.integers(0, 256, count, dtype=np.uint8).tobytes()
        target.write_bytes(bytes(data))
        try:
            run = read_run(work)
            with run_manager(run) as manager:
                state, history, _ = restore_checkpoint(manager, restore_target(run))
        except CheckpointCorruptError as err:
            assert str(work / "checkpoints" / "1") in str(err)
            detected.setdefault(kind_of(name), []).append(name)
            gc.collect()  # the failed read's abandoned coroutines complain here, not later
            continue
        # Restored without complaint: then every array and the history are exactly as saved.
        assert_same(state, states[0])
        assert history == [{"epoch": 1, "test_ema_nelbo": 99.0}]
    assert sorted(detected) == [
        "JSON items",
        "array data",
        "array metadata",
        "checkpoint metadata",
    ], detected


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", ["_CHECKPOINT_METADATA", "metrics/metrics", "state/_METADATA"])
def test_resume_sets_a_damaged_checkpoint_aside(tmp_path, damage):
    states = make_run(tmp_path / "run", epochs=2)
    (tmp_path / "run" / "checkpoints" / "2" / damage).write_bytes(b"\x82" * 40)
    notes = []
    state, history, manager = resume_newest_intact(read_run(tmp_path / "run"), notes.append)
    manager.close()
    assert_same(state, states[0])
    assert len(history) == 1
    assert (tmp_path / "run" / "damaged" / "2" / damage).is_file()
    assert "checkpoints/2 is damaged" in notes[0] and "moved it to" in notes[0]
    # The damaged read's abandoned coroutines complain here, inside this test's filter, not in
    # whichever test the garbage collector next runs in.
    gc.collect()


# One writer per run directory

HOLDER = textwrap.dedent(
    """
    import sys, time
    from flaxguide.run.lock import run_lock

    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_a_second_trainer_exits_2_naming_the_holder(capsys, tmp_path):
    make_run(tmp_path / "run", epochs=1)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        code, err = run_cli(capsys, "train", "--resume", "--out", tmp_path / "run")
        assert code == 2
        assert f"being trained by another process (PID {holder.pid})" in one_line_error(err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    # Killed, the holder's lock is gone with it: the next trainer gets in.
    from flaxguide.run.lock import run_lock

    with run_lock(tmp_path / "run"):
        pass


# Usage errors


def test_a_batch_larger_than_the_data_exits_2(capsys, tmp_path, mnist_mirror, monkeypatch):
    monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
    monkeypatch.setenv("FLAXGUIDE_DATA", str(tmp_path / "data"))
    code, err = run_cli(capsys, "train", "--batch-size", "100000", "--out", tmp_path / "run")
    assert code == 2
    line = one_line_error(err)
    assert "argument --batch-size: batch_size 100000 is larger than the training set" in line
    assert "(60,000 examples)" in line
    assert not (tmp_path / "run").exists()


def test_an_impossible_out_exits_2(capsys, tmp_path):
    # A folder inside a file cannot be created on any platform (`/proc` is Linux's alone).
    (tmp_path / "file.txt").write_text("a file, not a folder")
    out = tmp_path / "file.txt" / "run"
    code, err = run_cli(capsys, "train", "--out", str(out))
    assert code == 2
    assert f"cannot create the run directory {out}" in one_line_error(err)


NUMBERS = ["0", "-1", "1", "3", "0.5", "1e-3", "1e9", "nan", "inf", "-inf", "two", ""]
DIGITS = ["0-4", "5,6,7", "3", "9-0", "10", "x", "", "0-9", "1,,2"]


def random_argv(rng: random.Random, tmp: Path) -> tuple[list[str], Path]:
    """A random command line, and the one place it may write."""
    out = rng.choice([tmp / "out", tmp / "out" / "deep", tmp / "file.txt", tmp / "file.txt" / "no"])
    command = rng.choice(["train", "train", "train", "sample", "figures"])
    argv = [command]
    if command == "train":
        options = "--epochs --batch-size --seed --latent-dim --kl-weight --learning-rate "
        options += "--warmup-epochs --clip-norm --ema-decay --save-every --stop-after"
        options = options.split()
        for option in rng.sample(options, rng.randint(0, 4)):
            argv += [option, rng.choice(NUMBERS)]
        choices = {
            "--preset": ["quick", "full", "huge"],
            "--schedule": ["constant", "warmup_cosine", "linear"],
            "--digits": DIGITS,
            "--finetune-from": [str(tmp / "nowhere"), str(tmp / "file.txt")],
        }
        for flag, values in choices.items():
            if rng.random() < 0.3:
                argv += [flag, rng.choice(values)]
        for flag in ("--resume", "--no-clip"):
            if rng.random() < 0.2:
                argv.append(flag)
    elif command == "sample":
        argv += ["--run", str(tmp / rng.choice(["nowhere", "file.txt"]))]
        argv += ["--digit", rng.choice(["3", "10", "x"]), "-n", rng.choice(NUMBERS)]
        argv += ["--temperature", rng.choice(NUMBERS)]
    else:
        argv += ["--run", str(tmp / rng.choice(["nowhere", "file.txt"]))]
    if rng.random() < 0.95:
        argv += ["--out", str(out)]
    return argv, out


def test_random_arguments_exit_0_or_2(capsys, tmp_path, data, monkeypatch):
    train, test = data
    # The early checks run for real; what would train is replaced by a stop, so no case trains.
    monkeypatch.setattr(flaxguide.run.session, "load_splits", lambda digits: (train, test))
    monkeypatch.setattr(
        flaxguide.run.session, "fit", lambda config, state, *a, **k: (state, [], False)
    )
    rng = random.Random(0)
    codes = {}
    for case in range(300):
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        (tmp_path / "file.txt").write_text("a file, not a folder")
        argv, out = random_argv(rng, tmp_path)
        code, err = run_cli(capsys, *argv)
        codes[code] = codes.get(code, 0) + 1
        assert code in (0, 2), (argv, err)
        assert "Traceback" not in err, (argv, err)
        if code == 2:
            assert err.strip().splitlines()[-1].startswith("python -m flaxguide"), (argv, err)
        written = {p for p in tmp_path.rglob("*") if p != tmp_path / "file.txt"}
        allowed = {out, *out.parents}
        strays = [p for p in written if not (p in allowed or out in p.parents)]
        assert strays == [], (case, argv, strays)
    assert codes[0] > 10 and codes[2] > 100, codes  # both outcomes were exercised


# Disk trouble


# The failed write leaves Orbax's other background writes of that step to fail in their own
# threads, which report it as unraisable exceptions: expected here, the step is abandoned.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    states = make_run(tmp_path / "run", epochs=1)

    async def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    run = read_run(tmp_path / "run")
    with run_manager(run) as manager:
        monkeypatch.setattr(json_checkpoint_handler.JsonCheckpointHandler, "_save_fn", disk_full)
        with pytest.raises(CheckpointWriteError, match=r"could not write checkpoint 2 .* No space"):
            save_checkpoint(manager, 2, states[0], [{"epoch": 1}, {"epoch": 2}], 1.0)
        monkeypatch.undo()
    gc.collect()  # the abandoned writes complain here, inside this test's filter
    with run_manager(run) as manager:
        assert manager.all_steps() == [1]
        state, _, epoch = restore_checkpoint(manager, restore_target(run))
    assert epoch == 1
    assert_same(state, states[0])


# The fault table


def test_every_fault_has_its_test_and_every_test_its_fault():
    named = set()
    for fault in FAULTS:
        path, name = fault["test"].split("::")
        tree = ast.parse((ROOT / path).read_text())
        assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, name
        named.add(name)
    here = ast.parse(Path(__file__).read_text())
    tests = {
        n.name for n in here.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }
    assert (
        tests
        - named
        - {
            "test_every_fault_has_its_test_and_every_test_its_fault",
            "test_a_diverging_command_exits_3_and_writes_no_metrics",
        }
        == set()
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_saves_the_last_finished_epoch(stop, tmp_path, mnist_mirror):
    # A real training process, told to stop as a scheduler or a closing terminal tells it, after
    # its first epoch: checkpoints every 5 epochs, so only the stop can have saved one.
    out = tmp_path / "run"
    env = os.environ | {
        "FLAXGUIDE_MNIST_MIRROR": str(mnist_mirror),
        "FLAXGUIDE_DATA": str(tmp_path / "data"),
    }
    argv = ["train", "--digits", "0", "--epochs", "8", "--save-every", "5", "--out", str(out)]
    command = [sys.executable, "-m", "flaxguide", *argv]
    with subprocess.Popen(command, stderr=subprocess.PIPE, env=env, text=True) as trainer:
        seen = ""
        while "| 1/8" not in seen:  # tqdm's bar, once the first epoch is done
            char = trainer.stderr.read(1)
            assert char, f"training ended before its first epoch: {seen[-2000:]}"
            seen += char
        trainer.send_signal(stop)
        seen += trainer.stderr.read()
    assert trainer.returncode == 128 + stop, seen[-2000:]
    assert seen.rstrip().endswith(
        f"python -m flaxguide train: stopped by {stop.name}; the last finished epoch is saved: "
        f"train --resume --out {out}"
    ), seen[-2000:]
    run = read_run(out)
    with run_manager(run) as manager:
        saved = latest_epoch(manager)
        _, history, _ = restore_checkpoint(manager, restore_target(run))
    assert 1 <= saved < 5 and [row["epoch"] for row in history] == list(range(1, saved + 1))
    assert not (out / "metrics.json").exists()
