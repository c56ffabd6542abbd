"""Exercises: each chapter's questions, their checks, and proof that a wrong answer fails.

An exercise on a page is a pair of Python blocks with the same id:

- `title="Check 3.1"`: shown with the question; it defines what a correct answer does (a function
  that asserts, or assertions on names the answer defines). A reader runs it on their own answer.
- `title="Solution 3.1"`: inside a folded `??? success` block; it defines the answer and runs the
  check on it.

The page's run executes both like any other block. Here each exercise also runs on its own, in a
fresh namespace (so it is self-contained: a reader can paste it into a new session), and with each
of its known wrong answers from `exercise_mutants.py`, which must make the check raise an
`AssertionError`. `python tests/exercises.py docs/page.md` does that for one page.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_hooks"))

from docs_harness import Block, PageError, expand_snippets, parse_blocks
from exercise_mutants import MUTANTS
from reading import FOLDED, indent

_ID = re.compile(r"^(Check|Solution) (\w+\.\d+)$")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a page: its id, its check and its solution."""

    id: str
    check: Block
    solution: Block


def is_folded(lines: list[str], block: Block) -> bool:
    """Whether `block` sits inside a collapsed `???` block (not `???+`, which opens expanded)."""
    depth = indent(lines[block.start])
    for line in reversed(lines[: block.start]):
        if line.strip() and indent(line) < depth:
            if FOLDED.match(line) and not line.lstrip().startswith("???+"):
                return True
            depth = indent(line)
    return False


def find_exercises(text: str) -> list[Exercise]:
    """The exercises of an expanded page, in page order; a check without a solution raises."""
    blocks: dict[str, dict[str, Block]] = {}
    for block in parse_blocks(text):
        match = _ID.match(block.title or "")
        if match and block.is_python:
            kind, ident = match.groups()
            if kind in blocks.setdefault(ident, {}):
                raise PageError(f"two blocks titled {block.title!r}")
            blocks[ident][kind] = block
    found = []
    for ident, pair in blocks.items():
        if set(pair) != {"Check", "Solution"}:
            raise PageError(f"exercise {ident} has only a {next(iter(pair))} block")
        if pair["Check"].start > pair["Solution"].start:
            raise PageError(f"exercise {ident}: the check must come before the solution")
        found.append(Exercise(ident, pair["Check"], pair["Solution"]))
    return found


def run_exercise(exercise: Exercise, solution: str | None = None) -> None:
    """Run the check, then the solution (or a replacement for it), in a fresh namespace."""
    module = type(sys)(f"exercise_{exercise.id.replace('.', '_')}")
    sys.modules[module.__name__] = module  # dataclasses and Flax look classes up by module
    try:
        for code in (exercise.check.code, exercise.solution.code if solution is None else solution):
            exec(compile(code, f"<exercise {exercise.id}>", "exec"), module.__dict__)
    finally:
        sys.modules.pop(module.__name__, None)


def wrong_answers(exercise: Exercise) -> list[str]:
    """The exercise's solution with each of its known mistakes put in."""
    wrong = []
    for old, new in MUTANTS.get(exercise.id, ()):
        if exercise.solution.code.count(old) != 1:
            raise PageError(f"exercise {exercise.id}: the mistake's text {old!r} is not in the "
                            "solution exactly once")  # fmt: skip
        wrong.append(exercise.solution.code.replace(old, new))
    return wrong


def check_page(page: Path, config_file: Path) -> list[str]:
    """Run every exercise of a page alone and with its wrong answers; return their ids."""
    text = expand_snippets(page.read_text(encoding="utf-8"), config_file)
    exercises, lines = find_exercises(text), text.split("\n")
    for exercise in exercises:
        if not is_folded(lines, exercise.solution):
            raise PageError(f"{page.name}: solution {exercise.id} is not in a folded ??? block")
        run_exercise(exercise)
        answers = wrong_answers(exercise)
        if not answers:
            raise PageError(f"exercise {exercise.id} has no known wrong answer to prove its check")
        for k, answer in enumerate(answers):
            try:
                run_exercise(exercise, answer)
            except AssertionError:
                continue
            raise PageError(f"exercise {exercise.id}: wrong answer {k} passes its check")
    return [exercise.id for exercise in exercises]


if __name__ == "__main__":
    import argparse

    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("pages", type=Path, nargs="+")
    cli.add_argument("--config", type=Path, default=Path("mkdocs.yml"))
    args = cli.parse_args()
    import jax

    jax.config.update("jax_numpy_rank_promotion", "raise")  # as tests/conftest.py sets it
    for page in args.pages:
        print(page, "exercises checked:", ", ".join(check_page(page, args.config)) or "none")
