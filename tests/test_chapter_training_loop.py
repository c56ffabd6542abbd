"""Tests for `flaxguide.chapters.training_loop`: the plain-JAX training loop of chapter 1."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxguide.chapters.training_loop import (
    B_TRUE,
    LEARNING_RATE,
    W_TRUE,
    fit_linear,
    init_params,
    loss_fn,
    make_dataset,
    model_forward,
    sgd_update,
    shuffled_batches,
    train_step,
)


@pytest.fixture(scope="module")
def data() -> tuple[jax.Array, jax.Array]:
    return make_dataset(jax.random.key(0))


@pytest.fixture(scope="module")
def trained(data) -> tuple[dict[str, jax.Array], jax.Array]:
    x, y = data
    return fit_linear(jax.random.key(1), x, y, num_epochs=10, batch_size=32)


def test_make_dataset_shapes_and_determinism(key):
    x, y = make_dataset(key, num_examples=100)
    assert x.shape == (100, 2) and y.shape == (100, 1)
    np.testing.assert_array_equal(make_dataset(key, num_examples=100)[1], y)
    # The noise has standard deviation 0.1 around the true line.
    residual = y - (x @ W_TRUE + B_TRUE[None, :])
    assert 0.07 < float(jnp.std(residual)) < 0.13


def test_init_params_structure(key):
    params = init_params(key, num_features=3)
    assert jax.tree.map(jnp.shape, params) == {"w": (3, 1), "b": (1,)}
    np.testing.assert_array_equal(params["b"], jnp.zeros((1,)))


def test_model_forward_and_loss_closed_form():
    params = {"w": jnp.array([[1.0], [2.0]]), "b": jnp.array([0.5])}
    x = jnp.array([[1.0, 1.0], [0.0, -1.0]])
    np.testing.assert_allclose(model_forward(params, x), [[3.5], [-1.5]])
    y = jnp.array([[3.5], [0.5]])  # errors 0 and -2: mean squared error 2
    np.testing.assert_allclose(loss_fn(params, (x, y)), 2.0)


def test_sgd_update_closed_form():
    params = {"w": jnp.array([1.0, 2.0]), "nested": {"b": jnp.array([0.5])}}
    grads = {"w": jnp.array([10.0, -10.0]), "nested": {"b": jnp.array([1.0])}}
    new = sgd_update(params, grads, learning_rate=0.1)
    np.testing.assert_allclose(new["w"], [0.0, 3.0], atol=1e-6)
    np.testing.assert_allclose(new["nested"]["b"], [0.4], atol=1e-6)


def test_train_step_is_jitted(data):
    x, y = data
    params = init_params(jax.random.key(1))
    assert hasattr(train_step, "lower")
    hlo = train_step.lower(params, (x[:32], y[:32])).as_text()
    assert "train_step" in hlo


def test_one_step_is_finite_lowers_loss_and_matches_sgd(data):
    x, y = data
    batch = (x[:32], y[:32])
    params = init_params(jax.random.key(1))
    new_params, loss = train_step(params, batch)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(new_params))
    assert float(loss_fn(new_params, batch)) < float(loss)
    np.testing.assert_allclose(loss, loss_fn(params, batch), rtol=1e-6)
    # The step is exactly SGD with the module's learning rate.
    grads = jax.grad(loss_fn)(params, batch)
    expected = sgd_update(params, grads, LEARNING_RATE)
    for got, want in zip(jax.tree.leaves(new_params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_train_step_does_not_mutate_its_input(data):
    x, y = data
    params = init_params(jax.random.key(1))
    before = jax.tree.map(np.array, params)
    train_step(params, (x[:32], y[:32]))
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(before), strict=True):
        np.testing.assert_array_equal(got, want)


def test_shuffled_batches_covers_every_example_once(key):
    x = jnp.arange(12.0)[:, None]
    batches = list(shuffled_batches(key, x, -x, batch_size=4))
    assert len(batches) == 3
    assert all(xb.shape == (4, 1) and yb.shape == (4, 1) for xb, yb in batches)
    seen = np.concatenate([np.asarray(xb[:, 0]) for xb, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(12.0))
    # x and y stay paired.
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, -xb)


def test_shuffled_batches_drops_partial_batch_without_repeats(key):
    x = jnp.arange(10.0)[:, None]
    batches = list(shuffled_batches(key, x, x, batch_size=4))
    assert [xb.shape for xb, _ in batches] == [(4, 1), (4, 1)]
    seen = np.concatenate([np.asarray(xb[:, 0]) for xb, _ in batches])
    assert len(set(seen.tolist())) == 8


def test_shuffled_batches_order_depends_on_key():
    x = jnp.arange(64.0)[:, None]

    def order(key):
        return np.concatenate([np.asarray(xb[:, 0]) for xb, _ in shuffled_batches(key, x, x, 8)])

    first, second = jax.random.split(jax.random.key(0))
    np.testing.assert_array_equal(order(first), order(first))
    assert not np.array_equal(order(first), order(second))
    assert not np.array_equal(order(first), np.arange(64.0))


def test_fit_loss_decreases(trained):
    _, losses = trained
    assert losses.shape == (10,)
    assert bool(jnp.all(jnp.isfinite(losses)))
    assert float(losses[-1]) < 0.01 * float(losses[0])
    # Noise of standard deviation 0.1 puts the floor of the mean squared error near 0.01.
    assert 0.008 < float(losses[-1]) < 0.013


def test_fit_recovers_true_parameters(trained):
    params, _ = trained
    np.testing.assert_allclose(params["w"], W_TRUE, atol=0.02)
    np.testing.assert_allclose(params["b"], B_TRUE, atol=0.02)
