"""Chapter 7's benchmark: the training epoch on one device and on many, at
the same global batch.

It prints numbers and asserts nothing. On a CPU, fake devices share the same
cores, so the rows measure the overhead of partitioning, not a speed-up; on a
host with several GPUs, the same command measures the real scaling:

    XLA_FLAGS=--xla_force_host_platform_device_count=8 \\ python -m
        flaxguide.chapters.bench_devices --out
        docs/figures/bench-devices.json
    python -m flaxguide.chapters.bench_devices --out bench-devices.json  #
        all local GPUs
    python -m flaxguide.chapters.bench_devices --devices 4 --out
        bench-devices.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax

from flaxguide.config import ConfigError, get_config
from flaxguide.data import load_mnist, prepare
from flaxguide.provenance import provenance
from flaxguide.training.linen import create_state_epoch, create_train_state
from flaxguide.training.sharding import (
    check_batch_divides,
    data_mesh,
    on_devices,
)


def epoch_rate(config, state, data, devices: int, repeats: int = 3) -> float:
    """Examples per second of the jitted training epoch on `devices` devices
    (best of `repeats`, compiled first)."""
    (state, data), sharding = on_devices((state, data), devices)
    epoch = create_state_epoch(config, batch_sharding=sharding)
    jax.block_until_ready(epoch(state, *data))  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(epoch(state, *data))
        best = min(best, time.perf_counter() - start)
    steps = data[0].shape[0] // config.batch_size
    return steps * config.batch_size / best


def device_rows(most: int, examples: int = 12_800) -> list[dict]:
    """One row per device count (1, 2, 4, ... up to `most`): examples per
    second in all and per device, and the scaling efficiency against one
    device."""
    config = get_config("quick")
    images, labels = load_mnist("train")
    data = prepare(images[:examples], labels[:examples])
    state = create_train_state(
        config, jax.random.key(0), examples // config.batch_size
    )
    counts = [n for n in (1, 2, 4, 8, 16, 32, 64) if n < most] + [most]
    for n in counts:
        check_batch_divides(config.batch_size, n)
    rows, one = [], None
    for n in counts:
        rate = epoch_rate(config, state, data, n)
        one = one or rate
        rows.append(
            {
                "devices": n,
                "batch_size": config.batch_size,
                "examples_per_second": round(rate),
                "per_device": round(rate / n),
                "scaling_efficiency": round(rate / (n * one), 3),
            }
        )
        print(
            f"{n} device(s): {rate:,.0f} examples/s, "
            f"{rate / (n * one):.0%} efficiency"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    cli = argparse.ArgumentParser(
        prog="python -m flaxguide.chapters.bench_devices"
    )
    cli.add_argument("--out", type=Path, required=True, help="a .json file")
    cli.add_argument(
        "--devices",
        type=int,
        default=jax.local_device_count(),
        help="the most devices to time (default: all local ones)",
    )
    args = cli.parse_args(argv)
    try:
        # refuse a count this process cannot use, before any timing
        data_mesh(args.devices)
        check_batch_divides(get_config("quick").batch_size, args.devices)
    except ConfigError as err:
        cli.error(f"argument --devices: {err}")
    result = {
        "platform": jax.devices()[0].platform,
        "device_kind": jax.devices()[0].device_kind,
        "rows": device_rows(args.devices),
        "measured": provenance(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
