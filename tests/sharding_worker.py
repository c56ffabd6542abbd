"""Data-parallel training in a process of its own: `tests/test_training_sharding.py` runs this
script, because the number of (fake CPU) devices is fixed when JAX starts.

    python tests/sharding_worker.py single DEVICES OUT.npz
    python tests/sharding_worker.py checkpoint DIR OUT.json

Each trains the `quick` preset's model for one epoch of 20 steps on the first 2,560 MNIST
training images, from the same initial state and key, as chapter 7's processes
(`flaxguide.chapters.many_devices`) do.
"""

from __future__ import annotations

import json
import os
import sys

MODE = sys.argv[1]
DEVICES = int(sys.argv[2]) if MODE == "single" else 8
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES}"

import jax  # noqa: E402  (after XLA_FLAGS: the device count is read when JAX starts)
import numpy as np  # noqa: E402

from flaxguide.config import get_config  # noqa: E402
from flaxguide.data import load_mnist, prepare  # noqa: E402
from flaxguide.training.linen import create_state_epoch, create_train_state  # noqa: E402
from flaxguide.training.sharding import data_mesh, on_devices, place  # noqa: E402

CONFIG = get_config("quick")
STEPS = 20


def fresh():
    images, labels = load_mnist("train")
    data = prepare(images[: STEPS * CONFIG.batch_size], labels[: STEPS * CONFIG.batch_size])
    return create_train_state(CONFIG, jax.random.key(0), STEPS), data


def epoch_on(devices: int, state, data):
    """One epoch on the first `devices` devices (1: no mesh at all, the plain epoch)."""
    (state, data), sharding = on_devices((state, data), devices)
    return create_state_epoch(CONFIG, batch_sharding=sharding)(state, *data)


def local(x) -> np.ndarray:
    """This process's copy of a replicated array (a typed key's raw data)."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    return np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x)


def save_npz(path: str, state, metrics) -> None:
    leaves = [local(x) for x in jax.tree.leaves(state.params)]
    np.savez(path, *leaves, loss=local(metrics["loss"]))


if MODE == "single":
    state, metrics = epoch_on(DEVICES, *fresh())
    save_npz(sys.argv[3], state, metrics)
elif MODE == "checkpoint":
    from flaxguide.run.checkpoint import checkpoint_manager, restore_checkpoint, save_checkpoint

    state, data = fresh()
    saved, _ = epoch_on(8, state, data)
    manager = checkpoint_manager(sys.argv[2], save_every=1, keep=1)
    save_checkpoint(manager, 1, saved, [], 100.0)
    onward, _ = epoch_on(8, saved, data)  # the run that never stopped
    report = {}
    for devices in (1, 4):
        target = state if devices == 1 else place(state, data_mesh(devices))
        restored, _, _ = restore_checkpoint(manager, target, 1)
        same = jax.tree.map(lambda a, b: np.array_equal(local(a), local(b)), saved, restored)
        continued, _ = epoch_on(devices, restored, data)
        gaps = jax.tree.map(lambda a, b: np.max(np.abs(local(a) - local(b))), onward, continued)
        placed = jax.tree.leaves(restored.params)
        report[devices] = {
            "restored_bitwise": bool(all(jax.tree.leaves(same))),
            "restored_on": sorted({len(x.sharding.device_set) for x in placed}),
            "continued_max_gap": float(max(jax.tree.leaves(gaps.params))),
            "continued_steps": int(continued.step),
        }
    with open(sys.argv[3], "w") as f:
        json.dump(report, f)
