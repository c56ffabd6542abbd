"""Plots of data: grids of digit images, training curves, schedules and
benchmark bars.

Each function takes arrays or logged numbers and returns a matplotlib
`Figure`; nothing here knows about models.
[`flaxguide.figures.draw`][flaxguide.figures.draw] draws the model's own
figures.

A figure with text is drawn twice: for a desktop's column, and with
`narrow=True` for a phone's, where the page shows it about 360 CSS px wide.
Drawn `NARROW_WIDTH` inches wide with text of at least `NARROW_TEXT_PT`
points, its smallest text is 10 * 360 / (72 * 4) = 12.5 CSS px there; the
desktop drawing, shrunk to that width, would show it at 5 to 9 px. Panels
that sit side by side on a desktop stand one above another on a phone.
"""

from __future__ import annotations

import textwrap

import jax
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

NARROW_WIDTH = 4.0  # inches: a phone's column
NARROW_TEXT_PT = 10.0  # the smallest text of a narrow figure
NARROW_DPI = 200  # sharp on a phone's 2x or 3x screen


def image_table(
    images: np.ndarray,
    row_labels=None,
    col_labels=None,
    *,
    narrow: bool = False,
) -> Figure:
    """A `(rows, cols, 28, 28)` array of images as a grid, with optional
    labels; `narrow`, for a phone's column.

    Args:
        images: `(rows, cols, 28, 28)` float pixels in `[0, 1]`.
        row_labels (Sequence | None): one label per row, left of it.
        col_labels (Sequence | None): one label per column, above it.
        narrow: draw it for a phone's column.

    Returns:
        The matplotlib figure.
    """
    rows, cols = images.shape[:2]
    side, text = 0.6, 8  # inches per image, points of the labels
    if narrow:  # the row labels take about one image's width
        side = NARROW_WIDTH / (cols + (row_labels is not None))
        text = NARROW_TEXT_PT
    width = NARROW_WIDTH if narrow else cols * side
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, rows * side), squeeze=False
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
                ax.set_title(col_labels[c], fontsize=text)
            if row_labels is not None and c == 0:
                ax.set_ylabel(
                    row_labels[r],
                    fontsize=text,
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


def curves(history: list[dict], *, narrow: bool = False) -> Figure:
    """Train and test loss per epoch, reconstruction and KL on separate
    axes."""
    epochs = [row["epoch"] for row in history]
    if narrow:
        fig, (rec, kl) = plt.subplots(2, 1, figsize=(NARROW_WIDTH, 5.6))
    else:
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


def dynamics(history: list[dict], *, narrow: bool = False) -> Figure:
    """Per epoch: the logged learning rate, gradient norms, and test loss of
    raw vs EMA params."""
    # On a desktop, three panels side by side are shown at about half their
    # size: larger type keeps the ticks readable there (at least 9 px on
    # screen). On a phone they stand one above another at the usual size.
    font, shape, size = {"font.size": 15}, (1, 3), (12, 3.6)
    if narrow:
        font, shape, size = {}, (3, 1), (NARROW_WIDTH, 8)
    with plt.rc_context(font):
        fig, panels = plt.subplots(*shape, figsize=size)
        _dynamics_panels(history, *panels)
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
def schedule_plot(
    schedule, num_steps: int, steps_per_epoch: int, *, narrow: bool = False
) -> Figure:
    """The learning rate at every step, evaluated from the schedule object
    itself.

    Args:
        schedule (optax.Schedule): the learning rate as a function of the
            step.
        num_steps: how many steps to plot, from step 0.
        steps_per_epoch: steps per epoch; the x axis counts epochs.
        narrow: draw it for a phone's column.

    Returns:
        The matplotlib figure.
    """
    steps = np.arange(num_steps)
    fig, ax = plt.subplots(
        figsize=(NARROW_WIDTH, 2.8) if narrow else (7, 2.8)
    )
    ax.plot(steps / steps_per_epoch, np.asarray(jax.vmap(schedule)(steps)))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --8<-- [end:schedule_plot]


def bench_plot(result: dict, *, narrow: bool = False) -> Figure:
    """Training throughput of each data path, with the matmul-rate fraction
    on each bar."""
    rows = result["rows"][::-1]  # the first row at the top
    rates = [row["examples_per_second"] for row in rows]
    # a no-break space: "(batch 128)" stays whole when a line is wrapped
    names = [
        f"{row['path']} (batch\N{NO-BREAK SPACE}{row['batch_size']})"
        for row in rows
    ]
    numbers = [
        f" {row['examples_per_second']:,.0f}/s, "
        f"{row['fraction_of_matmul']:.0%} of matmul"
        for row in rows
    ]
    if narrow:  # each name above its bar, the numbers on two lines after it
        fig, ax = plt.subplots(figsize=(NARROW_WIDTH, 1.1 * len(rows) + 0.7))
        bars = ax.barh(range(len(rows)), rates, height=0.35)
        for bar, name in zip(bars, names, strict=True):
            top = bar.get_y() + bar.get_height()
            name = textwrap.fill(name, 44)  # 44 characters fit 4 inches
            ax.text(
                0, top + 0.05, name, va="bottom", fontsize=NARROW_TEXT_PT
            )
        numbers = [label.replace(", ", "\n ") for label in numbers]
        size, stretch = NARROW_TEXT_PT, 2.0
        ax.set_yticks([])
        ax.set_ylim(-0.4, len(rows) - 0.1)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    else:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        bars = ax.barh([name.replace(" (", "\n(") for name in names], rates)
        size, stretch = 8, 1.6
    for bar, label in zip(bars, numbers, strict=True):
        middle = bar.get_y() + bar.get_height() / 2
        ax.text(bar.get_width(), middle, label, va="center", fontsize=size)
    ax.set_xlabel("training examples per second")
    ax.set_xlim(0, max(rates) * stretch)
    fig.tight_layout()
    return fig


def latent_scatter(
    projected: np.ndarray,
    labels: np.ndarray,
    shares: float,
    *,
    narrow: bool = False,
) -> Figure:
    """Test-set latent means on their first two principal components,
    coloured by class."""
    fig, ax = plt.subplots(
        figsize=(NARROW_WIDTH, 4.6) if narrow else (5.6, 4.6)
    )
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
    shown = f"({shares:.0%} of their variance shown)"
    gap = "\n" if narrow else " "  # two lines fit a phone
    ax.set_title(f"z means of the test set{gap}{shown}", fontsize=10)
    fig.tight_layout()
    return fig


def rate_distortion(rows: list[dict], *, narrow: bool = False) -> Figure:
    """The beta sweep: rate (KL, nats) against distortion (reconstruction,
    nats), one point per KL weight."""
    fig, ax = plt.subplots(
        figsize=(NARROW_WIDTH, 3.4) if narrow else (5.6, 3.6)
    )
    rates = [row["test_kl"] for row in rows]
    distortions = [row["test_reconstruction"] for row in rows]
    ax.plot(rates, distortions, "o-")
    for row, x, y in zip(rows, rates, distortions, strict=True):
        ax.annotate(
            f" beta {row['kl_weight']:g}",
            (x, y),
            fontsize=NARROW_TEXT_PT if narrow else 9,
        )
    if narrow:  # room for the labels of the outermost points
        ax.margins(x=0.25, y=0.12)
    ax.set_xlabel("rate: KL(q(z | x, c) || p(z)), nats")
    ax.set_ylabel("distortion: -log p(x | z, c), nats")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
