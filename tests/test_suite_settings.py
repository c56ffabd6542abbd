"""The settings tests/conftest.py, pyproject.toml and the pages' strict cell give every test."""

import warnings

import jax
import jax.numpy as jnp
import pytest
from docs_harness import CACHE_READ_WARNING, STRICT_CELL

from flaxguide.chapters.debugging import persistent_cache

AS_JAX_SAYS_IT = f"{CACHE_READ_WARNING} for 'jit_f': error: Error -5 while decompressing data"


def test_a_cache_entry_read_while_it_is_written_is_compiled_again(tmp_path):
    # The suite's processes share one compilation cache, and JAX writes an entry in place: a
    # process can read one that another is still writing. Here the entry is truncated by hand.
    def f(x):
        return x * 3 + 1

    x = jnp.arange(4.0)
    with persistent_cache(tmp_path):
        jax.jit(f)(x)
        (entry,) = tmp_path.glob("*-cache")
        entry.write_bytes(entry.read_bytes()[:16])
        jax.clear_caches()  # the next call looks in the folder
        with pytest.warns(UserWarning, match=CACHE_READ_WARNING):
            again = jax.jit(f)(x)
    assert jnp.array_equal(again, x * 3 + 1)  # compiled afresh: only time is lost


def test_that_warning_alone_is_not_an_error():
    warnings.warn(AS_JAX_SAYS_IT, UserWarning, stacklevel=1)  # pytest's filters let it pass
    with pytest.raises(UserWarning):
        warnings.warn("any other warning", UserWarning, stacklevel=1)
    # and so do the pages' kernels
    with warnings.catch_warnings():
        exec(STRICT_CELL, {})
        warnings.warn(AS_JAX_SAYS_IT, UserWarning, stacklevel=1)
        with pytest.raises(UserWarning):
            warnings.warn("any other warning", UserWarning, stacklevel=1)


def test_rank_promotion_is_an_error():
    assert jax.config.jax_numpy_rank_promotion == "raise"
