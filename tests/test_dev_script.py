"""The README's commands on a machine whose only Python is too old: one clear message, no pip."""

import os
import shutil
import subprocess

import pytest
from conftest import ROOT


def old_python() -> str | None:
    """A Python older than 3.12 on this machine, if there is one."""
    for candidate in ("/usr/bin/python3", shutil.which("python3.11"), shutil.which("python3.10")):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = [candidate, "-c", "import sys; print(sys.version_info < (3, 12))"]
        result = subprocess.run(probe, capture_output=True, text=True)
        if result.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture
def only_an_old_python(tmp_path):
    python = old_python()
    if python is None:
        # A stand-in that answers as Python 3.11 would: a version, and "too old" to the check.
        python = tmp_path / "python-3.11"
        answer = '[ "$1" = --version ] && echo "Python 3.11.7" && exit 0'
        python.write_text(f"#!/bin/sh\n{answer}\nexit 1\n")
        python.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    for tool in ("bash", "cat", "cksum", "rm", "dirname", "head"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return bin_dir


def test_setup_names_the_python_it_needs(only_an_old_python, tmp_path):
    env = {"PATH": str(only_an_old_python), "HOME": str(tmp_path)}
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/dev.sh"), "setup"],
        env=env | {"FLAXGUIDE_VENV": str(venv)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert "needs Python 3.12 or newer" in result.stderr
    assert "Found: python3:" in result.stderr
    assert "PYTHON=/path/to/python3.12" in result.stderr
    assert "pip" not in result.stdout + result.stderr.replace("PYTHON=", "")
    assert not venv.exists()


def test_a_python_given_by_name_that_is_too_old_is_refused(only_an_old_python, tmp_path):
    old = only_an_old_python / "python3"
    env = {"PATH": str(only_an_old_python), "HOME": str(tmp_path), "PYTHON": str(old)}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/dev.sh"), "setup"],
        env=env | {"FLAXGUIDE_VENV": str(tmp_path / "venv")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3
    assert f"Found: PYTHON={old}" in result.stderr
