"""Wrong answers to the exercises of docs/beyond.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "5.1": [
        # The cosine over all `total` steps, as if `decay_steps` did not count the warmup.
        (
            "min(step - warmup, total - warmup) / (total - warmup)",
            "min(step - warmup, total) / total",
        ),
        # Decaying to zero instead of to `end`.
        ("end + (peak - end) * 0.5", "peak * 0.5"),
    ],
    "5.2": [
        # The two weights swapped: the new parameters get `decay`.
        ("decay * e + (1 - decay) * p", "decay * p + (1 - decay) * e"),
        # The parameters added without their weight.
        ("decay * e + (1 - decay) * p", "decay * e + p"),
    ],
    "5.3": [
        # Clipping after Adam: it cuts Adam's normalised step instead of the gradient.
        (
            "optax.chain(optax.clip_by_global_norm(1.0), adam)",
            "optax.chain(adam, optax.clip_by_global_norm(1.0))",
        ),
        # The schedule evaluated once: a constant learning rate is injected.
        ("learning_rate=schedule)", "learning_rate=schedule(0))"),
    ],
}
