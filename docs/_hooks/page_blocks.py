"""The fenced blocks of a page: what the tests run and what a chapter's notebook is made of.

One parser for both, so a block the tests execute is a cell of the notebook and the reverse.
It works on a page whose `--8<--` snippets are already expanded, and imports nothing beyond
the site's own environment (the notebooks are made by the site build).

- A Python block (```` ```python ````, with any title or options) is code a reader runs.
- A block titled `Output` directly after a Python block is what that block prints; one titled
  `Output (times vary)` is a measurement, whose ratios and shares (`2.3x`, `41%`) may differ.
- `<!-- devices: N -->` on a line of its own: the page needs N devices (fake CPU ones here).

`expand_snippets` gives that expanded page, the same way for the site build and the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import markdown

PYTHON_LANGS = {"python", "py", "python3"}
OUTPUT_TITLE = "Output"
TIMED_OUTPUT_TITLE = "Output (times vary)"
# A measured ratio or share: `2.3x`, `0.97x`, `41%`, `-3%`. Only these may vary in a timed output.
_MEASURED = re.compile(r"-?\d+(?:\.\d+)?(?=x\b|%)")
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_TITLE = re.compile(r"""title=["']([^"']*)["']""")
_DEVICES = re.compile(r"^<!-- devices: (\d+) -->$", re.MULTILINE)

# The chapters, by page, with the number their sections and exercises carry.
CHAPTERS = {
    "training-loop.md": "1",
    "flax-modules.md": "2",
    "optax.md": "3",
    "linen-and-nnx.md": "3b",
    "cvae.md": "4",
    "beyond.md": "5",
    "finetuning.md": "5b",
    "checkpoints.md": "5c",
    "debugging.md": "6",
    "many-devices.md": "7",
}


class PageError(AssertionError):
    """A page whose code fails, is skipped, or shows output its code did not print."""


@dataclass(frozen=True)
class Block:
    """One fenced block of an (expanded) page."""

    lang: str
    info: str
    code: str  # dedented out of any tab or admonition, ending in a newline
    start: int  # 0-based index of the opening fence line
    end: int  # 0-based index of the closing fence line

    @property
    def title(self) -> str | None:
        match = _TITLE.search(self.info)
        return match.group(1) if match else None

    @property
    def is_python(self) -> bool:
        return self.lang in PYTHON_LANGS

    @property
    def is_output(self) -> bool:
        return self.title in (OUTPUT_TITLE, TIMED_OUTPUT_TITLE)

    @property
    def is_timed(self) -> bool:
        return self.title == TIMED_OUTPUT_TITLE


def expand_snippets(text: str, config) -> str:
    """`text` with its `--8<--` includes expanded by the site's own `pymdownx.snippets`.

    Args:
        text: a page's Markdown.
        config: the site's MkDocs configuration (its Markdown extensions and their options).

    Returns:
        The page as the build renders it, before Markdown; a missing file or section raises.
    """
    parser = markdown.Markdown(
        extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"]
    )
    return "\n".join(parser.preprocessors["snippet"].run(text.split("\n")))


def fence_language(info: str) -> str:
    """The language a fence's info string names: `python` for `python title="x"` or `{.python}`."""
    if info.startswith("{"):
        match = re.search(r"\.([\w+-]+)", info)
        return match.group(1).lower() if match else ""
    return info.split()[0].lower() if info.split() else ""


def closing_fence(fence: str) -> re.Pattern[str]:
    """The line that closes a block opened by `fence` (the same character, at least as many)."""
    return re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")


def parse_blocks(text: str) -> list[Block]:
    """All fenced blocks of `text`, dedented out of tabs and admonitions."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match.group("indent", "fence", "info")
        closing = closing_fence(fence)
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        if j == len(lines):
            raise PageError(f"line {i + 1}: a {fence} fence is never closed")
        body = [line.removeprefix(indent) for line in lines[i + 1 : j]]
        # A snippet ends with the blank lines before its end marker (which sits at the margin,
        # after the code it closes); the rendered page drops them (Pygments), and so does this.
        while body and not body[-1].strip():
            body.pop()
        blocks.append(Block(fence_language(info), info, "\n".join(body) + "\n", i, j))
        i = j + 1
    return blocks


def pair_outputs(blocks: list[Block], lines: list[str]) -> dict[int, Block]:
    """Map each Python block's index in `blocks` to the output block shown right after it."""
    shown: dict[int, Block] = {}
    for k, block in enumerate(blocks):
        if not block.is_output:
            continue
        previous = blocks[k - 1] if k else None
        between = lines[previous.end + 1 : block.start] if previous else []
        if previous is None or not previous.is_python or any(s.strip() for s in between):
            raise PageError(
                f"line {block.start + 1}: an `{OUTPUT_TITLE}` block must follow a Python block "
                "directly (blank lines only in between)"
            )
        shown[k - 1] = block
    return shown


def normalise_output(output: str) -> str:
    """Printed text as the pages compare it: trailing spaces and blank edges ignored."""
    return "\n".join(line.rstrip() for line in output.strip("\n").split("\n"))


def mask_measured(output: str) -> str:
    """`output` with every measured ratio and share replaced by one placeholder."""
    return _MEASURED.sub("<measured>", output)


def same_output(shown: Block, printed: str) -> bool:
    """Whether `printed` is what the output block `shown` shows (ratios free if it is timed)."""
    expected, actual = normalise_output(shown.code), normalise_output(printed)
    if shown.is_timed:
        return mask_measured(expected) == mask_measured(actual)
    return expected == actual


def devices_wanted(text: str) -> int | None:
    """The device count a page asks for with `<!-- devices: N -->`, or None."""
    match = _DEVICES.search(text)
    return int(match[1]) if match else None
