"""How good a trained model is: its test negative ELBO, and whether its
samples show the digit asked for (as judged by a separate classifier)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from tqdm import tqdm

from flaxguide.config import Config, seed_for
from flaxguide.data import TEST_BINARIZATION_SEED, steps_per_epoch, to_unit
from flaxguide.evaluate.judge import accuracy, predict, train_classifier
from flaxguide.evaluate.likelihood import create_log_likelihood
from flaxguide.model.linen import VAE, build_model, generate
from flaxguide.training.backend import TrainState
from flaxguide.training.epoch import create_eval_step


# --8<-- [start:conditional_accuracy]
def conditional_accuracy(
    model,
    params,
    judge,
    judge_params,
    key,
    per_digit: int,
    digits=tuple(range(10)),
) -> float:
    """The share of prior samples (temperature 1) that the judge labels as
    the digit asked for.

    `per_digit` samples of each of `digits`: a run trained on some digits is
    asked only for those, which its judge (trained on the same split) has
    seen.

    Args:
        model (VAE): the model.
        params (dict): its variables, e.g. `state.ema_params`.
        judge (Classifier): the classifier that reads the samples.
        judge_params (dict): its trained variables.
        key (jax.Array): the random key of the samples.
        per_digit: samples of each digit.
        digits (Sequence[int]): the digits to ask for.

    Returns:
        The share of samples judged right, from 0 to 1.
    """
    # (len(digits) * n,)
    labels = jnp.repeat(jnp.asarray(digits, dtype=jnp.int32), per_digit)
    images = generate(model, params, key, labels, temperature=1.0)
    return float(jnp.mean(predict(judge, judge_params, images) == labels))


# --8<-- [end:conditional_accuracy]


def evaluate_nelbo(
    model: VAE, params, test, key: jax.Array, num_samples: int = 5
) -> dict:
    """The negative ELBO (KL weight 1) on `test`, averaged over `num_samples`
    draws of z.

    Returns `{"nelbo", "rec", "kl"}` in nats per example.

    Args:
        model: the `VAE`.
        params (dict): its variables, e.g. `state.ema_params`.
        test (tuple): `(images, labels)`, `(N, 784)` uint8 and `(N,)`
            int32; the images are scored as they are (binarise them first
            for a binarised run).
        key: the random key of the draws.
        num_samples: how many draws of z to average over.

    Returns:
        `{"nelbo", "rec", "kl"}`, Python floats, in nats per example.
    """
    eval_step = create_eval_step(model)
    draws = [
        jax.device_get(eval_step(params, *test, k))
        for k in jax.random.split(key, num_samples)
    ]
    return {
        name: float(sum(d[name] for d in draws) / num_samples)
        for name in draws[0]
    }


def test_log_likelihood(
    model: VAE,
    params,
    test,
    key: jax.Array,
    k: int,
    images: int | None = None,
    batch: int = 100,
    *,
    extra: int = 0,
    guess: jax.Array | None = None,
) -> dict:
    """-log p(x) and -log p(x | c) on binarised `test` images (the first
    `images`), in nats, with `k` importance samples per image and class, and
    `extra` more for the class `guess` names for each test image (see
    `flaxguide.evaluate.likelihood`).

    Args:
        model: the `VAE`.
        params (dict): its variables, e.g. `state.ema_params`.
        test (tuple): `(images, labels)`: `(N, 784)` binarised uint8
            images (0 and 255) and `(N,)` int32 labels.
        key: the random key of the importance samples.
        k: importance samples per image and class.
        images: how many test images, from the first; `None` for all.
        batch: test images per jitted call.
        extra: more samples for the guessed class of each image.
        guess: `(N,)` integer classes, one per image; needed if `extra`.

    Returns:
        `{"test_nll", "test_nll_conditional"}` in nats per image, and the
            sample counts and number of images used:
            `"nll_samples_per_class"`, `"nll_judged_class_samples"` and
            `"nll_test_images"`.

    Raises:
        ValueError: `extra` is not 0 and `guess` is missing or short.
    """
    x, labels = to_unit(test[0][:images]), test[1][:images]
    if extra and (guess is None or guess.shape[0] < x.shape[0]):
        raise ValueError(
            "extra samples need a guessed class for each test image (guess)"
        )
    log_likelihood = create_log_likelihood(
        model, k, chunk=math.gcd(k, 100), extra=extra
    )
    unconditional, conditional = [], []
    for start in tqdm(
        range(0, x.shape[0], batch), desc="log-likelihood", leave=False
    ):
        # new draws for every batch of images
        batch_key = jax.random.fold_in(key, start)
        rows = slice(start, start + batch)
        log_px, per_class = log_likelihood(
            params,
            x[rows],
            batch_key,
            None if guess is None else guess[rows],
        )
        own = jnp.take_along_axis(per_class, labels[rows, None], axis=1)
        unconditional.append(log_px)
        conditional.append(own[:, 0])
    return {
        "test_nll": -float(jnp.concatenate(unconditional).mean()),
        "test_nll_conditional": -float(jnp.concatenate(conditional).mean()),
        "nll_samples_per_class": k,
        "nll_judged_class_samples": extra,
        "nll_test_images": int(x.shape[0]),
    }


def final_metrics(
    config: Config,
    state: TrainState,
    train,
    test,
    history: list[dict],
    preset: str,
    digits: tuple[int, ...] | None = None,
    *,
    judge_test=None,
) -> dict:
    """Quality numbers of a finished run, measured on the EMA parameters (and
    the raw ones).

    `digits` are the run's digits (None: all ten); samples are asked for
    those only. The judge's own accuracy is measured on `judge_test` (default
    `test`): a binarised run passes the grey test images, the kind the judge
    learned from and the kind of image it reads (the samples are the
    decoder's pixel probabilities).

    Args:
        config: the run's `Config`.
        state: the final state, as a Linen `TrainState` (see `as_linen`).
        train (tuple): the training split, `(images, labels)`; the judge
            learns from it.
        test (tuple): the test split the run is scored on (binarised for
            a binarised run).
        history: the run's rows, one per epoch, as `fit` returns them.
        preset: the name of the run's preset, recorded.
        digits: the run's digits; `None` for all `config.num_classes`.
        judge_test (tuple | None): the split the judge's accuracy is
            measured on; `None` for `test`.

    Returns:
        What `metrics.json` holds, less `total_seconds`: the test negative
            ELBO, reconstruction and KL (nats), conditional accuracy (EMA
            and raw parameters), the judge's test accuracy, `-log p(x)` for
            a binarised run, train seconds, and `history`.
    """
    digits = (
        tuple(range(config.num_classes)) if digits is None else tuple(digits)
    )
    model = build_model(config)
    key = jax.random.key(seed_for(config, "final_metrics"))
    nelbo_key, judge_key, sample_key = jax.random.split(key, 3)
    # a fourth stream; the other three keep their keys
    nll_key = jax.random.fold_in(key, 1)
    ema = evaluate_nelbo(model, state.ema_params, test, nelbo_key)
    raw = evaluate_nelbo(model, state.params, test, nelbo_key)
    # The judge learns from the run's own training split, so it knows the
    # run's digits.
    judge, judge_params = train_classifier(
        judge_key, train, config.judge_epochs
    )

    def judged(params) -> float:
        return conditional_accuracy(
            model,
            params,
            judge,
            judge_params,
            sample_key,
            config.samples_per_digit,
            digits,
        )

    likelihood = {}
    # only binary pixels make the Bernoulli likelihood a density
    if config.binarize:
        # The judge reads each binarised test image; its class gets the extra
        # samples.
        guess = jax.jit(predict, static_argnums=0)(
            judge, judge_params, test[0]
        )
        likelihood = test_log_likelihood(
            model, state.ema_params, test, nll_key,
            config.nll_samples_per_class, config.nll_test_images,
            extra=config.nll_judged_class_samples, guess=guess,
        )  # fmt: skip
        n = config.nll_test_images  # the images measured (None: all)
        likelihood["nll_judge_reads_true_class"] = float(
            jnp.mean(guess[:n] == test[1][:n])
        )
        likelihood["test_binarization_seed"] = TEST_BINARIZATION_SEED
    return likelihood | {
        "preset": preset,
        "parameters": "ema",
        "test_nelbo": ema["nelbo"],
        "test_reconstruction": ema["rec"],
        "test_kl": ema["kl"],
        "test_nelbo_raw_params": raw["nelbo"],
        "conditional_accuracy": judged(state.ema_params),
        "conditional_accuracy_raw_params": judged(state.params),
        "conditional_accuracy_digits": list(digits),
        "classifier_test_accuracy": accuracy(
            judge,
            judge_params,
            *(test if judge_test is None else judge_test),
        ),
        "steps_per_epoch": steps_per_epoch(config, train),
        "train_seconds": round(sum(row["seconds"] for row in history), 1),
        "history": history,
    }
