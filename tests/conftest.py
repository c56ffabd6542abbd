"""Strict JAX settings for every test, and the paths the tests share."""

import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# One persistent compilation cache for the whole session, read by every process it starts
# (pages on fake devices, CLI runs, sharding workers, xdist workers) through the environment:
# the same program compiled again, by a new closure or in a new process, is read back instead.
# `scripts/dev.sh test` names a folder that outlives the run (.cache/jax); plain pytest gets a
# new one. Set before JAX is imported, since JAX reads its configuration from the environment.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="flaxguide-jax-cache-")
    # Removed when this process ends. It is the one that made it: xdist workers and the
    # subprocesses inherit the variable, so none of them makes or removes another.
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax

# Silent broadcasting between arrays of different rank is an error in every test and page.
# Dtype promotion stays "standard": under "strict", Optax's own Adam fails (its bias correction
# raises a Python float to an int32 step count), so strict mode would test Optax, not us.
jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
# The addresses the tests' site build is given, of the form the site workflow gives: a GitHub
# repository, and its project site under a subpath, as GitHub Pages serves one.
REPO_URL = "https://github.com/flaxguide-tests/flaxguide"
SITE_URL = "https://flaxguide-tests.github.io/flaxguide/"


@pytest.fixture(scope="session")
def mnist_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the four official MNIST `.gz` files, for tests that need real MNIST.

    `FLAXGUIDE_MNIST_MIRROR`, else `../shared/data/mnist` beside the repository. Without either,
    torchvision downloads MNIST once (the path users take) and its download folder serves as the
    mirror; offline, that raises the loader's error saying how to provide the data.
    """
    from flaxguide.data import MNIST_FILES, load_mnist

    folder = Path(os.environ.get("FLAXGUIDE_MNIST_MIRROR") or ROOT.parent / "shared/data/mnist")
    if all((folder / name).is_file() for name, _ in MNIST_FILES):
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


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that `build(folder)` fills once for the whole test run, then every test reads.

    Under pytest-xdist each worker has its session fixtures of its own; the folder lives where
    all the workers of one run can see it, and the first worker to ask builds it while the
    others wait for it. A build that failed is tried again by the next to ask (and fails there
    with its own error).
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder = root / f"built-once-{name}"
    with open(root / f"built-once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".complete").touch()
    return folder


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site, built once per test run by `mkdocs build --strict`, for the site and browser
    tests, as the site workflow builds it: with a repository's and a site's address, so that
    the links that need them are there to check."""

    def build(folder: Path) -> None:
        env = os.environ | {"FLAXGUIDE_REPO_URL": REPO_URL, "FLAXGUIDE_SITE_URL": SITE_URL}
        done = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", folder / "site"],
            cwd=ROOT, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]

    return built_once(tmp_path_factory, "site", build) / "site"


# `bash scripts/dev.sh test` runs the suite on two pytest-xdist workers. The longest tests start
# first, so that no worker is left running one of them alone at the end. From `--durations` on
# 2 cores: each takes 40 s to 3 min; no other test takes more than 30 s.
LONGEST_FIRST = (
    "test_page_runs[debugging.md]",
    "test_a_run_trained_on_eight_devices_resumes_on_four",
    "test_page_runs[many-devices.md]",
    "test_a_checkpoint_saved_on_eight_devices_restores_on_one_and_on_four",
)


def pytest_collection_modifyitems(config, items):
    def rank(item: pytest.Item) -> int:
        return LONGEST_FIRST.index(item.name) if item.name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep the order of collection
    # `-m "not browser"` leaves out every test that drives Chromium, by the fixture it needs.
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def site(built_site):
    """The session's site (built strictly, with a repository's address), served locally:
    `(folder, url)`."""
    from browser import serve

    server, url = serve(built_site)
    yield built_site, url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Chromium, launched once per test process (browser tests only)."""
    from browser import CHROMIUM, require_chromium
    from playwright.sync_api import sync_playwright

    require_chromium("browser")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
