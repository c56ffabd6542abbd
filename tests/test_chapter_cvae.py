"""Chapter 4's first loop: finite parameters, a lower loss, a whole epoch in one call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from flaxguide.chapters.cvae import (
    create_nnx_eval_step,
    create_nnx_train_epoch,
    create_nnx_train_step,
    create_train_epoch,
    create_train_step,
    init_nnx_training,
    init_training,
    nnx_generate,
    nnx_train_and_evaluate,
)
from flaxguide.config import Config
from flaxguide.data import load_mnist, prepare
from flaxguide.model.linen import generate
from flaxguide.model.loss import make_loss_fn
from flaxguide.model.nnx import from_linen, to_linen
from flaxguide.training.epoch import create_eval_step


@pytest.fixture(scope="module")
def small_train(mnist_mirror, tmp_path_factory):
    images, labels = load_mnist("train", root=tmp_path_factory.mktemp("mnist"), mirror=mnist_mirror)
    return prepare(images[:1024], labels[:1024])


def test_one_step_keeps_parameters_finite_and_lowers_the_loss(small_train, key):
    config = Config()
    model, params, optimiser, opt_state = init_training(config, key)
    images, labels = small_train[0][:128], small_train[1][:128]
    loss_fn = make_loss_fn(model, config.kl_weight)
    step = create_train_step(model, optimiser, config.kl_weight)
    step_key = jax.random.key(7)
    before, _ = loss_fn(params, images, labels, step_key)
    new_params, _, metrics = step(params, opt_state, images, labels, step_key)
    after, _ = loss_fn(new_params, images, labels, step_key)
    assert all(bool(jnp.isfinite(p).all()) for p in jax.tree.leaves(new_params))
    assert float(after) < float(before)
    np.testing.assert_allclose(metrics["loss"], before, rtol=1e-5)


def test_a_whole_epoch_runs_in_one_call_and_learns(small_train, key):
    config = Config(batch_size=64)
    model, params, optimiser, opt_state = init_training(config, key)
    epoch = create_train_epoch(model, optimiser, config.kl_weight, config.batch_size)
    losses = []
    for k in jax.random.split(jax.random.key(3), 3):
        params, opt_state, metrics = epoch(params, opt_state, *small_train, k)
        assert metrics["loss"].shape == (1024 // 64,)
        losses.append(float(metrics["loss"].mean()))
    assert losses[2] < losses[0]


def test_eval_step_reports_the_negative_elbo(small_train, key):
    model, params, _, _ = init_training(Config(kl_weight=0.5), key)
    metrics = create_eval_step(model)(params, *small_train, key)
    np.testing.assert_allclose(metrics["nelbo"], metrics["rec"] + metrics["kl"], rtol=1e-6)


def assert_same_bits(linen_params, nnx_model):
    """The NNX model holds exactly the Linen parameters, bit for bit."""
    nnx_params = to_linen(nnx_model)
    for a, b in zip(jax.tree.leaves(linen_params), jax.tree.leaves(nnx_params), strict=True):
        np.testing.assert_array_equal(a, b)


def twins(config: Config, key):
    """A Linen start and an NNX model holding the same initial parameters, each with Adam."""
    model, params, optimiser, opt_state = init_training(config, key)
    nnx_model = from_linen(config, params)
    optimizer = nnx.Optimizer(nnx_model, optimiser, wrt=nnx.Param)
    return (model, params, optimiser, opt_state), (nnx_model, optimizer)


def test_the_nnx_step_trains_to_the_same_bits_as_the_linen_step(small_train, key):
    config = Config()
    (model, params, optimiser, opt_state), (nnx_model, optimizer) = twins(config, key)
    step = create_train_step(model, optimiser, config.kl_weight)
    nnx_step = create_nnx_train_step(config.kl_weight)
    images, labels = small_train[0][:128], small_train[1][:128]
    for k in jax.random.split(jax.random.key(5), 3):
        params, opt_state, metrics = step(params, opt_state, images, labels, k)
        nnx_metrics = nnx_step(nnx_model, optimizer, images, labels, k)  # updates in place
        for name in ("loss", "rec", "kl"):
            assert float(nnx_metrics[name]) == float(metrics[name])
    assert_same_bits(params, nnx_model)
    assert int(optimizer.step[...]) == 3


def test_the_nnx_epoch_matches_the_linen_epoch(small_train, key):
    config = Config(batch_size=64)
    (model, params, optimiser, opt_state), (nnx_model, optimizer) = twins(config, key)
    epoch = create_train_epoch(model, optimiser, config.kl_weight, config.batch_size)
    nnx_epoch = create_nnx_train_epoch(config.kl_weight, config.batch_size)
    epoch_key = jax.random.key(3)
    params, opt_state, metrics = epoch(params, opt_state, *small_train, epoch_key)
    nnx_metrics = nnx_epoch(nnx_model, optimizer, *small_train, epoch_key)
    assert nnx_metrics["loss"].shape == (1024 // 64,)
    np.testing.assert_array_equal(nnx_metrics["loss"], metrics["loss"])
    assert_same_bits(params, nnx_model)  # written back into the model after the scan
    assert int(optimizer.step[...]) == 1024 // 64


def test_the_nnx_eval_step_and_sampling_match_linen(small_train, key):
    config = Config()
    (model, params, _, _), (nnx_model, _) = twins(config, key)
    metrics = create_eval_step(model)(params, *small_train, key)
    nnx_metrics = create_nnx_eval_step()(nnx_model, *small_train, key)
    assert jax.tree.map(float, nnx_metrics) == jax.tree.map(float, metrics)  # the same bits
    labels = jnp.arange(10, dtype=jnp.int32)
    images = nnx_generate(nnx_model, key, labels)
    assert images.shape == (10, 28, 28)
    np.testing.assert_array_equal(images, generate(model, params, key, labels))


def test_init_nnx_training_builds_the_linen_model_shapes(key):
    config = Config()
    _, params, _, _ = init_training(config, key)
    nnx_model, optimizer = init_nnx_training(config, key)
    shapes = jax.tree.map(jnp.shape, to_linen(nnx_model))
    assert shapes == jax.tree.map(jnp.shape, params)
    assert int(optimizer.step[...]) == 0


def test_nnx_train_and_evaluate_reports_what_the_linen_loop_reports(mnist_mirror, tmp_path):
    from conftest import mnist_slices

    train, test = mnist_slices(mnist_mirror, tmp_path, train=512, test=256)
    config = Config(epochs=2, batch_size=64)
    model, history = nnx_train_and_evaluate(config, train, test, progress=False)
    assert [row["epoch"] for row in history] == [1, 2]
    keys = {"epoch", "seconds", "train_loss", "train_rec", "train_kl"}
    assert set(history[0]) == keys | {"test_nelbo", "test_rec", "test_kl"}
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert isinstance(model, nnx.Module)
