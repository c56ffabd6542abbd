"""Known wrong answers to the chapters' exercises, by exercise id: one module per chapter.

Each is a (text, replacement) pair applied to the page's solution: a mistake a reader could make.
`tests/exercises.py` checks that each one makes the exercise's check raise an `AssertionError`,
which proves the check can fail.
"""

import importlib
import pkgutil

MUTANTS: dict[str, list[tuple[str, str]]] = {}
for _module in pkgutil.iter_modules(__path__):
    MUTANTS |= importlib.import_module(f"{__name__}.{_module.name}").MUTANTS
