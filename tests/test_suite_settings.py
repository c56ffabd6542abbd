"""The settings tests/conftest.py gives every test and every process the suite starts."""

import os

import jax


def test_the_shared_compilation_cache_is_locked():
    # The suite's processes share one compilation cache; JAX locks a cache's reads and writes
    # only when it has a size limit, and without the lock a process can read an entry another
    # is still writing (a truncated program, a warning, so a failed test).
    assert jax.config.jax_compilation_cache_dir == os.environ["JAX_COMPILATION_CACHE_DIR"]
    assert jax.config.jax_compilation_cache_max_size > 0
    # Inherited by the processes the tests start (pages, CLI runs, workers).
    assert int(os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"]) > 0


def test_rank_promotion_is_an_error():
    assert jax.config.jax_numpy_rank_promotion == "raise"
