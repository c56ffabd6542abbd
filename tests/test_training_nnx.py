"""The NNX run trains exactly like the Linen run, finetunes with a filter, and checkpoints."""

import jax
import numpy as np
import pytest
from conftest import mnist_slices
from flax import nnx

from flaxguide.config import get_config
from flaxguide.model.nnx import from_linen
from flaxguide.run.checkpoint import (
    CheckpointMismatchError,
    checkpoint_manager,
    restore_checkpoint,
    save_checkpoint,
)
from flaxguide.training.backend import as_linen
from flaxguide.training.linen import FROZEN, create_state_epoch, create_train_state
from flaxguide.training.nnx import (
    create_nnx_state_epoch,
    create_nnx_train_state,
    nnx_finetune_state,
    nnx_state_around,
    trainable,
)

CONFIG = get_config("full")  # the published optimiser: warmup, cosine decay, clipping, EMA
STEPS = 64  # steps per epoch of the 8,192 training examples below


@pytest.fixture(scope="module")
def train(mnist_mirror, tmp_path_factory):
    train, _ = mnist_slices(mnist_mirror, tmp_path_factory.mktemp("mnist"), train=8192, test=1)
    return train


def leaves(tree) -> list:
    return jax.tree.leaves(tree)


def assert_same(a, b) -> None:
    assert len(leaves(a)) == len(leaves(b))
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_few_hundred_nnx_steps_equal_the_linen_steps(train):
    linen = create_train_state(CONFIG, jax.random.key(0), STEPS)
    # The same initial parameters and key in an NNX state: from there both runs draw the same
    # batches and keys and apply the same optimiser chain and EMA.
    state = nnx_state_around(from_linen(CONFIG, linen.params), None, linen.key, CONFIG, STEPS, ())
    linen_epoch, nnx_epoch = create_state_epoch(CONFIG), create_nnx_state_epoch(CONFIG)
    for _ in range(4):  # 256 steps
        linen, linen_metrics = linen_epoch(linen, *train)
        state, nnx_metrics = nnx_epoch(state, *train)
        for name in ("loss", "rec", "kl", "grad_norm", "learning_rate"):
            np.testing.assert_array_equal(nnx_metrics[name], linen_metrics[name], err_msg=name)
    # Measured bit-identical: the same float32 operations in the same order (the leaves of
    # both trees sort alike, so even the global norm sums in the same order). No tolerance.
    view = as_linen(state, CONFIG)
    assert_same(view.params, linen.params)
    assert_same(view.ema_params, linen.ema_params)
    assert int(state.step) == int(linen.step) == 4 * STEPS
    assert_same(jax.random.key_data(state.key), jax.random.key_data(linen.key))


@pytest.fixture(scope="module")
def pretrained(train):
    state = create_nnx_train_state(CONFIG, jax.random.key(0), STEPS)
    state, _ = create_nnx_state_epoch(CONFIG)(state, *train)
    return state


def test_finetuning_leaves_frozen_modules_bit_identical(pretrained, train):
    state = nnx_finetune_state(pretrained, CONFIG, STEPS, FROZEN)
    after, metrics = create_nnx_state_epoch(CONFIG)(state, *train)
    assert np.isfinite(metrics["loss"]).all()
    before, now = nnx.to_pure_dict(state.params), nnx.to_pure_dict(after.params)
    for name in FROZEN:
        assert_same(now[name], before[name])
    for x, y in zip(leaves(now["decoder"]), leaves(before["decoder"]), strict=True):
        assert not np.array_equal(x, y)  # every decoder array moved
    # The optimiser keeps no moments for the frozen modules: the filter left them out.
    paths = [
        jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(after.opt_state)
    ]
    assert any("decoder" in p for p in paths)
    assert not any(name in p for p in paths for name in FROZEN)
    assert int(after.step) == STEPS  # a fresh run: the step (and the schedule) starts at 0


def test_the_trainable_filter_selects_by_module(pretrained):
    model, _ = pretrained.objects()
    chosen = nnx.to_pure_dict(nnx.state(model, trainable(FROZEN)))
    assert sorted(chosen) == ["decoder"]
    assert sorted(nnx.to_pure_dict(nnx.state(model, trainable()))) == sorted((*FROZEN, "decoder"))
    with pytest.raises(TypeError, match=r"sequence of module names, e.g. \('encoder',\)"):
        trainable("encoder")
    with pytest.raises(ValueError, match=r"cannot freeze \['decoderr'\]: the model has no such"):
        nnx_finetune_state(pretrained, CONFIG, STEPS, ("decoderr",))


def test_an_nnx_checkpoint_round_trips_bitwise(pretrained, tmp_path):
    manager = checkpoint_manager(tmp_path / "ckpt", save_every=1, keep=2)
    history = [{"epoch": 1, "test_ema_nelbo": 100.0}]
    assert save_checkpoint(manager, 1, pretrained, history, 100.0)
    target = create_nnx_train_state(CONFIG, jax.random.key(1), STEPS)
    restored, restored_history, epoch = restore_checkpoint(manager, target)
    assert epoch == 1 and restored_history == history
    for part in ("params", "opt_state", "ema_params", "step"):
        assert_same(getattr(restored, part), getattr(pretrained, part))
    assert_same(jax.random.key_data(restored.key), jax.random.key_data(pretrained.key))
    for part in ("params", "opt_state", "ema_params"):  # back in NNX form, Variables and all
        assert jax.tree.structure(getattr(restored, part)) == jax.tree.structure(
            getattr(pretrained, part)
        )
    # A Linen state is another layout: the error lists the arrays that differ.
    with pytest.raises(CheckpointMismatchError, match=r"arrays differ"):
        restore_checkpoint(manager, create_train_state(CONFIG, jax.random.key(0), STEPS))
    manager.close()
