"""What the latent holds: PCA, active units and the class probes, on data whose answer is known."""

import numpy as np
import pytest

from flaxguide.evaluate.latents import PROBES, active_units, class_probe, nearest_mean, pca_2d

N = 4000  # rows of each synthetic z; 2,000 are scored, so one standard error at 10% is 0.7%


def test_pca_finds_the_direction_of_largest_variance():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 5)) * np.array([5.0, 2.0, 0.1, 0.1, 0.1])
    projected, shares = pca_2d(z)
    assert projected.shape == (2000, 2)
    assert shares[0] > 0.8 and np.isclose(shares.sum(), 1.0)
    # The first component is the first axis (up to sign).
    assert abs(np.corrcoef(projected[:, 0], z[:, 0])[0, 1]) > 0.99


def test_active_units_count_the_dimensions_that_move():
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(size=(500, 3)), 0.01 * rng.normal(size=(500, 4))], axis=1)
    assert active_units(z) == 3  # the last four have collapsed onto the prior


@pytest.fixture
def labels():
    return np.random.default_rng(2).integers(0, 10, size=N)


def test_every_probe_reads_a_class_that_is_there(labels):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(10, 8))[labels] * 5.0 + rng.normal(size=(N, 8))  # ten clusters
    probe = class_probe(z, labels)
    assert probe["scored_images"] == N // 2
    assert set(probe["accuracy"]) == set(probe["permuted_labels"]) == set(PROBES)
    assert min(probe["accuracy"].values()) > 0.95
    # Permuted labels break the link: every probe falls to chance, however clear the clusters.
    assert all(abs(share - 0.1) < 0.03 for share in probe["permuted_labels"].values())


def test_no_probe_reads_a_class_that_is_not_there(labels):
    z = np.random.default_rng(4).normal(size=(N, 8))  # drawn without looking at the labels
    probe = class_probe(z, labels)
    for name in PROBES:
        assert abs(probe["accuracy"][name] - 0.1) < 0.03, name
        assert abs(probe["accuracy"][name] - probe["permuted_labels"][name]) < 0.04, name


def test_only_the_neighbours_read_a_class_held_in_the_spread_alone(labels):
    # Every class is centred on 0 and differs only in its scale: no class mean, and no
    # hyperplane, tells them apart, but the density around a point does.
    scales = np.geomspace(0.3, 3.0, 10)
    z = np.random.default_rng(5).normal(size=(N, 8)) * scales[labels, None]
    probe = class_probe(z, labels)
    assert probe["accuracy"]["nearest_mean"] < 0.15
    assert (
        probe["accuracy"]["nearest_neighbours"]
        > probe["permuted_labels"]["nearest_neighbours"] + 0.1
    )


def test_a_random_split_is_not_fooled_by_rows_in_order(labels):
    # The rows come in two halves whose class means sit on opposite sides of 0. Fitted on the
    # first half and scored on the second, the nearest class mean names the wrong class almost
    # every time, far below chance; on random halves no probe scores below the permuted labels.
    rng = np.random.default_rng(6)
    sides = np.where(np.arange(N) < N // 2, 1.0, -1.0)[:, None]  # +1, then -1: (N, 1)
    z = sides * rng.normal(size=(10, 8))[labels] + rng.normal(size=(N, 8))
    first, second = slice(None, N // 2), slice(N // 2, None)
    in_order = np.mean(nearest_mean(z[first], labels[first], z[second]) == labels[second])
    assert in_order < 0.02
    probe = class_probe(z, labels)
    for name in PROBES:
        assert probe["accuracy"][name] > probe["permuted_labels"][name] - 0.02, name


def test_the_split_and_the_permutation_are_fixed_by_the_seed(labels):
    z = np.random.default_rng(7).normal(size=(N, 8))
    assert class_probe(z, labels, seed=0) == class_probe(z, labels, seed=0)
    assert class_probe(z, labels, seed=0) != class_probe(z, labels, seed=1)


def test_the_nearest_class_mean_never_names_a_class_it_was_not_fitted_on():
    # Fitted on the digits 5 to 9 only: an empty class has no mean, and must not win.
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(5, 10), 20)
    z = rng.normal(size=(10, 4))[labels] * 3 + rng.normal(size=(100, 4))
    found = nearest_mean(z, labels, z)
    assert set(found) <= set(range(5, 10)) and np.mean(found == labels) > 0.9
