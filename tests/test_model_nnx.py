"""The NNX VAE computes exactly what the Linen VAE computes, given the same parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxguide.config import get_config
from flaxguide.data import load_mnist, prepare, to_unit
from flaxguide.model.linen import VAE, build_model
from flaxguide.model.nnx import from_linen, to_linen

CONFIG = get_config("full")


@pytest.fixture(scope="module")
def batch(mnist_mirror, tmp_path_factory):
    images, labels = load_mnist("test", root=tmp_path_factory.mktemp("mnist"), mirror=mnist_mirror)
    images, labels = prepare(images[:256], labels[:256])
    return to_unit(images), labels


@pytest.fixture(scope="module")
def both():
    linen = build_model(CONFIG)
    variables = linen.init(
        jax.random.key(0), jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), jax.random.key(1)
    )
    return linen, variables, from_linen(CONFIG, variables)


def test_forward_encode_and_decode_are_bit_identical(both, batch):
    linen, variables, nnx_model = both
    x, c = batch
    key = jax.random.key(2)
    # The same float32 operations in the same order: no tolerance is needed, and none is used.
    for a, b in zip(linen.apply(variables, x, c, key), nnx_model(x, c, key), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        linen.apply(variables, x, c, method=VAE.encode), nnx_model.encode(x, c), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    z = jax.random.normal(key, (x.shape[0], CONFIG.latent_dim))
    np.testing.assert_array_equal(
        linen.apply(variables, z, c, method=VAE.decode), nnx_model.decode(z, c)
    )


def test_parameters_of_another_config_are_refused(both):
    _, variables, _ = both
    with pytest.raises(ValueError, match=r"encoder/Dense_0/kernel: the Linen parameters have"):
        from_linen(get_config("full", encoder_dims=(64, 32)), variables)
    # another depth: a layer one side lacks is named, not a KeyError
    with pytest.raises(
        ValueError, match=r"the Linen parameters have the layers .*'encoder/Dense_1'"
    ):
        from_linen(get_config("full", encoder_dims=(512, 256, 128)), variables)


def test_to_linen_gives_back_the_linen_variables(both):
    _linen, variables, nnx_model = both
    back = to_linen(nnx_model)
    assert jax.tree.structure(back) == jax.tree.structure(variables)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(variables), strict=True):
        np.testing.assert_array_equal(a, b)
