"""Wrong answers to the exercises of docs/flax-modules.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "2.1": [
        # Forgot the activation in the compact twin: same parameters, another function.
        (
            'h = nn.relu(nn.Dense(self.hidden, name="dense_in")(x))',
            'h = nn.Dense(self.hidden, name="dense_in")(x)',
        ),
        # Left a compact layer unnamed: Flax calls it "Dense_1", and the trees differ.
        ('nn.Dense(self.out, name="dense_out")(h)', "nn.Dense(self.out)(h)"),
    ],
    "2.2": [
        # Counted every collection, the running statistics of batch norm included.
        ('jax.tree.leaves(variables["params"])', "jax.tree.leaves(variables)"),
        # Counted the arrays, not the numbers in them.
        ("sum(leaf.size for", "sum(1 for"),
    ],
    "2.3": [
        # Called the submodule instead of the method: the tanh is missing.
        ("return bound.encode(x)", "return bound.encoder(x)"),
        # Bound freshly initialised parameters instead of the ones given.
        ("model.bind(variables)", "model.bind(model.init(jax.random.key(1), x))"),
    ],
}
