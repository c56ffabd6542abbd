"""Each chapter's notebook, made from its page (docs/_hooks/notebooks.py): cells, outputs, folds.

That a notebook runs and prints what its page shows is tested by running it (test_docs).
"""

import json

import nbformat
import pytest
from conftest import DOCS, MKDOCS_YML
from docs_harness import expand_snippets
from locked import locked_versions
from notebooks import chapter_notebook, setup_cell
from page_blocks import CHAPTERS, parse_blocks

PAGE = """\
# 9. A page

Some prose with a [link](cvae.md#sampling) and a ![figure](figures/curves.png).

<!-- reading-time -->

```python
x = 1
print(x)
```

```text title="Output"
1
```

```bash
python -m flaxguide train
```

=== "Linen"

    ```python
    print("linen")
    ```

=== "PyTorch"

    ```python
    print("torch")
    ```

??? note "A folded note"
    Inside the note.

    ```python
    y = 2
    ```

!!! question "Exercise 9.1: a question"
    Write `z`.

    ??? success "Solution 9.1"
        ```python
        z = 3
        ```
"""


def notebook_of(text, site_url=None):
    return chapter_notebook(text, setup="SETUP", intro="INTRO", site_url=site_url)


def sources(notebook, kind):
    return [cell["source"] for cell in notebook["cells"] if cell["cell_type"] == kind]


def test_prose_code_and_outputs_keep_the_page_order():
    notebook = notebook_of(PAGE)
    nbformat.validate(nbformat.from_dict(notebook))
    assert sources(notebook, "code") == [
        "SETUP",
        "x = 1\nprint(x)",
        'print("linen")',
        'print("torch")',
        "y = 2",
        "z = 3",
    ]
    first = notebook["cells"][0]["source"]
    assert first.startswith("# 9. A page") and "INTRO" in first
    printed = [cell["outputs"] for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert printed[1] == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    assert all(outputs == [] for outputs in printed[2:])
    prose = "\n".join(sources(notebook, "markdown"))
    assert "```bash\npython -m flaxguide train\n```" in prose  # shown, not run
    assert "reading-time" not in prose  # the site's markers are not the reader's


def test_tabs_folds_and_exercises_become_headings_and_the_solution_is_hidden():
    notebook = notebook_of(PAGE)
    prose = "\n".join(sources(notebook, "markdown"))
    for heading in ("#### Linen", "#### PyTorch", "**A folded note**", "**Solution 9.1**"):
        assert heading in prose
    assert "**Exercise 9.1: a question**\n\nWrite `z`." in prose
    hidden = [
        cell["source"]
        for cell in notebook["cells"]
        if cell.get("metadata", {}).get("jupyter", {}).get("source_hidden")
    ]
    assert hidden == ["z = 3"]


def test_links_point_at_the_published_site_when_it_has_an_address():
    site = "https://example.org/guide/"
    prose = "\n".join(sources(notebook_of(PAGE, site), "markdown"))
    assert f"[link]({site}cvae/#sampling)" in prose
    assert f"({site}figures/curves.png)" in prose
    assert "[link](cvae.md#sampling)" in "\n".join(sources(notebook_of(PAGE), "markdown"))


def test_cells_carry_the_page_line_of_their_block():
    notebook = notebook_of(PAGE)
    lines = PAGE.split("\n")
    for cell in notebook["cells"]:
        line = cell["metadata"].get("flaxguide", {}).get("line")
        if line is not None:  # the fence opens on that line
            assert lines[line - 1].lstrip().startswith("```python")


def test_the_setup_cell_pins_the_lock_and_names_the_package_and_devices():
    locked = locked_versions()
    source = setup_cell(locked, "flaxguide @ git+https://example.org/r.git@abc", 8)
    namespace: dict = {}
    constants = source.split('"""', 1)[0]  # the names above the script's docstring
    exec(constants, namespace)
    assert namespace["LOCKED"]["jax"] == locked["jax"]
    assert namespace["LOCKED"]["orbax-checkpoint"] == locked["orbax-checkpoint"]
    assert namespace["PACKAGE"].endswith("@abc") and namespace["DEVICES"] == 8
    with pytest.raises(ValueError, match="pins no jax"):
        setup_cell({k: v for k, v in locked.items() if k != "jax"}, "", None)


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_every_chapter_makes_a_valid_notebook_with_every_block(chapter):
    text = expand_snippets((DOCS / chapter).read_text(encoding="utf-8"), MKDOCS_YML)
    notebook = chapter_notebook(
        text, setup=setup_cell(locked_versions(), "", None), intro="", site_url=None
    )
    nbformat.validate(nbformat.reads(json.dumps(notebook), as_version=4))
    blocks = parse_blocks(text)
    code = sources(notebook, "code")[1:]
    assert code == [block.code.rstrip("\n") for block in blocks if block.is_python]
    shown = sum(block.is_output for block in blocks)
    with_output = [cell for cell in notebook["cells"] if cell.get("outputs")]
    assert len(with_output) == shown
