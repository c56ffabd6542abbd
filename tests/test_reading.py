"""A chapter's main line: what counts, and that every chapter keeps to one sitting."""

import ast
import re

import exercises
import page_blocks  # docs/_hooks/page_blocks.py
import pytest
import reading  # docs/_hooks/reading.py
from conftest import DOCS, MKDOCS_YML

MAX_MAIN_LINE_WORDS = 1800
CHAPTERS = sorted(page_blocks.CHAPTERS)

PAGE = """# Title

Four words of prose.

```python
x = 1
y = 2
```

??? note "A deep dive"
    Twenty hidden words would be here, ten and ten more.

    ```python
    hidden = 3
    ```

=== "Linen"
    One tab [read](https://example.org/a/b).

=== "NNX"
    The other tab is skipped.

    ```python
    skipped = 4
    ```

## Under the hood

An appendix of many words that do not count.
"""


def test_the_main_line_leaves_out_code_folded_blocks_other_tabs_and_the_appendix():
    prose, code = reading.split_main_line(PAGE)
    assert code == ["x = 1", "y = 2"]
    # "Title", "Four words of prose.", "Linen", "One tab read" (the link's target is left out).
    assert reading.count_words(prose) == 1 + 4 + 1 + 3
    line = reading.main_line(PAGE)
    assert (line.words, line.code_lines, line.minutes) == (9, 2, 1)


def test_the_estimate_grows_with_words_and_code():
    assert reading.MainLine(2000, 0).minutes == 10
    assert reading.MainLine(2000, 250).minutes == 20


def main_line_of(name: str) -> reading.MainLine:
    text = exercises.expand_snippets((DOCS / name).read_text(), MKDOCS_YML)
    return reading.main_line(text)


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_chapters_main_line_is_one_sitting(name):
    line = main_line_of(name)
    assert line.words <= MAX_MAIN_LINE_WORDS, (name, line)


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_chapter_opens_with_its_goals_and_closes_with_a_summary(name):
    text = (DOCS / name).read_text()
    head = text.split("\n## ", 1)[0]
    assert re.search(r"^# .+\n\n<!-- reading-time -->\n", text), "the estimate under the title"
    goals = '!!! abstract "By the end of this chapter, you can"'
    assert goals in head, "the goals before the first section"
    # Every chapter's goals in one voice: each finishes the title's "you can".
    items = re.findall(r"^    - (.+)$", head.split(goals, 1)[1].split("\n\n", 1)[0], re.MULTILINE)
    assert items and all(re.match(r"[a-z]", item) for item in items), items
    assert not [item for item in items if item.startswith("you ")], items
    sections = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    tail = [s for s in sections if s in ("Exercises", "Summary", reading.UNDER_THE_HOOD)]
    assert tail in (["Exercises", "Summary"], ["Exercises", "Summary", reading.UNDER_THE_HOOD])
    assert sections[-len(tail) :] == tail, "exercises, summary and appendix close the chapter"
    summary = text.split("\n## Summary\n", 1)[1].split("\n## ", 1)[0]
    assert len([line for line in summary.split("\n") if line.strip()]) == 3, summary


# The most lines of imports a block the reader sees unfolded may hold: a chapter opens with its
# story, and its full import list waits in a fold ("The imports this chapter uses").
MAX_OPEN_IMPORT_LINES = 12


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_chapter_keeps_long_import_lists_folded(name):
    text = exercises.expand_snippets((DOCS / name).read_text(), MKDOCS_YML)
    lines = text.split("\n")
    for block in page_blocks.parse_blocks(text):
        if not block.is_python or lines[block.start].startswith(" "):
            continue  # folded, tabbed or not Python
        statements = ast.parse(block.code).body
        imports = [s for s in statements if isinstance(s, ast.Import | ast.ImportFrom)]
        count = sum(s.end_lineno - s.lineno + 1 for s in imports)
        assert count <= MAX_OPEN_IMPORT_LINES, f"line {block.start + 1}: {count} lines of imports"
