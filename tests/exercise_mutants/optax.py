"""Wrong answers to the exercises of docs/optax.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "3.1": [
        # Passed the gradients through instead of their signs.
        ("jax.tree.map(jnp.sign, updates), state", "updates, state"),
        # Forgot the minus: the step climbs the gradient.
        ("optax.scale(-learning_rate)", "optax.scale(learning_rate)"),
    ],
    "3.2": [
        # Clipped after Adam: the parameter steps are clipped, not the gradients.
        (
            "optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate=0.1))",
            "optax.chain(optax.adam(learning_rate=0.1), optax.clip_by_global_norm(1.0))",
        ),
        # Dropped the new state: every step is Adam's first step again.
        ("updates, opt_state = tx.update(", "updates, _ = tx.update("),
    ],
}
