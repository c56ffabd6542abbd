r"""Chapter 1: the shape of a training loop in plain JAX, on a problem small
enough to read.

A linear model $\hat y = x W + b$ fitted by minibatch SGD to
[`make_dataset`][flaxguide.chapters.training_loop.make_dataset], with every
piece a pure function: parameters in, new parameters out.
"""

from __future__ import annotations

from collections.abc import Iterator

import jax
import jax.numpy as jnp

# The line the tiny regression problem hides behind its noise: y = x @ W_TRUE
# + B_TRUE.
W_TRUE = jnp.array([[2.0], [-3.0]])
B_TRUE = jnp.array([0.5])

# A model's parameters and a batch, as the loop passes them around.
Params = dict[str, jax.Array]
Batch = tuple[jax.Array, jax.Array]

# A constant that jit bakes into the compiled step, so the step takes only
# what changes per call (parameters and data). Chapter 3 moves
# hyper-parameters into the optimiser instead.
LEARNING_RATE = 0.02


# --8<-- [start:make_dataset]
def make_dataset(
    key: jax.Array, num_examples: int = 512
) -> tuple[jax.Array, jax.Array]:
    """A noisy linear regression problem: `x` of shape `(N, 2)`, `y` of shape
    `(N, 1)`."""
    x_key, noise_key = jax.random.split(key)
    x = jax.random.normal(x_key, (num_examples, 2))
    noise = 0.1 * jax.random.normal(noise_key, (num_examples, 1))
    return x, x @ W_TRUE + B_TRUE[None, :] + noise


# --8<-- [end:make_dataset]


# --8<-- [start:init_params]
def init_params(key: jax.Array, num_features: int = 2) -> Params:
    """Small random weights and a zero bias, as a dict: the simplest pytree
    of parameters."""
    # Shapes follow a dense layer's: w is (in, out), b is (out,).
    w = 0.01 * jax.random.normal(key, (num_features, 1))
    return {"w": w, "b": jnp.zeros((1,))}


# --8<-- [end:init_params]


# --8<-- [start:model_forward]
def model_forward(params: Params, x: jax.Array) -> jax.Array:
    """The model as a plain function of its parameters and its input: `(B, F)
    -> (B, 1)`."""
    # (B, 1); [None, :] makes the broadcast explicit
    return x @ params["w"] + params["b"][None, :]


# --8<-- [end:model_forward]


# --8<-- [start:loss_fn]
def loss_fn(params: Params, batch: Batch) -> jax.Array:
    """Mean squared error of the model on one batch: a scalar, so it can be
    differentiated."""
    x, y = batch
    return jnp.mean((model_forward(params, x) - y) ** 2)


# --8<-- [end:loss_fn]


# --8<-- [start:sgd_update]
def sgd_update(
    params: Params, grads: Params, learning_rate: float
) -> Params:
    r"""One SGD step, $\theta \leftarrow \theta - \eta\, g$, leaf by leaf."""
    # tree.map walks both pytrees in step: any nesting of parameters works.
    return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)


# --8<-- [end:sgd_update]


# --8<-- [start:train_step]
@jax.jit
def train_step(params: Params, batch: Batch) -> tuple[Params, jax.Array]:
    """Loss, gradients and update in one compiled function; returns new
    parameters and the loss."""
    loss, grads = jax.value_and_grad(loss_fn)(params, batch)
    return sgd_update(params, grads, LEARNING_RATE), loss


# --8<-- [end:train_step]


# --8<-- [start:shuffled_batches]
def shuffled_batches(
    key: jax.Array, x: jax.Array, y: jax.Array, batch_size: int
) -> Iterator[Batch]:
    """Yield `(x, y)` minibatches in an order drawn from `key`; a final
    partial batch is dropped."""
    num_batches = x.shape[0] // batch_size
    # Every batch has the same shape, so the jitted step compiles once, not
    # once more at the end.
    order = jax.random.permutation(key, x.shape[0])[
        : num_batches * batch_size
    ]
    for idx in order.reshape(num_batches, batch_size):
        yield x[idx], y[idx]


# --8<-- [end:shuffled_batches]


# --8<-- [start:fit_linear]
def fit_linear(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    num_epochs: int = 10,
    batch_size: int = 32,
) -> tuple[Params, jax.Array]:
    """Train the linear model; return its parameters and the mean batch loss
    of each epoch."""
    init_key, key = jax.random.split(key)
    params = init_params(init_key, x.shape[1])
    epoch_losses = []
    for _ in range(num_epochs):
        # A fresh key per epoch: a new order each time, and `key` itself is
        # never reused.
        key, epoch_key = jax.random.split(key)
        losses = []
        for batch in shuffled_batches(epoch_key, x, y, batch_size):
            params, loss = train_step(params, batch)
            # stays on the device: no sync with Python every step
            losses.append(loss)
        epoch_losses.append(jnp.mean(jnp.stack(losses)))
    return params, jnp.stack(epoch_losses)


# --8<-- [end:fit_linear]
