"""Wrong answers to the exercises of docs/checkpoints.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
