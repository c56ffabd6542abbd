"""The figures the site shows, drawn from a trained model and real MNIST test
images.

[`draw_all`][flaxguide.figures.draw.draw_all] draws every one of them for
`python -m flaxguide figures`; the grids and curves themselves come from
[`flaxguide.figures.plots`][flaxguide.figures.plots].
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

from flaxguide.config import seed_for
from flaxguide.data import binarize_split, load_mnist, prepare, to_unit
from flaxguide.evaluate.latents import describe
from flaxguide.evaluate.likelihood import estimate_by_k
from flaxguide.figures.manifest import carry_tables
from flaxguide.figures.playground import export_playground, restyle
from flaxguide.figures.plots import (
    NARROW_DPI,
    bench_plot,
    curves,
    digit_rows,
    dynamics,
    image_table,
    latent_scatter,
    rate_distortion,
    schedule_plot,
)
from flaxguide.model.linen import VAE, generate
from flaxguide.provenance import provenance
from flaxguide.run.directory import compare_runs, read_metrics
from flaxguide.run.record import Run, read_run
from flaxguide.run.restore import load_trained
from flaxguide.training.optim import learning_rate_schedule


# --8<-- [start:sample_rows]
def sample_rows(
    model,
    params,
    key,
    per_digit: int = 12,
    temperature: float = 1.0,
    *,
    narrow: bool = False,
) -> Figure:
    """One row per digit: `per_digit` samples from the prior, decoded with
    that class (`narrow`: drawn for a phone).

    Args:
        model (VAE): the model.
        params (dict): its variables, e.g. `state.ema_params`.
        key (jax.Array): the random key of the samples.
        per_digit: samples in each row.
        temperature: the prior's standard deviation.
        narrow: draw it for a phone's column.

    Returns:
        The matplotlib figure: ten rows, digits 0 to 9.
    """
    # 0,0,...,1,1,...: row-major
    labels = jnp.repeat(jnp.arange(10, dtype=jnp.int32), per_digit)
    # (10 * per_digit, 28, 28)
    images = generate(model, params, key, labels, temperature)
    return image_table(
        np.asarray(images).reshape(10, per_digit, 28, 28),
        row_labels=range(10),
        narrow=narrow,
    )


# --8<-- [end:sample_rows]


def reconstructions(
    model, params, images, labels, count: int = 12, *, narrow: bool = False
) -> Figure:
    """Test images (top row of each pair) above their reconstructions from
    the latent mean."""
    x = to_unit(jnp.asarray(images[:count].reshape(count, -1)))
    c = jnp.asarray(labels[:count])
    # The latent mean, not a sample: the reconstruction shows what the code
    # holds, without noise.
    mean, _ = model.apply(params, x, c, method=VAE.encode)
    # (count, 784)
    recon = jax.nn.sigmoid(model.apply(params, mean, c, method=VAE.decode))
    grid = np.stack([np.asarray(x), np.asarray(recon)]).reshape(
        2, count, 28, 28
    )
    return image_table(grid, row_labels=["test", "recon"], narrow=narrow)


# --8<-- [start:style_transfer]
def style_transfer(
    model, params, images, labels, count: int = 6, *, narrow: bool = False
) -> Figure:
    """Encode test images with their own label, then decode each latent with
    every class (`narrow`: drawn for a phone).

    Args:
        model (VAE): the model.
        params (dict): its variables, e.g. `state.ema_params`.
        images (np.ndarray): `(N, 28, 28)` or `(N, 784)` pixels, uint8 or
            float in `[0, 1]`.
        labels (np.ndarray): `(N,)` integer classes.
        count: how many images, from the first: one row each.
        narrow: draw it for a phone's column.

    Returns:
        The matplotlib figure: each input, then its latent decoded as each
            digit 0 to 9.
    """
    x = to_unit(jnp.asarray(images[:count].reshape(count, -1)))
    # each image as every class: (count, 10, 28, 28)
    out = jax.vmap(lambda xi, ci: restyle(model, params, xi, ci))(
        x, jnp.asarray(labels[:count])
    )
    grid = np.concatenate(
        [np.asarray(x).reshape(count, 1, 28, 28), np.asarray(out)], axis=1
    )
    labels = ["input", *map(str, range(10))]
    return image_table(grid, col_labels=labels, narrow=narrow)


# --8<-- [end:style_transfer]


def interpolation(
    model, params, images, labels, pairs, steps: int = 10
) -> Figure:
    """Decode points on the straight line between the latents of two test
    images (same class)."""
    rows = []
    for a, b in pairs:
        x = to_unit(jnp.asarray(images[[a, b]].reshape(2, -1)))
        c = jnp.asarray(labels[[a, b]])
        mean, _ = model.apply(params, x, c, method=VAE.encode)
        t = jnp.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
        # $z_t = (1 - t) z_a + t z_b$, one row per t: (steps, latent_dim)
        z = (1.0 - t) * mean[0][None, :] + t * mean[1][None, :]
        # both ends are this class
        cls = jnp.full((steps,), labels[a], jnp.int32)
        rows.append(
            np.asarray(
                jax.nn.sigmoid(
                    model.apply(params, z, cls, method=VAE.decode)
                )
            )
        )
    return image_table(np.stack(rows).reshape(len(pairs), steps, 28, 28))


def _pairs_of_same_class(
    labels: np.ndarray, digits=(2, 4, 7)
) -> list[tuple[int, int]]:
    return [tuple(np.flatnonzero(labels == d)[:2]) for d in digits]


def _both(draw, *args) -> tuple[Figure, Figure]:
    """`draw(*args)` for a desktop's column and for a phone's."""
    return draw(*args), draw(*args, narrow=True)


def narrow_name(name: str) -> str:
    """The file of a figure's phone drawing: `samples.png` ->
    `samples-narrow.png` (the site offers it to narrow screens)."""
    return name.removesuffix(".png") + "-narrow.png"


def draw_all(
    run: Run | Path | None, out: Path, bench: Path | None = None
) -> dict[str, str]:
    """Draw every figure the site shows into `out`; returns {file name: what
    it shows}.

    A figure with text is drawn twice, for a desktop's column and for a
    phone's (`narrow_name`); a grid of digits alone reads at any width.
    `run` is a finished run (its record, or its directory), or None for the
    figures of MNIST and the benchmark alone.

    Args:
        run: a finished run's record or directory, or `None`.
        out: the folder the figures go in, created if missing; a run's
            `metrics.json` is written there too.
        bench: the JSON file of a benchmark's results, for `bench.png`;
            `None` for none.

    Returns:
        `{file name: what it shows}` for every PNG written.

    Raises:
        RunError: `run` is not a run, or has no checkpoint or no
            `metrics.json`.
        CheckpointError: `run`'s last epoch has no checkpoint (it has not
            finished), or its checkpoint is damaged.
    """
    if isinstance(run, (str, Path)):
        run = read_run(run)
    return _draw(_trained(run) if run is not None else None, out, bench)


def _trained(run: Run) -> tuple:
    """A finished run's record, model, final state and metrics, restored
    once for every figure and measurement drawn from it."""
    model, state = load_trained(run)
    return run, model, state, read_metrics(run.directory)


def _draw(trained: tuple | None, out: Path, bench: Path | None) -> dict:
    """`draw_all` of a run restored by `_trained` (or None)."""
    out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist("test")
    # {name: (what it shows, the desktop's figure, the phone's or None)}
    figures = {
        "mnist-test-digits.png": (
            "the first 12 MNIST test images of each digit",
            digit_rows(images, labels),
            None,
        )
    }
    if trained is not None:
        run, model, state, metrics = trained
        config = run.config
        # the model reads binary pixels: show it the test set it is scored on
        if config.binarize:
            images = np.asarray(
                binarize_split(prepare(images, labels))[0]
            ).reshape(-1, 28, 28)
        # The run's full metrics, history included, travel with the figures
        # they explain.
        (out / "metrics.json").write_text(
            json.dumps(metrics, indent=2) + "\n"
        )
        # what every published number is measured on
        params = state.ema_params
        # One key for both drawings of the samples: the phone's shows the
        # same digits.
        key = jax.random.key(seed_for(config, "figures"))
        # the schedule's unit, as the run trained it
        steps = run.steps_per_epoch
        schedule = learning_rate_schedule(config, steps)
        pairs = _pairs_of_same_class(labels)
        figures |= {
            "schedule.png": (
                "the learning-rate schedule of the run, from its "
                "schedule object",
                *_both(
                    schedule_plot, schedule, config.epochs * steps, steps
                ),
            ),
            "dynamics.png": (
                "logged learning rate, gradient norms, raw vs EMA test loss",
                *_both(dynamics, metrics["history"]),
            ),
            "samples.png": (
                "12 samples per digit from the prior (temperature 1)",
                *_both(sample_rows, model, params, key),
            ),
            "reconstructions.png": (
                "test images and their reconstructions",
                *_both(reconstructions, model, params, images, labels),
            ),
            "style-transfer.png": (
                "one test image's latent decoded as every digit",
                *_both(style_transfer, model, params, images, labels),
            ),
            "interpolation.png": (
                "decoded points between two latents of the same digit",
                interpolation(model, params, images, labels, pairs),
                None,
            ),
            "curves.png": (
                "train and test loss per epoch",
                *_both(curves, metrics["history"]),
            ),
        }
        summary, projected, classes = describe(
            model, params, prepare(images, labels)
        )
        shares = summary["variance_share_of_first_two_components"]
        figures["latent-pca.png"] = (
            "test-set latent means on their first two principal "
            "components, by class",
            *_both(latent_scatter, projected, classes, shares),
        )
    if bench is not None:
        figures["bench.png"] = (
            "training throughput of each data path",
            *_both(bench_plot, json.loads(Path(bench).read_text())),
        )
    written = {}
    for name, (what, wide, narrow) in figures.items():
        written |= save_figures(out, name, what, wide, narrow)
    return written


def save_figures(
    out: Path, name: str, what: str, wide: Figure, narrow: Figure | None
) -> dict[str, str]:
    """Save a figure's desktop drawing as `out / name` and its phone drawing,
    if any, beside it; returns {file name: what it shows}."""
    save_figure(wide, out / name)
    plt.close(wide)
    if narrow is None:
        return {name: what}
    save_figure(narrow, out / narrow_name(name), dpi=NARROW_DPI)
    plt.close(narrow)
    return {name: what, narrow_name(name): f"{what}, drawn for a phone"}


DPI = 100  # pixels per inch of every saved figure


def smallest_text_pt(fig: Figure) -> float:
    """The size, in points, of the smallest piece of visible text in `fig`
    (after drawing it)."""
    fig.canvas.draw()  # tick labels exist only once the figure is drawn
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text()
    ]
    return min(sizes, default=0.0)


def save_figure(fig: Figure, path: Path, dpi: int = DPI) -> None:
    """Save `fig` as a PNG on a white background (it stays legible in dark
    mode), recording its smallest text size in the file, so a test can check
    it at the size a page shows it."""
    metadata = {
        "flaxguide:smallest-text-pt": f"{smallest_text_pt(fig):.1f}",
        "flaxguide:dpi": str(dpi),
    }
    fig.savefig(path, dpi=dpi, facecolor="white", metadata=metadata)


def draw_with_manifest(
    run: Run | None,
    out: Path,
    bench: Path | None,
    compare: list[Run],
    command: str,
    twins: list[Run] = (),
    sweep: list[Run] = (),
    tables_from: dict | None = None,
) -> dict[str, str]:
    """`draw_all`, then `manifest.json` beside the figures (and
    `ablation.json` when `compare` names runs to tabulate side by side).
    `twins`, runs that differ in their Flax API, seed, pixels or KL weight,
    are tabulated in the manifest; `sweep`, runs that differ in their KL
    weight, are tabulated and plotted. Each table holds the runs it names,
    and only those, so that it compares like with like even when `run`
    trained for longer. `tables_from`, an earlier manifest, supplies the
    tables whose runs are not named this time (see `carry_tables`). Each run
    comes as its record, read once by the caller."""
    start = time.perf_counter()
    trained = _trained(run) if run is not None else None
    written = _draw(trained, out, bench)
    # The manifest says how the figures were made: the command, the code and
    # versions that drew them, and the run's own record and final numbers
    # (which the pages quote from it).
    manifest = {
        "command": command,
        "figures": written,
        "figures_seconds": round(time.perf_counter() - start, 1),
        "figures_drawn": provenance(),
    }
    if trained is not None:
        metrics = trained[-1]
        manifest["run"] = {
            k: v for k, v in run.to_json().items() if k != "format"
        }
        # The per-epoch history stays in metrics.json beside it; the manifest
        # keeps the totals.
        manifest["metrics"] = {
            k: v for k, v in metrics.items() if k != "history"
        }
    if compare:  # the ablation table of chapter 5, one row per run
        comparison = compare_runs(compare)
        (out / "ablation.json").write_text(
            json.dumps(comparison, indent=2) + "\n"
        )
        manifest["ablation"] = [str(row.directory) for row in compare]
    if trained is not None:
        manifest |= _run_measurements(*trained[:3], out)
    if sweep:  # the beta sweep: one row per KL weight
        manifest["beta_sweep"] = [_sweep_row(row) for row in sweep]
    if twins:  # Linen and NNX, like with like: one evaluation code for both
        manifest["twins"] = compare_runs(twins)
    if tables_from is not None:
        manifest = carry_tables(manifest, tables_from)
    # the sweep's figure, from its table, measured now or carried
    if "beta_sweep" in manifest:
        manifest["figures"] |= save_figures(
            out,
            "beta-sweep.png",
            "rate against distortion for each KL weight",
            *_both(rate_distortion, manifest["beta_sweep"]),
        )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return written


def _binary_test() -> tuple:
    """The test set as every binarised run is scored on it."""
    return binarize_split(prepare(*load_mnist("test")))


def _run_measurements(run: Run, model, state, out: Path) -> dict:
    """What the manifest measures on the run itself: the latent code, and for
    a binarised run the importance-weighted estimate against k; and the
    playground's weights, exported beside the figures."""
    config = run.config
    test = (
        _binary_test() if config.binarize else prepare(*load_mnist("test"))
    )
    found = {"latent": describe(model, state.ema_params, test)[0]}
    found["playground"] = export_playground(run, model, state, test, out)
    if config.binarize:
        key = jax.random.key(seed_for(config, "figures"))
        found["iwae_by_k"] = estimate_by_k(
            model, state.ema_params, test, key
        )
    return found


def _sweep_row(run: Run) -> dict:
    """One row of the beta sweep: the KL weight, rate, distortion, likelihood
    (with the images and importance samples it used), latent use and the
    class probes."""
    model, state = load_trained(run)
    config, metrics = run.config, read_metrics(run.directory)
    latent = describe(model, state.ema_params, _binary_test())[0]
    keys = [
        "test_kl",
        "test_reconstruction",
        "test_nelbo",
        "test_nll",
        "conditional_accuracy",
    ]
    keys += [
        "nll_test_images",
        "nll_samples_per_class",
        "nll_judged_class_samples",
    ]
    row = {"run": run.directory.name, "kl_weight": config.kl_weight}
    row |= {k: metrics.get(k) for k in keys}
    return row | {k: latent[k] for k in ("active_units", "class_probe")}
