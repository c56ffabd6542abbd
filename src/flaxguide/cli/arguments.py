"""The command line's building blocks: argparse types that turn text into
values, a parser that reports an error in one line, and the error for input a
command cannot use.

The types only parse, and name the option's problem in one line; the config
checks its own fields once, where it is built (see
[`Config`][flaxguide.config.Config]).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flaxguide.config import ConfigError, check_positive


def _number(convert, what: str, positive: bool = False):
    """An argparse type: `convert` the text and, if `positive`, check it as
    the config would.

    Config fields are checked by the config itself, once; `positive` is for
    the few options that are not config fields (`-n`, `--temperature`,
    `--stop-after`).
    """

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what}"
            ) from None
        if positive:
            try:
                check_positive("the value", value)
            except ConfigError as err:
                raise argparse.ArgumentTypeError(str(err)) from None
        return value

    return parse


whole_number = _number(int, "a whole number")
number = _number(float, "a number")
positive_int = _number(int, "a whole number", positive=True)
positive_float = _number(float, "a number", positive=True)


def digit(text: str) -> int:
    if text not in [str(d) for d in range(10)]:
        raise argparse.ArgumentTypeError(
            f"must be a digit from 0 to 9, got {text!r}"
        )
    return int(text)


def digit_set(text: str) -> tuple[int, ...]:
    """`0-4`, `5,6,7` or `3`, parsed and checked by the loader's own rule."""
    from flaxguide.data import parse_digits

    try:
        return parse_digits(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class UsageError(Exception):
    """Input the command cannot use; reported with exit status 2."""


def output_dir(path: Path) -> None:
    """Create the folder an output goes to, or say in one line why it cannot
    be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(
            f"cannot create the folder {path}: {err.strerror}"
        ) from err


# The most images one `sample` draws. Each is a cell of its own in one tall
# PNG, 8 to a row: 1,000 take about 15 s and make a 1.5 MB file (2 cores);
# 5,000 took 99 s and 7.5 MB; 100,000 ran for minutes into gigabytes.
MAX_SAMPLES = 1_000


def sample_count(text: str) -> int:
    """`-n` of `sample`: a whole number from 1 to `MAX_SAMPLES`."""
    n = positive_int(text)
    if n > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_SAMPLES:,} samples at a time, got {n:,}; draw "
            "more with several --seed values"
        )
    return n


class Parser(argparse.ArgumentParser):
    """argparse, with each error on one line: the usage block would bury it;
    --help has it."""

    def error(self, message: str):
        self.exit(
            2, f"{self.prog}: error: {message} (--help lists the options)\n"
        )


def earlier_manifest(text: str) -> dict:
    """An argparse type: the manifest.json an earlier `figures` command
    wrote, read at once (before this command writes over it)."""
    from flaxguide.figures.manifest import read_manifest

    try:
        return read_manifest(Path(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"{err}; name a manifest.json `figures` wrote"
        ) from None
