"""What the latent holds: PCA, active units and the class probe, on data whose answer is known."""

import numpy as np

from flaxguide.latents import active_units, class_probe_accuracy, pca_2d


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


def test_the_probe_reads_a_class_that_is_there_and_not_one_that_is_not():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, size=4000)
    centres = rng.normal(size=(10, 8)) * 5.0
    with_class = centres[labels] + rng.normal(size=(4000, 8))
    without = rng.normal(size=(4000, 8))
    assert class_probe_accuracy(with_class, labels) > 0.95
    assert class_probe_accuracy(without, labels) < 0.2  # chance is 10%
