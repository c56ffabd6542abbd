"""Every chapter has exercises; each solution passes its check and each known mistake fails it."""

import os
import subprocess
import sys

import exercises
import page_blocks  # docs/_hooks, on the path docs_harness sets
import pytest
from conftest import DOCS, MKDOCS_YML, ROOT
from docs_harness import CACHE_READ_WARNING, PageError
from exercise_mutants import MUTANTS

CHAPTERS = sorted(page_blocks.CHAPTERS)


def exercises_of(name: str) -> list[exercises.Exercise]:
    page = DOCS / name
    return exercises.find_exercises(exercises.expand_snippets(page.read_text(), MKDOCS_YML))


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_has_two_or_three_exercises(name):
    ids = [exercise.id for exercise in exercises_of(name)]
    assert 2 <= len(ids) <= 3, (name, ids)
    number = page_blocks.CHAPTERS[name]
    assert ids == [f"{number}.{k}" for k in range(1, len(ids) + 1)], ids


@pytest.mark.parametrize("name", CHAPTERS)
def test_solutions_pass_and_wrong_answers_fail(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    page = DOCS / name
    wanted = page_blocks.devices_wanted(page.read_text())
    if wanted is None:
        assert exercises.check_page(page, MKDOCS_YML)
        return
    env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={wanted}"}
    done = subprocess.run(
        [
            sys.executable, "-W", "error", "-W", f"ignore:{CACHE_READ_WARNING}:UserWarning",
            str(ROOT / "tests" / "exercises.py"), str(page),
        ],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def test_every_wrong_answer_belongs_to_an_exercise():
    known = {exercise.id for name in CHAPTERS for exercise in exercises_of(name)}
    assert set(MUTANTS) <= known, set(MUTANTS) - known


PAGE = """
!!! question "Exercise 9.1: double it"
    ```python title="Check 9.1"
    def check_double(double):
        assert double(3) == 6
    ```

    ??? success "Solution 9.1"
        ```python title="Solution 9.1"
        def double(x):
            return 2 * x


        check_double(double)
        ```
"""


def test_a_wrong_answer_fails_its_check_and_a_harmless_one_is_caught(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    monkeypatch.setitem(MUTANTS, "9.1", [("2 * x", "x + 2")])  # wrong: the check fails it
    assert exercises.check_page(page, MKDOCS_YML) == ["9.1"]
    monkeypatch.setitem(MUTANTS, "9.1", [("2 * x", "x + x")])  # not wrong: must be reported
    with pytest.raises(PageError, match="wrong answer 0 passes its check"):
        exercises.check_page(page, MKDOCS_YML)
    monkeypatch.setitem(MUTANTS, "9.1", [])
    with pytest.raises(PageError, match="no known wrong answer"):
        exercises.check_page(page, MKDOCS_YML)


def test_a_solution_must_be_folded(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(PAGE.replace('??? success "Solution 9.1"', '???+ success "Solution 9.1"'))
    monkeypatch.setitem(MUTANTS, "9.1", [("2 * x", "x + 2")])
    with pytest.raises(PageError, match="not in a folded"):
        exercises.check_page(page, MKDOCS_YML)
