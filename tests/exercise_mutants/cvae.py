"""Wrong answers to the exercises of docs/cvae.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "4.1": [
        # sigma taken as exp(logvar): the samples' variance comes out squared
        ("jnp.exp(0.5 * logvar)", "jnp.exp(logvar)"),
        # one draw of eps shared by every entry: all the latents move together
        ("jax.random.normal(key, mean.shape)", "jax.random.normal(key)"),
    ],
    "4.2": [
        # the sign of the mean's term flipped
        ("logvar - mean**2", "logvar + mean**2"),
        # averaged over the latent dimensions instead of summed
        ("jnp.sum(", "jnp.mean("),
    ],
    "4.3": [
        # decoded with the image's own label ten times, not with every class
        ("jnp.arange(10), method=VAE.decode", "jnp.full((10,), label), method=VAE.decode"),
        # returned logits, not pixel probabilities
        ("jax.nn.sigmoid(logits).reshape(10, 28, 28)", "logits.reshape(10, 28, 28)"),
    ],
}
