"""The package's layout: its layers hold (import-linter's contracts, the spine never importing
chapter code among them), every public name resolves, every snippet region is shown on some page,
and the API reference follows the public API."""

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DOCS, ROOT

import flaxguide

SRC = ROOT / "src" / "flaxguide"
SPINE = sorted(
    p for p in SRC.rglob("*.py") if p.name != "__main__.py" and "chapters" not in p.parts
)
CHAPTERS = sorted((SRC / "chapters").glob("*.py"))


# import-linter checks the layers declared in pyproject.toml ([tool.importlinter]); .ci/run's lint
# stage runs it too.
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the project's contracts, on the `flaxguide` package inside `src`."""
    return subprocess.run(
        [LINT_IMPORTS, "--config", ROOT / "pyproject.toml", "--no-cache"],
        cwd=src, env=os.environ | {"PYTHONPATH": str(src)}, capture_output=True, text=True,
    )  # fmt: skip


def test_the_package_keeps_its_layers():
    done = lint_imports(ROOT / "src")
    assert done.returncode == 0, done.stdout
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    "module, code, contract",
    [
        # persistence reaching an API's backend past the dispatcher
        ("run/checkpoint.py", "from flaxguide.training.nnx import NNXTrainState",
         "Only the training backend knows there are two Flax APIs"),
        # the model importing the training code above it
        ("model/loss.py", "from flaxguide.training import optim",
         "Each package imports only the packages below it"),
        # the spine importing a chapter's code, inside a function
        ("config.py", "def f():\n    from flaxguide.chapters import cvae",
         "The spine never imports chapter code"),
    ],
)  # fmt: skip
def test_a_wrong_import_breaks_its_contract(tmp_path, module, code, contract):
    copy = shutil.copytree(
        SRC, tmp_path / "flaxguide", ignore=shutil.ignore_patterns("__pycache__")
    )
    (copy / module).write_text((copy / module).read_text() + "\n\n" + code + "\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1
    assert f"{contract} BROKEN" in done.stdout, done.stdout


def test_importing_the_spine_and_its_cli_loads_no_chapter_module_and_no_torch():
    # torch is for the chapters' comparisons and MNIST's download only: importing it takes
    # seconds (3 s here) that every command and every worker process would pay.
    modules = [
        ".".join(p.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in SPINE
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from flaxguide.cli.commands import parser\n"
        "parser().parse_args(['train', '--out', 'x'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('flaxguide.chapters')))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]


def test_every_public_name_resolves_to_its_module():
    for group, names in flaxguide.API.items():
        for name, module in names.items():
            obj = getattr(flaxguide, name)
            assert obj is getattr(importlib.import_module(f"flaxguide.{module}"), name), group
    assert sorted(flaxguide.__all__) == sorted(n for g in flaxguide.API.values() for n in g)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        flaxguide.nope  # noqa: B018


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module
        return False


def test_the_api_reference_follows_the_public_api():
    page = (DOCS / "reference.md").read_text()
    spine_part = page.split("## Command line")[0]
    for group, names in flaxguide.API.items():
        section = spine_part.split(f"## {group}\n")[1].split("\n## ")[0]
        shown = re.findall(r"^::: flaxguide\.([\w.]+)\.(\w+)$", section, flags=re.MULTILINE)
        # a whole module shown (`::: flaxguide.model.nnx`) is not one of the names
        shown = [(m, n) for m, n in shown if not is_module(f"flaxguide.{m}.{n}")]
        assert shown == [(module, name) for name, module in names.items()], group
    for path in CHAPTERS:
        if path.stem != "__init__":
            assert f"::: flaxguide.chapters.{path.stem}\n" in page


def pages_text() -> str:
    return "\n".join(p.read_text() for p in DOCS.rglob("*.md"))


REGION = re.compile(r"--8<-- \[start:(\w+)\]")


def test_every_snippet_region_is_shown_on_some_page():
    shown = set(re.findall(r'--8<-- "([^":]+):(\w+)"', pages_text()))
    unused = [
        f"{path.relative_to(ROOT)}:{name}"
        for path in sorted(SRC.rglob("*.py"))
        for name in REGION.findall(path.read_text())
        if (str(path.relative_to(ROOT)), name) not in shown
    ]
    assert unused == [], "remove these regions or show them on a page"
