"""The training loop `python -m flaxguide train` runs.

[`fit`][flaxguide.train.fit] trains a `TrainState` epoch by epoch (each epoch
one jitted call), evaluates and checkpoints after each, and stops a run that
diverges. [`train_run`][flaxguide.runner.train_run] puts a run directory
around it.
"""

from __future__ import annotations

import time

import jax
import numpy as np

# plain text: tqdm.auto warns in notebooks without widgets
from tqdm import tqdm

from flaxguide.apis import as_linen, create_epoch
from flaxguide.checkpoint import save_checkpoint
from flaxguide.config import Config, seed_for
from flaxguide.models import build_model
from flaxguide.state import TrainState
from flaxguide.steps import create_eval_step


class DivergedError(RuntimeError):
    """An epoch produced a non-finite loss or gradient norm. The run stops
    there: the state of the last finished epoch is saved, the bad one never
    is, and no metrics are written."""


# --8<-- [start:fit]
def fit(
    config: Config,
    state: TrainState,
    train,
    test,
    *,
    history: list[dict] | None = None,
    manager=None,
    stop_after: int | None = None,
    frozen: tuple[str, ...] = (),
    progress: bool = True,
    batch_sharding=None,
) -> tuple[TrainState, list[dict], bool]:
    """Train `state` up to `config.epochs` epochs; returns (state, history,
    finished).

    Each epoch is one jitted call. After it, the raw and the EMA parameters
    are evaluated on `test`, and a checkpoint is saved every
    `config.save_every` epochs (and at the end, and on Ctrl-C). `stop_after`
    ends this session early, leaving a run that `--resume` continues.
    `history` holds the rows of the epochs already trained: a resumed run
    goes on from there. `batch_sharding` splits each batch over devices (the
    state and data already on them).
    """
    history = list(history or [])
    train_epoch = create_epoch(config, state, frozen, batch_sharding)
    eval_step = create_eval_step(build_model(config))
    # Evaluation keys depend only on the epoch, so a resumed run evaluates
    # identically.
    eval_key = jax.random.key(seed_for(config, "epoch_eval"))
    first = len(history) + 1
    bar = tqdm(
        range(first, config.epochs + 1), desc="epochs", disable=not progress
    )
    done = 0
    try:
        for epoch in bar:
            start = time.perf_counter()
            new_state, metrics = train_epoch(state, *train)
            # waits for the epoch: the timing is honest
            metrics = jax.device_get(metrics)
            seconds = time.perf_counter() - start
            _check_finite(epoch, metrics, manager, state, history)
            row = _epoch_row(
                config,
                epoch,
                seconds,
                metrics,
                new_state,
                test,
                eval_step,
                eval_key,
            )
            # The state and its history row change together, so Ctrl-C saves
            # a matching pair.
            state = new_state
            history.append(row)
            done += 1
            last = epoch == config.epochs or done == stop_after
            if manager is not None:
                save_checkpoint(
                    manager,
                    epoch,
                    state,
                    history,
                    row["test_ema_nelbo"],
                    force=last,
                )
            bar.set_postfix(
                loss=f"{row['train_loss']:.2f}",
                test=f"{row['test_ema_nelbo']:.2f}",
            )
            if done == stop_after:
                break
    except KeyboardInterrupt:
        _save_last_finished(manager, state, history)  # nothing lost
        raise
    return state, history, len(history) == config.epochs


def _save_last_finished(
    manager, state: TrainState, history: list[dict]
) -> None:
    """Save the last finished epoch (unless it is on disk already), before
    giving up."""
    if manager is not None and history:
        row = history[-1]
        save_checkpoint(
            manager,
            row["epoch"],
            state,
            history,
            row["test_ema_nelbo"],
            force=True,
        )


def _check_finite(
    epoch: int, metrics, manager, state: TrainState, history: list[dict]
) -> None:
    """Raise `DivergedError` if any step of the epoch had a non-finite loss
    or gradient norm.

    `state` and `history` are still those of the epoch before, which are
    saved first.
    """
    # (steps,)
    finite = np.isfinite(metrics["loss"]) & np.isfinite(metrics["grad_norm"])
    if finite.all():
        return
    first = int(np.flatnonzero(~finite)[0])
    _save_last_finished(manager, state, history)
    kept = (
        f"epoch {history[-1]['epoch']} is saved"
        if history
        else "no epoch had finished"
    )
    if manager is None:
        kept = "nothing was saved (no checkpoint manager)"
    raise DivergedError(
        f"training diverged in epoch {epoch}: the loss or the "
        "gradient norm was not finite "
        f"from step {first + 1} of {finite.size} on; {kept}, and no "
        "metrics were written. "
        "Lower the learning rate or keep gradient clipping on, then "
        "train a new run."
    )


def _epoch_row(
    config, epoch, seconds, metrics, state, test, eval_step, eval_key
) -> dict:
    """One epoch's line of the history: means of the per-step training
    metrics (shape `(steps,)` each), the largest gradient norm, the last
    learning rate, and the test negative ELBO of the raw and the EMA
    parameters, drawn with the same key."""
    key = jax.random.fold_in(eval_key, epoch)
    # an NNX run is measured by the same code as a Linen run
    state = as_linen(state, config)
    raw = jax.device_get(eval_step(state.params, *test, key))
    ema = jax.device_get(eval_step(state.ema_params, *test, key))
    row = {"epoch": epoch, "seconds": round(seconds, 3)}
    row |= {f"train_{k}": float(np.mean(v)) for k, v in metrics.items()}
    row["train_grad_norm_max"] = float(np.max(metrics["grad_norm"]))
    row["learning_rate_end"] = float(metrics["learning_rate"][-1])
    row |= {f"test_{k}": float(v) for k, v in raw.items()}
    row |= {f"test_ema_{k}": float(v) for k, v in ema.items()}
    return row
    # --8<-- [end:fit]
