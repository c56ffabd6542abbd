"""The package's layout: the spine never imports chapter code, every public name resolves, every
snippet region is shown on some page, and the API reference follows the public API."""

import ast
import importlib
import re
import subprocess
import sys

import pytest
from conftest import DOCS, ROOT

import flaxguide

SRC = ROOT / "src" / "flaxguide"
SPINE = sorted(p for p in SRC.glob("*.py") if p.name != "__main__.py")
CHAPTERS = sorted((SRC / "chapters").glob("*.py"))


def imported_modules(path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_spine_never_imports_chapter_code():
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if m.startswith("flaxguide.chapters"))
        for path in SPINE
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_importing_the_spine_and_its_cli_loads_no_chapter_module():
    modules = [f"flaxguide.{p.stem}" for p in SPINE if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from flaxguide.cli import parser\n"
        "parser().parse_args(['train', '--out', 'x'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('flaxguide.chapters')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_the_rule_test_would_see_a_chapter_import(tmp_path):
    # The check itself can fail: a module importing chapter code inside a function is caught.
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from flaxguide.chapters.cvae import init_training\n")
    assert "flaxguide.chapters.cvae" in imported_modules(module)


def test_every_public_name_resolves_to_its_module():
    for group, names in flaxguide.API.items():
        for name, module in names.items():
            obj = getattr(flaxguide, name)
            assert obj is getattr(importlib.import_module(f"flaxguide.{module}"), name), group
    assert sorted(flaxguide.__all__) == sorted(n for g in flaxguide.API.values() for n in g)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        flaxguide.nope  # noqa: B018


def test_the_api_reference_follows_the_public_api():
    page = (DOCS / "reference.md").read_text()
    spine_part = page.split("## Command line")[0]
    for group, names in flaxguide.API.items():
        section = spine_part.split(f"## {group}\n")[1].split("\n## ")[0]
        shown = re.findall(r"^::: flaxguide\.(\w+)\.(\w+)$", section, flags=re.MULTILINE)
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
