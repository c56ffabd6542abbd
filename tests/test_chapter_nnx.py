"""Chapter 3b's code: the Linen and NNX models agree, a self-changing module keeps its changes
only when they are carried out of `jit`, every way of calling the NNX step takes the same steps,
and the bridge round-trips."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import config as flax_config
from flax import nnx

from flaxguide.chapters.nnx import (
    MLP,
    LinenMLP,
    Noisy,
    create_pure_step,
    per_call_times,
    step_variants,
    train_step,
)
from flaxguide.chapters.training_loop import make_dataset

BATCH = jnp.arange(12.0).reshape(4, 3)


@pytest.fixture(scope="module")
def line():
    x, y = make_dataset(jax.random.key(0))
    return x[:64], y[:64]


def same_leaves(a, b) -> bool:
    return jax.tree.all(jax.tree.map(np.array_equal, a, b))


def test_nnx_mlp_computes_what_the_linen_mlp_computes(line):
    x, _ = line
    linen_model = LinenMLP(hidden=8, out=1)
    params = linen_model.init(jax.random.key(0), x)
    model = MLP(2, 8, 1, rngs=nnx.Rngs(1))
    assert not np.array_equal(model(x), linen_model.apply(params, x))  # other weights first
    nnx.update(model, params["params"])  # the same paths and shapes: no renaming needed
    np.testing.assert_array_equal(model(x), linen_model.apply(params, x))


def changes_after_two_calls(call) -> tuple[bool, int, np.ndarray]:
    """Two calls of `call(model) -> (output, model)` on a fresh `Noisy`: whether the dropout
    masks were equal, and the key count and running mean of the model carried on with."""
    model = Noisy(3, rngs=nnx.Rngs(0))
    first, model = call(model)
    second, model = call(model)
    same_mask = bool(jnp.array_equal(first != 0, second != 0))
    return same_mask, int(model.dropout.rngs.count[...]), np.asarray(model.norm.mean[...])


def test_jax_jit_keeps_a_models_changes_only_when_it_returns_the_model():
    assert flax_config.flax_pytree_module  # NNX objects are pytrees, so plain `jax.jit` takes them

    def forward(model, x):
        return model(x)

    lost, kept = jax.jit(forward), nnx.jit(forward)
    returned = jax.jit(lambda model, x: (model(x), model))
    same_mask, count, mean = changes_after_two_calls(lambda m: (lost(m, BATCH), m))
    assert same_mask and count == 0 and not mean.any()  # silently: no error, nothing kept
    for call in (lambda m: returned(m, BATCH), lambda m: (kept(m, BATCH), m)):
        same_mask, count, mean = changes_after_two_calls(call)
        assert not same_mask and count == 2 and mean.all()


def test_a_mode_is_traced_once_and_a_view_shares_the_arrays():
    traces = []

    @nnx.jit
    def predict(model, x):
        traces.append(model.dropout.deterministic)
        return model(x)

    model = Noisy(3, rngs=nnx.Rngs(0))
    for mode in ("train", "eval", "train", "eval"):
        getattr(model, mode)()
        predict(model, BATCH)
    assert traces == [False, True]  # static attributes: one trace per mode, then the cache
    model.train()
    evaluating = nnx.view(model, deterministic=True, use_running_average=True)
    assert evaluating.norm.mean is model.norm.mean and not model.dropout.deterministic
    mean = np.asarray(model.norm.mean[...])
    np.testing.assert_array_equal(predict(evaluating, BATCH), predict(evaluating, BATCH))
    np.testing.assert_array_equal(model.norm.mean[...], mean)  # evaluation moves nothing
    assert len(traces) == 2


def test_every_step_variant_takes_the_same_steps(line):
    calls = step_variants(*line)
    assert list(calls)[-1] == "Linen, jax.jit"
    losses = {name: [float(call()) for _ in range(5)] for name, call in calls.items()}
    reference = losses.pop("Linen, jax.jit")
    assert reference[-1] < reference[0]  # it trains
    # The same float32 operations in the same order: measured bit-identical, so no tolerance.
    for name, history in losses.items():
        assert history == reference, name


def test_the_pure_step_takes_the_steps_of_nnx_jit(line):
    x, y = line

    def fresh():
        model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
        return model, nnx.Optimizer(model, optax.adam(0.1), wrt=nnx.Param)

    model, optimizer = fresh()
    step = nnx.jit(train_step)
    graphdef, state = nnx.split(fresh())
    graphdef_pure, pure_state = nnx.split(fresh())
    pure_state = nnx.as_pure(pure_state)
    pure_step = create_pure_step(graphdef)
    as_pure_step = create_pure_step(graphdef_pure, as_pure=True)
    for _ in range(4):
        loss = step(model, optimizer, x, y)
        state, pure_loss = pure_step(state, x, y)
        pure_state, as_pure_loss = as_pure_step(pure_state, x, y)
        assert loss == pure_loss == as_pure_loss
    assert not any(isinstance(leaf, nnx.Variable) for leaf in jax.tree.leaves(pure_state))
    for other in (nnx.merge(graphdef, state)[0], nnx.merge(graphdef_pure, pure_state)[0]):
        assert same_leaves(nnx.to_pure_dict(nnx.state(other)), nnx.to_pure_dict(nnx.state(model)))


def test_the_bridge_wraps_both_ways_with_equal_outputs(line):
    x, _ = line
    linen_model = LinenMLP(hidden=8, out=1)
    wrapped = nnx.bridge.ToNNX(linen_model, rngs=nnx.Rngs(0))
    nnx.bridge.lazy_init(wrapped, x[:1])
    params = {"params": nnx.to_pure_dict(nnx.state(wrapped, nnx.Param))}
    np.testing.assert_array_equal(wrapped(x), linen_model.apply(params, x))

    as_linen = nnx.bridge.to_linen(MLP, 2, 8, 1)
    variables = as_linen.init(jax.random.key(0), x[:1])
    twin = MLP(2, 8, 1, rngs=nnx.Rngs(1))
    nnx.update(twin, variables["params"])
    np.testing.assert_array_equal(as_linen.apply(variables, x), twin(x))


def test_per_call_times_times_every_call():
    calls = {"fast": lambda: jnp.zeros(()), "slow": lambda: jnp.arange(100_000.0).sum()}
    times = per_call_times(calls, number=5, rounds=2)
    assert list(times) == ["fast", "slow"]
    assert all(0 < seconds < math.inf for seconds in times.values())
