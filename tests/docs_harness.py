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
from dataclasses import dataclass
from pathlib import Path

import markdown
import mktestdocs
from mkdocs.config import load_config

PYTHON_LANGS = {"python", "py", "python3"}
OUTPUT_TITLE = "Output"
TIMED_OUTPUT_TITLE = "Output (times vary)"
# A measured ratio or share: `2.3x`, `0.97x`, `41%`, `-3%`. Only these may vary in a timed output.
_MEASURED = re.compile(r"-?\d+(?:\.\d+)?(?=x\b|%)")

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
# Any opening fence that names a Python-like language, however it is decorated. Closing fences
# carry no info string, so every match is an opener.
_PYTHONISH = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[ \t]*\{?[ \t]*\.?(?:python3?|py|pycon|ipython3?)\b", re.MULTILINE
)
_TITLE = re.compile(r"""title=["']([^"']*)["']""")
_FUTURE_ANNOTATIONS = re.compile(r"^from __future__ import annotations$", re.MULTILINE)


class PageError(AssertionError):
    """A page whose code fails, is skipped, or shows output its code did not print."""


@dataclass(frozen=True)
class Block:
    """One fenced block of an (expanded) page."""

    lang: str
    info: str
    code: str
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


def _lang(info: str) -> str:
    if info.startswith("{"):
        match = re.search(r"\.([\w+-]+)", info)
        return match.group(1).lower() if match else ""
    return info.split()[0].lower() if info.split() else ""


def parse_blocks(text: str) -> list[Block]:
    """All fenced blocks of `text`, dedented out of tabs and admonitions."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match.group("indent", "fence", "info")
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        if j == len(lines):
            raise PageError(f"line {i + 1}: a {fence} fence is never closed")
        body = [line.removeprefix(indent) for line in lines[i + 1 : j]]
        code = "\n".join(body) + "\n"
        blocks.append(Block(_lang(info), info, code, i, j))
        i = j + 1
    return blocks


@functools.cache
def _site_config(config_file: Path):
    return load_config(str(config_file))


def markdown_for(config_file: Path) -> markdown.Markdown:
    """A Markdown instance with the extensions and options of the site's `mkdocs.yml`."""
    config = _site_config(Path(config_file).resolve())
    return markdown.Markdown(
        extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"]
    )


def expand_snippets(text: str, config_file: Path) -> str:
    """Expand `--8<--` includes exactly as the site build does (missing ones raise)."""
    preprocessor = markdown_for(config_file).preprocessors["snippet"]
    return "\n".join(preprocessor.run(text.split("\n")))


def _normalise(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").split("\n"))


def _mask_measured(output: str) -> str:
    """`output` with every measured ratio and share replaced by one placeholder."""
    return _MEASURED.sub("<measured>", output)


def _pair_outputs(blocks: list[Block], lines: list[str]) -> dict[int, Block]:
    """Map each Python block's index to the output block shown right after it."""
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
    shown = _pair_outputs(blocks, text.split("\n"))

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
                expected, actual = _normalise(shown[k].code), _normalise(printed)
                if shown[k].is_timed:
                    same = _mask_measured(expected) == _mask_measured(actual)
                else:
                    same = expected == actual
                if not same:
                    diff = "\n".join(
                        difflib.unified_diff(
                            expected.split("\n"),
                            actual.split("\n"),
                            "shown on the page",
                            "printed by the code",
                            lineterm="",
                        )
                    )
                    raise PageError(
                        f"{name}: the output shown at line {shown[k].start + 1} is not what the "
                        f"block at line {block.start + 1} printed:\n{diff}"
                    )
            results.append((block, printed))
    finally:
        sys.modules.pop(module_name, None)
        folder.cleanup()
    return results


def run_page(page: Path, config_file: Path) -> list[tuple[Block, str]]:
    """Expand and run one page of the site."""
    text = expand_snippets(page.read_text(encoding="utf-8"), config_file)
    return run_markdown(text, name=str(page))


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
    cli.add_argument(
        "--check", action="store_true", help="run the pages as the tests do; exit 1 on a failure"
    )
    args = cli.parse_args()
    if args.check:  # the test suite's way, for a page that needs a process of its own
        import jax

        jax.config.update("jax_numpy_rank_promotion", "raise")  # as tests/conftest.py sets it
        for page in args.pages:
            run_page(page, args.config)  # a PageError ends the process with status 1
        sys.exit(0)
    if args.report:
        sys.exit(1 if report(args.pages, args.config) else 0)
    for page in args.pages:
        for block, printed in run_page(page, args.config):
            print(f"--- {page}: block at expanded line {block.start + 1} printed:")
            print(printed, end="" if printed.endswith("\n") or not printed else "\n")
