"""Run directories: run.json records what rebuilds a run's state, and foreign or old folders get
clear errors."""

import json
import re

import jax
import pytest

from flaxguide.config import PRESETS, to_dict
from flaxguide.run.directory import check_new_run_dir
from flaxguide.run.record import (
    OLD_FORMAT,
    RUN_FORMAT,
    RunError,
    new_run,
    read_run,
    write_json,
    write_run,
)
from flaxguide.run.restore import restore_target


def record(run_dir, **changes) -> dict:
    run = new_run(
        run_dir,
        PRESETS["quick"],
        preset="quick",
        provenance={"commit": "abc"},
        digits=(5, 6),
        steps_per_epoch=4,
        finetuned_from=changes.pop("finetuned_from", None),
    )
    return run.to_json() | changes


def test_run_json_records_what_rebuilds_the_state(tmp_path):
    write_json(tmp_path / "run.json", record(tmp_path, finetuned_from={"run": "pre", "epoch": 2}))
    assert json.loads((tmp_path / "run.json").read_text())["format"] == RUN_FORMAT
    run = read_run(tmp_path)
    assert (run.digits, run.steps_per_epoch) == ((5, 6), 4)
    assert run.frozen == ("encoder", "to_latent")
    assert run.provenance == {"commit": "abc"} and run.directory == tmp_path
    write_run(run)  # what is read is what is written
    assert read_run(tmp_path) == run
    state = restore_target(run)
    # A finetuned run's optimiser is partitioned into frozen and trainable leaves.
    assert type(state.opt_state).__name__ == "PartitionState"
    assert state.frozen == ("encoder", "to_latent")
    # Shapes only: nothing was initialised to be thrown away.
    assert all(isinstance(x, jax.ShapeDtypeStruct) for x in jax.tree.leaves(state.params))
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def test_an_old_finished_run_is_read_with_its_missing_fields(tmp_path):
    old = {"format": OLD_FORMAT, "preset": "quick", "digits": None}
    old["config"] = to_dict(PRESETS["quick"])
    write_json(tmp_path / "run.json", old)
    with pytest.raises(RunError, match="unfinished run of the older format"):
        read_run(tmp_path)
    write_json(tmp_path / "metrics.json", {"steps_per_epoch": 468})
    run = read_run(tmp_path)
    assert (run.steps_per_epoch, run.frozen) == (468, ())


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no readable run.json"),
        ("{not json", "no readable run.json"),
        (json.dumps({"format": "something-else/9"}), "is not a flaxguide-run/2 file"),
    ],
)
def test_foreign_folders_are_clear_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "run.json").write_text(content)
    with pytest.raises(RunError, match=message):
        read_run(tmp_path)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("steps_per_epoch", "4", "steps_per_epoch must be a whole number above 0, got '4'"),
        ("digits", [5, 10], "digits must be a list of digits 0-9 or null"),
        ("frozen", "encoder", "frozen must be a list of module names"),
        ("preset", 3, "preset must be text"),
        ("config", [], "config must be an object"),
    ],
)
def test_a_run_json_field_of_the_wrong_kind_is_named(tmp_path, field, value, message):
    write_json(tmp_path / "run.json", record(tmp_path, **{field: value}))
    with pytest.raises(RunError, match=re.escape(message)):
        read_run(tmp_path)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("latent_dim", "many", "config.latent_dim: latent_dim must be a whole number, got 'many'"),
        ("binarize", 1, "config.binarize: binarize must be True or False, got 1"),
        ("clip_norm", "off", "config.clip_norm: clip_norm must be a number or None, got 'off'"),
        ("epochs", -2, "config.epochs: epochs must be a positive finite number"),
    ],
)
def test_a_config_field_of_the_wrong_kind_is_named(tmp_path, field, value, message):
    run = record(tmp_path)
    run["config"][field] = value
    write_json(tmp_path / "run.json", run)
    with pytest.raises(RunError, match=re.escape(message)):
        read_run(tmp_path)


def test_a_new_run_never_overwrites(tmp_path):
    check_new_run_dir(tmp_path / "fresh")  # absent: fine
    check_new_run_dir(tmp_path)  # empty: fine
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(RunError, match="not empty"):
        check_new_run_dir(tmp_path)
