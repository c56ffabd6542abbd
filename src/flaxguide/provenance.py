"""Where, when and with what a result was produced: recorded in every run and figure manifest."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata

import jax

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "torchvision")


def provenance() -> dict:
    """Where, when and with what a result was produced."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return result.stdout.strip()

    device = jax.devices()[0]
    status = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "package_code_modified": None if status is None else bool(status),
        "device": {"platform": device.platform, "kind": device.device_kind},
        "host": {"machine": platform.machine(), "cpus": len(os.sched_getaffinity(0))},
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in PACKAGES},
    }
