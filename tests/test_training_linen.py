"""Selective finetuning: what is frozen stays bit-identical, costs no state and no gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from flaxguide.config import get_config
from flaxguide.data import load_mnist, prepare, select_digits
from flaxguide.model.linen import build_model
from flaxguide.model.loss import make_loss_fn
from flaxguide.training.linen import (
    FROZEN,
    create_finetune_epoch,
    create_state_epoch,
    create_train_state,
    finetune_state,
    make_finetune_optimiser,
    merge_params,
    param_labels,
    split_params,
    trainable_grad,
)

# Small layers: the tests are about which leaves move, not about how well the model fits.
CONFIG = get_config(
    "quick", encoder_dims=(64, 32), decoder_dims=(32, 784), latent_dim=8, batch_size=64
)
STEPS_PER_EPOCH = 8


def same(a, b) -> bool:
    return jax.tree.all(jax.tree.map(np.array_equal, a, b))


@pytest.fixture(scope="module")
def new_digits(mnist_mirror, tmp_path_factory):
    """512 training images of the digits 5 to 9, on the device."""
    images, labels = load_mnist("train", root=tmp_path_factory.mktemp("mnist"), mirror=mnist_mirror)
    images, labels = select_digits(images, labels, [5, 6, 7, 8, 9])
    return prepare(images[:512], labels[:512])


@pytest.fixture(scope="module")
def state():
    return create_train_state(CONFIG, jax.random.key(0), STEPS_PER_EPOCH)


@pytest.fixture(scope="module")
def loss_fn():
    return make_loss_fn(build_model(CONFIG), CONFIG.kl_weight)


@pytest.fixture(scope="module")
def batch(new_digits):
    return new_digits[0][:64], new_digits[1][:64], jax.random.key(5)


# param_labels


def test_param_labels_label_every_leaf_by_its_module(state):
    labels = param_labels(state.params)
    assert jax.tree.structure(labels) == jax.tree.structure(state.params)
    for name, module in labels["params"].items():
        expected = "frozen" if name in ("encoder", "to_latent") else "trainable"
        assert set(jax.tree.leaves(module)) == {expected}
    assert jax.tree.leaves(labels).count("frozen") == 6  # 2 encoder layers + to_latent, x2


def test_param_labels_with_other_frozen_modules(state):
    labels = param_labels(state.params, frozen=("decoder",))
    assert set(jax.tree.leaves(labels["params"]["decoder"])) == {"frozen"}
    assert set(jax.tree.leaves(labels["params"]["encoder"])) == {"trainable"}
    assert set(jax.tree.leaves(param_labels(state.params, frozen=()))) == {"trainable"}


def test_param_labels_rejects_unknown_modules_and_bad_arguments(state):
    with pytest.raises(ValueError, match=r"cannot freeze \['to_latnet'\].*'to_latent'"):
        param_labels(state.params, frozen=("encoder", "to_latnet"))
    with pytest.raises(TypeError, match=r"sequence of module names, e.g. \('encoder',\)"):
        param_labels(state.params, frozen="encoder")
    with pytest.raises(TypeError, match=r"got keys \['decoder', 'encoder', 'to_latent'\]"):
        param_labels(state.params["params"])


# The partitioned optimiser


def test_multi_transform_is_partition():
    assert optax.multi_transform is optax.partition


@pytest.fixture(scope="module")
def finetuned(state, new_digits):
    """Two epochs (16 steps) of finetuning with every gradient computed."""
    start = finetune_state(state, CONFIG, STEPS_PER_EPOCH)
    epoch = create_state_epoch(CONFIG)
    finetuned, first_metrics = epoch(start, *new_digits)
    finetuned, metrics = epoch(finetuned, *new_digits)
    return start, finetuned, jax.tree.map(lambda *m: jnp.concatenate(m), first_metrics, metrics)


def test_frozen_leaves_are_bit_identical_and_trainable_ones_move(state, finetuned):
    _, after, metrics = finetuned
    assert float(metrics["grad_norm"][-1]) > 0  # real gradients reached the parameters
    for name in FROZEN:
        assert same(after.params["params"][name], state.params["params"][name])
    before_leaves = jax.tree.leaves(state.params["params"]["decoder"])
    after_leaves = jax.tree.leaves(after.params["params"]["decoder"])
    assert all(not np.array_equal(a, b) for a, b in zip(before_leaves, after_leaves, strict=True))


def test_finetune_state_starts_a_fresh_run_from_the_pretrained_one(state, finetuned):
    start, after, metrics = finetuned
    assert int(start.step) == 0 and int(after.step) == 2 * STEPS_PER_EPOCH
    assert same(start.params, state.params) and same(start.ema_params, state.ema_params)
    assert same(jax.random.key_data(start.key), jax.random.key_data(state.key))
    # The new schedule warms up again from zero, then decays: its peak is one epoch in.
    learning_rates = np.asarray(metrics["learning_rate"])
    assert learning_rates.shape == (2 * STEPS_PER_EPOCH,)
    assert learning_rates[0] == 0.0
    assert np.argmax(learning_rates) == STEPS_PER_EPOCH
    np.testing.assert_allclose(learning_rates.max(), CONFIG.learning_rate, rtol=1e-6)


def test_frozen_leaves_hold_no_optimiser_state(state, finetuned):
    _, after, _ = finetuned
    inner = after.opt_state.inner_states
    assert inner["frozen"] == optax.MaskedState(inner_state=optax.EmptyState())
    mu = optax.tree.get(after.opt_state, "mu")
    assert all(
        isinstance(leaf, optax.MaskedNode)
        for leaf in jax.tree.leaves(
            mu["params"]["encoder"], is_leaf=lambda x: isinstance(x, optax.MaskedNode)
        )
    )

    def numbers(tree):
        return sum(leaf.size for leaf in jax.tree.leaves(tree))

    decoder = numbers(state.params["params"]["decoder"])
    scalars = numbers(state.opt_state) - 2 * numbers(state.params)  # counts, learning rate
    assert scalars < 10
    assert numbers(after.opt_state) == 2 * decoder + scalars


def test_a_label_tree_that_does_not_match_the_parameters_is_an_error(state):
    transforms = {"trainable": optax.adam(1e-3), "frozen": optax.set_to_zero()}
    labels = param_labels(state.params)
    missing = {"params": {k: v for k, v in labels["params"].items() if k != "to_latent"}}
    # The difference is named whatever the wording: JAX 0.12 quotes and brackets the key.
    with pytest.raises(ValueError, match=r"symmetric difference on key sets is\n\s+\[?'?to_latent"):
        optax.partition(transforms, missing).init(state.params)
    misspelt = jax.tree.map(str.capitalize, labels)
    with pytest.raises(ValueError, match="Some parameters have no corresponding transformation"):
        optax.partition(transforms, misspelt).init(state.params)


def first_updates(tx, grads, params):
    """The updates of a first step of `tx`, in one compiled call (eager ops compile one by one)."""
    return jax.jit(lambda grads, params: tx.update(grads, tx.init(params), params)[0])(
        grads, params
    )


def test_masked_alone_passes_the_raw_gradient_to_the_frozen_leaves(state, loss_fn, batch):
    params = state.params
    grads, _ = jax.jit(jax.grad(loss_fn, has_aux=True))(params, *batch)
    is_trainable = jax.tree.map(lambda label: label == "trainable", param_labels(params))
    updates = first_updates(optax.masked(optax.adam(1e-3), is_trainable), grads, params)
    assert same(updates["params"]["encoder"], grads["params"]["encoder"])
    moved = optax.apply_updates(params, updates)
    kernel = params["params"]["encoder"]["Dense_0"]["kernel"]
    step = np.asarray(moved["params"]["encoder"]["Dense_0"]["kernel"]) - np.asarray(kernel)
    # `apply_updates` adds the update: the encoder climbs its gradient.
    np.testing.assert_allclose(step, grads["params"]["encoder"]["Dense_0"]["kernel"], atol=1e-6)
    assert np.abs(step).max() > 1e-3

    # The fixes: zero for the complement, or a partition.
    is_frozen = jax.tree.map(lambda trainable: not trainable, is_trainable)
    for tx in (
        optax.chain(optax.masked(optax.adam(1e-3), is_trainable), optax.freeze(is_frozen)),
        make_finetune_optimiser(optax.adam(1e-3), params),
    ):
        fixed = first_updates(tx, grads, params)
        for name in FROZEN:
            assert not any(np.any(leaf) for leaf in jax.tree.leaves(fixed["params"][name]))
        assert same(fixed["params"]["decoder"], updates["params"]["decoder"])


# Not computing the frozen gradients


def test_split_and_merge_are_inverse(state):
    frozen, trainable = split_params(state.params)
    assert sorted(frozen["params"]) == ["encoder", "to_latent"]
    assert sorted(trainable["params"]) == ["decoder"]
    assert same(merge_params(frozen, trainable), state.params)
    with pytest.raises(ValueError, match=r"modules \['decoder'\] are in both halves"):
        merge_params(trainable, trainable)
    with pytest.raises(ValueError, match="cannot freeze"):
        split_params(state.params, frozen=("decoderr",))


def test_trainable_grad_equals_the_full_gradient_on_trainable_leaves(state, loss_fn, batch):
    full, full_metrics = jax.jit(jax.grad(loss_fn, has_aux=True))(state.params, *batch)
    split, split_metrics = jax.jit(trainable_grad(loss_fn))(state.params, *batch)
    assert jax.tree.structure(split) == jax.tree.structure(state.params)
    for name in FROZEN:
        assert any(np.any(leaf) for leaf in jax.tree.leaves(full["params"][name]))
        assert not any(np.any(leaf) for leaf in jax.tree.leaves(split["params"][name]))
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
        split["params"]["decoder"],
        full["params"]["decoder"],
    )
    np.testing.assert_allclose(split_metrics["loss"], full_metrics["loss"], rtol=1e-6)


def flops(fn, *args) -> float:
    return jax.jit(fn).lower(*args).compile().cost_analysis()["flops"]


def test_frozen_gradients_cost_flops_unless_nothing_reads_them(state, loss_fn, batch):
    params = state.params
    full_grad = jax.grad(loss_fn, has_aux=True)
    split_grad = trainable_grad(loss_fn)

    def stopped_loss(params, *args):
        frozen, trainable = split_params(params)
        return loss_fn(merge_params(jax.lax.stop_gradient(frozen), trainable), *args)

    # Returning every gradient means computing every gradient.
    full, split = flops(full_grad, params, *batch), flops(split_grad, params, *batch)
    assert split < 0.9 * full
    stopped = flops(jax.grad(stopped_loss, has_aux=True), params, *batch)
    assert stopped == pytest.approx(split, rel=0.01)

    tx = make_finetune_optimiser(optax.adam(1e-3), params)
    opt_state = tx.init(params)

    def step(grad_fn, log_grad_norm):
        def train_step(params, opt_state, images, labels, key):
            grads, _ = grad_fn(params, images, labels, key)
            updates, opt_state = tx.update(grads, opt_state, params)
            new = optax.apply_updates(params, updates), opt_state
            return (*new, optax.tree.norm(grads)) if log_grad_norm else new

        return train_step

    args = (params, opt_state, *batch)
    zeroed = flops(step(full_grad, False), *args)
    split_step = flops(step(split_grad, False), *args)
    logged = flops(step(full_grad, True), *args)
    # In one jit, XLA drops the zeroed gradients' work; reading them brings it back.
    assert zeroed == pytest.approx(split_step, rel=0.01)
    assert logged > split_step + 0.5 * (full - split)
    new_full = jax.jit(step(full_grad, False))(*args)
    new_split = jax.jit(step(split_grad, False))(*args)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new_full, new_split
    )


def test_finetune_epoch_matches_the_full_gradient_epoch(state, new_digits, finetuned):
    _, reference, reference_metrics = finetuned
    start = finetune_state(state, CONFIG, STEPS_PER_EPOCH)
    epoch = create_finetune_epoch(CONFIG)
    after, first_metrics = epoch(start, *new_digits)
    after, metrics = epoch(after, *new_digits)
    metrics = jax.tree.map(lambda *m: jnp.concatenate(m), first_metrics, metrics)
    for name in FROZEN:
        assert same(after.params["params"][name], state.params["params"][name])
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
        after.params,
        reference.params,
    )
    np.testing.assert_allclose(metrics["loss"], reference_metrics["loss"], rtol=1e-4)
    # Its grad_norm leaves out the frozen gradients, which the full epoch counts.
    assert np.all(np.asarray(metrics["grad_norm"]) < np.asarray(reference_metrics["grad_norm"]))
