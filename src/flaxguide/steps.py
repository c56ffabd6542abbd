"""The jitted steps of training: a whole epoch in one call, and the
evaluation of a split."""

from __future__ import annotations

from collections.abc import Callable

import jax
import optax

from flaxguide.config import Config
from flaxguide.losses import make_loss_fn
from flaxguide.models import VAE, build_model
from flaxguide.optim import current_learning_rate
from flaxguide.state import TrainState


def steps_per_epoch(config: Config, train) -> int:
    """How many full batches of `config.batch_size` the split `train =
    (images, labels)` holds."""
    return train[0].shape[0] // config.batch_size


# --8<-- [start:scan_epoch]
def scan_epoch(
    step: Callable,
    carry,
    images,
    labels,
    shuffle_key,
    step_key,
    batch_size: int,
    batch_sharding=None,
):
    """Run `step(carry, images, labels, key) -> (carry, metrics)` over one
    shuffled epoch.

    The data already lives on the device; the epoch shuffles it there, cuts
    it into `(num_steps, batch_size)` index batches and runs every step under
    `lax.scan`, so Python is not in the loop at all. A last partial batch is
    dropped. Call it inside `jax.jit`: the training epoch, the finetuning
    epoch and the judge's epoch all do.

    `batch_sharding` (a `NamedSharding` over a mesh's `"data"` axis, see
    `flaxguide.sharding`) splits each batch across the devices: data
    parallelism, with nothing else changed.
    """
    num_steps = images.shape[0] // batch_size
    perm = jax.random.permutation(shuffle_key, images.shape[0])
    batches = perm[: num_steps * batch_size].reshape(num_steps, batch_size)

    def body(carry, inputs):
        idx, key = inputs  # (batch_size,) indices and this step's key
        x, y = images[idx], labels[idx]
        if batch_sharding is not None:
            # Each device computes the loss and gradient of its slice of the
            # batch; XLA adds the all-reduce that sums the slices' gradients,
            # because the parameters are replicated and every device must
            # apply the same update.
            x, y = jax.lax.with_sharding_constraint((x, y), batch_sharding)
        return step(carry, x, y, key)

    keys = jax.random.split(step_key, num_steps)
    # metrics: (num_steps,) arrays
    return jax.lax.scan(body, carry, (batches, keys))
    # --8<-- [end:scan_epoch]


# --8<-- [start:state_epoch]
def create_state_epoch(
    config: Config,
    batch_size: int | None = None,
    grad_fn=None,
    batch_sharding=None,
):
    """A jitted `train_epoch(state, images, labels) -> (state, metrics)`.

    The state carries everything, the key included (see `jit_state_epoch`).
    `grad_fn(params, images, labels, key) -> (grads, metrics)` defaults to
    the gradient of the whole loss; `batch_sharding` spreads each batch over
    devices (see `scan_epoch`).
    """
    loss_fn = make_loss_fn(
        build_model(config), config.kl_weight, config.binarize
    )
    grad_fn = grad_fn or jax.grad(loss_fn, has_aux=True)
    batch_size = batch_size or config.batch_size

    def step(state: TrainState, images, labels, key):
        grads, metrics = grad_fn(state.params, images, labels, key)
        metrics["grad_norm"] = optax.tree.norm(grads)  # before clipping
        state = state.apply_gradients(grads=grads)
        metrics["learning_rate"] = current_learning_rate(state.opt_state)
        return state, metrics

    return jit_state_epoch(step, batch_size, batch_sharding)
    # --8<-- [end:state_epoch]


# --8<-- [start:jit_state_epoch]
def jit_state_epoch(step: Callable, batch_size: int, batch_sharding=None):
    """`step(state, images, labels, key) -> (state, metrics)` made a jitted
    whole epoch, `train_epoch(state, images, labels) -> (state, metrics)`,
    for a state that carries its key.

    The epoch's keys come out of `state.key` and the next key goes back in,
    so a saved state resumes exactly where it stopped. Both APIs' training
    epochs end here.
    """

    @jax.jit
    def train_epoch(state, images, labels):
        key, shuffle_key, step_key = jax.random.split(state.key, 3)
        carry = state.replace(key=key)
        return scan_epoch(
            step,
            carry,
            images,
            labels,
            shuffle_key,
            step_key,
            batch_size,
            batch_sharding,
        )

    return train_epoch
    # --8<-- [end:jit_state_epoch]


# --8<-- [start:eval_step]
def create_eval_step(model: VAE):
    """A jitted `eval_step(params, images, labels, key)`: the negative ELBO
    (KL weight 1)."""
    loss_fn = make_loss_fn(model, kl_weight=1.0)

    @jax.jit
    def eval_step(params, images, labels, key):
        _, metrics = loss_fn(params, images, labels, key)
        return {
            "nelbo": metrics["loss"],
            "rec": metrics["rec"],
            "kl": metrics["kl"],
        }

    return eval_step
    # --8<-- [end:eval_step]
