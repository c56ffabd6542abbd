"""The command line: `python -m flaxguide COMMAND ...`.

Kept thin: it parses arguments, checks them, and calls the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "torchvision")


def provenance() -> dict:
    """Where, when and with what a result was produced."""
    import jax

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    device = jax.devices()[0]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": dirty,
        "device": {"platform": device.platform, "kind": device.device_kind},
        "host": {"machine": platform.machine(), "cpus": _cpu_count()},
        "python": platform.python_version(),
        "versions": {name: metadata.version(name) for name in PACKAGES},
    }


def _cpu_count() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cmd_figures(args: argparse.Namespace) -> None:
    from flaxguide.data import load_mnist
    from flaxguide.figures import digit_rows

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist("test")
    written = {}
    fig = digit_rows(images, labels)
    fig.savefig(args.out / "mnist-test-digits.png", dpi=80)
    written["mnist-test-digits.png"] = "the first 12 test images of each digit (real MNIST)"
    manifest = {
        "command": " ".join(["python -m flaxguide", *sys.argv[1:]]),
        "figures": written,
        "seconds": round(time.perf_counter() - start, 2),
        **provenance(),
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(written)} figure(s) and manifest.json to {args.out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flaxguide", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    figures = sub.add_parser("figures", help="draw every figure the site shows")
    figures.add_argument("--out", type=Path, default=Path("docs/figures"))
    figures.set_defaults(func=cmd_figures)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)
