"""Chapter 4's benchmark: how fast each way of feeding the training step
runs, against the machine's matmul rate.

A benchmark prints numbers; it asserts nothing. Compare rows within one run
only. Run it with `python -m flaxguide.chapters.bench --out bench.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from flaxguide.chapters.cvae import (
    create_train_epoch,
    create_train_step,
    init_training,
)
from flaxguide.config import Config, get_config
from flaxguide.data import default_data_dir, load_mnist, prepare
from flaxguide.model.loss import make_nnx_loss_fn
from flaxguide.model.nnx import VAE
from flaxguide.provenance import provenance
from flaxguide.training.backend import create_epoch, initial_state
from flaxguide.training.optim import make_optimiser


def best_time(fn, repeats: int) -> float:
    """The best of `repeats` wall-clock times of `fn()`, which must block
    until done."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(
    sizes=(1024, 2048), repeats: int = 5, dtype=jnp.float32
) -> float:
    """The best `jnp.dot` rate over square sizes in `dtype` (float32 unless
    asked), in GFLOP/s (2 n^3 FLOPs each)."""
    best = 0.0
    for n in sizes:
        a = jax.random.normal(jax.random.key(n), (n, n)).astype(dtype)
        dot = jax.jit(jnp.dot)
        dot(a, a).block_until_ready()
        seconds = best_time(
            lambda a=a, dot=dot: dot(a, a).block_until_ready(), repeats
        )
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def step_flops(config: Config, batch_size: int) -> float:
    """FLOPs of one training step at `batch_size`, from XLA's cost analysis
    of the compiled step."""
    model, params, optimiser, opt_state = init_training(
        config, jax.random.key(0)
    )
    step = create_train_step(model, optimiser, config.kl_weight)
    images = jnp.zeros((batch_size, 784), jnp.uint8)
    labels = jnp.zeros((batch_size,), jnp.int32)
    compiled = step.lower(
        params, opt_state, images, labels, jax.random.key(1)
    ).compile()
    return float(compiled.cost_analysis()["flops"])


def classic_loop(
    config: Config, mnist_root, batch_size: int = 16, examples: int = 9600
) -> float:
    """Examples/s of the classic loop: torchvision `ToTensor` + `DataLoader`,
    one jitted step per batch, the batch copied from the host each step.

    The loader is single-process (`num_workers=0`, its default), as in the
    page's recipe. Worker processes would build batches while the step runs,
    but on a 2-core machine they share the cores the step computes on.
    """
    import torchvision.transforms as T
    from torch.utils.data import DataLoader
    from torchvision.datasets import MNIST

    # download=True finds the checked `.gz` files and only unpacks them
    dataset = MNIST(
        mnist_root, train=True, transform=T.ToTensor(), download=True
    )
    # The recipe as written: one process builds each batch between steps.
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=0,
    )
    num_batches = examples // batch_size
    model, params, optimiser, opt_state = init_training(
        config, jax.random.key(0)
    )
    step = create_train_step(model, optimiser, config.kl_weight)
    key = jax.random.key(1)
    batches = iter(loader)
    x, y = next(batches)  # compile outside the timing
    args = (
        x.numpy().reshape(batch_size, -1),
        y.numpy().astype(np.int32),
        key,
    )
    jax.block_until_ready(step(params, opt_state, *args))
    start = time.perf_counter()
    for _, (x, y) in zip(range(num_batches), batches, strict=False):
        key, step_key = jax.random.split(key)
        x, y = x.numpy().reshape(batch_size, -1), y.numpy().astype(np.int32)
        params, opt_state, _ = step(params, opt_state, x, y, step_key)
    jax.block_until_ready(params)
    return num_batches * batch_size / (time.perf_counter() - start)


def per_batch_loop(config: Config, train, batch_size: int = 128) -> float:
    """Examples/s of one jitted step per batch, data on the device, Python
    driving the loop."""
    images, labels = train
    model, params, optimiser, opt_state = init_training(
        config, jax.random.key(0)
    )
    step = create_train_step(model, optimiser, config.kl_weight)
    num_steps = images.shape[0] // batch_size
    perm = np.random.default_rng(0).permutation(images.shape[0])
    batches = perm[: num_steps * batch_size].reshape(num_steps, batch_size)
    key = jax.random.key(1)

    def run(params, opt_state):
        for idx in batches:
            params, opt_state, _ = step(
                params, opt_state, images[idx], labels[idx], key
            )
        return jax.block_until_ready(params)

    jax.block_until_ready(
        step(params, opt_state, images[batches[0]], labels[batches[0]], key)
    )
    return (
        num_steps * batch_size / best_time(lambda: run(params, opt_state), 1)
    )


def whole_epoch(
    config: Config, train, batch_size: int, repeats: int = 2
) -> float:
    """Examples/s of a whole epoch in one `jit` (`lax.scan`, on-device
    shuffle)."""
    images, labels = train
    model, params, optimiser, opt_state = init_training(
        config, jax.random.key(0)
    )
    epoch = create_train_epoch(
        model, optimiser, config.kl_weight, batch_size
    )
    key = jax.random.key(1)
    # compile
    jax.block_until_ready(epoch(params, opt_state, images, labels, key))
    seconds = best_time(
        lambda: jax.block_until_ready(
            epoch(params, opt_state, images, labels, key)
        ),
        repeats,
    )
    return (images.shape[0] // batch_size) * batch_size / seconds


def _per_batch(step, images, labels, batch_size: int) -> float:
    """Examples/s of `step(images, labels, key)` called once per batch from
    Python."""
    num_steps = images.shape[0] // batch_size
    perm = np.random.default_rng(0).permutation(images.shape[0])
    batches = perm[: num_steps * batch_size].reshape(num_steps, batch_size)
    key = jax.random.key(1)
    # compile
    jax.block_until_ready(step(images[batches[0]], labels[batches[0]], key))

    def run():
        for idx in batches:
            out = step(images[idx], labels[idx], key)
        jax.block_until_ready(out)

    return num_steps * batch_size / best_time(run, 1)


def api_rows(config: Config, train, batch_size: int = 128) -> list[dict]:
    """Linen and NNX side by side: the epochs `train` runs, then one step per
    batch in each API's natural form (same optimiser chain, same batch), as
    examples/s."""
    images, labels = train
    steps = images.shape[0] // batch_size
    rates = {}
    for api in ("linen", "nnx"):
        state = initial_state(dataclasses.replace(config, api=api), steps)
        epoch = create_epoch(config, state, ())
        jax.block_until_ready(epoch(state, images, labels))  # compile
        seconds = best_time(
            lambda e=epoch, s=state: jax.block_until_ready(
                e(s, images, labels)
            ),
            2,
        )
        rates[f"{api}: whole epoch in one jit (what train runs)"] = (
            steps * batch_size / seconds
        )
    tx = make_optimiser(config, steps)
    model, params, _, _ = init_training(config, jax.random.key(0))
    linen_step = create_train_step(model, tx, config.kl_weight)
    # the Linen step hands its state back; keep it
    carry = [params, tx.init(params)]

    def linen(images, labels, key):
        carry[0], carry[1], metrics = linen_step(*carry, images, labels, key)
        return metrics

    rates["linen: jax.jit step per batch"] = _per_batch(
        linen, images, labels, batch_size
    )
    loss_fn = make_nnx_loss_fn(config.kl_weight)

    def nnx_step(model, optimizer, images, labels, key):
        grads, metrics = nnx.grad(loss_fn, has_aux=True)(
            model, images, labels, key
        )
        optimizer.update(model, grads)
        return metrics

    for name, graph in (
        ("nnx.jit step per batch", True),
        ("nnx.jit(graph=False)", False),
    ):
        nnx_model = VAE(config, rngs=nnx.Rngs(0))
        optimizer = nnx.Optimizer(nnx_model, tx, wrt=nnx.Param)
        jitted = nnx.jit(nnx_step, graph=graph)
        rates[f"nnx: {name}"] = _per_batch(
            lambda x, y, k, j=jitted, m=nnx_model, o=optimizer: j(
                m, o, x, y, k
            ),
            images,
            labels,
            batch_size,
        )
    return [
        {
            "path": name,
            "batch_size": batch_size,
            "examples_per_second": round(rate, 1),
        }
        for name, rate in rates.items()
    ]


def precision_rows(
    config: Config, train, batch_size: int = 128, repeats: int = 3
) -> list[dict]:
    """The whole epoch `train` runs, in float32 and in bfloat16 (`--precision
    bfloat16`), as examples/s and as a share of the matmul rate in the same
    precision. Both count the float32 step's FLOPs: the same arithmetic.
    The two epochs are timed in alternation, best of `repeats` each."""
    images, labels = train
    steps = images.shape[0] // batch_size
    flops = step_flops(config, batch_size) / batch_size
    epochs = {}
    for precision in ("float32", "bfloat16"):
        cfg = dataclasses.replace(config, precision=precision)
        state = initial_state(cfg, steps)
        epoch = create_epoch(cfg, state, None)
        jax.block_until_ready(epoch(state, images, labels))  # compile
        epochs[precision] = (epoch, state)
    best = dict.fromkeys(epochs, float("inf"))
    for _ in range(repeats):
        for precision, (epoch, state) in epochs.items():
            best[precision] = min(
                best[precision],
                best_time(
                    lambda e=epoch, s=state: jax.block_until_ready(
                        e(s, images, labels)
                    ),
                    1,
                ),
            )
    rows = []
    for precision, seconds in best.items():
        rate = steps * batch_size / seconds
        matmul = matmul_gflops(dtype=jnp.dtype(precision))
        rows.append(
            {
                "precision": precision,
                "batch_size": batch_size,
                "examples_per_second": round(rate, 1),
                "gflops_per_second": round(rate * flops / 1e9, 2),
                "matmul_gflops_per_second": round(matmul, 1),
                "fraction_of_matmul": round(rate * flops / 1e9 / matmul, 3),
            }
        )
    return rows


def _report_precision(rows: list[dict], progress) -> None:
    for row in rows:
        progress(
            f"{row['precision']} whole epoch @ {row['batch_size']}: "
            f"{row['examples_per_second']:,.0f} examples/s, "
            f"{row['fraction_of_matmul']:.0%} of its matmul rate"
        )


def run_benchmark(
    config: Config, train, mnist_root, *, progress=print
) -> dict:
    """Every row of the comparison, with FLOP rates and ratios. `train` is on
    the device."""
    rows = []
    gflops = matmul_gflops()
    progress(f"fp32 matmul: {gflops:.1f} GFLOP/s")
    flops_per_example = {
        b: step_flops(config, b) / b for b in (16, 128, 512)
    }
    cases = [
        (
            "classic loop: DataLoader + ToTensor, jitted step",
            16,
            lambda: classic_loop(config, mnist_root, 16),
        ),
        (
            "classic loop: DataLoader + ToTensor, jitted step",
            128,
            lambda: classic_loop(config, mnist_root, 128, examples=38400),
        ),
        (
            "jitted step per batch, data on device",
            128,
            lambda: per_batch_loop(config, train, 128),
        ),
        (
            "whole epoch in one jit (lax.scan)",
            128,
            lambda: whole_epoch(config, train, 128),
        ),
        (
            "whole epoch in one jit (lax.scan)",
            512,
            lambda: whole_epoch(config, train, 512),
        ),
    ]
    for name, batch, measure in cases:
        rate = measure()
        achieved = rate * flops_per_example[batch] / 1e9
        rows.append(
            {
                "path": name,
                "batch_size": batch,
                "examples_per_second": round(rate, 1),
                "gflops_per_second": round(achieved, 2),
                "fraction_of_matmul": round(achieved / gflops, 3),
            }
        )
        progress(
            f"{name} @ {batch}: {rate:,.0f} examples/s, "
            f"{achieved:.1f} GFLOP/s"
        )
    # Like with like: each row against the classic loop at its own batch
    # size, where there is one.
    classic = {
        r["batch_size"]: r["examples_per_second"]
        for r in rows
        if "classic" in r["path"]
    }
    for row in rows:
        base = classic.get(row["batch_size"])
        row["speedup_vs_classic"] = (
            round(row["examples_per_second"] / base, 2) if base else None
        )
    apis = api_rows(config, train)
    for row in apis:
        progress(
            f"{row['path']} @ 128: {row['examples_per_second']:,.0f} "
            "examples/s"
        )
    precisions = precision_rows(config, train)
    _report_precision(precisions, progress)
    return {
        "matmul_gflops_per_second": round(gflops, 1),
        "flops_per_example": {
            str(b): f for b, f in flops_per_example.items()
        },
        "rows": rows,
        "api_rows": apis,
        "precision_rows": precisions,
    }


def main(argv: list[str] | None = None) -> None:
    """Benchmark the `full` config on real MNIST and write the result, with
    provenance."""
    cli = argparse.ArgumentParser(
        prog="python -m flaxguide.chapters.bench", description=__doc__
    )
    cli.add_argument("--out", type=Path, required=True, help="a .json file")
    only = cli.add_mutually_exclusive_group()
    only.add_argument(
        "--only-apis",
        action="store_true",
        help="measure only the Linen/NNX rows and add them to the "
        "existing --out file",
    )
    only.add_argument(
        "--only-precision",
        action="store_true",
        help="measure only the float32/bfloat16 rows and add them to the "
        "existing --out file",
    )
    args = cli.parse_args(argv)
    if (args.only_apis or args.only_precision) and not args.out.is_file():
        cli.error(f"--out {args.out} must be an earlier result to add to")
    train = prepare(*load_mnist("train"))
    config = get_config("full")
    if args.only_precision:
        result = json.loads(args.out.read_text())
        rows = precision_rows(config, train)
        _report_precision(rows, print)
        result |= {
            "precision_rows": rows,
            "precision_measured": provenance(),
        }
    elif args.only_apis:
        result = json.loads(args.out.read_text())
        rows = api_rows(config, train)
        for row in rows:
            print(
                f"{row['path']} @ 128: "
                f"{row['examples_per_second']:,.0f} examples/s"
            )
        result |= {"api_rows": rows, "api_rows_measured": provenance()}
    else:
        result = run_benchmark(
            config, train, default_data_dir(), progress=print
        )
        result |= provenance()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
