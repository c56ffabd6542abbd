"""Wrong answers to the exercises of docs/training-loop.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "1.1": [
        # Forgot to carry the velocity: every step starts from zero momentum again.
        ("return new_params, new_velocity", "return new_params, velocity"),
        # Moved the parameters with the old velocity instead of the new one.
        ("learning_rate * v, params, new_velocity)", "learning_rate * v, params, velocity)"),
    ],
    "1.2": [
        # Returned the count without advancing it: the learning rate never decays.
        ("return new_params, count + 1, loss", "return new_params, count, loss"),
        # The impure version: a hidden global counter instead of the count argument.
        (
            "    learning_rate = 0.1 / (1 + count)",
            "    global calls\n"
            '    calls = globals().get("calls", 0) + 1\n'
            "    learning_rate = 0.1 / calls",
        ),
    ],
    "1.3": [
        # Reused one key every epoch: the same order forever.
        ("key, epoch_key = jax.random.split(key)", "epoch_key = key"),
        # Seeded each epoch from its number: every key gives the same orders.
        ("key, epoch_key = jax.random.split(key)", "epoch_key = jax.random.key(len(orders))"),
    ],
}
