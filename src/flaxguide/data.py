"""MNIST: loading it, choosing digits, and putting it on the device.

[`load_mnist`][flaxguide.data.load_mnist] downloads through
`torchvision.datasets.MNIST`, so a machine with internet access gets the data
the usual way. Offline machines point `FLAXGUIDE_MNIST_MIRROR` at a folder
holding the four official `.gz` files instead. Once the files are on disk it
reads them itself, with NumPy: importing torchvision (and torch with it)
takes seconds that a JAX program does not need.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from flaxguide.config import Config

# The four official files and their MD5s, as
# `torchvision.datasets.MNIST.resources` lists them (tests/test_data.py holds
# the two lists equal).
MNIST_FILES = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)
# each split's files: (images, labels)
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_FILES = ", ".join(name for name, _ in MNIST_FILES)


class MNISTChecksumError(RuntimeError):
    """An MNIST `.gz` file does not have the MD5 torchvision expects."""


class MNISTUnavailableError(RuntimeError):
    """MNIST is neither on disk nor in a mirror, and downloading it
    failed."""


def default_data_dir() -> Path:
    """Where MNIST is cached: `$FLAXGUIDE_DATA`, else
    `~/.cache/flaxguide`."""
    return Path(
        os.environ.get("FLAXGUIDE_DATA") or "~/.cache/flaxguide"
    ).expanduser()


def default_mirror() -> Path | None:
    """The local mirror folder from `$FLAXGUIDE_MNIST_MIRROR`, or `None` when
    unset or empty."""
    mirror = os.environ.get("FLAXGUIDE_MNIST_MIRROR")
    return Path(mirror).expanduser() if mirror else None


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(path: Path, expected: str, fix: str) -> None:
    actual = _md5(path)
    if actual != expected:
        raise MNISTChecksumError(
            f"{path} has MD5 {actual}, expected {expected} "
            "(torchvision.datasets.MNIST.resources): "
            f"it is corrupt or not the official MNIST file. {fix}"
        )


def _copy_from_mirror(mirror: Path, raw: Path) -> None:
    if not mirror.is_dir():
        raise FileNotFoundError(
            f"MNIST mirror folder {mirror} does not exist. It should "
            "hold the four official "
            f"MNIST files: {_FILES}."
        )
    missing = [
        name for name, _ in MNIST_FILES if not (mirror / name).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"MNIST mirror folder {mirror} lacks "
            f"{', '.join(missing)}. It should hold the four "
            f"official MNIST files: {_FILES}."
        )
    for name, md5 in MNIST_FILES:
        dst = raw / name
        if dst.exists():  # already verified by the caller
            continue
        _check_md5(
            mirror / name,
            md5,
            "It was not copied; replace it in the mirror with a good "
            "copy, or use another mirror.",
        )
        # copyfile, not copy2: mirror files are often read-only and the cache
        # copy must not be. The rename makes an interrupted copy leave no
        # half-written file for the next run.
        tmp = dst.with_name(f"{name}.{os.getpid()}.part")
        shutil.copyfile(mirror / name, tmp)
        os.replace(tmp, dst)


def load_mnist(
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    mirror: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as `(images, labels)`.

    Args:
        split: `"train"` (60,000 examples) or `"test"` (10,000 examples).
        root: Cache folder; the files land in `root/MNIST/raw/`. Defaults to
            `default_data_dir()` (`$FLAXGUIDE_DATA`, else
            `~/.cache/flaxguide`).
        mirror: Folder holding the four official `.gz` files, copied into the
            cache instead of downloading. Defaults to
            `$FLAXGUIDE_MNIST_MIRROR`; it is never written to.

    Returns:
        `images`, `uint8` of shape `(N, 28, 28)` with values 0..255, and
            `labels`, `int32` of shape `(N,)` with values 0..9.

    Raises:
        ValueError: `split` is not `"train"` or `"test"`.
        FileNotFoundError: The mirror folder does not exist or lacks one of
            the files.
        MNISTChecksumError: A `.gz` file in the mirror or the cache has the
            wrong MD5.
        MNISTUnavailableError: The data is missing and could not be
            downloaded.

    Example:
        ```python
        from flaxguide.data import load_mnist

        images, labels = load_mnist("test")
        print(images.shape, images.dtype, labels.shape, labels.dtype)
        ```

        ```text title="Output"
        (10000, 28, 28) uint8 (10000,) int32
        ```
    """
    if split not in SPLITS:
        raise ValueError(
            f"split must be one of {sorted(SPLITS)}, got {split!r}"
        )
    root = Path(root).expanduser() if root else default_data_dir()
    mirror = Path(mirror).expanduser() if mirror else default_mirror()
    raw = root / "MNIST" / "raw"  # torchvision's MNIST.raw_folder
    raw.mkdir(parents=True, exist_ok=True)

    # torchvision treats a .gz with a bad MD5 as absent and silently
    # downloads over it; offline that turns into a confusing network error,
    # so check first and let the user decide.
    for name, md5 in MNIST_FILES:
        if (raw / name).exists():
            _check_md5(
                raw / name,
                md5,
                "Delete it to download it again, or re-copy it from "
                "a good mirror.",
            )
    if mirror is not None:
        _copy_from_mirror(mirror, raw)

    if not all((raw / name).exists() for name, _ in MNIST_FILES):
        _download(root, raw)
    images, labels = (read_idx(raw / name) for name in SPLITS[split])
    return images, labels.astype(np.int32)


def _download(root: Path, raw: Path) -> None:
    """The four files into `raw`, through torchvision (which checks their
    MD5s), or an `MNISTUnavailableError` saying how else to get them."""
    from torchvision.datasets import MNIST  # imports torch: only to download

    try:
        MNIST(root, download=True)
    except (RuntimeError, OSError) as err:
        last = (
            str(err).strip().splitlines()[-1]
            if str(err).strip()
            else type(err).__name__
        )
        raise MNISTUnavailableError(
            f"MNIST is not in {raw} and downloading it failed (last "
            f"error: {last}). "
            "Get it one of two ways: (1) set FLAXGUIDE_MNIST_MIRROR "
            "(or pass mirror=) to a "
            f"folder holding the four official files {_FILES}; or "
            "(2) run once with internet "
            f"access so torchvision downloads them into {raw}."
        ) from err


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file, the format of the MNIST files, as a uint8 array.

    The file starts with two zero bytes, a type byte (8: unsigned bytes) and
    the number of dimensions, then each dimension's size as a big-endian
    32-bit integer; the values follow, row by row.

    Args:
        path: an MNIST `.gz` file.

    Returns:
        A writable uint8 array of the file's shape: `(N, 28, 28)` for
            images, `(N,)` for labels.

    Raises:
        ValueError: the file is not an IDX file of unsigned bytes, ends
            inside its header, or holds fewer or more values than its header
            says.
    """
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes (it starts with "
            f"{data[:4].hex()}, not 000008 and a dimension count)"
        )
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError(f"{path} ends inside its header")
    shape = tuple(
        int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big")
        for k in range(ndim)
    )
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != np.prod(shape):
        raise ValueError(
            f"{path} holds {values.size} values, its header says {shape}"
        )
    # one copy: an array over the file's bytes is read-only
    return values.reshape(shape).copy()


# --8<-- [start:select_digits]
def check_digits(digits: Sequence[int]) -> tuple[int, ...]:
    """`digits` as a sorted tuple of distinct integers from 0 to 9, or a
    `ValueError`.

    Args:
        digits: the digits to keep, in any order, repeats allowed.

    Returns:
        The distinct digits, sorted, as Python ints.

    Raises:
        ValueError: `digits` is a string or empty, or holds something that
            is not an integer from 0 to 9.
    """
    # "07" would otherwise pass as the digits "0" and "7"
    if isinstance(digits, str):
        raise ValueError(
            f"digits must be integers from 0 to 9, got the string {digits!r}"
        )
    digits = list(digits)
    if not digits:
        raise ValueError(
            "digits is empty: name at least one digit from 0 to 9"
        )
    bad = [
        d
        for d in digits
        if not (isinstance(d, int | np.integer) and 0 <= d <= 9)
    ]
    if bad:
        raise ValueError(f"digits must be integers from 0 to 9, got {bad}")
    return tuple(sorted({int(d) for d in digits}))


def parse_digits(text: str) -> tuple[int, ...]:
    """Digits written as `0-4`, `5,6,7` or `3`, checked by `check_digits`."""
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-"))
            return check_digits(range(low, high + 1))
        return check_digits([int(part) for part in text.split(",")])
    except ValueError as err:
        raise ValueError(
            "expected digits from 0 to 9 like 0-4 or 5,6,7, got "
            f"{text!r} ({err})"
        ) from None


def select_digits(
    images: np.ndarray, labels: np.ndarray, digits: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The examples whose label is one of `digits`, in their original order.

    Raises `ValueError` for an empty `digits`, a digit that is not an integer
    from 0 to 9, or a selection that matches no example.

    Args:
        images: `(N, ...)` images, e.g. `(N, 28, 28)` uint8.
        labels: `(N,)` integer labels.
        digits: the digits to keep, checked by `check_digits`.

    Returns:
        `(images, labels)`: the NumPy rows whose label is in `digits`.

    Raises:
        ValueError: `digits` fails `check_digits`, or no label is in it.
    """
    digits = check_digits(digits)
    keep = np.isin(labels, digits)
    if not keep.any():
        present = sorted({int(label) for label in np.unique(labels)})
        raise ValueError(
            f"no example has a label in {list(digits)}; the labels "
            f"present are {present}"
        )
    return images[keep], labels[keep]


# --8<-- [end:select_digits]


# --8<-- [start:prepare]
def prepare(
    images: np.ndarray, labels: np.ndarray
) -> tuple[jax.Array, jax.Array]:
    """Put a whole split on the device once: uint8 pixels `(N, 784)` and
    int32 labels `(N,)`.

    uint8 keeps the training set at 47 MB; batches become floats inside the
    step.

    Args:
        images: `(N, 28, 28)` uint8 images, as `load_mnist` returns them.
        labels: `(N,)` integer labels.

    Returns:
        `(images, labels)` as JAX arrays: `(N, 784)` of the input's dtype
            and `(N,)` int32.
    """
    return jnp.asarray(images.reshape(len(images), -1)), jnp.asarray(
        labels, dtype=jnp.int32
    )


def to_unit(images: jax.Array) -> jax.Array:
    """uint8 pixels to floats in [0, 1]; float input is taken to be in [0, 1]
    already.

    Args:
        images: pixels of any shape, uint8 in `[0, 255]` or float in
            `[0, 1]`.

    Returns:
        float32 pixels in `[0, 1]`, the shape of `images`.
    """
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) / 255.0
    return images.astype(jnp.float32)


# --8<-- [end:prepare]


def load_splits(
    digits: Sequence[int] | None = None, binarize_test: bool = False
) -> tuple[tuple, tuple]:
    """The train and test splits on the device, each `(images, labels)`,
    restricted to `digits` when given, the test images binarised once if
    `binarize_test` (see `binarize_split`). What a run trains and evaluates
    on.

    Args:
        digits: the digits to keep (see `select_digits`); `None` keeps all
            ten.
        binarize_test: binarise the test images once, with
            `TEST_BINARIZATION_SEED`.

    Returns:
        `(train, test)`, each `(images, labels)` as `prepare` returns them:
            `(N, 784)` uint8 pixels and `(N,)` int32 labels.

    Raises:
        ValueError: `digits` is not valid or matches no example.
    """
    splits = []
    for split in ("train", "test"):
        images, labels = load_mnist(split)
        if digits is not None:
            images, labels = select_digits(images, labels, digits)
        splits.append(prepare(images, labels))
    return splits[0], binarize_split(splits[1]) if binarize_test else splits[
        1
    ]


# --8<-- [start:binarize]
# The test set is binarised once, with this seed, so every run is scored on
# the same images.
TEST_BINARIZATION_SEED = 0


def binarize(key: jax.Array, images: jax.Array) -> jax.Array:
    """Each pixel set to 1 with probability its intensity: uint8 `images` ->
    float32 0s and 1s.

    Runs on the device; with a new key per batch it draws new binary images
    every epoch ("dynamic binarisation"), which keeps the model from
    memorising one draw.

    Args:
        key: the JAX random key of this draw.
        images: pixels of any shape, uint8 or float in `[0, 1]`.

    Returns:
        float32 0s and 1s, the shape of `images`.
    """
    return jax.random.bernoulli(key, to_unit(images)).astype(jnp.float32)


def binarize_split(
    split: tuple, seed: int = TEST_BINARIZATION_SEED
) -> tuple:
    """A split's images binarised once (as uint8 0 and 255, so `to_unit`
    reads them as is).

    Args:
        split: `(images, labels)`, images uint8 or float in `[0, 1]`.
        seed: the seed of the draw; the same seed gives the same images.

    Returns:
        `(images, labels)`: the images as uint8 0s and 255s, their shape
            kept, and `labels` unchanged.
    """
    images, labels = split
    return (binarize(jax.random.key(seed), images) * 255).astype(
        jnp.uint8
    ), labels


# --8<-- [end:binarize]


def steps_per_epoch(config: Config, train) -> int:
    """How many full batches of `config.batch_size` the split `train =
    (images, labels)` holds."""
    return train[0].shape[0] // config.batch_size
