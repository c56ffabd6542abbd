"""Plots of data: grids of digit images, training curves, schedules and
benchmark bars.

Each function takes arrays or logged numbers and returns a matplotlib
`Figure`; nothing here knows about models.
[`flaxguide.figures`][flaxguide.figures] draws the model's own figures.
"""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def image_table(
    images: np.ndarray, row_labels=None, col_labels=None
) -> Figure:
    """A `(rows, cols, 28, 28)` array of images as a grid, with optional
    labels."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * 0.6, rows * 0.6), squeeze=False
    )
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r, c], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col_labels is not None and r == 0:
                ax.set_title(col_labels[c], fontsize=8)
            if row_labels is not None and c == 0:
                ax.set_ylabel(
                    row_labels[r],
                    fontsize=8,
                    rotation=0,
                    ha="right",
                    va="center",
                )
    fig.tight_layout(pad=0.2, h_pad=0.1, w_pad=0.1)
    return fig


def image_grid(images: np.ndarray, columns: int = 8) -> Figure:
    """`(N, 28, 28)` images in rows of `columns`."""
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 0.6, rows * 0.6), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image in zip(axes.flat, images, strict=False):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    fig.subplots_adjust(0, 0, 1, 1, 0.05, 0.05)
    return fig


def digit_rows(
    images: np.ndarray, labels: np.ndarray, per_digit: int = 12
) -> Figure:
    """One row per digit 0-9: the first `per_digit` images of each class.

    Args:
        images: `(N, 28, 28)` images, uint8 in `[0, 255]` or float in `[0,
            1]`.
        labels: `(N,)` integer labels.
        per_digit: how many images to show in each row.

    Returns:
        The matplotlib figure; save it with `fig.savefig(path)`.
    """
    fig, axes = plt.subplots(
        10, per_digit, figsize=(per_digit * 0.6, 10 * 0.6)
    )
    for digit in range(10):
        picks = np.flatnonzero(labels == digit)[:per_digit]
        if len(picks) < per_digit:
            raise ValueError(
                f"only {len(picks)} images of digit {digit}, need "
                f"{per_digit}"
            )
        for ax, i in zip(axes[digit], picks, strict=True):
            ax.imshow(images[i], cmap="gray_r")
            ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1, 0.05, 0.05)
    return fig


def curves(history: list[dict]) -> Figure:
    """Train and test loss per epoch, reconstruction and KL on separate
    axes."""
    epochs = [row["epoch"] for row in history]
    fig, (rec, kl) = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, term, title in (
        (rec, "rec", "reconstruction (nats)"),
        (kl, "kl", "KL (nats)"),
    ):
        ax.plot(
            epochs, [row[f"train_{term}"] for row in history], label="train"
        )
        ax.plot(
            epochs, [row[f"test_{term}"] for row in history], label="test"
        )
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def dynamics(history: list[dict]) -> Figure:
    """Per epoch: the logged learning rate, gradient norms, and test loss of
    raw vs EMA params."""
    # Three panels side by side are shown at about half their size: larger
    # type keeps the ticks readable there (at least 9 px on screen).
    with plt.rc_context({"font.size": 15}):
        fig, (lr, norm, ema) = plt.subplots(1, 3, figsize=(12, 3.6))
        _dynamics_panels(history, lr, norm, ema)
        fig.tight_layout()
    return fig


def _dynamics_panels(history: list[dict], lr, norm, ema) -> None:
    epochs = [row["epoch"] for row in history]
    lr.plot(epochs, [row["learning_rate_end"] for row in history])
    lr.set_title("learning rate (logged)", fontsize="medium")
    norm.plot(
        epochs, [row["train_grad_norm"] for row in history], label="mean"
    )
    norm.plot(
        epochs, [row["train_grad_norm_max"] for row in history], label="max"
    )
    norm.set_yscale("log")
    norm.set_title("gradient norm, before clipping", fontsize="medium")
    norm.legend()
    ema.plot(
        epochs,
        [row["test_nelbo"] for row in history],
        label="raw parameters",
    )
    ema.plot(
        epochs,
        [row["test_ema_nelbo"] for row in history],
        label="EMA parameters",
    )
    low = min(row["test_ema_nelbo"] for row in history)
    ema.set_ylim(low - 1, low + 12)
    ema.set_title("test negative ELBO (nats)", fontsize="medium")
    ema.legend()
    for ax in (lr, norm, ema):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)


# --8<-- [start:schedule_plot]
def schedule_plot(schedule, num_steps: int, steps_per_epoch: int) -> Figure:
    """The learning rate at every step, evaluated from the schedule object
    itself."""
    steps = np.arange(num_steps)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.plot(steps / steps_per_epoch, np.asarray(jax.vmap(schedule)(steps)))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
    # --8<-- [end:schedule_plot]


def bench_plot(result: dict) -> Figure:
    """Training throughput of each data path, with the matmul-rate fraction
    on each bar."""
    rows = result["rows"]
    names = [f"{r['path']}\n(batch {r['batch_size']})" for r in rows]
    rates = [r["examples_per_second"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bars = ax.barh(names[::-1], rates[::-1])
    for bar, row in zip(bars, rows[::-1], strict=True):
        label = (
            f" {row['examples_per_second']:,.0f}/s, "
            f"{row['fraction_of_matmul']:.0%} of matmul"
        )
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            label,
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("training examples per second")
    ax.set_xlim(0, max(rates) * 1.6)
    fig.tight_layout()
    return fig


def latent_scatter(
    projected: np.ndarray, labels: np.ndarray, shares: float
) -> Figure:
    """Test-set latent means on their first two principal components,
    coloured by class."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    points = ax.scatter(
        *projected.T,
        c=labels,
        cmap="tab10",
        s=2,
        alpha=0.6,
        vmin=-0.5,
        vmax=9.5,
    )
    fig.colorbar(
        points,
        ax=ax,
        ticks=range(10),
        label="digit (the class given to the encoder)",
    )
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(
        f"z means of the test set ({shares:.0%} of their variance shown)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def rate_distortion(rows: list[dict]) -> Figure:
    """The beta sweep: rate (KL, nats) against distortion (reconstruction,
    nats), one point per KL weight."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    rates = [row["test_kl"] for row in rows]
    distortions = [row["test_reconstruction"] for row in rows]
    ax.plot(rates, distortions, "o-")
    for row, x, y in zip(rows, rates, distortions, strict=True):
        ax.annotate(f" beta {row['kl_weight']:g}", (x, y), fontsize=9)
    ax.set_xlabel("rate: KL(q(z | x, c) || p(z)), nats")
    ax.set_ylabel("distortion: -log p(x | z, c), nats")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
