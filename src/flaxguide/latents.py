"""What the latent code holds: its test-set means, their principal components, how many
dimensions the model uses, and how much of the class a simple probe can read from them."""

from __future__ import annotations

import jax
import numpy as np

from flaxguide.data import to_unit
from flaxguide.models import VAE


def latent_means(model: VAE, params, images, labels, batch: int = 1000) -> np.ndarray:
    """The mean of q(z | x, c) for every image, each encoded with its own class: (N, D)."""
    encode = jax.jit(lambda x, c: model.apply(params, x, c, method=VAE.encode)[0])
    parts = [
        np.asarray(encode(to_unit(images[i : i + batch]), labels[i : i + batch]))
        for i in range(0, images.shape[0], batch)
    ]
    return np.concatenate(parts)


# --8<-- [start:pca]
def pca_2d(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`z` projected on its first two principal components, and every component's share of
    the variance (largest first)."""
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, singular**2 / np.sum(singular**2)


def active_units(z: np.ndarray, threshold: float = 0.01) -> int:
    """Dimensions whose mean moves with the input: Var_x E_q[z_j] > `threshold` (Burda et al.,
    2015). The rest are collapsed onto the prior and carry nothing."""
    return int(np.sum(z.var(axis=0) > threshold))


def class_probe_accuracy(z: np.ndarray, labels: np.ndarray) -> float:
    """How well the class can be read from `z` by the nearest class mean, fitted on the first
    half and scored on the second (chance is about 10%)."""
    labels = np.asarray(labels)
    half = z.shape[0] // 2
    centroids = np.stack([z[:half][labels[:half] == c].mean(axis=0) for c in range(10)])
    distances = ((z[half:, None, :] - centroids[None]) ** 2).sum(axis=-1)  # (N - half, 10)
    return float(np.mean(distances.argmin(axis=1) == labels[half:]))
    # --8<-- [end:pca]


def describe(model: VAE, params, test) -> tuple[dict, np.ndarray, np.ndarray]:
    """The numbers above for a run, with the 2-D projection and the labels to plot."""
    images, labels = test
    z = latent_means(model, params, images, labels)
    projected, shares = pca_2d(z)
    summary = {
        "latent_dim": int(z.shape[1]),
        "active_units": active_units(z),
        "variance_share_of_first_two_components": round(float(shares[:2].sum()), 4),
        "class_probe_accuracy": round(class_probe_accuracy(z, np.asarray(labels)), 4),
    }
    return summary, projected, np.asarray(labels)
