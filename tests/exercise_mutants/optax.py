"""Wrong answers to the exercises of docs/optax.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
