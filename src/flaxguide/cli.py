"""The command line: `python -m flaxguide {train,sample,figures,bench}`.

Kept thin: it parses and checks arguments, then calls the package. Bad input exits with
status 2 and a message that says what was wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from flaxguide.config import PRESETS

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "torchvision")


class UsageError(Exception):
    """Input the command cannot use; reported with exit status 2."""


def provenance() -> dict:
    """Where, when and with what a result was produced."""
    import jax

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


def _number(convert, what: str, ok, rule: str):
    """An argparse type: `convert` the text, then require `ok(value)`."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(value):  # also rejects nan
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


positive_int = _number(int, "a whole number", lambda v: v > 0, "positive")
positive_float = _number(float, "a number", lambda v: v > 0, "positive")
non_negative_float = _number(float, "a number", lambda v: v >= 0, "zero or positive")


def digit(text: str) -> int:
    if text not in [str(d) for d in range(10)]:
        raise argparse.ArgumentTypeError(f"must be a digit from 0 to 9, got {text!r}")
    return int(text)


def digit_set(text: str) -> tuple[int, ...]:
    """`0-4`, `5,6,7` or `3`: a set of digits."""
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-"))
            digits = tuple(range(low, high + 1))
        else:
            digits = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected digits like 0-4 or 5,6,7, got {text!r}"
        ) from None
    if not digits or any(not 0 <= d <= 9 for d in digits):
        raise argparse.ArgumentTypeError(f"digits must lie in 0-9, got {text!r}")
    return digits


def cmd_train(args: argparse.Namespace) -> None:
    from flaxguide.checkpoint import check_new_run_dir
    from flaxguide.config import get_config
    from flaxguide.run import train_run

    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "latent_dim": args.latent_dim,
        "kl_weight": args.kl_weight,
        "learning_rate": args.learning_rate,
        "schedule": args.schedule,
        "warmup_epochs": args.warmup_epochs,
        "ema_decay": args.ema_decay,
        "save_every": args.save_every,
    }
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
        if given or args.no_clip or args.clip_norm or args.digits or args.finetune_from:
            raise UsageError(
                "--resume continues a run with its own settings (from its run.json); "
                f"drop {', '.join(given) or 'the other training options'}"
            )
        config = None
    else:
        check_new_run_dir(args.out)
        if args.clip_norm is not None:
            overrides["clip_norm"] = args.clip_norm
        try:
            config = get_config(args.preset, **overrides)
            if args.no_clip:  # get_config leaves None alone, so switch clipping off here
                config = dataclasses.replace(config, clip_norm=None)
        except ValueError as err:
            raise UsageError(str(err)) from err
    metrics = train_run(
        config,
        args.out,
        preset=args.preset,
        provenance=provenance(),
        digits=args.digits,
        resume=args.resume,
        finetune_from=args.finetune_from,
        stop_after=args.stop_after,
    )
    if metrics is None:
        print(
            f"stopped as asked; continue with: python -m flaxguide train --resume --out {args.out}"
        )
        return
    print(
        f"test_nelbo {metrics['test_nelbo']:.2f} nats, "
        f"conditional_accuracy {metrics['conditional_accuracy']:.2%}, "
        f"classifier_test_accuracy {metrics['classifier_test_accuracy']:.2%}; wrote {args.out}"
    )


def cmd_sample(args: argparse.Namespace) -> None:
    import jax
    import jax.numpy as jnp

    from flaxguide.figures import image_grid
    from flaxguide.models import generate
    from flaxguide.run import load_trained

    _, model, state, _ = load_trained(args.run)
    labels = jnp.full((args.n,), args.digit, jnp.int32)
    images = generate(model, state.ema_params, jax.random.key(args.seed), labels, args.temperature)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image_grid(jax.device_get(images)).savefig(args.out, dpi=80)
    print(f"wrote {args.n} samples of digit {args.digit} to {args.out}")


def cmd_figures(args: argparse.Namespace) -> None:
    from flaxguide.figures import draw_all

    start = time.perf_counter()
    written = draw_all(args.run, args.out, args.bench)
    manifest = {
        "command": " ".join(["python -m flaxguide", *sys.argv[1:]]),
        "figures": written,
        "figures_seconds": round(time.perf_counter() - start, 1),
        "figures_drawn": provenance(),
    }
    if args.run is not None:
        from flaxguide.checkpoint import read_run

        run = read_run(args.run)
        metrics = json.loads((args.out / "metrics.json").read_text())  # copied by draw_all
        manifest["run"] = {k: v for k, v in run.items() if k != "format"}
        manifest["metrics"] = {k: v for k, v in metrics.items() if k != "history"}
    if args.compare:
        from flaxguide.run import compare_runs

        comparison = compare_runs([args.run, *args.compare] if args.run else args.compare)
        (args.out / "ablation.json").write_text(json.dumps(comparison, indent=2) + "\n")
        manifest["ablation"] = [str(run) for run in args.compare]
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(written)} figures and manifest.json to {args.out}")


def cmd_bench(args: argparse.Namespace) -> None:
    from flaxguide.bench import run_benchmark
    from flaxguide.config import get_config
    from flaxguide.data import default_data_dir, load_mnist
    from flaxguide.train import prepare

    train = prepare(*load_mnist("train"))
    result = run_benchmark(get_config("full"), train, default_data_dir(), progress=print)
    result |= provenance()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flaxguide", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the class-conditioned VAE on MNIST")
    train.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    train.add_argument("--out", type=Path, required=True, help="a new run directory")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--seed", type=int)
    train.add_argument("--latent-dim", type=positive_int)
    train.add_argument("--kl-weight", type=non_negative_float)
    train.add_argument("--learning-rate", type=positive_float)
    train.add_argument("--schedule", choices=["warmup_cosine", "constant"])
    train.add_argument("--warmup-epochs", type=int)
    clip = train.add_mutually_exclusive_group()
    clip.add_argument("--clip-norm", type=positive_float, help="global gradient-norm limit")
    clip.add_argument("--no-clip", action="store_true", help="turn gradient clipping off")
    train.add_argument("--ema-decay", type=non_negative_float)
    train.add_argument("--save-every", type=positive_int, help="epochs between checkpoints")
    train.add_argument("--digits", type=digit_set, help="train on these digits only, e.g. 0-4")
    train.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --out"
    )
    train.add_argument(
        "--finetune-from", type=Path, help="a run to finetune, with its encoder frozen"
    )
    train.add_argument(
        "--stop-after", type=positive_int, help="stop after this many epochs (resumable)"
    )
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="draw digits of one class from a trained run")
    sample.add_argument("--run", type=Path, required=True)
    sample.add_argument("--digit", type=digit, required=True)
    sample.add_argument("-n", type=positive_int, default=16, help="how many samples")
    sample.add_argument("--temperature", type=positive_float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True, help="a .png file")
    sample.set_defaults(func=cmd_sample)

    figures = sub.add_parser("figures", help="draw every figure the site shows")
    figures.add_argument("--run", type=Path, help="a finished run (from `train`)")
    figures.add_argument("--bench", type=Path, help="a result file from `bench`, to plot")
    figures.add_argument(
        "--compare", type=Path, nargs="+", help="finished runs to tabulate beside --run"
    )
    figures.add_argument("--out", type=Path, default=Path("docs/figures"))
    figures.set_defaults(func=cmd_figures)

    bench = sub.add_parser("bench", help="time the training loop's data paths")
    bench.add_argument("--out", type=Path, required=True, help="a .json file")
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> None:
    cli = parser()
    args = cli.parse_args(argv)
    from flaxguide.checkpoint import RunError
    from flaxguide.data import MNISTChecksumError, MNISTUnavailableError

    try:
        args.func(args)
    except (UsageError, RunError) as err:
        cli.exit(2, f"{cli.prog} {args.command}: error: {err}\n")
    except (MNISTUnavailableError, MNISTChecksumError, FileNotFoundError) as err:
        cli.exit(1, f"{cli.prog} {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train" and (args.out / "run.json").is_file():
            hint = f"; the last finished epoch is saved: train --resume --out {args.out}"
        cli.exit(130, f"{cli.prog} {args.command}: interrupted{hint}\n")
