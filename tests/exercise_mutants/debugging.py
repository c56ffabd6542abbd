"""Wrong answers to the exercises of docs/debugging.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
