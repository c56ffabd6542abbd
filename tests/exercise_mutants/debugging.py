"""Wrong answers to the exercises of docs/debugging.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "6.1": [
        # Kept the learning rate static: one compilation per value.
        ("jax.jit(sgd_update)", 'jax.jit(sgd_update, static_argnames="lr")'),
        # Built the jitted function inside the step, around a closure: a new function each call.
        (
            "sgd_step = jax.jit(sgd_update)",
            "def sgd_step(params, grads, lr):\n"
            "    return jax.jit(lambda p, g: sgd_update(p, g, lr))(params, grads)\n",
        ),
    ],
    "6.2": [
        # Swapped the branches of jnp.where.
        ("g * (max_norm / norm), g)", "g, g * (max_norm / norm))"),
        # Kept the Python `if` on a traced value.
        (
            "    return jnp.where(norm > max_norm, g * (max_norm / norm), g)",
            "    if norm > max_norm:\n        return g * (max_norm / norm)\n    return g",
        ),
    ],
    "6.3": [
        # Looked for NaNs only: an infinite loss goes unnoticed.
        ("np.isfinite(loss) & np.isfinite(grad_norm)", "~np.isnan(loss) & ~np.isnan(grad_norm)"),
        # Forgot the clean run: argmax of all-False is 0.
        ("int(np.argmax(bad)) if bad.any() else None", "int(np.argmax(bad))"),
    ],
}
