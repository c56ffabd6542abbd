"""Wrong answers to the exercises of docs/checkpoints.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "5c.1": [
        # Restored the latest step, as a plain resume does.
        ("step = manager.best_step()", "step = manager.latest_step()"),
        # Orbax's default mode: the highest loss counts as the best.
        ('best_mode="min"', 'best_mode="max"'),
    ],
    "5c.2": [
        # `BestN` keeps the last `n` after sorting: without `reverse`, the worst loss.
        ("reverse=True", "reverse=False"),
        # No `best_fn`: the metrics are not stored, so a new manager cannot rank the old steps.
        ("        best_fn=loss,  # stores each step's metrics, for the next manager too\n", ""),
    ],
}
