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
        (
            "jnp.where(too_long, g * (max_norm / jnp.linalg.norm(safe_g)), g)",
            "jnp.where(too_long, g, g * (max_norm / jnp.linalg.norm(safe_g)))",
        ),
        # Kept the Python `if` on a traced value.
        (
            "    return jnp.where(too_long, g * (max_norm / jnp.linalg.norm(safe_g)), g)",
            "    if too_long:\n"
            "        return g * (max_norm / jnp.linalg.norm(safe_g))\n"
            "    return g",
        ),
        # One jnp.where: right values, but at g = 0 the branch not kept divides by a zero norm,
        # and its NaN gradient leaks through.
        (
            "    safe_g = jnp.where(too_long, g, jnp.ones_like(g))  # the norm below never sees 0\n"
            "    return jnp.where(too_long, g * (max_norm / jnp.linalg.norm(safe_g)), g)",
            "    norm = jnp.linalg.norm(g)\n"
            "    return jnp.where(norm > max_norm, g * (max_norm / norm), g)",
        ),
        # Guarded the division but not the norm: the norm's own gradient at 0 is still NaN.
        (
            "    safe_g = jnp.where(too_long, g, jnp.ones_like(g))  # the norm below never sees 0\n"
            "    return jnp.where(too_long, g * (max_norm / jnp.linalg.norm(safe_g)), g)",
            "    norm = jnp.linalg.norm(g)\n"
            "    safe_norm = jnp.where(too_long, norm, 1.0)\n"
            "    return jnp.where(too_long, g * (max_norm / safe_norm), g)",
        ),
    ],
    "6.3": [
        # Looked for NaNs only: an infinite loss goes unnoticed.
        ("np.isfinite(loss) & np.isfinite(grad_norm)", "~np.isnan(loss) & ~np.isnan(grad_norm)"),
        # Forgot the clean run: argmax of all-False is 0.
        ("int(np.argmax(bad)) if bad.any() else None", "int(np.argmax(bad))"),
    ],
}
