"""Wrong answers to the exercises of docs/finetuning.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "5b.1": [
        # Froze the encoder and `to_latent` (this page's experiment) instead of the decoder.
        ('"frozen" if name == "decoder"', '"frozen" if name != "decoder"'),
        # The frozen group passes its gradients through, as `optax.masked` alone does.
        ('"frozen": optax.set_to_zero()', '"frozen": optax.identity()'),
        # A learning rate of zero: nothing moves, but Adam keeps moments for the decoder.
        ('"frozen": optax.set_to_zero()', '"frozen": optax.adam(0.0)'),
    ],
    "5b.2": [
        # Only the encoder frozen: `to_latent` trains with the decoder.
        ('if module != "decoder":', 'if module == "encoder":'),
        # The two learning rates swapped.
        ('"slow" if layer == "Dense_0" else "fast"', '"fast" if layer == "Dense_0" else "slow"'),
    ],
}
