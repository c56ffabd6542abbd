"""Chapter 4's first loop: finite parameters, a lower loss, a whole epoch in one call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxguide.chapters.cvae import create_train_epoch, create_train_step, init_training
from flaxguide.config import Config
from flaxguide.data import load_mnist, prepare
from flaxguide.losses import make_loss_fn
from flaxguide.steps import create_eval_step


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
