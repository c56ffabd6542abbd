"""The serve environment's lock: requirements-site.lock holds what building the site needs and
nothing of the machine-learning stack, at the full lock's versions and hashes. Read from the
files; nothing is installed."""

import importlib.util
import re
import sys
import tomllib

import yaml
from conftest import ROOT

HOOKS = ROOT / "docs" / "_hooks"
SITE_LOCK = ROOT / "requirements-site.lock"
# What `serve` must not install: the stack the pages run on, and the CUDA libraries torch pulls.
HEAVY = re.compile(r"torch.*|jax.*|flax|optax|orbax.*|nvidia-.*|triton|tensorflow.*")
# One entry of a lock that `uv export` wrote: `name==version ... \` and its `--hash=` lines.
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


def load_site_hook():
    """docs/_hooks/site.py, loaded by path (its name would shadow the standard library's `site`),
    so the tests read the locks and classifiers as the site's build does."""
    if str(HOOKS) not in sys.path:
        sys.path.insert(0, str(HOOKS))  # for its `reading`, as MkDocs provides
    spec = importlib.util.spec_from_file_location("flaxguide_site_hook", HOOKS / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site_hook = load_site_hook()
import locked  # noqa: E402  (docs/_hooks, on the path load_site_hook set)


def hashes(lock) -> dict[str, set[str]]:
    """The sha256 hashes of each package of a lock, by normalized name."""
    return {
        locked.normalized(name): set(re.findall(r"--hash=sha256:([0-9a-f]{64})", rest))
        for name, rest in ENTRY.findall(lock.read_text())
    }


def test_the_site_lock_holds_no_machine_learning_stack():
    site = locked.locked_versions(SITE_LOCK)
    assert "mkdocs" in site  # the lock was read
    assert sorted(name for name in site if HEAVY.fullmatch(name)) == []


def test_the_site_lock_pins_what_the_full_lock_pins():
    site, full = locked.locked_versions(SITE_LOCK), locked.locked_versions()
    assert {name: (v, full.get(name)) for name, v in site.items() if full.get(name) != v} == {}
    # The same files too: every package hashed (pip's --require-hashes), with the same hashes.
    site_hashes, full_hashes = hashes(SITE_LOCK), hashes(locked.LOCK)
    assert site_hashes.keys() == site.keys()
    assert [name for name, h in site_hashes.items() if not h or h != full_hashes[name]] == []


def test_the_site_lock_holds_every_package_the_site_group_names():
    group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["site"]
    named = {locked.normalized(re.match(r"[A-Za-z0-9_.-]+", req)[0]) for req in group}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings", "pymdown-extensions"} <= named
    site = locked.locked_versions(SITE_LOCK)
    assert sorted(named - site.keys()) == []
    assert "mkdocstrings-python" in site  # the handler that mkdocstrings[python] asks for


def test_the_pythons_the_page_lists_are_the_ones_ci_tests():
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]
    tested = set(matrix["python"]) | {row["python"] for row in matrix.get("include", [])}
    assert sorted(tested) == site_hook.tested_pythons()
