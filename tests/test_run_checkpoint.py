"""Training checkpoints: exact round trips, retention, save_every, crashes, mismatches."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from flaxguide.config import get_config
from flaxguide.run.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    best_epoch,
    checkpoint_manager,
    latest_epoch,
    restore_checkpoint,
    save_checkpoint,
)
from flaxguide.training.linen import create_state_epoch, create_train_state

CONFIG = get_config("quick")
TMP_SUFFIX = ".orbax-checkpoint-tmp"  # how Orbax names a step that is still being written


def fresh_state(config=CONFIG):
    return create_train_state(config, jax.random.key(0), steps_per_epoch=4)


@pytest.fixture(scope="module")
def data():
    # Checkpoints do not care what the pixels mean: four batches of 8 synthetic digits.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(32, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=32).astype(np.int32)
    return jax.numpy.asarray(images), jax.numpy.asarray(labels)


@pytest.fixture(scope="module")
def train_epoch():
    return create_state_epoch(CONFIG, batch_size=8)


@pytest.fixture(scope="module")
def trained(train_epoch, data):
    """A state after one epoch: Adam moments, EMA, step and key all moved away from init."""
    state, _ = train_epoch(fresh_state(), *data)
    return state


def arrays(state) -> list[tuple[str, np.ndarray]]:
    """Every array of a TrainState, the key as its raw data, with its path.

    The step is a count: a fresh or restored state holds a Python int, a trained one an int32.
    """
    tree = {
        "step": np.int32(state.step),
        "params": state.params,
        "opt_state": state.opt_state,
        "ema_params": state.ema_params,
        "key": jax.random.key_data(state.key),
    }
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in flat]


def assert_bitwise_equal(a, b) -> None:
    left, right = arrays(a), arrays(b)
    assert [name for name, _ in left] == [name for name, _ in right]
    for (name, x), (_, y) in zip(left, right, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name


def step_dirs(directory) -> list[str]:
    return sorted(os.listdir(directory))


def test_round_trip_is_bitwise(tmp_path, trained):
    history = [{"epoch": 1, "loss": 123.25, "test_nelbo": 130.5}]
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        assert save_checkpoint(manager, 1, trained, history, 130.5)
    # A new manager, as after a restart, sees only what is on disk.
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        target = fresh_state()
        state, restored_history, epoch = restore_checkpoint(manager, target)
    assert epoch == 1
    assert restored_history == history
    assert_bitwise_equal(state, trained)
    assert int(state.step) == 4  # four steps of 8 in the epoch
    assert jax.dtypes.issubdtype(state.key.dtype, jax.dtypes.prng_key)
    assert jax.random.key_impl(state.key) == jax.random.key_impl(trained.key)
    # Code and config come from the target, not from the checkpoint.
    assert state.apply_fn is target.apply_fn and state.tx is target.tx
    assert state.ema_decay == CONFIG.ema_decay


def test_a_restored_state_trains_exactly_like_the_original(tmp_path, trained, train_epoch, data):
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        save_checkpoint(manager, 1, trained, [], 100.0)
        restored, _, _ = restore_checkpoint(manager, fresh_state())
    original_next, original_metrics = train_epoch(trained, *data)
    resumed_next, resumed_metrics = train_epoch(restored, *data)
    assert_bitwise_equal(resumed_next, original_next)
    for name in original_metrics:
        assert np.asarray(resumed_metrics[name]).tobytes() == (
            np.asarray(original_metrics[name]).tobytes()
        ), name
    # And the epoch really changed something: the comparison is not between two copies of init.
    assert not np.array_equal(
        jax.random.key_data(original_next.key), jax.random.key_data(trained.key)
    )


def test_keeps_the_latest_k_and_the_best(tmp_path, trained):
    nelbos = [5.0, 4.0, 3.0, 3.5, 4.5, 6.0]  # best at epoch 3, then worse every epoch
    kept = []
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        for epoch, nelbo in enumerate(nelbos, start=1):
            assert save_checkpoint(manager, epoch, trained, [], nelbo)
            kept.append(step_dirs(tmp_path))
        assert best_epoch(manager) == 3
        assert latest_epoch(manager) == 6
    assert kept == [
        ["1"],
        ["1", "2"],
        ["2", "3"],
        ["3", "4"],
        ["3", "4", "5"],  # 3 is older than the latest two but the best
        ["3", "5", "6"],
    ]
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        assert best_epoch(manager) == 3  # read back from the metrics on disk
        _, _, epoch = restore_checkpoint(manager, fresh_state(), epoch=best_epoch(manager))
        assert epoch == 3


def test_save_every_skips_other_epochs_unless_forced(tmp_path, trained):
    with checkpoint_manager(tmp_path, save_every=3, keep=10) as manager:
        saved = [save_checkpoint(manager, epoch, trained, [], 1.0) for epoch in range(1, 8)]
        assert saved == [False, False, True, False, False, True, False]
        assert save_checkpoint(manager, 7, trained, [], 1.0, force=True)  # the last epoch
        # An epoch on disk is never written twice, forced or not.
        assert not save_checkpoint(manager, 7, trained, [], 1.0, force=True)
        assert not save_checkpoint(manager, 6, trained, [], 1.0)
        assert manager.all_steps() == [3, 6, 7]
    assert step_dirs(tmp_path) == ["3", "6", "7"]


def test_a_background_save_is_complete_after_waiting(tmp_path, trained):
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        assert save_checkpoint(manager, 1, trained, [{"epoch": 1}], 1.0, wait=False)
        manager.wait_until_finished()
        assert step_dirs(tmp_path) == ["1"]
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        state, history, _ = restore_checkpoint(manager, fresh_state())
    assert_bitwise_equal(state, trained)
    assert history == [{"epoch": 1}]


def test_history_with_numpy_scalars_is_saved_as_numbers(tmp_path, trained):
    history = [{"epoch": np.int64(1), "loss": np.float32(0.5), "nelbo": jax.numpy.float32(2.0)}]
    with checkpoint_manager(tmp_path, save_every=1, keep=1) as manager:
        save_checkpoint(manager, 1, trained, history, 2.0)
        _, restored, _ = restore_checkpoint(manager, fresh_state())
    assert restored == [{"epoch": 1, "loss": 0.5, "nelbo": 2.0}]


# Run in a child process: save epoch 1, then die by SIGKILL in the middle of saving epoch 2,
# at the moment Orbax has written epoch 2's data into a temporary directory and is about to
# commit it. Python cannot clean up after SIGKILL: no `finally`, no `atexit`.
CRASHING_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import jax
    import orbax.checkpoint as ocp

    from flaxguide.run.checkpoint import checkpoint_manager, save_checkpoint
    from flaxguide.config import get_config
    from flaxguide.training.linen import create_train_state

    state = create_train_state(get_config("quick"), jax.random.key(0), steps_per_epoch=4)
    manager = checkpoint_manager(Path(sys.argv[1]), save_every=1, keep=2)
    save_checkpoint(manager, 1, state.replace(step=1), [{"epoch": 1}], 10.0)
    print("epoch 1 saved", flush=True)

    async def killed(self):
        os.kill(os.getpid(), signal.SIGKILL)

    ocp.path.atomicity.AtomicRenameTemporaryPath.finalize = killed
    save_checkpoint(manager, 2, state.replace(step=2), [{"epoch": 1}, {"epoch": 2}], 9.0)
    print("epoch 2 saved", flush=True)
    """
)


def test_a_killed_save_leaves_the_previous_checkpoint(tmp_path):
    directory = tmp_path / "checkpoints"
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "epoch 1 saved\n"
    # The kill landed mid-save: epoch 2 exists only as a temporary directory with data in it.
    assert step_dirs(directory) == ["1", "2" + TMP_SUFFIX]
    assert any((directory / ("2" + TMP_SUFFIX)).iterdir())

    target = fresh_state()
    with checkpoint_manager(directory, save_every=1, keep=2) as manager:
        assert manager.all_steps() == [1]
        assert latest_epoch(manager) == 1
        state, history, epoch = restore_checkpoint(manager, target)
        assert (epoch, history, int(state.step)) == (1, [{"epoch": 1}], 1)
        assert_bitwise_equal(state, target.replace(step=jax.numpy.asarray(1, jax.numpy.int32)))
        # The resumed run saves epoch 2 for real; the half-written one is gone.
        assert save_checkpoint(manager, 2, state.replace(step=2), [*history, {"epoch": 2}], 9.0)
    assert step_dirs(directory) == ["1", "2"]


def test_another_model_size_is_a_clear_error(tmp_path, trained):
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        save_checkpoint(manager, 1, trained, [], 1.0)
        with pytest.raises(CheckpointMismatchError) as info:
            restore_checkpoint(manager, fresh_state(get_config("quick", latent_dim=16)))
    message = str(info.value)
    assert isinstance(info.value, CheckpointError)
    assert str(tmp_path.resolve() / "1") in message
    # `to_latent` emits latent_dim means and as many log-variances; the decoder's first layer
    # sees latent_dim + num_classes inputs.
    features, hidden, classes = CONFIG.encoder_dims[-1], CONFIG.decoder_dims[0], CONFIG.num_classes
    saved, small = CONFIG.latent_dim, 16
    assert (
        f"params/params/to_latent/kernel: checkpoint float32[{features}, {2 * saved}], "
        f"target float32[{features}, {2 * small}]" in message
    )
    assert (
        f"params/params/decoder/Dense_0/kernel: checkpoint float32[{saved + classes}, {hidden}], "
        f"target float32[{small + classes}, {hidden}]" in message
    )
    assert "12 arrays differ" in message  # 3 arrays in params, EMA, and Adam's mu and nu
    assert "run.json" in message
    assert "tensorstore" not in message.lower()


def test_another_optimiser_is_a_clear_error(tmp_path, trained):
    no_clipping = dataclasses.replace(CONFIG, clip_norm=None)  # Adam alone, not a chain
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        save_checkpoint(manager, 1, trained, [], 1.0)
        with pytest.raises(CheckpointMismatchError) as info:
            restore_checkpoint(manager, fresh_state(no_clipping))
    message = str(info.value)
    assert "opt_state/1/count: checkpoint int32[], target missing" in message
    assert "clip_norm" in message


def test_restoring_from_nothing_is_a_clear_error(tmp_path):
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        assert latest_epoch(manager) is None and best_epoch(manager) is None
        with pytest.raises(CheckpointError, match=r"no checkpoint in .*: nothing was saved there"):
            restore_checkpoint(manager, fresh_state())


def test_a_missing_epoch_names_the_ones_there(tmp_path, trained):
    with checkpoint_manager(tmp_path, save_every=1, keep=2) as manager:
        save_checkpoint(manager, 1, trained, [], 1.0)
        with pytest.raises(CheckpointError, match=r"epoch 5 .* \(found: \[1\]\)"):
            restore_checkpoint(manager, fresh_state(), epoch=5)


@pytest.mark.parametrize("save_every, keep", [(0, 2), (1, 0)])
def test_bad_manager_options(tmp_path, save_every, keep):
    with pytest.raises(ValueError, match="must be a positive finite number"):
        checkpoint_manager(tmp_path, save_every=save_every, keep=keep)
