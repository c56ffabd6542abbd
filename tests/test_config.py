"""The typed config: presets, overrides and validation."""

import dataclasses

import pytest

from flaxguide.config import PRESETS, Config, from_dict, get_config, to_dict


def test_presets_differ_only_in_budget_and_the_kl_weight():
    quick, full = PRESETS["quick"], PRESETS["full"]
    assert quick.epochs < full.epochs
    budget = (
        "epochs",
        "judge_epochs",
        "samples_per_digit",
        "save_every",
        "nll_samples_per_class",
        "nll_judged_class_samples",
        "nll_test_images",
        "kl_weight",  # quick trains on the plain ELBO, as the chapters teach it
    )
    assert dataclasses.replace(quick, **{name: getattr(full, name) for name in budget}) == full


def test_overrides_apply_and_none_is_ignored():
    config = get_config("full", epochs=3, seed=None)
    assert config.epochs == 3
    assert config.seed == PRESETS["full"].seed


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose one of"):
        get_config("huge")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("batch_size", 0, "batch_size must be a positive finite number"),
        ("latent_dim", -1, "latent_dim must be a positive finite number"),
        ("learning_rate", 0.0, "learning_rate must be a positive finite number"),
        ("kl_weight", -0.5, "kl_weight must be zero or positive"),
        ("learning_rate", float("inf"), "learning_rate must be a positive finite number"),
        ("learning_rate", float("nan"), "learning_rate must be a positive finite number"),
        ("learning_rate", 5.0, "learning_rate 5.0 is above 1.0"),
        ("kl_weight", float("inf"), "kl_weight must be zero or positive"),
        ("clip_norm", float("inf"), "clip_norm must be a positive finite number"),
        ("decoder_dims", (256, 10), "must end with 784 units"),
        ("binarize", 1, "binarize must be True or False, got 1"),
        ("api", "torch", "api must be 'linen' or 'nnx', got 'torch'"),
        ("nll_test_images", 0, "nll_test_images must be a positive finite number"),
        ("nll_samples_per_class", 0, "nll_samples_per_class must be a positive finite number"),
        ("nll_judged_class_samples", -1, "nll_judged_class_samples must be a whole number"),
        ("nll_judged_class_samples", 2.5, "nll_judged_class_samples must be a whole number"),
    ],
)
def test_bad_values_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        Config(**{field: value})


def test_round_trip_through_json_types():
    config = get_config("quick")
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in to_dict(config).items()}
    assert from_dict(values) == config
    with pytest.raises(ValueError, match="unknown config fields"):
        from_dict({**values, "dropout": 0.1})


def test_a_config_saved_before_binarisation_reads_as_grey():
    values = to_dict(get_config("full"))
    del values["binarize"]
    assert from_dict(values).binarize is False
    assert get_config("full").binarize is True  # new runs train on binarised pixels


def test_a_config_saved_before_the_judged_class_samples_gave_every_class_the_same():
    values = to_dict(get_config("full"))
    del values["nll_judged_class_samples"]
    assert from_dict(values).nll_judged_class_samples == 0  # as it was measured then
    full = get_config("full")
    assert 10 * full.nll_samples_per_class + full.nll_judged_class_samples == 5_000
