"""Wrong answers to the exercises of docs/linen-and-nnx.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
