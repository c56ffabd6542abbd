"""Tests for `flaxguide.data`: mirror copies, checksums and offline errors, never the network."""

import gzip
import io
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import MNIST

from flaxguide.data import (
    MNIST_FILES,
    MNISTChecksumError,
    MNISTUnavailableError,
    check_digits,
    load_mnist,
    read_idx,
    select_digits,
)

FILES = [name for name, _ in MNIST_FILES]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make every download fail fast, and record attempts; the env must not leak in either."""
    calls: list[object] = []

    def urlopen(*args: object, **kwargs: object) -> None:
        calls.append(args[0] if args else kwargs)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.delenv("FLAXGUIDE_MNIST_MIRROR", raising=False)
    monkeypatch.delenv("FLAXGUIDE_DATA", raising=False)
    return calls


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.parametrize("via_env", [False, True], ids=["argument", "env"])
def test_mirror_loads_both_splits(
    mnist_mirror: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_network: list[object],
    via_env: bool,
) -> None:
    before = _snapshot(mnist_mirror)
    if via_env:
        monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
        monkeypatch.setenv("FLAXGUIDE_DATA", str(tmp_path))
        kwargs = {}
    else:
        kwargs = {"root": tmp_path, "mirror": mnist_mirror}

    for split, n in [("train", 60_000), ("test", 10_000)]:
        images, labels = load_mnist(split, **kwargs)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int32
        assert images.min() == 0 and images.max() == 255
        counts = np.bincount(labels, minlength=10)
        assert len(counts) == 10 and counts.sum() == n
        # Every digit is 8-12 % of either split (test has 892 fives, 1,135 ones).
        assert (counts > 0.08 * n).all() and (counts < 0.12 * n).all(), counts

    assert sorted(p.name for p in (tmp_path / "MNIST" / "raw").glob("*.gz")) == sorted(FILES)
    assert _snapshot(mnist_mirror) == before
    assert no_network == []


def test_second_load_uses_cache_without_mirror(
    mnist_mirror: Path, tmp_path: Path, no_network: list[object]
) -> None:
    load_mnist("test", root=tmp_path, mirror=mnist_mirror)
    images, labels = load_mnist("test", root=tmp_path)
    assert images.shape == (10_000, 28, 28) and labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert no_network == []


def test_the_files_and_checksums_are_torchvisions() -> None:
    assert tuple(tuple(resource) for resource in MNIST.resources) == MNIST_FILES


@pytest.mark.parametrize("split", ["train", "test"])
def test_reads_what_torchvision_reads(mnist_mirror: Path, tmp_path: Path, split: str) -> None:
    images, labels = load_mnist(split, root=tmp_path, mirror=mnist_mirror)
    # torchvision finds the checked files, unpacks them and parses them with torch
    dataset = MNIST(tmp_path, train=split == "train", download=True)
    np.testing.assert_array_equal(images, dataset.data.numpy())
    np.testing.assert_array_equal(labels, dataset.targets.numpy())
    assert images.flags.writeable and labels.flags.writeable


class FakeResponse(io.BytesIO):
    """What `urllib.request.urlopen` answers, as much of it as torchvision reads."""

    def __init__(self, url: str, data: bytes) -> None:
        super().__init__(data)
        self.url, self.length = url, len(data)


def test_missing_files_are_downloaded_through_torchvision(
    mnist_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def urlopen(request, *args, **kwargs) -> FakeResponse:  # a network that serves MNIST
        asked.append(request.full_url)
        return FakeResponse(
            request.full_url, (mnist_mirror / Path(request.full_url).name).read_bytes()
        )

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    images, labels = load_mnist("test", root=tmp_path)
    assert {Path(url).name for url in asked} == set(FILES)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and images.shape == (10_000, 28, 28)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00\x0d\x01\x00\x00\x00\x02" + bytes(8), "not an IDX file of unsigned bytes"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(5), "holds 5 values"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "ends inside its header"),
        (b"\x00\x00\x08", "not an IDX file of unsigned bytes"),
    ],
    ids=["floats", "short", "cut-header", "no-dimension-count"],
)
def test_a_file_that_is_not_what_its_header_says_is_refused(tmp_path, data, message) -> None:
    path = tmp_path / "file.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_an_idx_file_has_the_shape_its_header_gives(tmp_path) -> None:
    path = tmp_path / "file.gz"
    path.write_bytes(
        gzip.compress(b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(range(6)))
    )
    np.testing.assert_array_equal(read_idx(path), [[0, 1, 2], [3, 4, 5]])


def test_no_data_no_network(tmp_path: Path, no_network: list[object]) -> None:
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist("train", root=tmp_path)
    msg = str(info.value)
    assert "FLAXGUIDE_MNIST_MIRROR" in msg
    assert "internet access" in msg and str(tmp_path / "MNIST" / "raw") in msg
    assert "network disabled in tests" in msg
    assert no_network  # torchvision did try, and we turned its failure into one error


def test_corrupt_mirror_file(mnist_mirror: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FILES:
        shutil.copyfile(mnist_mirror / name, mirror / name)
    bad = mirror / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))

    root = tmp_path / "root"
    with pytest.raises(MNISTChecksumError, match=re.escape("t10k-labels-idx1-ubyte.gz")) as info:
        load_mnist("test", root=root, mirror=mirror)
    assert "ec29112dd5afa0611ce80d1b7f02629c" in str(info.value)
    assert not (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").exists()


def test_corrupt_cached_file_is_reported_not_replaced(mnist_mirror: Path, tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    bad = raw / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(MNISTChecksumError, match="Delete it") as info:
        load_mnist("train", root=tmp_path, mirror=mnist_mirror)
    assert str(bad) in str(info.value)
    assert bad.read_bytes() == b"not gzip"


def test_mirror_missing_file(mnist_mirror: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FILES[:3]:
        (mirror / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=re.escape("lacks t10k-labels-idx1-ubyte.gz")):
        load_mnist("test", root=tmp_path / "root", mirror=mirror)


def test_mirror_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        load_mnist("test", root=tmp_path, mirror=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_bad_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\['test', 'train'\].*'valid'"):
        load_mnist("valid", root=tmp_path)


def test_select_digits_keeps_the_named_digits_in_order():
    images = np.arange(8 * 3).reshape(8, 3)
    labels = np.array([0, 5, 1, 6, 5, 9, 2, 6], dtype=np.int32)
    kept_images, kept_labels = select_digits(images, labels, [6, 5])
    np.testing.assert_array_equal(kept_labels, [5, 6, 5, 6])
    np.testing.assert_array_equal(kept_images, images[[1, 3, 4, 7]])
    assert kept_labels.dtype == np.int32


@pytest.mark.parametrize(
    "digits, message",
    [
        ([5, 10], r"integers from 0 to 9, got \[10\]"),
        ([-1], r"got \[-1\]"),
        (["7"], r"got \['7'\]"),
        ([3.5], r"got \[3.5\]"),
        ([], "digits is empty"),
        ([8], r"no example has a label in \[8\]; the labels present are \[0, 1, 2\]"),
    ],
)
def test_select_digits_rejects_bad_selections(digits, message):
    labels = np.array([0, 1, 2, 1], dtype=np.int32)
    with pytest.raises(ValueError, match=message):
        select_digits(np.zeros((4, 2)), labels, digits)


@pytest.mark.parametrize("digits", ["07", (3, 3, 1)])
def test_check_digits_rejects_strings_and_sorts_repeats(digits):
    if isinstance(digits, str):
        with pytest.raises(ValueError, match="got the string"):
            check_digits(digits)
    else:
        assert check_digits(digits) == (1, 3)
