"""The checkpoints chapter's look inside Orbax: a snapshot before the commit, absl warnings."""

import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from flaxguide.chapters.orbax_internals import absl_warnings, snapshot_before_commit


def test_the_snapshot_holds_the_uncommitted_step(tmp_path):
    root, copy = tmp_path / "ckpt", tmp_path / "crashed"
    with ocp.CheckpointManager(root) as manager:
        manager.save(1, args=ocp.args.StandardSave({"w": jnp.ones(3)}))
        manager.wait_until_finished()
        with snapshot_before_commit(2, copy) as seen:
            manager.save(2, args=ocp.args.StandardSave({"w": jnp.zeros(3)}), force=True)
            manager.wait_until_finished()
    assert seen["root"] == ["1", "2.orbax-checkpoint-tmp"]
    assert "default" in seen["step"]
    assert sorted(p.name for p in copy.iterdir()) == ["1", "2.orbax-checkpoint-tmp"]
    assert sorted(p.name for p in root.iterdir()) == ["1", "2"]  # the real save went on
    with ocp.CheckpointManager(copy) as crashed:
        assert list(crashed.all_steps()) == [1]  # a temporary directory is not a step
        restored = crashed.restore(1, args=ocp.args.StandardRestore({"w": jnp.zeros(3)}))
    np.testing.assert_array_equal(restored["w"], np.ones(3))


def test_absl_warnings_are_collected_and_the_handler_removed(tmp_path):
    import logging

    before = list(logging.getLogger("absl").handlers)
    with absl_warnings() as messages:
        logging.getLogger("absl").warning(
            "Configured `CheckpointManager` using deprecated legacy API."
        )
    assert messages == ["Configured `CheckpointManager` using deprecated legacy API."]
    assert logging.getLogger("absl").handlers == before
