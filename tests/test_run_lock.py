"""One writer per run directory, and a clear word where the platform has no POSIX locks."""

import os

import pytest

import flaxguide.run.lock
from flaxguide.run.lock import LOCK_FILE, LockError, run_lock


def test_the_lock_records_its_holder_and_refuses_a_second_writer(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(LockError, match=f"PID {os.getpid()}"), run_lock(tmp_path):
            pass
    with run_lock(tmp_path):  # released when its holder let go
        pass


def test_without_posix_locks_training_says_to_use_wsl(tmp_path, monkeypatch):
    monkeypatch.setattr(flaxguide.run.lock, "fcntl", None)  # as on native Windows
    with pytest.raises(LockError, match="run the guide under WSL"), run_lock(tmp_path):
        pass
    assert not (tmp_path / LOCK_FILE).exists()  # nothing written before the refusal
