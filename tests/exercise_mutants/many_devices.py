"""Wrong answers to the exercises of docs/many-devices.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
