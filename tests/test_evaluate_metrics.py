"""Quality numbers: conditional accuracy asks for the run's own digits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flaxguide.config import get_config
from flaxguide.evaluate.judge import Classifier
from flaxguide.evaluate.metrics import conditional_accuracy
from flaxguide.model.linen import build_model


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
