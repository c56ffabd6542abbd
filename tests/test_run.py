"""The final training loop: interrupted and resumed equals uninterrupted, bit for bit."""

import dataclasses

import jax
import numpy as np
import pytest

from flaxguide.checkpoint import checkpoint_manager, latest_epoch, restore_checkpoint
from flaxguide.config import get_config
from flaxguide.data import load_mnist
from flaxguide.run import fit
from flaxguide.state import create_train_state
from flaxguide.train import prepare


@pytest.fixture(scope="module")
def data(mnist_mirror, tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    images, labels = load_mnist("train", root=root, mirror=mnist_mirror)
    test_images, test_labels = load_mnist("test", root=root, mirror=mnist_mirror)
    return prepare(images[:1024], labels[:1024]), prepare(test_images[:512], test_labels[:512])


def leaves_equal(a, b) -> bool:
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_resume_equals_uninterrupted(data, tmp_path):
    train, test = data
    config = get_config("quick", epochs=4, warmup_epochs=1, batch_size=128, save_every=1)
    spe = train[0].shape[0] // config.batch_size

    def fresh():
        return create_train_state(config, jax.random.key(config.seed), spe)

    def manager(name):
        return checkpoint_manager(tmp_path / name, save_every=1, keep=2)

    straight, straight_history, finished = fit(
        config, fresh(), train, test, manager=manager("straight"), progress=False
    )
    assert finished

    # Two epochs, stop; then, as a new process would, restore into a fresh state and go on.
    first = manager("resumed")
    _, _, finished = fit(config, fresh(), train, test, manager=first, stop_after=2, progress=False)
    assert not finished
    first.wait_until_finished()
    first.close()
    again = manager("resumed")
    assert latest_epoch(again) == 2
    restored, history, epoch = restore_checkpoint(again, fresh())
    assert epoch == 2 and len(history) == 2
    resumed, resumed_history, finished = fit(
        config, restored, train, test, history=history, manager=again, progress=False
    )
    assert finished

    for part in ("params", "opt_state", "ema_params", "step"):
        assert leaves_equal(getattr(resumed, part), getattr(straight, part)), part
    assert np.array_equal(jax.random.key_data(resumed.key), jax.random.key_data(straight.key))

    def without_time(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert without_time(resumed_history) == without_time(straight_history)


def test_fit_logs_the_schedule_and_both_parameter_sets(data):
    train, test = data
    config = get_config("quick", epochs=2, warmup_epochs=1, batch_size=256)
    spe = train[0].shape[0] // config.batch_size
    state = create_train_state(config, jax.random.key(0), spe)
    state, history, finished = fit(config, state, train, test, progress=False)
    assert finished and int(state.step) == 2 * spe
    first, last = history
    # The last update of the warmup epoch ran at step spe - 1, one step short of the peak.
    peak = config.learning_rate
    assert first["learning_rate_end"] == pytest.approx(peak * (spe - 1) / spe, rel=1e-5)
    assert last["learning_rate_end"] < first["learning_rate_end"]  # decaying
    assert {"test_nelbo", "test_ema_nelbo", "train_grad_norm", "train_grad_norm_max"} <= set(last)
    # With so few steps the average lags far behind the parameters themselves.
    assert last["test_ema_nelbo"] > last["test_nelbo"]
    assert not leaves_equal(state.ema_params, state.params)
    assert dataclasses.asdict(config)["ema_decay"] == state.ema_decay
