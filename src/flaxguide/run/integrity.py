"""Is a checkpoint the one that was saved, and does it fit the state it is
restored into?

Orbax reads a damaged checkpoint without complaint more often than not:
random bytes in an array's data file come back as other numbers, and damaged
metadata is logged and skipped. So each checkpoint carries a digest of its
content, computed from the arrays in memory when it is saved, and restoring
recomputes it from what was read. A mismatch, or a file Orbax cannot parse,
is a `CheckpointCorruptError` that names the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(ValueError):
    """A checkpoint folder that holds nothing usable for the state asked
    for."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose arrays do not fit the state it is restored into
    (another config)."""


class CheckpointCorruptError(CheckpointError):
    """A checkpoint whose files changed after it was saved (bit rot, a bad
    copy, a torn write).

    `path` is the checkpoint's folder.
    """

    def __init__(self, path: Path, problem: str):
        super().__init__(f"checkpoint {path} is damaged: {problem}")
        self.path = Path(path)


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (a full disk, an I/O error); those
    before it are intact."""


def content_digest(state_tree: dict, history: list[dict]) -> str:
    """sha256 over every array of `state_tree` (its path, dtype, shape and
    bytes), then the history as canonical JSON: what a checkpoint holds,
    independent of how Orbax lays it out."""
    digest = hashlib.sha256()
    for path, leaf in sorted(
        ocp.tree.to_flat_dict(state_tree, sep="/").items()
    ):
        array = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{path}:{array.dtype}{list(array.shape)}\n".encode())
        digest.update(array.tobytes())
    digest.update(json.dumps(history, sort_keys=True).encode())
    return digest.hexdigest()


def unreadable_json(step_dir: Path) -> str | None:
    """The first of a checkpoint's small JSON files (those Orbax would skip
    or trip over) that does not parse, as a path relative to `step_dir`; None
    when all do."""
    for name in ("_CHECKPOINT_METADATA", "metrics/metrics"):
        path = Path(step_dir) / name
        if not path.exists():
            continue
        try:
            json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return name
    return None


# --8<-- [start:check_fits]
def check_fits(
    manager: ocp.CheckpointManager,
    epoch: int,
    target: dict,
    max_shown: int = 4,
) -> None:
    """Raise `CheckpointMismatchError` unless the checkpoint holds exactly
    the arrays of `target`, with the same shapes and dtypes.

    Orbax refuses a mismatch too, but one difference at a time and in its own
    terms (truncation and padding, "Source" and "Target" metadata); this
    lists what differs and says how to fix it.
    """
    path = manager.directory / str(epoch)
    # The metadata is read from the checkpoint's small JSON files, not from
    # its arrays.
    items = manager.metadata(epoch).item_metadata
    if items is None or items.get("state") is None:
        raise CheckpointError(
            f"{path} holds no `state` item: it is not a flaxguide "
            "training checkpoint"
        )
    on_disk, wanted = _shapes(items["state"].tree), _shapes(target)
    if on_disk == wanted:
        return
    # the most telling first
    order = {"params": 0, "ema_params": 1, "opt_state": 2}

    def rank(name: str) -> tuple[int, str]:
        return order.get(name.split("/")[0], len(order)), name

    differences = [
        f"  {name}: checkpoint {on_disk.get(name, 'missing')}, "
        f"target {wanted.get(name, 'missing')}"
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
        + "\nCreate the target state from the config the checkpoint "
        "was trained with (a run "
        "keeps it in run.json): the same layer sizes, latent_dim, "
        "schedule and clip_norm."
    )


def _shapes(tree) -> dict[str, str]:
    """`{"params/params/encoder/Dense_0/kernel": "float32[794, 512]", ...}`
    for `tree`'s arrays."""
    flat = ocp.tree.to_flat_dict(tree, sep="/")
    return {
        path: f"{leaf.dtype}{list(leaf.shape)}"
        for path, leaf in flat.items()
    }


# --8<-- [end:check_fits]
