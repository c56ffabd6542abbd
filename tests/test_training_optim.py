"""The final loop's optimiser: schedule values, clipping order, the logged learning rate."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from flaxguide.config import get_config
from flaxguide.training.optim import current_learning_rate, learning_rate_schedule, make_optimiser

STEPS_PER_EPOCH = 100


@pytest.fixture
def config():
    return get_config("full", epochs=10, warmup_epochs=2, learning_rate=1e-3)


def test_schedule_at_start_warmup_end_and_last_step(config):
    schedule = learning_rate_schedule(config, STEPS_PER_EPOCH)
    warmup_end = 2 * STEPS_PER_EPOCH
    last = 10 * STEPS_PER_EPOCH
    np.testing.assert_allclose(schedule(0), 0.0)
    np.testing.assert_allclose(schedule(warmup_end // 2), 0.5e-3, rtol=1e-6)
    np.testing.assert_allclose(schedule(warmup_end), 1e-3, rtol=1e-6)  # the peak
    # Cosine from the peak to 1% of it: half way through the decay, half way down.
    np.testing.assert_allclose(schedule((warmup_end + last) // 2), (1e-3 + 1e-5) / 2, rtol=1e-5)
    np.testing.assert_allclose(schedule(last), 1e-5, rtol=1e-5)


def test_constant_schedule_is_the_learning_rate(config):
    constant = dataclasses.replace(config, schedule="constant")
    tx = make_optimiser(constant, STEPS_PER_EPOCH)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    _, state = tx.update({"w": jnp.ones(3)}, state, params)
    np.testing.assert_allclose(current_learning_rate(state), constant.learning_rate, rtol=1e-6)


def test_logged_learning_rate_follows_the_schedule(config):
    tx = make_optimiser(config, STEPS_PER_EPOCH)
    schedule = learning_rate_schedule(config, STEPS_PER_EPOCH)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for step in range(5):
        _, state = update({"w": jnp.ones(3)}, state, params)
        np.testing.assert_allclose(current_learning_rate(state), schedule(step), rtol=1e-4)


def test_clipping_comes_before_adam(config):
    tx = make_optimiser(config, STEPS_PER_EPOCH)
    assert isinstance(tx.init({"w": jnp.ones(2)})[0], optax.EmptyState)  # clip_by_global_norm
    big = {"w": jnp.array([3e4, -4e4])}  # norm 5e4, far above clip_norm
    clipped, _ = optax.clip_by_global_norm(config.clip_norm).update(big, optax.EmptyState())
    np.testing.assert_allclose(optax.tree.norm(clipped), config.clip_norm, rtol=1e-6)


def test_no_clipping(config):
    tx = make_optimiser(dataclasses.replace(config, clip_norm=None), STEPS_PER_EPOCH)
    # No chain: the state is the injected Adam's own, not a (clip, adam) pair.
    assert type(tx.init({"w": jnp.ones(2)})).__name__ == "InjectStatefulHyperparamsState"
