"""The examples in the package's docstrings run, and their shown outputs match."""

import importlib
import inspect
import pkgutil

import pytest
from docs_harness import run_markdown

import flaxguide


def documented_objects():
    for info in pkgutil.walk_packages(flaxguide.__path__, "flaxguide."):
        if info.name == "flaxguide.__main__":
            continue
        module = importlib.import_module(info.name)
        yield info.name, module
        for name, obj in vars(module).items():
            if (
                not name.startswith("_")
                and (inspect.isfunction(obj) or inspect.isclass(obj))
                and obj.__module__ == info.name
            ):
                yield f"{info.name}.{name}", obj


EXAMPLES = [(name, obj) for name, obj in documented_objects() if "```" in (obj.__doc__ or "")]


def test_examples_are_found():
    assert "flaxguide.data.load_mnist" in [name for name, _ in EXAMPLES]


@pytest.mark.parametrize("name, obj", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_docstring_example_runs(name, obj, mnist_mirror, monkeypatch):
    monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
    run_markdown(inspect.getdoc(obj), name=name)
