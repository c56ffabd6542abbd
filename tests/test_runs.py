"""Run directories: run.json records what rebuilds a run's state, and foreign or old folders get
clear errors."""

import json

import pytest

from flaxguide.config import PRESETS, to_dict
from flaxguide.runs import (
    OLD_FORMAT,
    RUN_FORMAT,
    RunError,
    check_new_run_dir,
    new_run,
    read_run,
    restore_target,
    write_json,
)


def record(**changes) -> dict:
    run = new_run(
        PRESETS["quick"],
        preset="quick",
        provenance={"commit": "abc"},
        digits=(5, 6),
        steps_per_epoch=4,
        finetuned_from=changes.pop("finetuned_from", None),
    )
    return run | changes


def test_run_json_records_what_rebuilds_the_state(tmp_path):
    write_json(tmp_path / "run.json", record(finetuned_from={"run": "pre", "epoch": 2}))
    run = read_run(tmp_path)
    assert run["format"] == RUN_FORMAT
    assert (run["digits"], run["steps_per_epoch"]) == ([5, 6], 4)
    assert run["frozen"] == ["encoder", "to_latent"]
    state = restore_target(run)
    # A finetuned run's optimiser is partitioned into frozen and trainable leaves.
    assert type(state.opt_state).__name__ == "PartitionState"
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def test_an_old_finished_run_is_read_with_its_missing_fields(tmp_path):
    old = {"format": OLD_FORMAT, "preset": "quick", "digits": None}
    old["config"] = to_dict(PRESETS["quick"])
    write_json(tmp_path / "run.json", old)
    with pytest.raises(RunError, match="unfinished run of the older format"):
        read_run(tmp_path)
    write_json(tmp_path / "metrics.json", {"steps_per_epoch": 468})
    run = read_run(tmp_path)
    assert (run["steps_per_epoch"], run["frozen"]) == (468, [])


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


def test_a_new_run_never_overwrites(tmp_path):
    check_new_run_dir(tmp_path / "fresh")  # absent: fine
    check_new_run_dir(tmp_path)  # empty: fine
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(RunError, match="not empty"):
        check_new_run_dir(tmp_path)
