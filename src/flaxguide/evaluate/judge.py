"""A separate classifier that judges generated digits: does a sample show the
digit asked for?"""

from __future__ import annotations

import hashlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from flaxguide.data import to_unit
from flaxguide.training.epoch import scan_epoch


class Classifier(nn.Module):
    """An MLP with dropout. A CNN would score higher, but XLA's CPU
    convolutions are slow."""

    hidden: tuple[int, ...] = (1024, 1024)
    dropout_rate: float = 0.2
    num_classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        for dim in self.hidden:
            x = nn.relu(nn.Dense(dim)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)  # logits


def random_shift(
    key: jax.Array, images: jax.Array, max_shift: int = 2
) -> jax.Array:
    """Move each `(N, 784)` image by up to `max_shift` pixels in each
    direction."""
    square = images.reshape(-1, 28, 28)
    pad = max_shift
    padded = jnp.pad(square, ((0, 0), (pad, pad), (pad, pad)))
    offsets = jax.random.randint(key, (square.shape[0], 2), 0, 2 * pad + 1)
    crop = jax.vmap(
        lambda image, o: jax.lax.dynamic_slice(image, (o[0], o[1]), (28, 28))
    )
    return crop(padded, offsets).reshape(images.shape)


# Judges already trained in this process, by a digest of everything that
# decides their weights. Training is deterministic, so a second run in the
# same process (a notebook, a test session) that asks for the same judge gets
# the same weights without training them again.
_TRAINED: dict[str, tuple[Classifier, dict]] = {}
_KEEP = 4  # judges kept; each is about 8 MB of weights


def _digest(key: jax.Array, train, epochs: int, batch_size: int) -> str:
    h = hashlib.blake2b(f"{epochs} {batch_size}".encode())
    for array in (jax.random.key_data(key), *train):
        array = np.asarray(array)
        h.update(f"{array.dtype} {array.shape}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def train_classifier(
    key: jax.Array, train, epochs: int, batch_size: int = 128
) -> tuple[Classifier, dict]:
    """Train a `Classifier` on `train = (images, labels)`.

    An MLP sees pixels, not shapes: small random shifts of the training
    images teach it that a digit moved by a pixel is the same digit, worth
    most of a percent of test accuracy.

    The same `key`, data, `epochs` and `batch_size` always give the same
    weights, so a judge trained once in a process is returned again rather
    than retrained.

    Args:
        key: the random key of the weights, shifts, dropout and shuffling.
        train (tuple): `(images, labels)`, `(N, 784)` uint8 and `(N,)`
            int32.
        epochs: passes over `train`.
        batch_size: examples per step.

    Returns:
        The model and its trained parameters.
    """
    digest = _digest(key, train, epochs, batch_size)
    if digest not in _TRAINED:
        if len(_TRAINED) >= _KEEP:
            del _TRAINED[next(iter(_TRAINED))]  # the oldest
        _TRAINED[digest] = _train(key, train, epochs, batch_size)
    return _TRAINED[digest]


def _train(
    key: jax.Array, train, epochs: int, batch_size: int
) -> tuple[Classifier, dict]:
    model = Classifier()
    images, labels = train
    init_key, key = jax.random.split(key)
    params = model.init(
        init_key, jnp.zeros((1, 784), jnp.float32), train=False
    )
    steps = images.shape[0] // batch_size
    optimiser = optax.adam(optax.cosine_decay_schedule(1e-3, epochs * steps))

    def loss_fn(params, x, y, key):
        shift_key, dropout_key = jax.random.split(key)
        x = to_unit(random_shift(shift_key, x))
        logits = model.apply(
            params, x, train=True, rngs={"dropout": dropout_key}
        )
        return optax.softmax_cross_entropy_with_integer_labels(
            logits, y
        ).mean()

    def step(carry, x, y, key):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    # the data is an argument, not a closure: jit sees arrays in, arrays out
    @jax.jit
    def epoch(params, opt_state, images, labels, key):
        shuffle_key, step_key = jax.random.split(key)
        carry = (params, opt_state)
        carry, losses = scan_epoch(
            step, carry, images, labels, shuffle_key, step_key, batch_size
        )
        return *carry, losses.mean()

    opt_state = optimiser.init(params)
    for _ in range(epochs):
        key, epoch_key = jax.random.split(key)
        params, opt_state, _ = epoch(
            params, opt_state, images, labels, epoch_key
        )
    return model, params


def predict(model: Classifier, params, images: jax.Array) -> jax.Array:
    """Class predictions for `(N, 784)` uint8 or `(N, 28, 28)` float images
    in [0, 1]."""
    x = images.reshape(images.shape[0], -1)
    x = to_unit(x) if x.dtype == jnp.uint8 else x
    return jnp.argmax(model.apply(params, x, train=False), axis=-1)


def accuracy(
    model: Classifier, params, images: jax.Array, labels: jax.Array
) -> float:
    return float(
        jnp.mean(
            jax.jit(predict, static_argnums=0)(model, params, images)
            == labels
        )
    )
