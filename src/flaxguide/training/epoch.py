"""The epoch, whichever the API: any step run over one shuffled epoch in a
single jitted call (`lax.scan`), a state that carries its own key, and the
evaluation of a split.

Both APIs' training epochs, the finetuning epoch and the judge's epoch end
here; what a step does to a state is each API's own
([`flaxguide.training.linen`][flaxguide.training.linen],
[`flaxguide.training.nnx`][flaxguide.training.nnx]).
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from flaxguide.model.linen import VAE
from flaxguide.model.loss import make_loss_fn


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
    `flaxguide.training.sharding`) splits each batch across the devices: data
    parallelism, with nothing else changed.

    Args:
        step: one step, `(carry, images, labels, key) -> (carry, metrics)`.
        carry (Any): what each step hands the next, e.g. a train state.
        images (jax.Array): the whole split, `(N, ...)`, e.g. `(N, 784)`
            uint8.
        labels (jax.Array): `(N,)` labels.
        shuffle_key (jax.Array): the key of the epoch's permutation.
        step_key (jax.Array): split into one key per step.
        batch_size: examples per step.
        batch_sharding (NamedSharding | None): the sharding of each batch.

    Returns:
        (tuple): `(carry, metrics)`: the last step's carry, and every
            step's metrics stacked, each with a leading axis of
            `N // batch_size` steps.
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


# --8<-- [start:jit_state_epoch]
def jit_state_epoch(step: Callable, batch_size: int, batch_sharding=None):
    """`step(state, images, labels, key) -> (state, metrics)` made a jitted
    whole epoch, `train_epoch(state, images, labels) -> (state, metrics)`,
    for a state that carries its key.

    The epoch's keys come out of `state.key` and the next key goes back in,
    so a saved state resumes exactly where it stopped. Both APIs' training
    epochs end here.

    Args:
        step: one step; `state` has a `key` field and `replace`.
        batch_size: examples per step.
        batch_sharding (NamedSharding | None): the sharding of each batch.

    Returns:
        (Callable): `train_epoch`; its metrics are stacked over the steps,
            as `scan_epoch` returns them.
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
    (KL weight 1).

    Args:
        model: the `VAE`.

    Returns:
        (Callable): `eval_step`. It scores `(B, 784)` images (uint8, or
            float in `[0, 1]`) as they are, no binarisation, and returns
            the batch means `{"nelbo", "rec", "kl"}`, in nats.
    """
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
