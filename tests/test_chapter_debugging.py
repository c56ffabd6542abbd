"""The chapter tools: the compile counter, the persistent cache, the paired timer and the
profile reader."""

import gzip
import json

import jax
import jax.numpy as jnp
import pytest

from flaxguide.chapters import debugging
from flaxguide.chapters.debugging import (
    count_compiles,
    paired_ratios,
    persistent_cache,
    profile_shares,
    ratio_spread,
)


def test_count_compiles_counts_each_new_shape_once():
    double = jax.jit(lambda x: 2 * x)
    with count_compiles() as compiles:
        for n in (3, 3, 4, 3):
            double(jnp.ones(n))
    assert compiles["<lambda>"] == 2


def test_count_compiles_sees_a_recompiling_loop():
    def step(x, scale):
        return x * scale

    with count_compiles() as compiles:
        for scale in (1.0, 2.0, 3.0):
            jax.jit(step, static_argnames="scale")(jnp.ones(2), scale=scale)
    assert compiles["step"] == 3


def test_count_compiles_restores_the_logger():
    import logging

    logger = logging.getLogger("jax")
    handlers, propagate = list(logger.handlers), logger.propagate
    with pytest.raises(RuntimeError), count_compiles():
        raise RuntimeError("boom")
    assert logger.handlers == handlers and logger.propagate == propagate


def test_persistent_cache_writes_a_program_and_restores_the_settings(tmp_path):
    # The test session has a cache of its own (conftest.py): the block's folder replaces it.
    before = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    x = jnp.ones(5)
    jax.jit(lambda x: x * 7)(x)  # the session's cache is open before the block
    with persistent_cache(tmp_path):
        jax.jit(lambda x: x * 3 + 1)(x)  # a new program, compiled in well under 1 s
    assert [path.name.split("-")[0] for path in tmp_path.glob("*-cache")] == ["jit__lambda"]
    after = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    assert after == before
    jax.jit(lambda x: x * 5 - 1)(x)  # after the block: not written to the block's folder
    assert len(list(tmp_path.glob("*-cache"))) == 1


def test_paired_ratios_times_each_call_against_its_partner_in_turn(monkeypatch):
    now, calls = [0.0], []

    def call(name, seconds):
        def run():
            calls.append(name)
            now[0] += seconds

        return run

    monkeypatch.setattr(debugging.time, "perf_counter", lambda: now[0])
    assert paired_ratios(call("slow", 3.0), call("fast", 1.5), repeats=3) == [2.0, 2.0, 2.0]
    untimed, timed = calls[:2], calls[2:]
    assert untimed == ["slow", "fast"], "one untimed call of each first"
    assert timed == ["fast", "slow", "slow", "fast", "fast", "slow"], "alternating order"


def test_ratio_spread_gives_the_median_and_the_range():
    assert ratio_spread([1.12, 0.97, 1.05]) == "1.05x (0.97x to 1.12x over 3 repeats)"
    assert ratio_spread([126.4, 110.0], digits=0) == "118x (110x to 126x over 2 repeats)"


HLO = """
ENTRY %main {
  %dot.1 = f32[8,8]{1,0} dot(%a, %b), metadata={op_name="jit(f)/jvp(VAE)/Dense_0/dot_general"}
  %fusion.2 = f32[8,8]{1,0} fusion(%dot.1), metadata={op_name="jit(f)/transpose(jvp(VAE))/mul"}
  %ynn_fusion.3 = f32[8,8] fusion(%x), metadata={op_name="jit(f)/transpose(jvp(VAE))/dot_general"}
  %add.4 = f32[8]{0} add(%p, %q), metadata={op_name="jit(f)/add"}
  %while.5 = (f32[8]) while(%t), body=%body
}
"""


def test_profile_shares_splits_time_by_phase_and_kind(tmp_path):
    events = [
        {"ph": "X", "name": "dot.1", "dur": 10},
        {"ph": "X", "name": "fusion.2", "dur": 5},
        {"ph": "X", "name": "ynn_fusion.3", "dur": 20},
        {"ph": "X", "name": "add.4", "dur": 15},
        {"ph": "X", "name": "while.5", "dur": 1000},  # holds the others: not counted again
        {"ph": "X", "name": "ThunkExecutor::Execute", "dur": 1000},  # not an instruction
        {"ph": "M", "name": "thread_name"},
    ]
    trace = tmp_path / "plugins/profile/run/perfetto_trace.json.gz"
    trace.parent.mkdir(parents=True)
    trace.write_bytes(gzip.compress(json.dumps({"traceEvents": events}).encode()))
    assert profile_shares(tmp_path, HLO) == {
        ("backward", "matmul"): 0.4,
        ("backward", "other"): 0.1,
        ("forward", "matmul"): 0.2,
        ("optimiser and the rest", "other"): 0.3,
    }


def test_profile_shares_says_when_there_is_no_perfetto_trace(tmp_path):
    with pytest.raises(FileNotFoundError, match="create_perfetto_trace=True"):
        profile_shares(tmp_path, HLO)
