"""Chapter 3b's code: the Linen and NNX models agree, every way of calling the NNX step takes the
same steps, the freezing filters freeze what chapter 5b freezes, and the bridge round-trips."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from flaxguide.chapters.nnx import (
    FROZEN,
    MLP,
    TRAINABLE,
    LinenMLP,
    create_pure_step,
    finetune_step,
    per_call_times,
    step_variants,
    train_step,
)
from flaxguide.chapters.training_loop import make_dataset
from flaxguide.config import get_config
from flaxguide.finetune import param_labels
from flaxguide.models import build_model
from flaxguide.nnx_models import VAE

# A small CVAE: the same module names as chapter 4's, a fraction of the arithmetic.
SMALL = get_config("full", encoder_dims=(32, 16), decoder_dims=(16, 784), latent_dim=4)


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


def test_the_filters_select_the_leaves_chapter_5b_labels_frozen():
    model = VAE(SMALL, rngs=nnx.Rngs(0))
    frozen_paths = {path for path, _ in nnx.to_flat_state(nnx.state(model, FROZEN))}
    trainable_paths = {path for path, _ in nnx.to_flat_state(nnx.state(model, TRAINABLE))}
    assert {path[0] for path in frozen_paths} == {"encoder", "to_latent"}
    assert {path[0] for path in trainable_paths} == {"decoder"}
    assert not frozen_paths & trainable_paths
    # Sizes agree with the Linen label tree of the same config.
    variables = build_model(SMALL).init(
        jax.random.key(0), jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), jax.random.key(1)
    )
    pairs = zip(jax.tree.leaves(variables), jax.tree.leaves(param_labels(variables)), strict=True)
    linen_frozen = sum(p.size for p, label in pairs if label == "frozen")
    assert linen_frozen == sum(p.size for p in jax.tree.leaves(nnx.state(model, FROZEN)))


def test_finetune_steps_leave_the_frozen_leaves_bit_identical():
    model = VAE(SMALL, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=TRAINABLE)
    assert list(optimizer.opt_state[0].mu) == ["decoder"]  # no Adam state for frozen leaves
    images = jax.random.uniform(jax.random.key(1), (16, 784))
    classes = jnp.arange(16) % 10
    before = nnx.to_pure_dict(nnx.state(model))
    step = nnx.jit(finetune_step)
    for i in range(3):
        step(model, optimizer, images, classes, jax.random.key(i))
    after = nnx.to_pure_dict(nnx.state(model))
    assert same_leaves(before["encoder"], after["encoder"])
    assert same_leaves(before["to_latent"], after["to_latent"])
    moved = jax.tree.map(lambda a, b: not np.array_equal(a, b), before["decoder"], after["decoder"])
    assert all(jax.tree.leaves(moved))  # every decoder leaf was trained


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
