"""Each chapter as a Jupyter notebook, made from its page: the page is the only source.

`chapter_notebook` walks a page whose snippets are expanded:

- prose becomes Markdown cells, and every Python block a code cell, in page order;
- an `Output` block becomes the output of the cell before it, so the notebook a reader downloads
  shows what the page shows (the tests run the notebook and hold it to those outputs);
- a folded note, an admonition or a content tab becomes its title, as a heading, followed by
  its own cells: the tabs of a group (Linen, NNX, PyTorch) come one after another;
- an exercise's solution (`??? success "Solution 3.1"`) is a code cell whose source starts
  hidden, under a line saying so;
- links to other pages and figures point at the published site when its address is known.

The first code cell sets a runtime up: `setup_cell` prepends the locked versions, the package to
install and the devices a page needs to `notebook_setup.py`, which does the work. Pure
functions of text, with nothing beyond the standard library: the site build calls them in the
site's own environment, and the tests in theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from page_blocks import FENCE_OPEN, Block, closing_fence, fence_language
from reading import indent

SETUP_SCRIPT = Path(__file__).with_name("notebook_setup.py")
# The distributions the set-up cell pins to the lock: the JAX stack it installs, and what a
# runtime without them (not Colab's) needs besides.
SETUP_PINS = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "orbax-checkpoint",
    "numpy",
    "matplotlib",
    "torch",
    "torchvision",
    "tqdm",
)
# `??? note "Title"`, `!!! question "Title"`, `=== "Linen"`: a block whose body is indented.
_CONTAINER = re.compile(
    r'^(?P<kind>\?\?\?\+?|!!!|===)[ \t]*(?P<type>[\w-]+)?[ \t]*(?:"(?P<title>[^"]*)")?[ \t]*$'
)
_COMMENT_LINE = re.compile(r"^[ \t]*<!--.*-->[ \t]*$")
_PAGE_LINK = re.compile(r"\]\((?P<page>[\w-]+)\.md(?P<anchor>#[^)\s]*)?\)")
_FIGURE_LINK = re.compile(r"\]\((?P<path>figures/[^)\s]+)")
# A published run's record that a page's code reads: `Path("docs/figures/manifest.json")`.
_RECORD = re.compile(r"""Path\(["'](?P<path>docs/figures/[\w.-]+\.json)["']\)""")


@dataclass
class _Cells:
    """The cells made so far, with the prose that has not become a cell yet."""

    cells: list[dict] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)

    def flush(self) -> None:
        text = "\n".join(self.prose).strip("\n")
        self.prose.clear()
        if text.strip():
            self.cells.append(markdown_cell(text))

    def code(self, source: str, *, hidden: bool, line: int | None) -> None:
        self.flush()
        self.cells.append(code_cell(source, hidden=hidden, line=line))


def markdown_cell(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code_cell(source: str, *, hidden: bool = False, line: int | None = None) -> dict:
    """A code cell; `line` is the page line its block starts on (1-based), for error messages."""
    metadata: dict = {}
    if hidden:  # Jupyter's and Colab's way of showing a cell with its source folded
        metadata["jupyter"] = {"source_hidden": True}
        metadata["cellView"] = "form"
    if line is not None:
        metadata["flaxguide"] = {"line": line}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source.rstrip("\n"),
    }


def stdout(text: str) -> dict:
    """What a cell printed, as a notebook stores it."""
    return {"output_type": "stream", "name": "stdout", "text": text}


def _body(lines: list[str], start: int) -> tuple[list[str], int]:
    """The dedented body of the container opened at `start`, and the index after it."""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or indent(lines[end]) > 0):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # blank lines after belong outside
        end -= 1
    body = lines[start + 1 : end]
    depth = min((indent(line) for line in body if line.strip()), default=0)
    return [line[depth:] for line in body], end


def _container_heading(match: re.Match) -> str:
    kind, kind_type, title = match.group("kind", "type", "title")
    if kind == "===":
        return f"#### {title}"
    return f"**{title or (kind_type or 'note').capitalize()}**"


def _walk(lines: list[str], out: _Cells, *, offset: int, hidden: bool) -> None:
    """Add the cells of `lines` (page lines `offset`... ) to `out`."""
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE_OPEN.match(line)
        if fence and not fence.group("indent"):
            closing, j = closing_fence(fence.group("fence")), i + 1
            while j < len(lines) and not closing.match(lines[j]):
                j += 1
            info = fence.group("info")
            block = Block(fence_language(info), info, "\n".join(lines[i + 1 : j]) + "\n", i, j)
            last = out.cells[-1] if out.cells else None
            if block.is_python:
                out.code(block.code, hidden=hidden, line=offset + i + 1)
            elif (
                block.is_output
                and last
                and last["cell_type"] == "code"
                and not any(s.strip() for s in out.prose)
            ):  # what the block above printed
                out.prose.clear()
                last["outputs"].append(stdout(block.code))
            else:  # shell commands, file listings: shown, not run
                out.prose.extend(lines[i : j + 1])
            i = j + 1
            continue
        container = _CONTAINER.match(line)
        if container:
            body, end = _body(lines, i)
            out.flush()
            solution = container["type"] == "success" and (container["title"] or "").startswith(
                "Solution"
            )
            out.prose.extend([_container_heading(container), ""])
            if solution:
                out.prose.append("*The solution's code is folded: open the cell to read it.*")
            _walk(body, out, offset=offset + i + 1, hidden=hidden or solution)
            out.flush()
            i = end
            continue
        if not _COMMENT_LINE.match(line):
            out.prose.append(line)
        i += 1


def _absolute_links(text: str, site_url: str | None) -> str:
    """Links to other pages and to figures, made to work outside the site when it has an address."""
    if not site_url:
        return text
    base = site_url.rstrip("/") + "/"
    text = _PAGE_LINK.sub(
        lambda m: f"]({base}{'' if m['page'] == 'index' else m['page'] + '/'}{m['anchor'] or ''})",
        text,
    )
    return _FIGURE_LINK.sub(lambda m: f"]({base}{m['path']}", text)


def records_read(text: str, root: Path) -> dict[str, str]:
    """The published records (`docs/figures/*.json`) a page's code reads: their text, by path.

    Args:
        text: the page, its snippets expanded.
        root: the repository's folder, which the paths are relative to.
    """
    return {path: (root / path).read_text(encoding="utf-8") for path in _RECORD.findall(text)}


def records_cell(records: dict[str, str]) -> dict:
    """A folded cell that writes the published records a chapter reads next to the notebook.

    The chapter's code reads them by their path in the repository; a runtime that is not a
    clone (Colab) gets them from here, and one that has them (a clone) keeps its own.
    """
    source = (
        "# The published run's records this chapter reads, as the site shows them, written\n"
        "# where its code looks for them. A file already there (in a clone) is kept.\n"
        "from pathlib import Path\n\n"
        f"RECORDS = {records!r}\n"
        "for name, text in RECORDS.items():\n"
        "    if not Path(name).exists():\n"
        "        Path(name).parent.mkdir(parents=True, exist_ok=True)\n"
        "        Path(name).write_text(text)\n"
    )
    return code_cell(source, hidden=True)


def setup_cell(locked: dict[str, str], package: str, devices: int | None) -> str:
    """The first code cell: the pins, the package and the devices, then `notebook_setup.py`."""
    missing = [name for name in SETUP_PINS if name not in locked]
    if missing:
        raise ValueError(f"the lock pins no {', '.join(missing)}, which the set-up cell installs")
    pins = ",\n".join(f"    {name!r}: {locked[name]!r}" for name in SETUP_PINS)
    constants = f"LOCKED = {{\n{pins},\n}}\nPACKAGE = {package!r}\nDEVICES = {devices!r}\n"
    return constants + "\n" + SETUP_SCRIPT.read_text(encoding="utf-8")


def chapter_notebook(
    text: str,
    *,
    setup: str,
    intro: str,
    records: dict[str, str] | None = None,
    site_url: str | None = None,
) -> dict:
    """The notebook of a chapter page.

    Args:
        text: the page's Markdown, with its snippets expanded.
        setup: the source of the first code cell (`setup_cell`).
        intro: Markdown placed after the page's title: where the notebook comes from.
        records: the text of each published record the page reads (`records_read`), by path.
        site_url: the published site's address, for links to other pages; None keeps them.

    Returns:
        The notebook, as the JSON object nbformat 4 describes.
    """
    lines = _absolute_links(text, site_url).split("\n")
    title_at = next((k for k, line in enumerate(lines) if line.startswith("# ")), None)
    out = _Cells()
    if title_at is not None:
        out.prose.extend(lines[: title_at + 1])
    out.prose.extend(["", intro])
    out.code(setup, hidden=False, line=None)
    if records:
        out.cells.append(records_cell(records))
    start = title_at + 1 if title_at is not None else 0
    _walk(lines[start:], out, offset=start, hidden=False)
    out.flush()
    for k, cell in enumerate(out.cells):  # nbformat 4.5 names every cell
        cell["id"] = f"cell-{k}"
    return {
        "cells": out.cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            # Colab opens it on a GPU runtime where one is free; elsewhere this is ignored.
            "accelerator": "GPU",
            "colab": {"provenance": []},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
