"""Training checkpoints, written with Orbax: the whole `TrainState` of an epoch.

`checkpoint_manager`, `save_checkpoint` and `restore_checkpoint` hold everything a run needs
to resume exactly where it stopped. Where a run keeps them, and what else its directory holds,
is [`flaxguide.runs`][flaxguide.runs]'s business.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from flaxguide.config import check_positive
from flaxguide.state import TrainState


class CheckpointError(ValueError):
    """A checkpoint folder that holds nothing usable for the state asked for."""


# Training checkpoints: the whole TrainState of an epoch, managed by Orbax.


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose arrays do not fit the state it is restored into (another config)."""


# --8<-- [start:checkpoint_manager]
def checkpoint_manager(directory: Path, *, save_every: int, keep: int) -> ocp.CheckpointManager:
    """An Orbax `CheckpointManager` whose steps are epochs.

    It saves when `epoch % save_every == 0` (or when `save_checkpoint` is forced), and keeps
    the latest `keep` checkpoints plus the best one by test negative ELBO, however old.
    Close it (or use it in a `with` block) when training ends.
    """
    check_positive("save_every", save_every)
    check_positive("keep", keep)

    def saved_nelbo(metrics: dict) -> float:  # what `save_checkpoint` records with each step
        return metrics["test_nelbo"]

    policies = ocp.checkpoint_managers
    options = ocp.CheckpointManagerOptions(
        # Only every `save_every` epochs; Orbax's default would also save the first epoch.
        save_decision_policy=policies.FixedIntervalPolicy(save_every),
        preservation_policy=policies.AnyPreservationPolicy(
            [
                policies.LatestN(n=keep),
                # BestN keeps the *last* n after sorting; reverse=True puts the lowest last.
                policies.BestN(get_metric_fn=saved_nelbo, reverse=True, n=1),
            ]
        ),
        # `best_fn` makes the manager write each step's metrics and answer `best_step()`.
        best_fn=saved_nelbo,
        best_mode="min",
        # Half-written steps of a killed run are deleted before the next save.
        cleanup_tmp_directories=True,
    )
    # Naming each item's save and restore arguments lets a fresh manager (a resumed run) read
    # a checkpoint's metadata before anything has been saved or restored through it.
    registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
    for item, save_args, restore_args in [
        ("state", ocp.args.StandardSave, ocp.args.StandardRestore),
        ("history", ocp.args.JsonSave, ocp.args.JsonRestore),
    ]:
        registry.add(item, save_args)
        registry.add(item, restore_args)
    return ocp.CheckpointManager(
        Path(directory).resolve(), options=options, handler_registry=registry
    )
    # --8<-- [end:checkpoint_manager]


# --8<-- [start:state_tree]
def _state_tree(state: TrainState) -> dict:
    """Everything of a `TrainState` that changes during training, as arrays Orbax can write.

    `apply_fn`, `tx` and `ema_decay` are code and config, not data: they come back from the
    target state. A typed key is stored as its raw `uint32` data.
    """
    return {
        "step": jnp.asarray(state.step, jnp.int32),  # a fresh state's step is a Python 0
        "params": state.params,
        "opt_state": state.opt_state,
        "ema_params": state.ema_params,
        "key": jax.random.key_data(state.key),
    }
    # --8<-- [end:state_tree]


# --8<-- [start:save_checkpoint]
def save_checkpoint(
    manager: ocp.CheckpointManager,
    epoch: int,
    state: TrainState,
    history: list[dict],
    nelbo: float,
    *,
    force: bool = False,
    wait: bool = True,
) -> bool:
    """Save the whole `TrainState` and the metrics `history` as checkpoint `epoch`.

    `nelbo`, the epoch's test negative ELBO, decides which checkpoint is the best one.

    Returns whether it saved: not when `epoch % save_every != 0` (unless `force`, for the
    last epoch or an interruption), and never over an epoch already on disk. With
    `wait=False` the files are written in the background while training goes on; then call
    `manager.wait_until_finished()` (or close the manager) before the program ends.
    """
    if epoch in manager.all_steps():
        return False
    # A NaN would sort anywhere; an infinite nELBO is simply the worst.
    nelbo = float(nelbo) if math.isfinite(nelbo) else math.inf
    # NumPy and JAX scalars in the history become Python numbers, which JSON can write.
    history = jax.tree.map(lambda x: x.item() if hasattr(x, "item") else x, history)
    saved = manager.save(
        epoch,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(_state_tree(state)),
            history=ocp.args.JsonSave(history),
        ),
        metrics={"test_nelbo": nelbo},
        force=force,
    )
    if saved and wait:
        manager.wait_until_finished()  # the step directory is renamed into place here
    return saved
    # --8<-- [end:save_checkpoint]


# --8<-- [start:restore_checkpoint]
def restore_checkpoint(
    manager: ocp.CheckpointManager, target_state: TrainState, epoch: int | None = None
) -> tuple[TrainState, list[dict], int]:
    """Checkpoint `epoch` (by default the latest) as `(state, history, epoch)`.

    `target_state` is a fresh `TrainState` built from the run's config: it supplies
    `apply_fn` and `tx`, and the shapes and dtypes every array must have. A checkpoint of
    another config raises `CheckpointMismatchError` that says which arrays differ.
    """
    manager.wait_until_finished()  # a save of this manager still in flight
    if epoch is None:
        epoch = manager.latest_step()
        if epoch is None:
            raise CheckpointError(f"no checkpoint in {manager.directory}: nothing was saved there")
    if epoch not in manager.all_steps():
        found = list(manager.all_steps())
        raise CheckpointError(
            f"no checkpoint for epoch {epoch} in {manager.directory} (found: {found})"
        )
    target = _state_tree(target_state)
    _check_fits(manager, epoch, target)
    restored = manager.restore(
        epoch,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(target), history=ocp.args.JsonRestore()
        ),
    )
    tree = restored.state
    state = target_state.replace(
        step=tree["step"],
        params=tree["params"],
        opt_state=tree["opt_state"],
        ema_params=tree["ema_params"],
        key=jax.random.wrap_key_data(tree["key"], impl=jax.random.key_impl(target_state.key)),
    )
    return state, restored.history, epoch
    # --8<-- [end:restore_checkpoint]


# --8<-- [start:check_fits]
def _check_fits(
    manager: ocp.CheckpointManager, epoch: int, target: dict, max_shown: int = 4
) -> None:
    """Raise `CheckpointMismatchError` unless the checkpoint holds exactly the arrays of
    `target`, with the same shapes and dtypes.

    Orbax refuses a mismatch too, but one difference at a time and in its own terms
    (truncation and padding, "Source" and "Target" metadata); this lists what differs and
    says how to fix it.
    """
    path = manager.directory / str(epoch)
    # The metadata is read from the checkpoint's small JSON files, not from its arrays.
    items = manager.metadata(epoch).item_metadata
    if items is None or items.get("state") is None:
        raise CheckpointError(
            f"{path} holds no `state` item: it is not a flaxguide training checkpoint"
        )
    on_disk, wanted = _shapes(items["state"].tree), _shapes(target)
    if on_disk == wanted:
        return
    order = {"params": 0, "ema_params": 1, "opt_state": 2}  # the most telling first

    def rank(name: str) -> tuple[int, str]:
        return order.get(name.split("/")[0], len(order)), name

    differences = [
        f"  {name}: checkpoint {on_disk.get(name, 'missing')}, target {wanted.get(name, 'missing')}"
        for name in sorted(on_disk.keys() | wanted.keys(), key=rank)
        if on_disk.get(name) != wanted.get(name)
    ]
    count = len(differences)
    if count > max_shown:
        differences[max_shown:] = [f"  ... and {count - max_shown} more"]
    raise CheckpointMismatchError(
        f"checkpoint {path} does not fit the target state: "
        f"{count} {'array differs' if count == 1 else 'arrays differ'}\n"
        + "\n".join(differences)
        + "\nCreate the target state from the config the checkpoint was trained with (a run "
        "keeps it in run.json): the same layer sizes, latent_dim, schedule and clip_norm."
    )


def _shapes(tree) -> dict[str, str]:
    """`{"params/params/encoder/Dense_0/kernel": "float32[794, 512]", ...}` for `tree`'s arrays."""
    flat = ocp.tree.to_flat_dict(tree, sep="/")
    return {path: f"{leaf.dtype}{list(leaf.shape)}" for path, leaf in flat.items()}
    # --8<-- [end:check_fits]


def best_epoch(manager: ocp.CheckpointManager) -> int | None:
    """The kept epoch with the lowest test negative ELBO (None before the first save)."""
    return manager.best_step()


def latest_epoch(manager: ocp.CheckpointManager) -> int | None:
    """The newest saved epoch (None before the first save)."""
    return manager.latest_step()
