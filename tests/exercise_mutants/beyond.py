"""Wrong answers to the exercises of docs/beyond.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
