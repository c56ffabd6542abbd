"""The figures the site shows, drawn with matplotlib from real data and real runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: figures are drawn on machines without a display

import json
from pathlib import Path

import jax
import jax.numpy as jnp
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


def image_grid(images: np.ndarray, columns: int = 8) -> Figure:
    """`(N, 28, 28)` images in rows of `columns`."""
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.6, rows * 0.6), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image in zip(axes.flat, images, strict=False):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    fig.subplots_adjust(0, 0, 1, 1, 0.05, 0.05)
    return fig


def image_table(images: np.ndarray, row_labels=None, col_labels=None) -> Figure:
    """A `(rows, cols, 28, 28)` array of images as a grid, with optional labels."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6), squeeze=False)
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
                ax.set_ylabel(row_labels[r], fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.2, h_pad=0.1, w_pad=0.1)
    return fig


# --8<-- [start:sample_rows]
def sample_rows(model, params, key, per_digit: int = 12, temperature: float = 1.0) -> Figure:
    """One row per digit: `per_digit` samples from the prior, decoded with that class."""
    from flaxguide.models import generate

    labels = jnp.repeat(jnp.arange(10, dtype=jnp.int32), per_digit)
    images = generate(model, params, key, labels, temperature)
    return image_table(np.asarray(images).reshape(10, per_digit, 28, 28), row_labels=range(10))
    # --8<-- [end:sample_rows]


def reconstructions(model, params, images, labels, count: int = 12) -> Figure:
    """Test images (top row of each pair) above their reconstructions from the latent mean."""
    from flaxguide.models import VAE
    from flaxguide.train import to_unit

    x = to_unit(jnp.asarray(images[:count].reshape(count, -1)))
    c = jnp.asarray(labels[:count])
    mean, _ = model.apply(params, x, c, method=VAE.encode)
    recon = jax.nn.sigmoid(model.apply(params, mean, c, method=VAE.decode))
    grid = np.stack([np.asarray(x), np.asarray(recon)]).reshape(2, count, 28, 28)
    return image_table(grid, row_labels=["test", "recon"])


# --8<-- [start:style_transfer]
def style_transfer(model, params, images, labels, count: int = 6) -> Figure:
    """Encode test images with their own label, then decode each latent with every class."""
    from flaxguide.models import VAE
    from flaxguide.train import to_unit

    x = to_unit(jnp.asarray(images[:count].reshape(count, -1)))
    mean, _ = model.apply(params, x, jnp.asarray(labels[:count]), method=VAE.encode)
    z = jnp.repeat(mean, 10, axis=0)  # each latent once per class: (count * 10, latent)
    c = jnp.tile(jnp.arange(10, dtype=jnp.int32), count)
    out = jax.nn.sigmoid(model.apply(params, z, c, method=VAE.decode)).reshape(count, 10, 28, 28)
    grid = np.concatenate([np.asarray(x).reshape(count, 1, 28, 28), np.asarray(out)], axis=1)
    return image_table(grid, col_labels=["input", *map(str, range(10))])
    # --8<-- [end:style_transfer]


def interpolation(model, params, images, labels, pairs, steps: int = 10) -> Figure:
    """Decode points on the straight line between the latents of two test images (same class)."""
    from flaxguide.models import VAE
    from flaxguide.train import to_unit

    rows = []
    for a, b in pairs:
        x = to_unit(jnp.asarray(images[[a, b]].reshape(2, -1)))
        c = jnp.asarray(labels[[a, b]])
        mean, _ = model.apply(params, x, c, method=VAE.encode)
        t = jnp.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
        z = (1.0 - t) * mean[0][None, :] + t * mean[1][None, :]
        cls = jnp.full((steps,), labels[a], jnp.int32)
        rows.append(np.asarray(jax.nn.sigmoid(model.apply(params, z, cls, method=VAE.decode))))
    return image_table(np.stack(rows).reshape(len(pairs), steps, 28, 28))


def curves(history: list[dict]) -> Figure:
    """Train and test loss per epoch, reconstruction and KL on separate axes."""
    epochs = [row["epoch"] for row in history]
    fig, (rec, kl) = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, term, title in ((rec, "rec", "reconstruction (nats)"), (kl, "kl", "KL (nats)")):
        ax.plot(epochs, [row[f"train_{term}"] for row in history], label="train")
        ax.plot(epochs, [row[f"test_{term}"] for row in history], label="test")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def bench_plot(result: dict) -> Figure:
    """Training throughput of each data path, with the matmul-rate fraction on each bar."""
    rows = result["rows"]
    names = [f"{r['path']}\n(batch {r['batch_size']})" for r in rows]
    rates = [r["examples_per_second"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bars = ax.barh(names[::-1], rates[::-1])
    for bar, row in zip(bars, rows[::-1], strict=True):
        label = f" {row['examples_per_second']:,.0f}/s, {row['fraction_of_matmul']:.0%} of matmul"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center", fontsize=8)
    ax.set_xlabel("training examples per second")
    ax.set_xlim(0, max(rates) * 1.6)
    fig.tight_layout()
    return fig


# --8<-- [start:schedule_plot]
def schedule_plot(schedule, num_steps: int, steps_per_epoch: int) -> Figure:
    """The learning rate at every step, evaluated from the schedule object itself."""
    steps = np.arange(num_steps)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.plot(steps / steps_per_epoch, np.asarray(jax.vmap(schedule)(steps)))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
    # --8<-- [end:schedule_plot]


def dynamics(history: list[dict]) -> Figure:
    """Per epoch: the logged learning rate, gradient norms, and test loss of raw vs EMA params."""
    epochs = [row["epoch"] for row in history]
    fig, (lr, norm, ema) = plt.subplots(1, 3, figsize=(12, 3.2))
    lr.plot(epochs, [row["learning_rate_end"] for row in history])
    lr.set_title("learning rate (logged)")
    norm.plot(epochs, [row["train_grad_norm"] for row in history], label="mean")
    norm.plot(epochs, [row["train_grad_norm_max"] for row in history], label="max")
    norm.set_yscale("log")
    norm.set_title("global gradient norm, before clipping")
    norm.legend()
    ema.plot(epochs, [row["test_nelbo"] for row in history], label="raw parameters")
    ema.plot(epochs, [row["test_ema_nelbo"] for row in history], label="EMA parameters")
    low = min(row["test_ema_nelbo"] for row in history)
    ema.set_ylim(low - 1, low + 12)
    ema.set_title("test negative ELBO (nats)")
    ema.legend()
    for ax in (lr, norm, ema):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _pairs_of_same_class(labels: np.ndarray, digits=(2, 4, 7)) -> list[tuple[int, int]]:
    return [tuple(np.flatnonzero(labels == d)[:2]) for d in digits]


def draw_all(run_dir: Path | None, out: Path, bench: Path | None = None) -> dict[str, str]:
    """Draw every figure the site shows into `out`; returns {file name: what it shows}."""
    from flaxguide.data import load_mnist
    from flaxguide.optim import learning_rate_schedule
    from flaxguide.run import load_trained

    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist("test")
    figures = {
        "mnist-test-digits.png": (
            "the first 12 MNIST test images of each digit",
            digit_rows(images, labels),
        )
    }
    if run_dir is not None:
        config, model, state, metrics = load_trained(run_dir)
        # The run's full metrics, history included, travel with the figures they explain.
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        params = state.ema_params
        key = jax.random.key(config.seed + 2)
        spe = metrics["steps_per_epoch"]
        figures |= {
            "samples-raw.png": (
                "the same samples from the raw (not averaged) parameters",
                sample_rows(model, state.params, key),
            ),
            "schedule.png": (
                "the learning-rate schedule of the run, from its schedule object",
                schedule_plot(learning_rate_schedule(config, spe), config.epochs * spe, spe),
            ),
            "dynamics.png": (
                "logged learning rate, gradient norms, raw vs EMA test loss",
                dynamics(metrics["history"]),
            ),
            "samples.png": (
                "12 samples per digit from the prior (temperature 1)",
                sample_rows(model, params, key),
            ),
            "reconstructions.png": (
                "test images and their reconstructions",
                reconstructions(model, params, images, labels),
            ),
            "style-transfer.png": (
                "one test image's latent decoded as every digit",
                style_transfer(model, params, images, labels),
            ),
            "interpolation.png": (
                "decoded points between two latents of the same digit",
                interpolation(model, params, images, labels, _pairs_of_same_class(labels)),
            ),
            "curves.png": ("train and test loss per epoch", curves(metrics["history"])),
        }
    if bench is not None:
        figures["bench.png"] = (
            "training throughput of each data path",
            bench_plot(json.loads(Path(bench).read_text())),
        )
    written = {}
    for name, (what, fig) in figures.items():
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written[name] = what
    return written
