"""Strict JAX settings for every test, and the paths the tests share."""

import os
from pathlib import Path

import jax

# Silent broadcasting between arrays of different rank is an error in every test and page.
# Dtype promotion stays "standard": under "strict", Optax's own Adam fails (its bias correction
# raises a Python float to an int32 step count), so strict mode would test Optax, not us.
jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"


@pytest.fixture(scope="session")
def mnist_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the four official MNIST `.gz` files, for tests that need real MNIST.

    `FLAXGUIDE_MNIST_MIRROR`, else `../shared/data/mnist` beside the repository. Without either,
    torchvision downloads MNIST once (the path users take) and its download folder serves as the
    mirror; offline, that raises the loader's error saying how to provide the data.
    """
    from torchvision.datasets import MNIST

    from flaxguide.data import load_mnist

    folder = Path(os.environ.get("FLAXGUIDE_MNIST_MIRROR") or ROOT.parent / "shared/data/mnist")
    if all((folder / name).is_file() for name, _ in MNIST.resources):
        return folder
    root = tmp_path_factory.mktemp("mnist-download")
    for split in ("train", "test"):
        load_mnist(split, root=root, mirror=None)
    return root / "MNIST" / "raw"


@pytest.fixture
def key():
    return jax.random.key(0)


def mnist_slices(mirror: Path, root: Path, train: int, test: int) -> tuple[tuple, tuple]:
    """The first `train` training and `test` test examples of real MNIST, on the device."""
    from flaxguide.data import load_mnist, prepare

    images, labels = load_mnist("train", root=root, mirror=mirror)
    test_images, test_labels = load_mnist("test", root=root, mirror=mirror)
    return prepare(images[:train], labels[:train]), prepare(test_images[:test], test_labels[:test])
