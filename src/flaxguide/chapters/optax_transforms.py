"""Chapter 3: gradient transformations written by hand, the way Optax writes
its own.

A gradient transformation is a pair of pure functions, `init(params) ->
state` and `update(updates, state, params) -> (updates, state)`.
Hyper-parameters live in the closure that builds the pair; everything that
changes from step to step lives in the state, which the caller carries.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


# --8<-- [start:clip_by_running_norm]
class ClipByRunningNormState(NamedTuple):
    """State of `clip_by_running_norm`."""

    # int32: updates seen so far, for logging and inspection
    count: jax.Array
    # float32: moving average of the (clipped) global norm
    ema_norm: jax.Array


def clip_by_running_norm(
    factor: float = 2.0, decay: float = 0.9
) -> optax.GradientTransformation:
    """Clip updates whose global norm exceeds `factor` times its running
    average.

    The average is an exponential moving average with weight `decay` on the
    past. With no history yet (the first update, or only zero gradients so
    far) nothing is clipped, and the norm starts the average.
    """

    def init_fn(params):
        del params  # two scalars, whatever the parameters look like
        return ClipByRunningNormState(
            count=jnp.zeros([], jnp.int32), ema_norm=jnp.zeros([])
        )

    def update_fn(updates, state, params=None):
        del params  # the rule only looks at the updates
        # Statistics in float32, even for bfloat16 gradients.
        norm = optax.tree.norm(updates).astype(jnp.float32)
        fresh = state.ema_norm == 0  # no history: nothing to compare with
        limit = jnp.where(fresh, norm, factor * state.ema_norm)
        clipped_norm = jnp.minimum(norm, limit)
        # a zero gradient stays zero, not NaN
        scale = clipped_norm / jnp.maximum(norm, 1e-12)
        updates = jax.tree.map(lambda g: g * scale.astype(g.dtype), updates)
        # Average the clipped norm, so that one spike cannot raise the limit
        # after it.
        ema_norm = jnp.where(
            fresh, norm, decay * state.ema_norm + (1 - decay) * clipped_norm
        )
        return updates, ClipByRunningNormState(
            optax.safe_increment(state.count), ema_norm
        )

    return optax.GradientTransformation(init_fn, update_fn)


# --8<-- [end:clip_by_running_norm]
