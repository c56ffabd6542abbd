"""Wrong answers to the exercises of docs/finetuning.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {}
