"""Wrong answers to the exercises of docs/training-loop.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
