"""Wrong answers to the exercises of docs/flax-modules.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
