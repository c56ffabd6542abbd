"""Quality numbers: conditional accuracy asks for the run's own digits; a run is measured
in float32 whatever it trained in."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import mnist_slices

import flaxguide.evaluate.metrics as metrics
from flaxguide.config import get_config
from flaxguide.data import binarize_split
from flaxguide.evaluate.judge import Classifier
from flaxguide.evaluate.metrics import conditional_accuracy
from flaxguide.model.linen import build_model
from flaxguide.training.linen import create_train_state


def judge_that_always_says(digit: int):
    """A classifier whose only opinion is `digit`: zero weights, and a bias for that class."""
    judge = Classifier(hidden=(4,))
    params = judge.init(jax.random.key(0), jnp.zeros((1, 784)), train=False)
    params = jax.tree.map(jnp.zeros_like, params)
    bias = np.zeros(10, np.float32)
    bias[digit] = 1.0
    params["params"]["Dense_1"]["bias"] = jnp.asarray(bias)
    return judge, params


def test_conditional_accuracy_asks_only_for_the_given_digits():
    config = get_config("quick", encoder_dims=(8,), decoder_dims=(8, 784), latent_dim=2)
    model = build_model(config)
    params = model.init(
        jax.random.key(1), jnp.zeros((1, 784)), jnp.zeros((1,), jnp.int32), jax.random.key(2)
    )
    judge, judge_params = judge_that_always_says(3)
    args = (model, params, judge, judge_params, jax.random.key(3), 5)
    # A run trained on the digit 3 alone, judged by a judge that knows only 3: every sample is
    # right. Asked for all ten digits instead, it could score at most one in ten.
    assert conditional_accuracy(*args, digits=(3,)) == 1.0
    assert conditional_accuracy(*args) == pytest.approx(0.1)


def test_a_bfloat16_run_is_measured_in_float32(mnist_mirror, tmp_path, monkeypatch):
    # Every number of the final measurement (test negative ELBO, -log p(x)) comes from the
    # float32 model, whatever the run trained in: a log-sum-exp over many importance weights
    # is where bfloat16's 8 bits of mantissa would show.
    config = get_config(
        "quick", binarize=True, precision="bfloat16", judge_epochs=1, samples_per_digit=2,
        nll_samples_per_class=2, nll_judged_class_samples=0, nll_test_images=8,
    )  # fmt: skip
    assert build_model(config, config.precision).dtype == jnp.bfloat16  # what it trained in
    train, test = mnist_slices(mnist_mirror, tmp_path, train=256, test=8)
    state = create_train_state(config, jax.random.key(0), steps_per_epoch=1)
    measured = []
    for name in ("evaluate_nelbo", "test_log_likelihood"):
        original = getattr(metrics, name)

        def spy(model, *args, original=original, name=name, **kwargs):
            measured.append((name, jnp.dtype(model.dtype)))
            return original(model, *args, **kwargs)

        monkeypatch.setattr(metrics, name, spy)
    result = metrics.final_metrics(config, state, train, binarize_split(test), [], "quick")
    assert np.isfinite(result["test_nll"]) and np.isfinite(result["test_nelbo"])
    float32 = jnp.dtype(jnp.float32)
    assert measured == [
        ("evaluate_nelbo", float32),
        ("evaluate_nelbo", float32),
        ("test_log_likelihood", float32),
    ]
