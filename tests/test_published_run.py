"""The published run, as its manifest records it: a binarised model scored with a likelihood
estimate whose parts are consistent with each other."""

import json
import math

from conftest import ROOT

MANIFEST = json.loads((ROOT / "docs/figures/manifest.json").read_text())
METRICS = MANIFEST["metrics"]


def test_the_published_run_is_scored_on_binarised_mnist_with_5000_samples_per_image():
    assert MANIFEST["run"]["config"]["binarize"] is True
    assert METRICS["nll_test_images"] == 10_000  # the whole test set
    # Importance samples per image: some for every class, more for the class the judge reads.
    assert 10 * METRICS["nll_samples_per_class"] + METRICS["nll_judged_class_samples"] == 5_000
    assert METRICS["test_binarization_seed"] == 0


def test_the_bounds_are_in_order():
    # The importance-weighted estimate is tighter than the ELBO of the same class, and not
    # knowing the class costs at most log 10.
    assert METRICS["test_nll_conditional"] < METRICS["test_nelbo"]
    assert METRICS["test_nll"] <= METRICS["test_nll_conditional"] + math.log(10)
    by_k = [row["nll_conditional"] for row in MANIFEST["iwae_by_k"]]
    assert [row["k"] for row in MANIFEST["iwae_by_k"]] == [1, 10, 100, 1000, 5000]
    assert by_k == sorted(by_k, reverse=True)  # falls as k grows


def test_the_judge_reads_digits_well_enough_to_judge_samples():
    assert METRICS["classifier_test_accuracy"] >= 0.985


def test_the_published_model_reaches_the_quality_bars():
    assert MANIFEST["run"]["preset"] == "full"
    assert METRICS["test_nll"] <= 86.0  # nats, -log p(x), the class marginalised
    assert METRICS["conditional_accuracy"] >= 0.97  # samples show the digit asked for


def test_the_beta_sweep_trades_rate_for_distortion():
    rows = sorted(MANIFEST["beta_sweep"], key=lambda row: row["kl_weight"])
    rates = [row["test_kl"] for row in rows]
    distortions = [row["test_reconstruction"] for row in rows]
    assert rates == sorted(rates, reverse=True)  # a larger KL weight buys a smaller rate...
    assert distortions == sorted(distortions)  # ...and pays in distortion
