"""Wrong answers to the exercises of docs/cvae.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
