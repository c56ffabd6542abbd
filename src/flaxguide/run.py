"""A complete training run, as `python -m flaxguide train` does it.

The final loop of chapter 5: a `TrainState` carrying an EMA and the key, a warmup-cosine
schedule, gradient clipping, Orbax checkpoints, resuming and finetuning.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from flaxguide.checkpoint import (
    RUN_FORMAT,
    RunError,
    checkpoint_manager,
    latest_epoch,
    read_run,
    restore_checkpoint,
    save_checkpoint,
)
from flaxguide.config import Config, from_dict, to_dict
from flaxguide.data import load_mnist
from flaxguide.finetune import FROZEN, create_finetune_epoch, finetune_state
from flaxguide.judge import accuracy, predict, train_classifier
from flaxguide.models import VAE, build_model, generate
from flaxguide.state import TrainState, create_state_epoch, create_train_state
from flaxguide.train import create_eval_step, prepare


# --8<-- [start:conditional_accuracy]
def conditional_accuracy(model, params, judge, judge_params, key, per_digit: int) -> float:
    """The share of prior samples (temperature 1) that the judge labels as the digit asked for."""
    labels = jnp.repeat(jnp.arange(10, dtype=jnp.int32), per_digit)
    images = generate(model, params, key, labels, temperature=1.0)
    return float(jnp.mean(predict(judge, judge_params, images) == labels))
    # --8<-- [end:conditional_accuracy]


def test_nelbo(model, params, test, key, num_samples: int = 5) -> dict:
    """The test negative ELBO (KL weight 1), averaged over `num_samples` draws of z."""
    eval_step = create_eval_step(model)
    draws = [
        jax.device_get(eval_step(params, *test, k)) for k in jax.random.split(key, num_samples)
    ]
    return {name: float(sum(d[name] for d in draws) / num_samples) for name in draws[0]}


MODEL_FIELDS = ("encoder_dims", "decoder_dims", "latent_dim", "num_classes")


def steps_per_epoch(config: Config, train) -> int:
    return train[0].shape[0] // config.batch_size


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
    """
    history = list(history or [])
    # A finetuning run never differentiates its frozen modules (see the finetuning page).
    train_epoch = create_finetune_epoch(config, frozen) if frozen else create_state_epoch(config)
    eval_step = create_eval_step(build_model(config))
    # Evaluation keys depend only on the epoch, so a resumed run evaluates identically.
    eval_key = jax.random.key(config.seed + 3)
    first = len(history) + 1
    bar = tqdm(range(first, config.epochs + 1), desc="epochs", disable=not progress)
    epoch, done = first - 1, 0
    try:
        for epoch in bar:
            start = time.perf_counter()
            new_state, metrics = train_epoch(state, *train)
            metrics = jax.device_get(metrics)  # waits for the epoch to finish
            seconds = time.perf_counter() - start
            key = jax.random.fold_in(eval_key, epoch)
            raw = jax.device_get(eval_step(new_state.params, *test, key))
            ema = jax.device_get(eval_step(new_state.ema_params, *test, key))
            state = new_state
            row = {"epoch": epoch, "seconds": round(seconds, 3)}
            row |= {f"train_{k}": float(np.mean(v)) for k, v in metrics.items()}
            row["train_grad_norm_max"] = float(np.max(metrics["grad_norm"]))
            row["learning_rate_end"] = float(metrics["learning_rate"][-1])
            row |= {f"test_{k}": float(v) for k, v in raw.items()}
            row |= {f"test_ema_{k}": float(v) for k, v in ema.items()}
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
            save_checkpoint(
                manager,
                history[-1]["epoch"],
                state,
                history,
                history[-1]["test_ema_nelbo"],
                force=True,
            )
        raise
    return state, history, len(history) == config.epochs
    # --8<-- [end:fit]


def _load_data(digits: tuple[int, ...] | None):
    """Train and test splits on the device, restricted to `digits` when given."""
    splits = []
    for split in ("train", "test"):
        images, labels = load_mnist(split)
        if digits is not None:
            keep = np.isin(labels, digits)
            images, labels = images[keep], labels[keep]
        splits.append(prepare(images, labels))
    return splits


def _write_json(path: Path, value: dict) -> None:
    # Write then rename: a crash mid-write never leaves a half-written file behind.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def read_run_config(run_dir: Path) -> tuple[dict, Config]:
    """`run.json` of a run directory (finished or not) and its config."""
    run = read_run(run_dir)
    return run, from_dict(run["config"])


def run_manager(run_dir: Path, config: Config):
    """The checkpoint manager of a run directory, with the run's own retention settings."""
    return checkpoint_manager(
        Path(run_dir) / "checkpoints", save_every=config.save_every, keep=config.keep_checkpoints
    )


def read_metrics(run_dir: Path) -> dict:
    """`metrics.json` of a finished run, with a clear error for an unfinished one."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise RunError(
            f"{run_dir} has not finished training (no metrics.json); "
            f"continue it with `train --resume --out {run_dir}`"
        )
    return json.loads(path.read_text())


def empty_state(config: Config, run: dict, spe: int) -> TrainState:
    """A fresh state shaped like the run's: the target a checkpoint of that run restores into."""
    state = create_train_state(config, jax.random.key(config.seed), spe)
    if run.get("finetuned_from"):  # its optimiser state is partitioned: frozen and trainable
        state = finetune_state(state, config, spe)
    return state


def final_metrics(config, state, train, test, history, preset) -> dict:
    """Quality numbers of a finished run, measured on the EMA parameters."""
    model = build_model(config)
    key = jax.random.key(config.seed + 1)
    nelbo_key, judge_key, sample_key = jax.random.split(key, 3)
    ema = test_nelbo(model, state.ema_params, test, nelbo_key)
    raw = test_nelbo(model, state.params, test, nelbo_key)
    judge, judge_params = train_classifier(judge_key, train, config.judge_epochs)
    return {
        "preset": preset,
        "parameters": "ema",
        "test_nelbo": ema["nelbo"],
        "test_reconstruction": ema["rec"],
        "test_kl": ema["kl"],
        "test_nelbo_raw_params": raw["nelbo"],
        "conditional_accuracy": conditional_accuracy(
            model, state.ema_params, judge, judge_params, sample_key, config.samples_per_digit
        ),
        "conditional_accuracy_raw_params": conditional_accuracy(
            model, state.params, judge, judge_params, sample_key, config.samples_per_digit
        ),
        "classifier_test_accuracy": accuracy(judge, judge_params, *test),
        "steps_per_epoch": steps_per_epoch(config, train),
        "train_seconds": round(sum(row["seconds"] for row in history), 1),
        "history": history,
    }


def train_run(
    config: Config,
    out: Path,
    *,
    preset: str,
    provenance: dict,
    digits: tuple[int, ...] | None = None,
    resume: bool = False,
    finetune_from: Path | None = None,
    stop_after: int | None = None,
) -> dict | None:
    """Train into the run directory `out` (new, resumed, or finetuned from another run).

    Returns the final metrics, or None when `stop_after` ended the session early.
    """
    start = time.perf_counter()
    if resume:
        run, config = read_run_config(out)
        digits = tuple(run["digits"]) if run.get("digits") is not None else None
        preset = run["preset"]
    train, test = _load_data(digits)
    spe = steps_per_epoch(config, train)
    manager = run_manager(out, config)
    history: list[dict] = []
    if resume:
        if latest_epoch(manager) is None:
            raise RunError(f"{out} has no checkpoint to resume from")
        state, history, _ = restore_checkpoint(manager, empty_state(config, run, spe))
    else:
        run = {
            "format": RUN_FORMAT,
            "preset": preset,
            "digits": list(digits) if digits is not None else None,
            "config": to_dict(config),
            **provenance,
        }
        if finetune_from is None:
            state = create_train_state(config, jax.random.key(config.seed), spe)
        else:
            source_run, source_config = read_run_config(finetune_from)
            # The architecture comes from the source run; the training settings from `config`.
            config = dataclasses.replace(
                config, **{name: getattr(source_config, name) for name in MODEL_FIELDS}
            )
            run["config"] = to_dict(config)
            source, _, source_epoch = restore_checkpoint(
                run_manager(finetune_from, source_config),
                empty_state(source_config, source_run, spe),
            )
            state = finetune_state(source, config, spe)
            run["finetuned_from"] = {"run": str(finetune_from), "epoch": source_epoch}
        _write_json(out / "run.json", run)
    frozen = FROZEN if run.get("finetuned_from") else ()
    state, history, finished = fit(
        config,
        state,
        train,
        test,
        history=history,
        manager=manager,
        stop_after=stop_after,
        frozen=frozen,
    )
    manager.wait_until_finished()
    if not finished:
        return None
    metrics = final_metrics(config, state, train, test, history, preset)
    metrics["total_seconds"] = round(time.perf_counter() - start, 1)
    _write_json(out / "metrics.json", metrics)
    return metrics


def load_trained(run_dir: Path) -> tuple[Config, VAE, TrainState, dict]:
    """The config, model, final state and metrics of a finished run."""
    run, config = read_run_config(run_dir)
    metrics = read_metrics(run_dir)
    target = empty_state(config, run, metrics["steps_per_epoch"])
    state, _, _ = restore_checkpoint(run_manager(run_dir, config), target, epoch=config.epochs)
    return config, build_model(config), state, metrics


def compare_runs(run_dirs: list[Path]) -> list[dict]:
    """What each finished run was trained with, and the quality it reached."""
    rows = []
    for run_dir in run_dirs:
        run, config = read_run_config(run_dir)
        metrics = read_metrics(run_dir)
        rows.append(
            {
                "run": Path(run_dir).name,
                "commit": run.get("commit"),
                "epochs": config.epochs,
                "schedule": config.schedule,
                "clip_norm": config.clip_norm,
                "ema_decay": config.ema_decay,
                "test_nelbo_ema": metrics["test_nelbo"],
                "test_nelbo_raw": metrics["test_nelbo_raw_params"],
                "conditional_accuracy_ema": metrics["conditional_accuracy"],
                "conditional_accuracy_raw": metrics["conditional_accuracy_raw_params"],
                "train_seconds": metrics["train_seconds"],
            }
        )
    return rows
