"""Execute a documentation page the way a reader sees it.

Built on mktestdocs, with the gaps it leaves closed:

1. Snippet includes (`--8<-- "src/flaxguide/x.py:section"`) are expanded by the very
   `pymdownx.snippets` preprocessor the site build uses, configured from `mkdocs.yml`.
2. Every Python block runs, in page order, in one namespace per page, whatever its fence says
   (`title=`, `hl_lines=`, inside content tabs). mktestdocs alone only sees fences that read
   exactly "```python" and silently skips the rest.
3. A page with a Python-looking fence that was not executed fails; mktestdocs' own block finder
   is run on the same text as a cross-check that nothing it would run is missed.
4. Shown output: a fenced block titled `Output`, directly after a Python block, must equal what
   that block printed (trailing spaces ignored). A changed digit fails the page.
5. Measured output: a block titled `Output (times vary)` is held to the same rule, except that a
   number written as a ratio or a share (`2.3x`, `41%`) may differ, since timings are noisy; the
   words, the other numbers and the line count must still match.
"""

from __future__ import annotations
import __future__

import contextlib
import difflib
import functools
import io
import re
import sys
import tempfile
import traceback
import types
from pathlib import Path

import mktestdocs
from mkdocs.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_hooks"))

import page_blocks
from page_blocks import (
    PYTHON_LANGS,
    Block,
    PageError,
    normalise_output,
    pair_outputs,
    parse_blocks,
    same_output,
)

# Any opening fence that names a Python-like language, however it is decorated. Closing fences
# carry no info string, so every match is an opener.
_PYTHONISH = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[ \t]*\{?[ \t]*\.?(?:python3?|py|pycon|ipython3?)\b", re.MULTILINE
)
_FUTURE_ANNOTATIONS = re.compile(r"^from __future__ import annotations$", re.MULTILINE)


@functools.cache
def _site_config(config_file: Path):
    return load_config(str(config_file))


def expand_snippets(text: str, config_file: Path) -> str:
    """Expand `--8<--` includes exactly as the site build does (missing ones raise)."""
    return page_blocks.expand_snippets(text, _site_config(Path(config_file).resolve()))


def check_output(name: str, block: Block, shown: Block, printed: str) -> None:
    """Fail unless `printed`, what `block` printed, is what the page shows under it."""
    if same_output(shown, printed):
        return
    diff = "\n".join(
        difflib.unified_diff(
            normalise_output(shown.code).split("\n"),
            normalise_output(printed).split("\n"),
            "shown on the page",
            "printed by the code",
            lineterm="",
        )
    )
    raise PageError(
        f"{name}: the output shown at line {shown.start + 1} is not what the block at line "
        f"{block.start + 1} printed:\n{diff}"
    )


def check_every_python_block_runs(text: str, blocks: list[Block]) -> None:
    """Fail if the page holds a Python-looking block that will not be executed."""
    executed = [b for b in blocks if b.is_python]
    openers = _PYTHONISH.findall(text)
    if len(openers) != len(executed):
        langs = sorted({b.lang for b in blocks if b.lang not in PYTHON_LANGS})
        raise PageError(
            f"{len(openers)} Python-like fences but {len(executed)} executable Python blocks; "
            f"write Python blocks as ```python (other languages on this page: {langs})"
        )
    codes = {b.code.strip() for b in executed}
    for code in mktestdocs.grab_code_blocks(text, lang="python"):
        if code.strip() not in codes:
            raise PageError(f"mktestdocs finds a block the harness would not run:\n{code}")


def _python_only(text: str, blocks: list[Block]) -> str:
    """`text` with every line blanked except the code of its Python blocks (dedented)."""
    lines = [""] * len(text.split("\n"))
    for block in blocks:
        if block.is_python:
            code = block.code.rstrip("\n").split("\n")
            lines[block.start + 1 : block.start + 1 + len(code)] = code
    return "\n".join(lines) + "\n"


def run_markdown(text: str, *, name: str = "page") -> list[tuple[Block, str]]:
    """Run every Python block of expanded Markdown `text`; return (block, printed) pairs."""
    blocks = parse_blocks(text)
    check_every_python_block_runs(text, blocks)
    shown = pair_outputs(blocks, text.split("\n"))

    module_name = "flaxguide_page_" + re.sub(r"\W", "_", name)
    module = types.ModuleType(module_name)
    module.__file__ = name
    sys.modules[module_name] = module  # dataclasses and Flax look classes up by module
    # Code is compiled as if from a Python file holding the page's Python blocks at their own
    # line numbers: tracebacks show the page's lines, and tools that read a function's source
    # file (inspect, torch.compile) find Python there rather than Markdown.
    folder = tempfile.TemporaryDirectory(prefix="flaxguide-page-")
    shadow = Path(folder.name) / (Path(name).name + ".py")
    shadow.write_text(_python_only(text, blocks), encoding="utf-8")
    results = []
    flags = 0  # a page that starts `from __future__ import annotations` keeps it for every block
    try:
        for k, block in enumerate(blocks):
            if not block.is_python:
                continue
            # Pad so that traceback line numbers are those of the expanded page.
            source = "\n" * (block.start + 1) + block.code
            if _FUTURE_ANNOTATIONS.search(block.code):
                flags = __future__.annotations.compiler_flag
            stdout = io.StringIO()
            try:
                with contextlib.redirect_stdout(stdout):
                    code = compile(source, str(shadow), "exec", flags=flags, dont_inherit=True)
                    exec(code, module.__dict__)
            except Exception as err:
                raise PageError(
                    f"{name}: the block at line {block.start + 1} raised "
                    f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}"
                ) from err
            printed = stdout.getvalue()
            if k in shown:
                check_output(name, block, shown[k], printed)
            results.append((block, printed))
    finally:
        sys.modules.pop(module_name, None)
        folder.cleanup()
    return results


def run_page(page: Path, config_file: Path) -> list[tuple[Block, str]]:
    """Expand and run one page of the site."""
    text = expand_snippets(page.read_text(encoding="utf-8"), config_file)
    return run_markdown(text, name=str(page))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The one warning the tests accept (pyproject.toml's filterwarnings says why): a compilation
# cache entry read while another process writes it, which JAX compiles again.
CACHE_READ_WARNING = "Error reading persistent compilation cache entry"
# The tests' own first cell, never part of a reader's notebook: the strict settings every test
# runs under (tests/conftest.py and pytest's `filterwarnings = error`).
STRICT_CELL = f"""\
import warnings

import jax

warnings.simplefilter("error")
# ...for the page's code and the libraries it calls, not for the kernel that runs it.
warnings.filterwarnings("default", module=r"(ipykernel|jupyter_client|IPython|zmq|tornado)\\b")
warnings.filterwarnings("ignore", {CACHE_READ_WARNING!r}, UserWarning)
jax.config.update("jax_numpy_rank_promotion", "raise")
"""


def run_notebook(page: Path, config_file: Path, *, timeout: int = 900) -> list[dict]:
    """Run `page`'s chapter notebook in a fresh Jupyter kernel; hold it to the page's outputs.

    The notebook is the one the site offers for download, set-up cell included (which finds
    this environment already set up), run from an empty folder as "Run all" runs it for a
    reader. Each code cell must print what the page shows under its block, and show nothing
    the page does not, but for the figures it draws. Returns the executed cells.
    """
    import nbformat
    from locked import locked_versions
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from notebooks import chapter_notebook, code_cell, records_read, setup_cell
    from page_blocks import devices_wanted

    text = expand_snippets(page.read_text(encoding="utf-8"), config_file)
    blocks = parse_blocks(text)
    check_every_python_block_runs(text, blocks)
    shown = pair_outputs(blocks, text.split("\n"))
    setup = setup_cell(locked_versions(), "", devices_wanted(text))
    root = Path(__file__).resolve().parents[1]
    notebook = chapter_notebook(text, setup=setup, intro="", records=records_read(text, root))
    # Right after the set-up cell, which must run before anything imports jax (fake devices).
    after_setup = next(k for k, c in enumerate(notebook["cells"]) if c["cell_type"] == "code") + 1
    notebook["cells"].insert(after_setup, code_cell(STRICT_CELL))
    with tempfile.TemporaryDirectory(prefix="flaxguide-notebook-") as folder:
        client = NotebookClient(
            nbformat.from_dict(notebook),
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": folder}},
        )
        try:
            executed = client.execute()
        except CellExecutionError as err:
            raise PageError(f"{page}: {_failed_cell(client.nb)}\n{err}") from err
    cells = [c for c in executed.cells if c.cell_type == "code" and "flaxguide" in c.metadata]
    python = [(k, block) for k, block in enumerate(blocks) if block.is_python]
    for cell, (k, block) in zip(cells, python, strict=True):
        # In a notebook JAX prints jaxprs in colour; the page shows the same text without it.
        printed = _ANSI.sub("", "".join(o.text for o in cell.outputs if o.get("name") == "stdout"))
        # A figure the block draws is shown in the notebook (matplotlib's inline backend), as a
        # reader expects; a value the page does not print is not.
        other = [o.output_type for o in cell.outputs if not _printed_or_figure(o)]
        if other:
            raise PageError(
                f"{page}: the block at line {block.start + 1} shows {other} in the notebook, "
                "which the page does not: end it with a statement, not a value"
            )
        if k in shown:
            check_output(str(page), block, shown[k], printed)
    return executed.cells


def _printed_or_figure(output) -> bool:
    return output.output_type == "stream" or (
        output.output_type == "display_data" and "image/png" in output.get("data", {})
    )


def _failed_cell(notebook) -> str:
    """Where a notebook run stopped: the page line of the first cell with an error."""
    for cell in notebook.cells:
        if any(o.output_type == "error" for o in cell.get("outputs", [])):
            line = cell.metadata.get("flaxguide", {}).get("line")
            return f"the block at line {line} raised" if line else "the set-up cell raised"
    return "the notebook stopped"


def report(pages: list[Path], config_file: Path) -> int:
    """Run each page; say which ones show output their code no longer prints. Returns a count."""
    changed = 0
    for page in pages:
        try:
            run_page(page, config_file)
        except PageError as err:
            changed += 1
            print(f"{page}: {str(err).splitlines()[0]}")
            for line in str(err).splitlines()[1:12]:
                print(f"    {line}")
        else:
            print(f"{page}: unchanged")
    return changed


if __name__ == "__main__":
    # Authoring aid: `python tests/docs_harness.py docs/page.md` runs the page and prints what each
    # block printed, so an author can show it. The tests then hold the page to it.
    # `--report docs/*.md` runs every page and says which ones changed (after an upgrade).
    import argparse

    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("pages", type=Path, nargs="+")
    cli.add_argument("--config", type=Path, default=Path("mkdocs.yml"))
    cli.add_argument("--report", action="store_true", help="only say which pages changed")
    args = cli.parse_args()
    if args.report:
        sys.exit(1 if report(args.pages, args.config) else 0)
    for page in args.pages:
        for block, printed in run_page(page, args.config):
            print(f"--- {page}: block at expanded line {block.start + 1} printed:")
            print(printed, end="" if printed.endswith("\n") or not printed else "\n")
