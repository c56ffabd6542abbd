"""The docs harness fails when it should: these pages are built to break it."""

import textwrap

import pytest
from conftest import MKDOCS_YML
from docs_harness import PageError, expand_snippets, run_markdown
from pymdownx.snippets import SnippetMissingError


def page(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_state_is_shared_in_page_order():
    results = run_markdown(
        page(
            """
            ```python
            x = 20
            ```

            Some prose.

            ```python
            print(x + 1)
            ```
            """
        )
    )
    assert [printed for _, printed in results] == ["", "21\n"]


def test_a_page_that_postpones_annotations_does_so_in_every_block():
    text = """
        ```python
        {future}
        ```

        ```python
        def f(x: NotImported) -> AlsoNot:
            return x
        print(f(2))
        ```
        """
    assert [
        p for _, p in run_markdown(page(text.format(future="from __future__ import annotations")))
    ] == ["", "2\n"]
    with pytest.raises(PageError, match=r"NameError: name 'NotImported' is not defined"):
        run_markdown(page(text.format(future="import math")))


def test_a_raising_block_fails():
    with pytest.raises(PageError, match=r"line 1 raised ZeroDivisionError"):
        run_markdown("```python\n1 / 0\n```\n")


@pytest.mark.parametrize(
    "opening",
    [
        '```python title="A titled block"',
        '``` python hl_lines="1"',
        "``` { .python .annotate }",
        "~~~py",
        "````python",
    ],
)
def test_decorated_fences_are_executed(opening):
    closing = opening.split()[0].rstrip("python").rstrip("py")
    fence = closing if closing else "```"
    text = f"{opening}\nprint('ran')\n{fence}\n"
    ((_block, printed),) = run_markdown(text)
    assert printed == "ran\n"


def test_blocks_inside_content_tabs_are_executed():
    text = page(
        """
        === "Flax"

            ```python title="tabbed"
            print("flax tab")
            ```

        === "PyTorch"

            ```python
            print("torch tab")
            ```
        """
    )
    assert [printed for _, printed in run_markdown(text)] == ["flax tab\n", "torch tab\n"]


def test_an_unexecutable_python_block_fails():
    with pytest.raises(PageError, match="Python-like fences"):
        run_markdown(">>> 1 + 1\n\n```pycon\n>>> 1 + 1\n2\n```\n")


def test_shown_output_matches():
    text = page(
        """
        ```python
        print(round(2 / 3, 4))
        ```

        ```text title="Output"
        0.6667
        ```
        """
    )
    run_markdown(text)


def test_a_wrong_shown_output_fails():
    text = page(
        """
        ```python
        print(round(2 / 3, 4))
        ```

        ```text title="Output"
        0.6668
        ```
        """
    )
    with pytest.raises(PageError, match=r"(?s)not what the block.*-0\.6668.*\+0\.6667"):
        run_markdown(text)


def timed_page(shown: str) -> str:
    block = "```python\nprint('checkify: 2.71x slower, 64% in matmuls, 3 compiles')\n```\n\n"
    return block + f'```text title="Output (times vary)"\n{shown}\n```\n'


def test_a_timed_output_lets_only_ratios_and_shares_vary():
    run_markdown(timed_page("checkify: 3.1x slower, 58% in matmuls, 3 compiles"))


@pytest.mark.parametrize(
    "shown",
    [
        "checkify: 2.71x slower, 64% in matmuls, 4 compiles",  # a plain number is exact
        "checkify: 2.71x faster, 64% in matmuls, 3 compiles",  # so are the words
        "checkify: 2.71 slower, 64% in matmuls, 3 compiles",  # a ratio must stay a ratio
        "checkify: 2.71x slower, 64% in matmuls, 3 compiles\nmore",  # and the lines
    ],
)
def test_a_timed_output_still_checks_everything_else(shown):
    with pytest.raises(PageError, match="not what the block"):
        run_markdown(timed_page(shown))


def test_a_plain_output_does_not_let_ratios_vary():
    text = "```python\nprint('2.71x')\n```\n\n```text title=\"Output\"\n2.70x\n```\n"
    with pytest.raises(PageError, match="not what the block"):
        run_markdown(text)


def test_an_output_block_must_follow_python():
    text = page(
        """
        Prose.

        ```text title="Output"
        42
        ```
        """
    )
    with pytest.raises(PageError, match="must follow a Python block"):
        run_markdown(text)


def test_an_unclosed_fence_fails():
    with pytest.raises(PageError, match="never closed"):
        run_markdown("```python\nprint(1)\n")


def write_module(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mod.py").write_text(
        page(
            """
            # --8<-- [start:answer]
            def answer():
                return 42
            # --8<-- [end:answer]
            """
        )
    )


def test_snippet_sections_are_expanded_and_run(tmp_path, monkeypatch):
    write_module(tmp_path)
    monkeypatch.chdir(tmp_path)
    text = expand_snippets(
        '```python\n--8<-- "src/mod.py:answer"\nprint(answer())\n```\n', MKDOCS_YML
    )
    assert "def answer():" in text
    assert run_markdown(text)[0][1] == "42\n"


def test_a_missing_snippet_section_fails(tmp_path, monkeypatch):
    write_module(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SnippetMissingError, match="'question' could not be located"):
        expand_snippets('```python\n--8<-- "src/mod.py:question"\n```\n', MKDOCS_YML)


def test_a_missing_snippet_file_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SnippetMissingError):
        expand_snippets('```python\n--8<-- "src/nowhere.py:answer"\n```\n', MKDOCS_YML)
