"""The final training loop: interrupted and resumed equals uninterrupted, bit for bit."""

import dataclasses
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import mnist_slices

from flaxguide.config import get_config, seed_for
from flaxguide.model.linen import build_model
from flaxguide.run.checkpoint import (
    checkpoint_manager,
    latest_epoch,
    restore_checkpoint,
    saver,
)
from flaxguide.training.backend import initial_state
from flaxguide.training.epoch import create_eval_step
from flaxguide.training.linen import create_train_state
from flaxguide.training.loop import fit
from flaxguide.training.stops import Stopped, StopSignals


@pytest.fixture(scope="module")
def data(mnist_mirror, tmp_path_factory):
    return mnist_slices(mnist_mirror, tmp_path_factory.mktemp("mnist"), train=1024, test=512)


def leaves_equal(a, b) -> bool:
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("api", ["linen", "nnx"])
def test_resume_equals_uninterrupted(data, tmp_path, api):
    train, test = data
    config = get_config("quick", epochs=4, warmup_epochs=1, batch_size=128, save_every=1, api=api)
    steps_per_epoch = train[0].shape[0] // config.batch_size

    def fresh():
        return initial_state(config, steps_per_epoch)

    def manager(name):
        return checkpoint_manager(tmp_path / name, save_every=1, keep=2)

    straight, straight_history, finished = fit(
        config, fresh(), train, test, save=saver(manager("straight")), progress=False
    )
    assert finished

    # Two epochs, stop; then, as a new process would, restore into a fresh state and go on.
    first = manager("resumed")
    _, _, finished = fit(
        config, fresh(), train, test, save=saver(first), stop_after=2, progress=False
    )
    assert not finished
    first.wait_until_finished()
    first.close()
    again = manager("resumed")
    assert latest_epoch(again) == 2
    restored, history, epoch = restore_checkpoint(again, fresh())
    assert epoch == 2 and len(history) == 2
    resumed, resumed_history, finished = fit(
        config, restored, train, test, history=history, save=saver(again), progress=False
    )
    assert finished

    for part in ("params", "opt_state", "ema_params", "step"):
        assert leaves_equal(getattr(resumed, part), getattr(straight, part)), part
    assert np.array_equal(jax.random.key_data(resumed.key), jax.random.key_data(straight.key))

    def without_time(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert without_time(resumed_history) == without_time(straight_history)


def on_second_epoch(monkeypatch, action):
    """Make `fit`'s epochs call `action()` as the second one starts."""
    import flaxguide.training.loop as train_module

    real = train_module.create_epoch

    def create_epoch(config, state, batch_sharding):
        epoch, calls = real(config, state, batch_sharding), []

        def train_epoch(state, images, labels):
            calls.append(1)
            if len(calls) == 2:
                action()
            return epoch(state, images, labels)

        return train_epoch

    monkeypatch.setattr(train_module, "create_epoch", create_epoch)


@pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
def test_a_stop_signal_waits_for_the_epoch_in_flight(signals, data, tmp_path, monkeypatch):
    # Ctrl-C pressed as the second epoch starts: once, the epoch finishes and is saved, then
    # fit raises; twice, it raises at once and the first epoch is what is kept.
    train, test = data
    config = get_config("quick", epochs=4, warmup_epochs=1, batch_size=256, save_every=3)
    steps_per_epoch = train[0].shape[0] // config.batch_size

    def press():
        for _ in range(signals):
            os.kill(os.getpid(), signal.SIGINT)

    on_second_epoch(monkeypatch, press)
    manager = checkpoint_manager(tmp_path / "ckpt", save_every=3, keep=2)
    state = create_train_state(config, jax.random.key(0), steps_per_epoch)
    with StopSignals() as stops, pytest.raises(Stopped) as stopped:
        fit(config, state, train, test, save=saver(manager), progress=False, stops=stops)
    manager.wait_until_finished()
    assert stopped.value.signum == signal.SIGINT
    kept = 2 if signals == 1 else 1
    assert latest_epoch(manager) == kept
    _, history, _ = restore_checkpoint(
        manager, create_train_state(config, jax.random.key(0), steps_per_epoch)
    )
    assert [row["epoch"] for row in history] == list(range(1, kept + 1))


def test_fit_logs_the_schedule_and_both_parameter_sets(data):
    train, test = data
    config = get_config("quick", epochs=2, warmup_epochs=1, batch_size=256)
    steps_per_epoch = train[0].shape[0] // config.batch_size
    state = create_train_state(config, jax.random.key(0), steps_per_epoch)
    state, history, finished = fit(config, state, train, test, progress=False)
    assert finished and int(state.step) == 2 * steps_per_epoch
    first, last = history
    # The warmup epoch's last update ran at step steps_per_epoch - 1, one step short of the peak.
    peak = config.learning_rate
    assert first["learning_rate_end"] == pytest.approx(
        peak * (steps_per_epoch - 1) / steps_per_epoch, rel=1e-5
    )
    assert last["learning_rate_end"] < first["learning_rate_end"]  # decaying
    assert {"test_nelbo", "test_ema_nelbo", "train_grad_norm", "train_grad_norm_max"} <= set(last)
    # With so few steps the average lags far behind the parameters themselves.
    assert last["test_ema_nelbo"] > last["test_nelbo"]
    assert not leaves_equal(state.ema_params, state.params)
    assert dataclasses.asdict(config)["ema_decay"] == state.ema_decay


def test_ctrl_c_saves_the_last_finished_epoch(data, tmp_path, monkeypatch):
    train, test = data
    config = get_config("quick", epochs=4, warmup_epochs=1, batch_size=256, save_every=3)
    steps_per_epoch = train[0].shape[0] // config.batch_size

    def interrupt():
        raise KeyboardInterrupt

    on_second_epoch(monkeypatch, interrupt)
    manager = checkpoint_manager(tmp_path / "ckpt", save_every=3, keep=2)
    state = create_train_state(config, jax.random.key(0), steps_per_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(config, state, train, test, save=saver(manager), progress=False)
    manager.wait_until_finished()
    # Epoch 1 is not a multiple of save_every, but it is what was finished: it is kept.
    assert latest_epoch(manager) == 1
    _, history, _ = restore_checkpoint(
        manager, create_train_state(config, jax.random.key(0), steps_per_epoch)
    )
    assert [row["epoch"] for row in history] == [1]


def test_a_bfloat16_run_keeps_float32_state_and_is_evaluated_in_float32(data):
    train, test = data
    config = get_config("quick", epochs=1, batch_size=256, precision="bfloat16")
    steps_per_epoch = train[0].shape[0] // config.batch_size
    state = create_train_state(config, jax.random.key(0), steps_per_epoch)
    state, history, _ = fit(config, state, train, test, progress=False)
    floats = [
        leaf
        for part in (state.params, state.opt_state, state.ema_params)
        for leaf in jax.tree.leaves(part)
        if jnp.issubdtype(leaf.dtype, jnp.floating)
    ]
    assert floats and {leaf.dtype for leaf in floats} == {jnp.dtype(jnp.float32)}
    # The epoch's test negative ELBO is the float32 model's, not the bfloat16 one it trained.
    key = jax.random.fold_in(jax.random.key(seed_for(config, "epoch_eval")), 1)
    in_float32 = create_eval_step(build_model(config))(state.params, *test, key)
    in_bfloat16 = create_eval_step(build_model(config, "bfloat16"))(state.params, *test, key)
    assert history[0]["test_nelbo"] == float(in_float32["nelbo"])
    assert history[0]["test_nelbo"] != float(in_bfloat16["nelbo"])
