"""What the latent code holds: its test-set means, their principal
components, how many dimensions the model uses, and how much of the class
three probes can read from them."""

from __future__ import annotations

import jax
import numpy as np

from flaxguide.data import to_unit
from flaxguide.model.linen import VAE


def latent_means(
    model: VAE, params, images, labels, batch: int = 1000
) -> np.ndarray:
    """The mean of q(z | x, c) for every image, each encoded with its own
    class: (N, D).

    Args:
        model: the `VAE`.
        params (dict): its variables, e.g. `state.ema_params`.
        images (jax.Array): `(N, 784)` uint8 pixels, or float in `[0, 1]`.
        labels (jax.Array): `(N,)` integer classes.
        batch: images encoded per call.

    Returns:
        `(N, latent_dim)` float32 NumPy array of latent means.
    """
    encode = jax.jit(
        lambda x, c: model.apply(params, x, c, method=VAE.encode)[0]
    )
    parts = [
        np.asarray(
            encode(to_unit(images[i : i + batch]), labels[i : i + batch])
        )
        for i in range(0, images.shape[0], batch)
    ]
    return np.concatenate(parts)


# --8<-- [start:pca]
def pca_2d(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`z` projected on its first two principal components, and every
    component's share of the variance (largest first).

    Args:
        z: `(N, D)` latent means.

    Returns:
        `(projected, shares)`: `(N, 2)` coordinates, and `(min(N, D),)`
            variance shares that sum to 1.
    """
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, singular**2 / np.sum(singular**2)


def active_units(z: np.ndarray, threshold: float = 0.01) -> int:
    """Dimensions whose mean moves with the input: Var_x E_q[z_j] >
    `threshold` (Burda et al., 2015). The rest are collapsed onto the prior
    and carry nothing.

    Args:
        z: `(N, D)` latent means, e.g. from `latent_means`.
        threshold: the variance across images a unit must exceed.

    Returns:
        How many of the D dimensions are active.
    """
    return int(np.sum(z.var(axis=0) > threshold))


# --8<-- [end:pca]


# --8<-- [start:probe]
def nearest_mean(fit_z, fit_labels, z, classes: int = 10) -> np.ndarray:
    """The class whose mean over `fit_z` lies nearest each row of `z` (a
    class absent from `fit_labels` is never chosen)."""
    present = np.array(
        [c for c in range(classes) if (fit_labels == c).any()]
    )
    # (present classes, D)
    centroids = np.stack(
        [fit_z[fit_labels == c].mean(axis=0) for c in present]
    )
    # (N, present classes)
    distances = ((z[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return present[distances.argmin(axis=1)]


def softmax_regression(
    fit_z, fit_labels, z, classes: int = 10, steps: int = 200
) -> np.ndarray:
    """The most probable class under a softmax regression fitted to `fit_z`
    by gradient descent (whitened inputs, a small L2 penalty)."""
    centre = fit_z.mean(axis=0)
    variances, axes = np.linalg.eigh(np.cov(fit_z, rowvar=False))
    # decorrelated, unit variance: fast descent
    whiten = axes / np.sqrt(variances + 1e-6)

    # whitened, with a constant column for the bias: (N, D + 1)
    def features(v):
        return np.hstack([(v - centre) @ whiten, np.ones((len(v), 1))])

    x, onehot, l2 = features(fit_z), np.eye(classes)[fit_labels], 1e-4
    # Half the largest eigenvalue of x^T x / n bounds the loss's curvature
    # (Böhning, 1992), so this step size cannot diverge.
    rate = 1.0 / (np.linalg.eigvalsh(x.T @ x / len(x)).max() / 2 + l2)
    weights = np.zeros((x.shape[1], classes))
    for _ in range(steps):
        logits = x @ weights
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)  # softmax: (N, classes)
        weights -= rate * (x.T @ (p - onehot) / len(x) + l2 * weights)
    return (features(z) @ weights).argmax(axis=1)


def nearest_neighbours(
    fit_z, fit_labels, z, classes: int = 10, k: int = 10
) -> np.ndarray:
    """The commonest class among the `k` rows of `fit_z` nearest each row of
    `z` (ties go to the nearer neighbours' class)."""
    predictions = []
    # ~1,000 rows at a time
    for part in np.array_split(z, max(1, len(z) // 1000)):
        # |a - b|^2 without an (N, M, D) array; |a|^2 is the same for every b
        # and is dropped. (rows, M)
        distances = (fit_z**2).sum(axis=1)[None] - 2 * part @ fit_z.T
        # the k nearest, unordered
        nearest = np.argpartition(distances, k, axis=1)[:, :k]
        ranks = np.take_along_axis(distances, nearest, axis=1).argsort(
            axis=1
        )
        # the k nearest, nearest first
        order = np.take_along_axis(nearest, ranks, axis=1)
        # One vote per neighbour, plus a tie-breaker under 1 that favours the
        # nearer ones.
        votes = np.zeros((len(part), classes))
        rows = np.arange(len(part))[:, None]
        np.add.at(
            votes,
            (rows, fit_labels[order]),
            1.0 + 0.1 / (1.0 + np.arange(k)),
        )
        predictions.append(votes.argmax(axis=1))
    return np.concatenate(predictions)


PROBES = {
    "nearest_mean": nearest_mean,
    "logistic_regression": softmax_regression,
    "nearest_neighbours": nearest_neighbours,
}


def class_probe(z: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """How well three probes read the class from `z`, against the same probes
    on shuffled labels.

    Each probe is fitted on a random half of the rows and scored on the other
    half; the order of a test set need not be random, so the halves are drawn
    with `seed`. The same probes are then fitted and scored with the labels
    permuted (same seed), which breaks any link between `z` and the class:
    what they score then is the level that means "no class".

    Args:
        z: `(N, D)` latent codes.
        labels: `(N,)` integer classes, `0..9`.
        seed: Seed of the split and of the permutation.

    Returns:
        `{"scored_images": N - N // 2, "accuracy": {probe: share},
            "permuted_labels": {probe: share}}`, for the probes of
            `PROBES`: `nearest_mean`, `logistic_regression` and
            `nearest_neighbours`.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(z))
    fit, scored = order[: len(z) // 2], order[len(z) // 2 :]
    permuted = rng.permutation(labels)

    def scores(y):
        return {
            name: round(
                float(
                    np.mean(probe(z[fit], y[fit], z[scored]) == y[scored])
                ),
                4,
            )
            for name, probe in PROBES.items()
        }

    return {
        "scored_images": len(scored),
        "accuracy": scores(labels),
        "permuted_labels": scores(permuted),
    }


# --8<-- [end:probe]


def describe(
    model: VAE, params, test
) -> tuple[dict, np.ndarray, np.ndarray]:
    """The numbers above for a run, with the 2-D projection and the labels to
    plot."""
    images, labels = test
    z = latent_means(model, params, images, labels)
    projected, shares = pca_2d(z)
    summary = {
        "latent_dim": int(z.shape[1]),
        "active_units": active_units(z),
        "variance_share_of_first_two_components": round(
            float(shares[:2].sum()), 4
        ),
        "class_probe": class_probe(z, np.asarray(labels)),
    }
    return summary, projected, np.asarray(labels)
