"""Chapter 3b: the same small model in Linen and in NNX, an NNX training
step, and its cost.

[`MLP`][flaxguide.chapters.nnx.MLP] and
[`LinenMLP`][flaxguide.chapters.nnx.LinenMLP] are one model written with each
API: given the same arrays they compute the same function.
[`Noisy`][flaxguide.chapters.nnx.Noisy] is a module that changes itself when
it is called. [`train_step`][flaxguide.chapters.nnx.train_step] is the NNX
step, which updates a model and its optimizer in place;
[`create_pure_step`][flaxguide.chapters.nnx.create_pure_step] turns it back
into a function of arrays, for `jax.jit` and `lax.scan`.
[`step_variants`][flaxguide.chapters.nnx.step_variants] calls that step in
each way Flax offers, and
[`per_call_times`][flaxguide.chapters.nnx.per_call_times] times them.

Example:
    ```python
    import jax.numpy as jnp
    from flax import nnx

    from flaxguide.chapters.nnx import MLP

    model = MLP(2, 16, 1, rngs=nnx.Rngs(0))
    print(model.hidden.kernel.shape, model(jnp.ones((4, 2))).shape)
    ```

    ```text title="Output"
    (2, 16) (4, 1)
    ```
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import optax
from flax import nnx


# --8<-- [start:linen_mlp]
class LinenMLP(nn.Module):
    """Two dense layers with a ReLU between them, in Linen: a description,
    with no weights."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # Named like the NNX attributes, so that both store their parameters
        # under the same paths.
        x = nn.relu(nn.Dense(self.hidden, name="hidden")(x))
        return nn.Dense(self.out, name="out")(x)


# --8<-- [end:linen_mlp]


# --8<-- [start:nnx_mlp]
class MLP(nnx.Module):
    """The same two layers in NNX: constructing it creates its parameters."""

    def __init__(
        self, in_features: int, hidden: int, out: int, *, rngs: nnx.Rngs
    ):
        # The input size is needed now: there is no example input to infer it
        # from.
        self.hidden = nnx.Linear(in_features, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(jax.nn.relu(self.hidden(x)))


# --8<-- [end:nnx_mlp]


# --8<-- [start:noisy]
class Noisy(nnx.Module):
    """A batch norm, then dropout: a module that changes itself when called
    in training mode.

    Each such call moves the batch norm's running averages (`nnx.BatchStat`s)
    and the dropout's key counter (an `nnx.RngCount`), as PyTorch's
    `BatchNorm1d` and `Dropout` change theirs.
    """

    def __init__(self, features: int, *, rngs: nnx.Rngs):
        self.norm = nnx.BatchNorm(features, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.dropout(self.norm(x))


# --8<-- [end:noisy]


# --8<-- [start:train_step]
def mse(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """The mean squared error of `model` on a batch: the model is an
    argument, like `params`."""
    return optax.losses.squared_error(model(x), y).mean()


def train_step(
    model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array
):
    """One Adam (or any Optax) step on `(x, y)`, written into `model` and
    `optimizer`.

    Returns the loss before the step. Wrap it in `nnx.jit` to compile it.
    """
    # Gradients of the model's `nnx.Param`s only, as a `State` shaped like
    # them.
    loss, grads = nnx.value_and_grad(mse)(model, x, y)
    # new parameters and optimizer state, in place
    optimizer.update(model, grads)
    return loss


# --8<-- [end:train_step]


# --8<-- [start:pure_step]
def create_pure_step(graphdef: nnx.GraphDef, *, as_pure: bool = False):
    """A `jax.jit` step `(state, x, y) -> (state, loss)` for
    `nnx.split((model, optimizer))`.

    Inside, `nnx.merge` rebuilds the two objects from the arrays,
    `train_step` updates them, and `nnx.state` takes the arrays out again:
    from outside, a function of pytrees, like a Linen step. With `as_pure`,
    the state returned holds plain arrays (`nnx.as_pure`) rather than arrays
    boxed in `nnx.Variable`s; pass it a pure state too.
    """

    @jax.jit
    def pure_step(state, x, y):
        model, optimizer = nnx.merge(graphdef, state)
        loss = train_step(model, optimizer, x, y)
        state = nnx.state((model, optimizer))
        return (nnx.as_pure(state) if as_pure else state), loss

    return pure_step


# --8<-- [end:pure_step]


# --8<-- [start:step_variants]
def step_variants(
    x: jax.Array, y: jax.Array, hidden: int = 16, learning_rate: float = 1e-2
):
    """Zero-argument calls that each take one step of the same MLP on `(x,
    y)`, one per way of compiling it, and return the loss. Every one starts
    from the same parameters."""
    tx = optax.adam(learning_rate)
    linen_model = LinenMLP(hidden, y.shape[-1])
    params = linen_model.init(jax.random.key(0), x)

    # a new NNX model holding the Linen parameters, and its optimizer
    def fresh():
        model = MLP(x.shape[-1], hidden, y.shape[-1], rngs=nnx.Rngs(0))
        nnx.update(model, params["params"])
        return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

    # a call that keeps the carry a pure step returns
    def threaded(pure_step, carry):
        box = [carry]

        def call():
            box[0], loss = pure_step(box[0], x, y)
            return loss

        return call

    calls = {}
    model, optimizer = fresh()
    step = nnx.jit(train_step)  # objects in, objects updated in place
    calls["nnx.jit"] = lambda: step(model, optimizer, x, y)

    # graph traversal cached
    cached = nnx.cached_partial(nnx.jit(train_step), *fresh())
    calls["nnx.cached_partial"] = lambda: cached(x, y)

    model_t, optimizer_t = fresh()
    # tree mode: modules as plain pytrees
    tree_step = nnx.jit(train_step, graph=False)
    calls["nnx.jit(graph=False)"] = lambda: tree_step(
        model_t, optimizer_t, x, y
    )

    # flattened once
    partial = nnx.jit_partial(train_step, *fresh(), graph=False)
    calls["nnx.jit_partial(graph=False)"] = lambda: partial(x, y)

    # split once; jax.jit over arrays from then on
    graphdef, state = nnx.split(fresh())
    calls["split once, jax.jit"] = threaded(
        create_pure_step(graphdef), state
    )
    graphdef, state = nnx.split(fresh())
    pure_step = create_pure_step(graphdef, as_pure=True)
    calls["split once, jax.jit, as_pure"] = threaded(
        pure_step, nnx.as_pure(state)
    )

    @jax.jit
    # chapter 3's step: parameters and optimizer state apart
    def linen_step(carry, x, y):
        params, opt_state = carry

        def loss_fn(params):
            return optax.losses.squared_error(
                linen_model.apply(params, x), y
            ).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    calls["Linen, jax.jit"] = threaded(linen_step, (params, tx.init(params)))
    return calls


# --8<-- [end:step_variants]


def per_call_times(
    calls: dict[str, Callable[[], jax.Array]], number=200, rounds=5
):
    """The best time per call, in seconds, of each zero-argument call, over
    `rounds` of `number`.

    Each call is made once first (to compile it). Rounds go through every
    call in turn, so that a machine that gets busier for a while slows them
    all, not only one.
    """
    for call in calls.values():
        jax.block_until_ready(call())
    best = dict.fromkeys(calls, math.inf)
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(number):
                loss = call()
            # the steps are dispatched asynchronously
            jax.block_until_ready(loss)
            best[name] = min(
                best[name], (time.perf_counter() - start) / number
            )
    return best
