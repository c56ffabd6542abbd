"""Provenance on every platform: nothing on the path a reader runs needs a Linux-only call."""

import os

import pytest

import flaxguide.run.session
from flaxguide.cli.commands import main
from flaxguide.provenance import provenance

# Functions that only some platforms have: Linux's CPU affinity, and Python 3.13's
# `process_cpu_count` (absent on 3.12). The code must run with both gone, as on macOS's 3.12.
PLATFORM_ONLY = ("sched_getaffinity", "process_cpu_count")


@pytest.fixture
def no_linux_only_calls(monkeypatch):
    for name in PLATFORM_ONLY:
        monkeypatch.delattr(os, name, raising=False)
    assert not any(hasattr(os, name) for name in PLATFORM_ONLY)


def test_provenance_counts_cpus_without_linux_only_calls(no_linux_only_calls):
    record = provenance()
    assert record["host"]["cpus"] == os.cpu_count() >= 1


def test_the_cli_reaches_training_without_linux_only_calls(
    no_linux_only_calls, monkeypatch, tmp_path, capsys
):
    # The early path runs for real (options, config, provenance); training itself is replaced.
    seen = {}

    def train_run(config, out, **kwargs):
        seen.update(kwargs, config=config)
        return None  # as a run stopped on request

    monkeypatch.setattr(flaxguide.run.session, "train_run", train_run)
    main(["train", "--preset", "quick", "--out", str(tmp_path / "run")])  # exits only on errors
    assert seen["provenance"]["host"]["cpus"] == os.cpu_count()
    assert seen["config"].epochs == 2
    assert "stopped as asked" in capsys.readouterr().out


def test_cpu_affinity_is_honoured_where_the_platform_has_it():
    from flaxguide.provenance import usable_cpus

    if hasattr(os, "process_cpu_count"):
        assert usable_cpus() == os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        assert usable_cpus() == len(os.sched_getaffinity(0))
    else:
        assert usable_cpus() == os.cpu_count()
