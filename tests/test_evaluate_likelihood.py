"""The importance-weighted log-likelihood: a bound above the ELBO that rises with k to the truth."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import mnist_slices

from flaxguide.config import get_config
from flaxguide.data import binarize
from flaxguide.evaluate.likelihood import create_log_likelihood, iwae, vae_log_weights
from flaxguide.model.linen import build_model
from flaxguide.training.linen import create_train_state


@pytest.fixture(scope="module")
def test_images(mnist_mirror, tmp_path_factory):
    _, test = mnist_slices(mnist_mirror, tmp_path_factory.mktemp("mnist"), train=1, test=64)
    return test


@pytest.fixture(scope="module")
def model_and_params():
    config = get_config("quick")
    state = create_train_state(config, jax.random.key(0), steps_per_epoch=1)
    return build_model(config), state.params


def test_binarize_draws_zeros_and_ones_with_the_pixel_intensity(test_images, key):
    images, _ = test_images
    draws = jnp.stack([binarize(k, images) for k in jax.random.split(key, 200)])
    assert set(np.unique(draws).tolist()) <= {0.0, 1.0}
    assert isinstance(draws, jax.Array)  # drawn on the device, not in NumPy
    # The mean of 200 draws is the intensity, within 6 standard errors of a Bernoulli mean
    # (plus one draw's worth, 1/200, for pixels whose intensity is near 0 or 1).
    p = np.asarray(images, np.float32) / 255.0
    assert np.all(np.abs(np.asarray(draws.mean(0)) - p) <= 6 * np.sqrt(p * (1 - p) / 200) + 0.005)
    assert np.abs(np.asarray(draws.mean()) - p.mean()) < 0.002  # 10 million draws in all
    assert not np.array_equal(draws[0], draws[1])  # a new key, a new binary image


def test_iwae_is_at_least_the_mean_log_weight_on_the_same_draws(model_and_params, test_images):
    model, params = model_and_params
    images, labels = test_images
    x = binarize(jax.random.key(1), images)
    log_weights = vae_log_weights(model, params, x, labels)
    key = jax.random.key(2)
    w = log_weights(key, 50)  # (50, B), the draws `iwae` makes with one chunk of 50
    estimate = iwae(log_weights, key, 50, 50)
    np.testing.assert_allclose(estimate, jax.nn.logsumexp(w, axis=0) - math.log(50), rtol=1e-6)
    assert np.all(np.asarray(estimate) >= np.asarray(w.mean(axis=0)))  # Jensen, image by image


def test_the_estimate_rises_with_k(model_and_params, test_images):
    model, params = model_and_params
    images, labels = test_images
    x = binarize(jax.random.key(1), images)
    log_weights = vae_log_weights(model, params, x, labels)
    means = [
        float(
            jax.jit(lambda key, k=k: iwae(log_weights, key, k, min(k, 100)))(
                jax.random.key(3)
            ).mean()
        )
        for k in (1, 10, 100, 1000)
    ]
    assert means == sorted(means), means


def test_it_converges_to_a_closed_form_log_likelihood():
    # A linear-Gaussian model: z ~ N(0, 1), x | z ~ N(a z + b, s^2), so x ~ N(b, a^2 + s^2).
    # The proposal q(z | x) = N(0.3, 1) is deliberately not the posterior.
    a, b, s = 2.0, 1.0, 0.5
    x = jnp.array([-1.0, 0.5, 2.0])

    def log_normal(v, mean, var):
        return -0.5 * (jnp.log(2 * jnp.pi * var) + (v - mean) ** 2 / var)

    def log_weights(key, n):
        z = 0.3 + jax.random.normal(key, (n, x.size))
        return (
            log_normal(x[None], a * z + b, s**2) + log_normal(z, 0.0, 1.0) - log_normal(z, 0.3, 1.0)
        )

    exact = log_normal(x, b, a**2 + s**2)
    estimate = jax.jit(lambda key: iwae(log_weights, key, 200_000, 10_000))(jax.random.key(0))
    np.testing.assert_allclose(estimate, exact, atol=0.01)
    elbo = log_weights(jax.random.key(0), 200_000).mean(axis=0)
    assert np.all(np.asarray(exact - elbo) > 0.05)  # the ELBO alone is well below it


def test_k_must_be_a_multiple_of_the_chunk():
    with pytest.raises(ValueError, match=r"k \(250\) must be a multiple of chunk \(100\)"):
        iwae(lambda key, n: jnp.zeros((n, 1)), jax.random.key(0), 250, 100)


def test_the_unconditional_estimate_marginalises_the_class(model_and_params, test_images):
    model, params = model_and_params
    images, _ = test_images
    x = binarize(jax.random.key(1), images[:8])
    log_px, per_class = create_log_likelihood(model, k=20, chunk=10)(params, x, jax.random.key(4))
    assert per_class.shape == (8, 10)
    np.testing.assert_allclose(
        log_px, jax.nn.logsumexp(per_class, axis=1) - math.log(10), rtol=1e-6
    )
    # log p(x) lies between the smallest and the largest log p(x | c), less log 10.
    assert np.all(log_px <= per_class.max(axis=1)) and np.all(log_px >= per_class.min(axis=1))


def test_extra_samples_for_the_guessed_class_pool_with_its_own(model_and_params, test_images):
    model, params = model_and_params
    images, labels = test_images
    x = binarize(jax.random.key(1), images[:32])
    guess, key = labels[:32], jax.random.key(5)
    _, plain = create_log_likelihood(model, k=10, chunk=10)(params, x, key)
    _, pooled = create_log_likelihood(model, k=10, chunk=10, extra=990)(params, x, key, guess)
    _, many = create_log_likelihood(model, k=1000, chunk=100)(params, x, jax.random.key(6))
    guessed = guess[:, None] == jnp.arange(10)[None]
    # The other classes keep their draws; the guessed one pools 10 + 990 samples, so it
    # estimates like k = 1000 and sits above the k = 10 estimate on average.
    np.testing.assert_array_equal(plain[~guessed], pooled[~guessed])
    own = {name: float(v[guessed].mean()) for name, v in (("10", plain), ("pooled", pooled))}
    target = float(many[guessed].mean())
    assert own["pooled"] > own["10"]
    assert abs(own["pooled"] - target) < 0.25 * abs(own["10"] - target), (own, target)


def test_extra_samples_need_a_guess(model_and_params, test_images):
    from flaxguide.evaluate.metrics import test_log_likelihood

    model, params = model_and_params
    with pytest.raises(ValueError, match="guessed class for each test image"):
        test_log_likelihood(model, params, test_images, jax.random.key(0), 10, extra=10)
