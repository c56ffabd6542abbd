"""The playground's export: the weights file reads back as the model it came from, its sha256
guards it, and the sliders' directions are the latent means' principal directions."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DOCS

from flaxguide.config import get_config
from flaxguide.figures.playground import (
    as_variables,
    export_weights,
    latent_directions,
    read_weights,
    restyle,
)
from flaxguide.model.linen import VAE, build_model

CONFIG = get_config("quick")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model(CONFIG)
    params = model.init(
        jax.random.key(0), jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), jax.random.key(1)
    )
    z = np.random.default_rng(0).normal(size=(200, CONFIG.latent_dim)) * np.linspace(3, 0.1, 32)
    folder = tmp_path_factory.mktemp("playground")
    entry = export_weights(CONFIG, params, latent_directions(z), {"run": "test"}, folder)
    return model, params, folder, entry


def test_the_weights_read_back_as_the_model_they_came_from(exported):
    model, params, folder, entry = exported
    header, arrays = read_weights(folder)
    assert header["sha256"] == entry["sha256"] and header["parameters"] == 1_099_600
    # float16, gzipped: fewer bytes than the values themselves
    assert (folder / "weights.bin").stat().st_size == entry["bytes"] < 2 * 1_099_600
    # Each array is the model's own, rounded to float16, in the shape Flax stores it.
    for name, value in arrays.items():
        *path, kind = name.split("/")
        node = params["params"]
        for part in path:
            node = node[part]
        expected = np.asarray(node[kind]).astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(value, expected, err_msg=name)
    # The model computes with them what it computes with its own, to float16's precision.
    x = jax.random.uniform(jax.random.key(2), (3, 784))
    c = jnp.array([0, 4, 9])
    for method in (VAE.encode,):
        ours = model.apply(as_variables(arrays), x, c, method=method)
        theirs = model.apply(params, x, c, method=method)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, atol=2e-2)


def test_a_changed_byte_is_refused(exported, tmp_path):
    _, _, folder, _ = exported
    for name in ("weights.json", "weights.bin"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    data = bytearray((tmp_path / "weights.bin").read_bytes())
    data[1000] ^= 1
    (tmp_path / "weights.bin").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its sha256"):
        read_weights(tmp_path)


def test_the_sliders_follow_the_principal_directions(exported):
    _, _, folder, _ = exported
    latent = json.loads((folder / "weights.json").read_text())["latent"]
    directions = np.asarray(latent["directions"])
    assert directions.shape == (4, CONFIG.latent_dim)
    np.testing.assert_allclose(directions @ directions.T, np.eye(4), atol=1e-6)
    # the spreads were made 3, 2.9, ... along the axes: the first directions are the first axes
    assert np.all(np.diff(latent["spreads"]) < 0)
    assert np.argmax(np.abs(directions[0])) == 0


def test_restyle_draws_one_latent_as_every_class(exported):
    model, params, _, _ = exported
    x = jax.random.uniform(jax.random.key(3), (784,))
    drawn = restyle(model, params, x, 3)
    assert drawn.shape == (10, 28, 28) and bool(jnp.all((drawn >= 0) & (drawn <= 1)))
    mean, _ = model.apply(params, x[None], jnp.array([3]), method=VAE.encode)
    seven = jax.nn.sigmoid(model.apply(params, mean, jnp.array([7]), method=VAE.decode))
    np.testing.assert_allclose(drawn[7].ravel(), seven[0], atol=1e-6)


def test_the_published_weights_are_the_manifests():
    manifest = json.loads((DOCS / "figures" / "manifest.json").read_text())
    entry = manifest["playground"]
    header, _ = read_weights(DOCS / "figures" / "playground")  # checks the file's sha256
    assert header["sha256"] == entry["sha256"] and header["bytes"] == entry["bytes"]
    assert header["run"]["commit"] == manifest["run"]["commit"]
    assert header["run"]["epoch"] == manifest["run"]["config"]["epochs"]
