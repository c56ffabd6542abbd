"""Measuring a trained model: nothing here trains the VAE.

- `metrics`: the test negative ELBO, the conditional accuracy, a run's final
  measurements;
- `judge`: the MLP classifier that reads generated digits;
- `likelihood`: the importance-weighted estimate of -log p(x);
- `latents`: the latent code's means, principal directions, active units
  and class probe.
"""
