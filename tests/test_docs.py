"""Every page of the site runs: each Python block executes and each shown output matches.

A chapter runs as its notebook, the one the site offers for download, in a fresh Jupyter
kernel: a green test means both that the page shows what its code prints and that "Run all"
works for a reader. The other pages run in this process.
"""

import pytest
from conftest import DOCS, MKDOCS_YML, ROOT
from docs_harness import PageError, run_notebook, run_page
from page_blocks import CHAPTERS  # docs/_hooks, on the path the harness sets

PAGES = sorted(DOCS.rglob("*.md"))


def test_pages_are_found():
    assert DOCS / "index.md" in PAGES
    assert {page.name for page in PAGES} >= set(CHAPTERS)


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_runs(page, monkeypatch):
    # Snippet paths in pages are relative to the repository root, as in `mkdocs build`.
    monkeypatch.chdir(ROOT)
    if page.name in CHAPTERS:
        run_notebook(page, MKDOCS_YML)
    else:
        run_page(page, MKDOCS_YML)


def test_a_chapter_that_asks_for_devices_gets_them_in_its_notebook(tmp_path):
    code = "```python\nimport jax\n\nprint(jax.device_count())\n```\n"
    page = tmp_path / "page.md"
    page.write_text(f'# A page\n\n<!-- devices: 4 -->\n\n{code}\n```text title="Output"\n4\n```\n')
    run_notebook(page, MKDOCS_YML)
    page.write_text(f'# A page\n\n{code}\n```text title="Output"\n4\n```\n')  # one device
    with pytest.raises(PageError, match="not what the block"):
        run_notebook(page, MKDOCS_YML)


def test_a_failing_block_is_named_by_its_page_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\nText.\n\n```python\nx = 1\n```\n\n```python\n1 / 0\n```\n")
    with pytest.raises(PageError, match="the block at line 9 raised"):
        run_notebook(page, MKDOCS_YML)


def test_a_value_the_page_does_not_show_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n```python\nx = 41\nx + 1\n```\n")
    with pytest.raises(PageError, match="shows \\['execute_result'\\]"):
        run_notebook(page, MKDOCS_YML)
