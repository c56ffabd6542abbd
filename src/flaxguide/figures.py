"""The figures the site shows, drawn with matplotlib from real data and real runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: figures are drawn on machines without a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


# --8<-- [start:digit_rows]
def digit_rows(images: np.ndarray, labels: np.ndarray, per_digit: int = 12) -> Figure:
    """One row per digit 0-9: the first `per_digit` images of each class.

    Args:
        images: `(N, 28, 28)` images, uint8 in `[0, 255]` or float in `[0, 1]`.
        labels: `(N,)` integer labels.
        per_digit: how many images to show in each row.

    Returns:
        The matplotlib figure; save it with `fig.savefig(path)`.
    """
    fig, axes = plt.subplots(10, per_digit, figsize=(per_digit * 0.6, 10 * 0.6))
    for digit in range(10):
        picks = np.flatnonzero(labels == digit)[:per_digit]
        if len(picks) < per_digit:
            raise ValueError(f"only {len(picks)} images of digit {digit}, need {per_digit}")
        for ax, i in zip(axes[digit], picks, strict=True):
            ax.imshow(images[i], cmap="gray_r")
            ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1, 0.05, 0.05)
    return fig
    # --8<-- [end:digit_rows]
