"""The final training loop's state: Flax's `TrainState`, extended with an EMA and the key."""

from __future__ import annotations

from typing import Any, Self

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from flaxguide.config import Config
from flaxguide.models import build_model
from flaxguide.optim import current_learning_rate, make_optimiser
from flaxguide.train import make_loss_fn


# --8<-- [start:train_state]
class TrainState(train_state.TrainState):
    """Parameters, optimiser state and step (from Flax), plus an EMA of the parameters and the
    PRNG key, so that one pytree is the whole state of a run: save it, and you can resume."""

    ema_params: Any
    key: jax.Array
    ema_decay: float = struct.field(pytree_node=False, default=0.999)

    def apply_gradients(self, *, grads, **kwargs) -> Self:
        state = super().apply_gradients(grads=grads, **kwargs)
        # Early on, average over the steps so far rather than over 1 / (1 - decay) of them, so
        # the average does not drag the random initial parameters along for thousands of steps.
        beta = jnp.minimum(self.ema_decay, (1.0 + state.step) / (10.0 + state.step))
        # $\bar\theta \leftarrow \beta \bar\theta + (1 - \beta) \theta$: an average of the
        # parameters themselves. (`optax.ema` would average the *updates*, something else.)
        ema = optax.incremental_update(state.params, self.ema_params, 1.0 - beta)
        return state.replace(ema_params=ema)

    # --8<-- [end:train_state]


# --8<-- [start:create_train_state]
def create_train_state(config: Config, key: jax.Array, steps_per_epoch: int) -> TrainState:
    """A fresh state for `config`: initial parameters, optimiser, EMA and key."""
    model = build_model(config)
    init_key, call_key, key = jax.random.split(key, 3)
    params = model.init(init_key, jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), call_key)
    return TrainState.create(
        apply_fn=model.apply,
        params=params,
        tx=make_optimiser(config, steps_per_epoch),
        ema_params=params,
        key=key,
        ema_decay=config.ema_decay,
    )
    # --8<-- [end:create_train_state]


# --8<-- [start:state_epoch]
def create_state_epoch(config: Config, batch_size: int | None = None, grad_fn=None):
    """A jitted `train_epoch(state, images, labels) -> (state, metrics)`.

    Compared with chapter 4's epoch, the state carries everything: the key comes out of it
    and goes back in, so a saved state resumes exactly where it stopped. `grad_fn(params,
    images, labels, key) -> (grads, metrics)` defaults to the gradient of the whole loss.
    """
    loss_fn = make_loss_fn(build_model(config), config.kl_weight)
    grad_fn = grad_fn or jax.grad(loss_fn, has_aux=True)
    batch_size = batch_size or config.batch_size

    def step(state: TrainState, batch):
        images, labels, key = batch
        grads, metrics = grad_fn(state.params, images, labels, key)
        metrics["grad_norm"] = optax.tree.norm(grads)  # before clipping
        state = state.apply_gradients(grads=grads)
        metrics["learning_rate"] = current_learning_rate(state.opt_state)
        return state, metrics

    @jax.jit
    def train_epoch(state: TrainState, images, labels):
        key, perm_key, step_key = jax.random.split(state.key, 3)
        num_steps = images.shape[0] // batch_size
        perm = jax.random.permutation(perm_key, images.shape[0])
        batches = perm[: num_steps * batch_size].reshape(num_steps, batch_size)

        def body(state, inputs):
            idx, key = inputs
            return step(state, (images[idx], labels[idx], key))

        keys = jax.random.split(step_key, num_steps)
        state, metrics = jax.lax.scan(body, state.replace(key=key), (batches, keys))
        return state, metrics

    return train_epoch
    # --8<-- [end:state_epoch]
