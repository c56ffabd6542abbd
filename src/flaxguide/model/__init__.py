"""The class-conditioned VAE and its loss.

- `linen`: the model as a Flax Linen module (a stateless description,
  applied to a separate parameter tree), and sampling from it;
- `nnx`: the same model as a Flax NNX module (it holds its parameters), and
  moving parameters between the two;
- `loss`: the KL term, the Bernoulli reconstruction term and the loss of a
  batch, written once for both.
"""
