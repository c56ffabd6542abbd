"""The versions the pages are run with: the pins of `requirements.lock`.

Read from the file, not from the installed packages: `serve` builds the site in an environment
without jax or torch (requirements-site.lock), and a notebook's set-up cell installs these.
"""

from __future__ import annotations

import re
from pathlib import Path

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
# `name==version` at the start of a line of a lock that `uv export` wrote.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s;\\]+)", re.MULTILINE)


def normalized(name: str) -> str:
    """A package name as PEP 503 compares them: `Orbax_Checkpoint` is `orbax-checkpoint`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """The pins of a requirements lock, by normalized package name."""
    return {normalized(name): version for name, version in PIN.findall(lock.read_text())}
