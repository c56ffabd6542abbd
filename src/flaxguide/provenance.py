"""Where, when and with what a result was produced: recorded in every run and
figure manifest."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata

import jax

PACKAGES = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax-checkpoint",
    "torch",
    "torchvision",
)


def usable_cpus() -> int:
    """The CPU cores this process may run on, on any platform.

    `os.process_cpu_count` (Python 3.13+) honours CPU affinity where the
    platform has it; on Python 3.12, `os.sched_getaffinity` does, but only
    Linux has it (not macOS or Windows), so the last resort is
    `os.cpu_count`, every core of the machine.
    """
    # Python 3.13 and newer, every platform
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):  # Linux only
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def provenance() -> dict:
    """Where, when and with what a result was produced."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return result.stdout.strip()

    device = jax.devices()[0]
    status = git(
        "status", "--porcelain", "--untracked-files=no", "--", "src"
    )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "package_code_modified": None if status is None else bool(status),
        "device": {"platform": device.platform, "kind": device.device_kind},
        "host": {"machine": platform.machine(), "cpus": usable_cpus()},
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in PACKAGES},
    }
