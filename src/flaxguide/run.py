"""A complete training run: train, measure quality, save. What `python -m flaxguide train` does."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp

from flaxguide.checkpoint import save_run
from flaxguide.config import Config
from flaxguide.data import load_mnist
from flaxguide.judge import accuracy, predict, train_classifier
from flaxguide.models import generate
from flaxguide.train import create_eval_step, prepare, train_and_evaluate


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


def train_run(config: Config, out: Path, *, preset: str, provenance: dict) -> dict:
    """Train on MNIST, judge the samples, and write the run directory `out`."""
    start = time.perf_counter()
    train = prepare(*load_mnist("train"))
    test = prepare(*load_mnist("test"))
    model, params, history = train_and_evaluate(config, train, test)
    train_seconds = time.perf_counter() - start

    key = jax.random.key(config.seed + 1)
    nelbo_key, judge_key, sample_key = jax.random.split(key, 3)
    final = test_nelbo(model, params, test, nelbo_key)
    judge, judge_params = train_classifier(judge_key, train, config.judge_epochs)
    metrics = {
        "preset": preset,
        "test_nelbo": final["nelbo"],
        "test_reconstruction": final["rec"],
        "test_kl": final["kl"],
        "conditional_accuracy": conditional_accuracy(
            model, params, judge, judge_params, sample_key, config.samples_per_digit
        ),
        "classifier_test_accuracy": accuracy(judge, judge_params, *test),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "history": history,
    }
    save_run(out, config, params, metrics, {"preset": preset, **provenance})
    return metrics
