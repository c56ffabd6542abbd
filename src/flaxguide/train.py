"""The training loop `python -m flaxguide train` runs, and a whole run around it.

[`fit`][flaxguide.train.fit] trains a `TrainState` epoch by epoch (each epoch one jitted call),
evaluates and checkpoints after each; [`train_run`][flaxguide.train.train_run] starts, resumes
or finetunes a run in a run directory and measures it when it finishes.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np
from tqdm.auto import tqdm

from flaxguide.checkpoint import save_checkpoint
from flaxguide.config import Config, seed_for
from flaxguide.data import load_splits
from flaxguide.finetune import create_finetune_epoch, finetune_state
from flaxguide.metrics import final_metrics
from flaxguide.models import build_model
from flaxguide.runs import (
    RunError,
    check_new_run_dir,
    new_run,
    read_run,
    restore_run,
    run_config,
    run_manager,
    write_json,
)
from flaxguide.state import TrainState, create_train_state
from flaxguide.steps import create_eval_step, create_state_epoch, steps_per_epoch

# What a finetuned run takes from the run it starts from; the rest of its config is its own.
MODEL_FIELDS = ("encoder_dims", "decoder_dims", "latent_dim", "num_classes")


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
) -> tuple[TrainState, list[dict], bool]:
    """Train `state` up to `config.epochs` epochs; returns (state, history, finished).

    Each epoch is one jitted call. After it, the raw and the EMA parameters are evaluated on
    `test`, and a checkpoint is saved every `config.save_every` epochs (and at the end, and
    on Ctrl-C). `stop_after` ends this session early, leaving a run that `--resume` continues.
    `history` holds the rows of the epochs already trained: a resumed run goes on from there.
    """
    history = list(history or [])
    # A finetuning run never differentiates its frozen modules (see the finetuning page).
    train_epoch = create_finetune_epoch(config, frozen) if frozen else create_state_epoch(config)
    eval_step = create_eval_step(build_model(config))
    # Evaluation keys depend only on the epoch, so a resumed run evaluates identically.
    eval_key = jax.random.key(seed_for(config, "epoch_eval"))
    first = len(history) + 1
    bar = tqdm(range(first, config.epochs + 1), desc="epochs", disable=not progress)
    done = 0
    try:
        for epoch in bar:
            start = time.perf_counter()
            new_state, metrics = train_epoch(state, *train)
            metrics = jax.device_get(metrics)  # waits for the epoch: the timing is honest
            seconds = time.perf_counter() - start
            row = _epoch_row(epoch, seconds, metrics, new_state, test, eval_step, eval_key)
            # The state and its history row change together, so Ctrl-C saves a matching pair.
            state = new_state
            history.append(row)
            done += 1
            last = epoch == config.epochs or done == stop_after
            if manager is not None:
                save_checkpoint(manager, epoch, state, history, row["test_ema_nelbo"], force=last)
            bar.set_postfix(loss=f"{row['train_loss']:.2f}", test=f"{row['test_ema_nelbo']:.2f}")
            if done == stop_after:
                break
    except KeyboardInterrupt:
        # Nothing lost: the last finished epoch is saved before giving up.
        if manager is not None and history:
            row = history[-1]
            save_checkpoint(
                manager, row["epoch"], state, history, row["test_ema_nelbo"], force=True
            )
        raise
    return state, history, len(history) == config.epochs


def _epoch_row(epoch, seconds, metrics, state, test, eval_step, eval_key) -> dict:
    """One epoch's line of the history: means of the per-step training metrics (shape
    `(steps,)` each), the largest gradient norm, the last learning rate, and the test negative
    ELBO of the raw and the EMA parameters, drawn with the same key."""
    key = jax.random.fold_in(eval_key, epoch)
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


def train_run(
    config: Config | None,
    out: Path,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None = None,
    resume: bool = False,
    finetune_from: Path | None = None,
    stop_after: int | None = None,
) -> dict | None:
    """Train into the run directory `out`: a new run, a resumed one (`resume`, which takes
    everything from `out/run.json` and ignores `config`), or one finetuned from another run.

    Returns the final metrics, or None when `stop_after` ended the session early.
    """
    start = time.perf_counter()
    if resume:
        run = read_run(out)
        config = run_config(run)
        manager = run_manager(out, config)
        state, history, _ = restore_run(out, manager=manager)
        train, test = load_splits(run["digits"])
        if steps_per_epoch(config, train) != run["steps_per_epoch"]:
            raise RunError(f"{out} was trained on other data: its steps per epoch differ")
    else:
        check_new_run_dir(out)
        train, test = load_splits(digits)
        steps = steps_per_epoch(config, train)
        finetuned_from = None
        if finetune_from is None:
            state = create_train_state(config, jax.random.key(seed_for(config, "train")), steps)
        else:
            source = read_run(finetune_from)
            # The architecture comes from the source run; the training settings from `config`.
            source_config = run_config(source)
            config = dataclasses.replace(
                config, **{name: getattr(source_config, name) for name in MODEL_FIELDS}
            )
            source_state, _, source_epoch = restore_run(finetune_from)
            state = finetune_state(source_state, config, steps)
            finetuned_from = {"run": str(finetune_from), "epoch": source_epoch}
        run = new_run(
            config,
            preset=preset,
            provenance=provenance,
            digits=digits,
            steps_per_epoch=steps,
            finetuned_from=finetuned_from,
        )
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "run.json", run)
        history = []
        manager = run_manager(out, config)
    state, history, finished = fit(
        config,
        state,
        train,
        test,
        history=history,
        manager=manager,
        stop_after=stop_after,
        frozen=tuple(run["frozen"]),
    )
    manager.wait_until_finished()
    if not finished:
        return None
    metrics = final_metrics(config, state, train, test, history, run["preset"], run["digits"])
    metrics["total_seconds"] = round(time.perf_counter() - start, 1)
    write_json(out / "metrics.json", metrics)
    return metrics
