"""Tools of the chapter "When JAX code is wrong or slow": count compiles,
keep compiled programs on disk, time one call against another, read a
profile."""

from __future__ import annotations

import collections
import contextlib
import gzip
import json
import logging
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

# --8<-- [start:count_compiles]
# `jax.log_compiles()` logs one line per XLA compilation: "Compiling
# jit(train_epoch) with ...".
_COMPILING = re.compile(r"Compiling (?:jit\((?P<jit>[^)]*)\)|(?P<name>\S+))")


@contextlib.contextmanager
def count_compiles() -> Iterator[collections.Counter]:
    """Count XLA compilations by function name while the `with` block runs.

    `jax.log_compiles()` makes JAX log a line each time it compiles; a
    handler on JAX's logger counts those lines instead of printing them. The
    chapter "When JAX code is wrong or slow" uses it on every example.
    """
    counts: collections.Counter = collections.Counter()

    class Counting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = _COMPILING.match(record.getMessage())
            if match:
                counts[match["jit"] or match["name"]] += 1

    logger = logging.getLogger("jax")
    handler = Counting(logging.WARNING)
    logger.addHandler(handler)
    # counted, not printed
    propagate, logger.propagate = logger.propagate, False
    try:
        with jax.log_compiles():
            yield counts
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


# --8<-- [end:count_compiles]


# --8<-- [start:persistent_cache]
@contextlib.contextmanager
def persistent_cache(
    directory: str | Path, min_compile_seconds: float = 0.0
) -> Iterator[None]:
    """Write every program compiled in the `with` block to `directory`, and
    read programs there.

    Args:
        directory: the cache's folder; it outlives the process, so the next
            run reads it.
        min_compile_seconds: programs that compile faster are not written
            (JAX's default: 1.0).
    """
    settings = {
        "jax_compilation_cache_dir": str(directory),
        "jax_persistent_cache_min_compile_time_secs": min_compile_seconds,
    }
    before = {name: getattr(jax.config, name) for name in settings}
    for name, value in settings.items():
        jax.config.update(name, value)
    # a cache already open elsewhere gives way to this one
    compilation_cache.reset_cache()
    try:
        yield
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
        # JAX opens the cache once per process, at its first use: forget it,
        # so a later directory (or none) takes effect.
        compilation_cache.reset_cache()


# --8<-- [end:persistent_cache]


# --8<-- [start:paired_ratios]
def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired_ratios(
    fn: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> list[float]:
    """How many times as long `fn()` takes as `baseline()`, measured
    `repeats` times.

    Each ratio times one call of each, back to back and in alternating order,
    so that a machine whose load changes slows both sides of a ratio alike.
    One untimed call of each comes first (to compile). Both must block until
    their work is done.

    Args:
        fn: the call to time.
        baseline: the call to time it against.
        repeats: how many ratios to measure.

    Returns:
        The `repeats` ratios, in the order measured.
    """
    fn()
    baseline()
    ratios = []
    for k in range(repeats):
        if k % 2:
            fn_seconds = _seconds(fn)
            baseline_seconds = _seconds(baseline)
        else:
            baseline_seconds = _seconds(baseline)
            fn_seconds = _seconds(fn)
        ratios.append(fn_seconds / baseline_seconds)
    return ratios


def ratio_spread(ratios: Sequence[float], digits: int = 2) -> str:
    """The median of `ratios` and their range: `"1.05x (0.97x to 1.12x over 7
    repeats)"`."""
    median, low, high = (
        f"{ratio:.{digits}f}x"
        for ratio in (statistics.median(ratios), min(ratios), max(ratios))
    )
    return f"{median} ({low} to {high} over {len(ratios)} repeats)"


# --8<-- [end:paired_ratios]


# --8<-- [start:profile_shares]
# An instruction of the compiled HLO text, and the JAX operation it came
# from.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.-]+) = ")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
# Instructions that only hold other instructions: their time is their body's
# time.
_CONTAINERS = ("while", "call", "conditional")


def _phase(op_name: str) -> str:
    # Under `grad`, the forward pass is traced as a JVP and the backward pass
    # as its transpose.
    if "transpose(jvp(" in op_name:
        return "backward"
    if "jvp(" in op_name:
        return "forward"
    return "optimiser and the rest"


def profile_shares(
    trace_dir: Path, hlo_text: str
) -> dict[tuple[str, str], float]:
    """Each (phase, kind)'s share of the time XLA's operations ran, read from
    a profile.

    `trace_dir` holds a trace written by `jax.profiler.trace(...,
    create_perfetto_trace=True)`; `hlo_text` is the compiled program's
    `as_text()`, whose metadata names the JAX operation behind each XLA
    instruction. Phase: forward, backward, or the rest (optimiser,
    shuffling); kind: matmul or other.
    """
    origin = {}
    for line in hlo_text.splitlines():
        if instruction := _INSTRUCTION.match(line):
            op_name = _OP_NAME.search(line)
            origin[instruction[1]] = op_name[1] if op_name else ""
    # the newest is last
    traces = sorted(Path(trace_dir).rglob("perfetto_trace.json.gz"))
    if not traces:
        raise FileNotFoundError(
            f"no perfetto_trace.json.gz under {trace_dir}: trace "
            "with create_perfetto_trace=True"
        )
    events = json.loads(gzip.decompress(traces[-1].read_bytes()))[
        "traceEvents"
    ]
    time: collections.Counter = collections.Counter()
    for event in events:
        name = event.get("name", "")
        if (
            event.get("ph") != "X"
            or name not in origin
            or name.startswith(_CONTAINERS)
        ):
            continue
        op_name = origin[name]
        matmul = name.startswith("dot") or op_name.endswith("dot_general")
        time[_phase(op_name), "matmul" if matmul else "other"] += event[
            "dur"
        ]
    total = sum(time.values())
    return {key: value / total for key, value in sorted(time.items())}


# --8<-- [end:profile_shares]


# --8<-- [start:dot_operand_types]
# In compiled HLO text: where a value is defined (an instruction, or a
# parameter of the computation that holds it), with its element type; and a
# matrix multiply, with its result's type and its two operands.
_DEFINED = re.compile(r"%?([\w.-]+) = (\w+)\[")
_PARAMETER = re.compile(r"([\w.-]+): (\w+)\[")
_DOT = re.compile(
    r"= (\w+)\[[^\]]*\]\{[^}]*\} dot\(%([\w.-]+), %([\w.-]+)\)"
)


def dot_operand_types(hlo_text: str) -> collections.Counter:
    """How many matrix multiplies of a compiled program take which operand
    types, as XLA runs them: `{"bf16 x bf16 -> f32": 17}`.

    Args:
        hlo_text: the compiled program, `jitted.lower(...).compile()
            .as_text()`.

    Returns:
        A count per `"lhs x rhs -> result"` element types.
    """
    types = dict(_DEFINED.findall(hlo_text)) | dict(
        _PARAMETER.findall(hlo_text)
    )
    return collections.Counter(
        f"{types[lhs]} x {types[rhs]} -> {result}"
        for result, lhs, rhs in _DOT.findall(hlo_text)
    )


# --8<-- [end:dot_operand_types]
