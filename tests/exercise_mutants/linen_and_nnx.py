"""Wrong answers to the exercises of docs/linen-and-nnx.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "3b.1": [
        # Computed the gradients but never applied them.
        ("optimizer.update(model, grads)", "del grads  # the update is missing"),
        # Forgot the square: the loss is the mean residual, not the mean squared error.
        ("return jnp.mean((model(x) - y) ** 2)", "return jnp.mean(model(x) - y)"),
    ],
    "3b.2": [
        # Counted the whole state: batch-norm statistics and the dropout's key stream too.
        ("nnx.state(model, nnx.Param)", "nnx.state(model)"),
        # Counted the arrays, not the numbers in them.
        ("sum(leaf.size for", "sum(1 for"),
    ],
    "3b.3": [
        # Trained the hidden layer and froze the output layer: the filter the wrong way round.
        ('nnx.PathContains("out")', 'nnx.PathContains("hidden")'),
        # A string filter is a tag, not a path: it selects nothing, so nothing trains.
        ('trainable = nnx.All(nnx.Param, nnx.PathContains("out"))', 'trainable = "out"'),
    ],
}
