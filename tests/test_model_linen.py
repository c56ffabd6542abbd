"""The class-conditioned VAE: parameter count, shapes, and how the class enters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxguide.config import Config
from flaxguide.model.linen import VAE, FeedForward, build_model, generate


@pytest.fixture(scope="module")
def model_and_params():
    model = build_model(Config())
    x = jnp.zeros((1, 784))
    c = jnp.zeros((1,), jnp.int32)
    return model, model.init(jax.random.key(0), x, c, jax.random.key(1))


def test_parameter_count_is_pinned(model_and_params):
    _, params = model_and_params
    # encoder (784+10)*512+512 + 512*256+256, latent 256*64+64,
    # decoder (32+10)*256+256 + 256*512+512 + 512*784+784
    assert sum(p.size for p in jax.tree.leaves(params)) == 1_099_600


def test_feedforward_can_drop_its_last_activation(key):
    x = jax.random.normal(key, (5, 3))
    for drop, can_be_negative in ((False, False), (True, True)):
        model = FeedForward((4, 2), drop_last_activation=drop)
        y = model.apply(model.init(key, x), x)
        assert y.shape == (5, 2)
        assert bool(jnp.any(y < 0)) == can_be_negative


def test_shapes(model_and_params, key):
    model, params = model_and_params
    x = jax.random.uniform(key, (4, 784))
    c = jnp.array([0, 3, 7, 9], jnp.int32)
    logits, mean, logvar = model.apply(params, x, c, key)
    assert logits.shape == (4, 784)
    assert mean.shape == logvar.shape == (4, 32)


def test_the_class_changes_the_decoding(model_and_params, key):
    model, params = model_and_params
    z = jax.random.normal(key, (2, 32))
    z = jnp.concatenate([z[:1], z[:1]])  # the same latent twice
    logits = model.apply(params, z, jnp.array([1, 8], jnp.int32), method=VAE.decode)
    assert not np.allclose(logits[0], logits[1])


def test_reparam_uses_mean_and_std(model_and_params, key):
    model, params = model_and_params
    mean = jnp.full((20_000, 1), 2.0)
    logvar = jnp.full((20_000, 1), jnp.log(0.25))
    z = model.apply(params, mean, logvar, key, method=VAE.reparam)
    np.testing.assert_allclose([z.mean(), z.std()], [2.0, 0.5], atol=0.02)


def test_generate_gives_images_in_unit_range(model_and_params, key):
    model, params = model_and_params
    images = generate(model, params, key, jnp.arange(10, dtype=jnp.int32))
    assert images.shape == (10, 28, 28)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
