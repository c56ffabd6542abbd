"""The training loop: [`fit`][flaxguide.training.loop.fit] trains a state of
either API epoch by epoch (each epoch one jitted call), evaluates after each,
hands each finished epoch to a `save` callback, and stops a run that
diverges.

The loop knows nothing of files: what `save` does with an epoch (an Orbax
checkpoint in a run directory, see
[`train_run`][flaxguide.run.session.train_run]) is its caller's business.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import jax
import numpy as np

# plain text: tqdm.auto warns in notebooks without widgets
from tqdm import tqdm

from flaxguide.config import Config, seed_for
from flaxguide.model.linen import build_model
from flaxguide.training.backend import State, as_linen, create_epoch
from flaxguide.training.epoch import create_eval_step
from flaxguide.training.stops import StopSignals

# `save(epoch, state, history, nelbo, force)`: keep a finished epoch
# (`force` for the last one, or before giving up); see
# `flaxguide.run.checkpoint.saver`.
Save = Callable[[int, State, list[dict], float, bool], object]


class DivergedError(RuntimeError):
    """An epoch produced a non-finite loss or gradient norm. The run stops
    there: the state of the last finished epoch is saved, the bad one never
    is, and no metrics are written."""


# --8<-- [start:fit]
def fit(
    config: Config,
    state: State,
    train,
    test,
    *,
    history: list[dict] | None = None,
    save: Save | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    batch_sharding=None,
    stops: StopSignals | None = None,
) -> tuple[State, list[dict], bool]:
    """Train `state` up to `config.epochs` epochs; returns (state, history,
    finished).

    Each epoch is one jitted call. After it, the raw and the EMA parameters
    are evaluated on `test`, and the epoch goes to `save` (which decides
    whether to keep it; the last epoch, and the last finished one on Ctrl-C
    or divergence, come with `force=True`). `stop_after` ends this session
    early, leaving a run that `--resume` continues. `history` holds the rows
    of the epochs already trained: a resumed run goes on from there.
    `batch_sharding` splits each batch over devices (the state and data
    already on them). With `stops`, a stop signal waits for the epoch in
    flight, which is saved, and then raises `Stopped`.

    Args:
        config: the run's `Config`.
        state: the state to train, a `TrainState` or an `NNXTrainState`.
        train (tuple): `(images, labels)`, `(N, 784)` uint8 and `(N,)`
            int32.
        test (tuple): the test split, likewise; evaluated whole, not in
            batches.
        history: the rows of the epochs already trained, or `None`.
        save: `save(epoch, state, history, nelbo, force)`, or `None`.
        stop_after: the most epochs this call trains; `None`: all left.
        progress: show a progress bar.
        batch_sharding (NamedSharding | None): the sharding of each batch.
        stops: the process's installed `StopSignals`, or `None`.

    Returns:
        `(state, history, finished)`: the state after the last epoch, one
            dict of metrics per epoch trained so far, and whether all
            `config.epochs` are.

    Raises:
        DivergedError: an epoch's loss or gradient norm was not finite.
        KeyboardInterrupt: re-raised once the last finished epoch is saved
            (`Stopped`, a kind of it, for a stop signal).
    """
    history = list(history or [])
    train_epoch = create_epoch(config, state, batch_sharding)
    eval_step = create_eval_step(build_model(config))
    # Evaluation keys depend only on the epoch, so a resumed run evaluates
    # identically.
    eval_key = jax.random.key(seed_for(config, "epoch_eval"))
    first = len(history) + 1
    bar = tqdm(
        range(first, config.epochs + 1), desc="epochs", disable=not progress
    )
    done = 0
    # a signal raised inside JAX or Orbax could be caught there
    held = contextlib.nullcontext() if stops is None else stops.held()
    try:
        with held:
            for epoch in bar:
                start = time.perf_counter()
                new_state, metrics = train_epoch(state, *train)
                # waits for the epoch: the timing is honest
                metrics = jax.device_get(metrics)
                seconds = time.perf_counter() - start
                _check_finite(epoch, metrics, save, state, history)
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
                # The state and its history row change together, so Ctrl-C
                # saves a matching pair.
                state = new_state
                history.append(row)
                done += 1
                stopping = stops is not None and stops.received is not None
                last = epoch == config.epochs or done == stop_after
                if save is not None:
                    save(
                        epoch,
                        state,
                        history,
                        row["test_ema_nelbo"],
                        last or stopping,
                    )
                bar.set_postfix(
                    loss=f"{row['train_loss']:.2f}",
                    test=f"{row['test_ema_nelbo']:.2f}",
                )
                if done == stop_after or stopping:
                    break
    except KeyboardInterrupt:
        _save_last_finished(save, state, history)  # nothing lost
        raise
    return state, history, len(history) == config.epochs


def _save_last_finished(
    save: Save | None, state: State, history: list[dict]
) -> None:
    """Save the last finished epoch (unless it is kept already), before
    giving up."""
    if save is not None and history:
        row = history[-1]
        save(row["epoch"], state, history, row["test_ema_nelbo"], True)


def _check_finite(
    epoch: int, metrics, save: Save | None, state: State, history: list[dict]
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
    _save_last_finished(save, state, history)
    kept = (
        f"epoch {history[-1]['epoch']} is saved"
        if history
        else "no epoch had finished"
    )
    if save is None:
        kept = "nothing was saved (no save callback)"
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
