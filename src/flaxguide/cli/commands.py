"""The command line: `python -m flaxguide {train,sample,measure,figures}`.

Kept thin: it parses arguments, reads each run directory it names once (its
`run.json`, into a [`Run`][flaxguide.run.record.Run] record), then calls the
package, which checks the rest (the config checks its own fields, the loader
the digits). The commands:

- `train` starts a run ([`train_run`][flaxguide.run.session.train_run]),
  finetunes one (`--finetune-from`) or continues one (`--resume`,
  [`resume_run`][flaxguide.run.session.resume_run]);
- `sample` draws digits of one class from a finished run;
- `measure` measures a finished run again with this code;
- `figures` draws every figure the site shows, with its manifest.

Exit statuses: bad input 2, with one line that says what was wrong and how
to fix it; a diverged run 3; a failure of the machine (MNIST missing, a
checkpoint that could not be written) 1; Ctrl-C 130, and `SIGTERM` or
`SIGHUP` (a scheduler, a container stop, a closed terminal) 128 plus the
signal's number. `train` told to stop finishes the epoch in flight, saves
it and exits (a second signal: at once, the last finished epoch saved;
[`StopSignals`][flaxguide.training.stops.StopSignals]). The heavy imports
(JAX, torchvision) happen inside the commands, so `--help` and argument
errors answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from flaxguide.cli.arguments import (
    MAX_SAMPLES,
    Parser,
    UsageError,
    digit,
    digit_set,
    earlier_manifest,
    number,
    output_dir,
    positive_float,
    positive_int,
    sample_count,
    whole_number,
)
from flaxguide.config import (
    APIS,
    PRECISIONS,
    PRESETS,
    SCHEDULES,
    Config,
    ConfigError,
)
from flaxguide.training.stops import Stopped, StopSignals

# The `train` options that set a config field of the same name
# (`--batch-size`: `batch_size`).
NOT_OPTIONS = (
    "encoder_dims",
    "decoder_dims",
    "num_classes",
    "keep_checkpoints",
)
# the architecture and the judge: presets
NOT_OPTIONS += ("judge_epochs", "samples_per_digit")
CONFIG_OPTIONS = [
    f.name for f in dataclasses.fields(Config) if f.name not in NOT_OPTIONS
]


DIVERGED = 3  # the exit status of a run that stopped on a non-finite loss


def cmd_train(args: argparse.Namespace) -> None:
    """`train`: a new run, a finetuned one (`--finetune-from`), or the rest
    of an interrupted one (`--resume`). The run directories named are read
    once, here."""
    from flaxguide.config import get_config
    from flaxguide.provenance import provenance
    from flaxguide.run.record import check_api, read_run
    from flaxguide.run.session import resume_run, train_run

    overrides = {name: getattr(args, name) for name in CONFIG_OPTIONS}
    if args.resume:
        run = read_run(args.out)
        check_api(run, args.api, "--resume continues")
        given = [
            f"--{k.replace('_', '-')}"
            for k, v in overrides.items()
            if v is not None
        ]
        if given or args.no_clip or args.digits or args.finetune_from:
            raise UsageError(
                "--resume continues a run with its own settings "
                "(from its run.json); "
                f"drop {', '.join(given) or 'the other training options'}"
            )
        with StopSignals() as stops:
            metrics = resume_run(
                run,
                stop_after=args.stop_after,
                devices=args.devices,
                stops=stops,
            )
    else:
        source = None
        if args.finetune_from:
            source = read_run(args.finetune_from)
            overrides["api"] = check_api(
                source, args.api, "--finetune-from keeps"
            )
        config = get_config(args.preset, **overrides)
        # get_config leaves None alone, so switch clipping off here
        if args.no_clip:
            config = dataclasses.replace(config, clip_norm=None)
        with StopSignals() as stops:
            metrics = train_run(
                config,
                args.out,
                preset=args.preset,
                provenance=provenance(),
                digits=args.digits,
                finetune_from=source,
                stop_after=args.stop_after,
                devices=args.devices,
                stops=stops,
            )
    if metrics is None:
        print(
            "stopped as asked; continue with: python -m flaxguide "
            f"train --resume --out {args.out}"
        )
        return
    print(_summary(metrics, args.out))


def _summary(metrics: dict, out: Path) -> str:
    """The final metrics in one line, and where they were written."""
    nll = (
        f"test_nll {metrics['test_nll']:.2f} nats, "
        if "test_nll" in metrics
        else ""
    )
    return (
        f"test_nelbo {metrics['test_nelbo']:.2f} nats, {nll}"
        f"conditional_accuracy {metrics['conditional_accuracy']:.2%}, "
        "classifier_test_accuracy "
        f"{metrics['classifier_test_accuracy']:.2%}; wrote {out}"
    )


def cmd_measure(args: argparse.Namespace) -> None:
    """`measure`: measure a finished run again, rewriting its metrics."""
    from flaxguide.provenance import provenance
    from flaxguide.run.session import measure_run

    print(
        _summary(
            measure_run(args.run, provenance()), args.run / "metrics.json"
        )
    )


def cmd_sample(args: argparse.Namespace) -> None:
    """`sample`: `-n` digits of one class from a finished run, as one PNG
    grid."""
    import jax
    import jax.numpy as jnp
    import matplotlib

    from flaxguide.figures.plots import image_grid
    from flaxguide.model.linen import generate
    from flaxguide.run.record import read_run
    from flaxguide.run.restore import load_trained

    # files, no display (the library leaves the backend to its caller)
    matplotlib.use("Agg")
    model, state = load_trained(read_run(args.run))
    output_dir(args.out.parent)
    # (n,): every sample asks for one digit
    labels = jnp.full((args.n,), args.digit, jnp.int32)
    # The EMA parameters, as for every number and figure the site publishes.
    images = generate(
        model,
        state.ema_params,
        jax.random.key(args.seed),
        labels,
        args.temperature,
    )
    image_grid(jax.device_get(images)).savefig(args.out, dpi=80)
    print(f"wrote {args.n} samples of digit {args.digit} to {args.out}")


def cmd_figures(args: argparse.Namespace) -> None:
    """`figures`: every figure the site shows, and `manifest.json`, from a
    finished run (and the runs its tables compare)."""
    import matplotlib

    from flaxguide.figures.draw import draw_with_manifest
    from flaxguide.run.record import read_run

    # A missing or foreign run is reported before anything is drawn; each
    # record is read once and passed on.
    run = read_run(args.run) if args.run is not None else None
    # draw_with_manifest's argument: the option that names its runs
    runs = {
        argument: [read_run(path) for path in getattr(args, option) or []]
        for argument, option in [
            ("compare", "compare"),
            ("twins", "twin"),
            ("sweep", "sweep"),
        ]
    }
    output_dir(args.out)
    # files, no display (the library leaves the backend to its caller)
    matplotlib.use("Agg")
    command = " ".join(["python -m flaxguide", *sys.argv[1:]])
    written = draw_with_manifest(
        run,
        args.out,
        args.bench,
        command=command,
        tables_from=args.tables_from,
        **runs,
    )
    print(f"wrote {len(written)} figures and manifest.json to {args.out}")


def parser() -> argparse.ArgumentParser:
    """The command line's parser: one subcommand per command, each option
    checked as it is parsed (see `flaxguide.cli.arguments`)."""
    p = Parser(
        prog="python -m flaxguide", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train", help="train the class-conditioned VAE on MNIST"
    )
    train.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    train.add_argument(
        "--out", type=Path, required=True, help="a new run directory"
    )
    # Options named like config fields; the config checks their values.
    for name in ("epochs", "batch-size", "seed", "latent-dim"):
        train.add_argument(f"--{name}", type=whole_number)
    for name in ("kl-weight", "learning-rate", "ema-decay"):
        train.add_argument(f"--{name}", type=number)
    train.add_argument("--schedule", choices=SCHEDULES)
    train.add_argument("--warmup-epochs", type=whole_number)
    clip = train.add_mutually_exclusive_group()
    clip.add_argument(
        "--clip-norm", type=number, help="global gradient-norm limit"
    )
    clip.add_argument(
        "--no-clip", action="store_true", help="turn gradient clipping off"
    )
    pixels = train.add_mutually_exclusive_group()
    binary = (
        "train on binary pixels drawn afresh each batch, score a "
        "binarised test set"
    )
    pixels.add_argument(
        "--binarize", action="store_true", default=None, help=binary
    )
    grey = "train on the grey levels"
    pixels.add_argument(
        "--grey",
        dest="binarize",
        action="store_false",
        default=None,
        help=grey,
    )
    for name, what in [
        ("samples-per-class", "importance samples per class"),
        (
            "judged-class-samples",
            "more samples for the class the judge reads in the image",
        ),
        ("test-images", "test images"),
    ]:
        train.add_argument(
            f"--nll-{name}", type=whole_number, help=f"{what}, for -log p(x)"
        )
    train.add_argument(
        "--save-every", type=whole_number, help="epochs between checkpoints"
    )
    train.add_argument(
        "--api",
        choices=APIS,
        help="the Flax API to train with (default linen; a resumed or "
        "finetuned run keeps its own)",
    )
    train.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="what the model computes in while it trains (default float32; "
        "parameters, optimiser and evaluation stay float32)",
    )
    train.add_argument(
        "--digits",
        type=digit_set,
        help="train on these digits only, e.g. 0-4",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out from its newest "
        "intact checkpoint; a "
        "damaged checkpoint is never restored: it is moved to "
        "OUT/damaged/ and named",
    )
    train.add_argument(
        "--finetune-from",
        type=Path,
        help="a run to finetune, with its encoder frozen",
    )
    train.add_argument(
        "--stop-after",
        type=positive_int,
        help="stop after this many epochs (resumable)",
    )
    train.add_argument(
        "--devices",
        type=positive_int,
        default=1,
        help="train data-parallel on this many local devices, each batch "
        "split evenly across "
        "them (default 1, the published runs' setting)",
    )
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser(
        "sample", help="draw digits of one class from a trained run"
    )
    sample.add_argument("--run", type=Path, required=True)
    sample.add_argument("--digit", type=digit, required=True)
    sample.add_argument(
        "-n",
        type=sample_count,
        default=16,
        help=f"how many samples (at most {MAX_SAMPLES:,})",
    )
    sample.add_argument("--temperature", type=positive_float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--out", type=Path, required=True, help="a .png file"
    )
    sample.set_defaults(func=cmd_sample)

    measure = sub.add_parser(
        "measure", help="measure a finished run again with this code"
    )
    measure.add_argument("--run", type=Path, required=True)
    measure.set_defaults(func=cmd_measure)

    figures = sub.add_parser(
        "figures", help="draw every figure the site shows"
    )
    figures.add_argument(
        "--run", type=Path, help="a finished run (from `train`)"
    )
    figures.add_argument(
        "--bench", type=Path, help="a result file from `bench`, to plot"
    )
    figures.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        help="finished runs to tabulate side by side",
    )
    figures.add_argument(
        "--twin",
        type=Path,
        nargs="+",
        help="runs of one preset trained different ways (the API, the "
        "seed, grey levels, the "
        "KL weight), tabulated in the manifest",
    )
    figures.add_argument(
        "--sweep",
        type=Path,
        nargs="+",
        help="runs that differ in --kl-weight (a beta sweep)",
    )
    figures.add_argument(
        "--tables-from",
        type=earlier_manifest,
        help="an earlier manifest.json whose tables of runs not named "
        "here are kept",
    )
    figures.add_argument("--out", type=Path, default=Path("docs/figures"))
    figures.set_defaults(func=cmd_figures)

    return p


def main(argv: list[str] | None = None) -> None:
    """Run the command `argv` names (by default the process's arguments),
    and turn each kind of failure into its exit status and one line.

    Args:
        argv: the arguments after the program's name, e.g. `["train",
            "--out", "runs/quick"]`; `None` reads `sys.argv[1:]`.
    """
    cli = parser()
    args = cli.parse_args(argv)
    from flaxguide.data import MNISTChecksumError, MNISTUnavailableError
    from flaxguide.run.integrity import CheckpointError, CheckpointWriteError
    from flaxguide.run.lock import LockError
    from flaxguide.run.record import RunError
    from flaxguide.training.loop import DivergedError

    try:
        # a stop signal raises Stopped where the program is; `train` holds
        # it while an epoch is in flight
        with StopSignals():
            args.func(args)
    except ConfigError as err:
        # Name the option the user typed, as argparse does for its own
        # errors.
        option = (
            f"argument --{err.field.replace('_', '-')}: "
            if err.field
            else ""
        )
        cli.exit(2, f"{cli.prog} {args.command}: error: {option}{err}\n")
    # the disk, not the input: the run stops, nothing lost
    except CheckpointWriteError as err:
        cli.exit(1, f"{cli.prog} {args.command}: error: {err}\n")
    except (UsageError, RunError, LockError, CheckpointError) as err:
        cli.exit(2, f"{cli.prog} {args.command}: error: {err}\n")
    except DivergedError as err:
        cli.exit(DIVERGED, f"{cli.prog} {args.command}: error: {err}\n")
    except (
        MNISTUnavailableError,
        MNISTChecksumError,
        FileNotFoundError,
    ) as err:
        cli.exit(1, f"{cli.prog} {args.command}: error: {err}\n")
    except KeyboardInterrupt as err:
        hint = ""
        if args.command == "train" and (args.out / "run.json").is_file():
            hint = (
                "; the last finished epoch is saved: train --resume "
                f"--out {args.out}"
            )
        # the shell's status of a process the signal ended: 128 + its number
        status, how = 130, "interrupted"
        if isinstance(err, Stopped) and err.signum != signal.SIGINT:
            status, how = 128 + err.signum, f"stopped by {err}"
        cli.exit(status, f"{cli.prog} {args.command}: {how}{hint}\n")
