"""What a reader must read: the main line of a chapter, and how long it takes.

A chapter's main line is its prose outside code blocks, outside folded blocks (`??? note`, the
deep dives a reader may open) and outside its "Under the hood" section. The build prints an
estimate at the top of each chapter from these counts, so the number follows the page.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UNDER_THE_HOOD = "Under the hood"
# Reading rates for technical material: prose slower than a novel, code slower still.
PROSE_WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 25

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")
FOLDED = re.compile(r"^(?P<indent>[ \t]*)\?\?\?\+?[ \t]")
_TAB = re.compile(r"^(?P<indent>[ \t]*)===[ \t]")
_H2 = re.compile(r"^##[ \t]+(?P<title>.+?)[ \t]*(?:\{[^}]*\})?[ \t]*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class MainLine:
    """The prose words and code lines a reader meets on a chapter's main line."""

    words: int
    code_lines: int

    @property
    def minutes(self) -> int:
        """The reading estimate, in whole minutes (at least one)."""
        time = self.words / PROSE_WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE
        return max(1, math.ceil(time))


def indent(line: str) -> int:
    """The width of a line's leading whitespace."""
    return len(line) - len(line.lstrip(" \t"))


def _drop_under_the_hood(lines: list[str]) -> list[str]:
    kept, skipping = [], False
    for line in lines:
        heading = _H2.match(line)
        if heading:
            skipping = heading.group("title").strip() == UNDER_THE_HOOD
        if not skipping:
            kept.append(line)
    return kept


def _block_end(lines: list[str], start: int) -> int:
    """The index after the block that opens at `start` (its lines indented deeper, or blank)."""
    depth, i = indent(lines[start]), start + 1
    while i < len(lines) and (not lines[i].strip() or indent(lines[i]) > depth):
        i += 1
    return i


def _first_tabs_only(lines: list[str]) -> list[str]:
    """Keep the first tab of each group of content tabs: a reader reads one of them."""
    kept, i = [], 0
    while i < len(lines):
        if not _TAB.match(lines[i]):
            kept.append(lines[i])
            i += 1
            continue
        end = _block_end(lines, i)
        kept.extend(lines[i:end])
        depth = indent(lines[i])
        while end < len(lines) and _TAB.match(lines[end]) and indent(lines[end]) == depth:
            end = _block_end(lines, end)
        i = end
    return kept


def split_main_line(text: str) -> tuple[list[str], list[str]]:
    """The main line's prose lines and code lines (folded blocks and the appendix removed)."""
    lines = _drop_under_the_hood(_COMMENT.sub("", text).split("\n"))
    lines = _first_tabs_only(lines)
    prose, code = [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        if FOLDED.match(line):  # skip the block and everything indented under it
            i = _block_end(lines, i)
            continue
        fence = _FENCE.match(line)
        if fence:
            mark = fence.group("fence")
            closing = re.compile(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
            i += 1
            while i < len(lines) and not closing.match(lines[i]):
                code.append(lines[i])
                i += 1
            i += 1
            continue
        prose.append(line)
        i += 1
    return prose, [line for line in code if line.strip()]


def count_words(lines: list[str]) -> int:
    """Words in Markdown prose: link targets and maths left out, inline code counted."""
    text = _MATH.sub(" ", "\n".join(lines))
    text = _LINK_TARGET.sub("]", text)
    return sum(1 for token in text.split() if _WORD.search(token))


def main_line(text: str) -> MainLine:
    """Measure a page's main line (give it the page with its snippets expanded)."""
    prose, code = split_main_line(text)
    return MainLine(count_words(prose), len(code))
