"""Every page of the site runs: each Python block executes and each shown output matches."""

import pytest
from conftest import DOCS, MKDOCS_YML, ROOT
from docs_harness import run_page

PAGES = sorted(DOCS.rglob("*.md"))


def test_pages_are_found():
    assert DOCS / "index.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_runs(page, monkeypatch):
    # Snippet paths in pages are relative to the repository root, as in `mkdocs build`.
    monkeypatch.chdir(ROOT)
    run_page(page, MKDOCS_YML)
