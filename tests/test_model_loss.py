"""Closed-form checks of the two loss terms."""

import jax
import jax.numpy as jnp
import numpy as np

from flaxguide.config import get_config
from flaxguide.model.loss import kl_divergence, reconstruction_loss, targets
from flaxguide.training.linen import create_state_epoch, create_train_state


def test_kl_is_zero_at_the_prior():
    mean = jnp.zeros((3, 8))
    logvar = jnp.zeros((3, 8))
    np.testing.assert_array_equal(kl_divergence(mean, logvar), jnp.zeros(3))


def test_kl_matches_the_closed_form_in_one_dimension():
    # KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1) / 2 - log s
    mu, s = 1.5, 0.5
    expected = (s**2 + mu**2 - 1.0) / 2.0 - np.log(s)
    got = kl_divergence(jnp.array([[mu]]), jnp.array([[2.0 * np.log(s)]]))
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


def test_kl_is_positive_away_from_the_prior(key):
    mean, logvar = jax.random.normal(key, (2, 5, 4))
    assert bool(jnp.all(kl_divergence(mean, logvar) > 0))


def test_reconstruction_is_binary_cross_entropy_summed_over_pixels(key):
    logits = jax.random.normal(key, (4, 784))
    x = jax.random.uniform(jax.random.fold_in(key, 1), (4, 784))
    p = jax.nn.sigmoid(logits)
    naive = -jnp.sum(x * jnp.log(p) + (1.0 - x) * jnp.log1p(-p), axis=-1)
    np.testing.assert_allclose(reconstruction_loss(logits, x), naive, rtol=1e-4)


def test_reconstruction_stays_finite_for_confident_wrong_logits():
    logits = jnp.full((1, 784), 200.0)  # sigmoid rounds to exactly 1 in float32
    loss = reconstruction_loss(logits, jnp.zeros((1, 784)))
    assert bool(jnp.isfinite(loss).all())
    np.testing.assert_allclose(loss, [200.0 * 784], rtol=1e-6)


def test_binarised_targets_are_new_zeros_and_ones_for_each_key(key):
    images = jnp.full((2, 784), 128, jnp.uint8)  # every pixel grey, p = 0.5
    grey, same_key = targets(images, key, binary=False)
    np.testing.assert_allclose(grey, 128 / 255)
    assert same_key is key  # grey targets use no randomness
    draws = [
        jax.jit(targets, static_argnums=2)(images, k, True)[0] for k in jax.random.split(key, 2)
    ]
    for x in draws:
        assert set(np.unique(x).tolist()) == {0.0, 1.0}
    assert not np.array_equal(draws[0], draws[1])


def test_the_training_epoch_draws_the_binary_pixels_itself():
    # In the jitted epoch: one Bernoulli draw per step (as random bits) on top of eps's draw.
    images, labels = jnp.zeros((256, 784), jnp.uint8), jnp.zeros((256,), jnp.int32)

    def random_bits(binarize: bool) -> int:
        config = get_config("quick", batch_size=128, binarize=binarize)
        state = create_train_state(config, jax.random.key(0), 2)
        jaxpr = jax.make_jaxpr(create_state_epoch(config))(state, images, labels)
        return str(jaxpr).count("random_bits")

    assert random_bits(True) > random_bits(False)
