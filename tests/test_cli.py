"""The command line: clear errors with exit status 2, and the quick preset end to end."""

import json
import math
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import built_once
from matplotlib.image import imread

from flaxguide.chapters import precision
from flaxguide.chapters.debugging import count_compiles
from flaxguide.cli.commands import main
from flaxguide.run.directory import read_metrics
from flaxguide.run.record import read_run
from flaxguide.run.restore import restore_run


def ink(pixels: np.ndarray) -> float:
    """The share of an RGB(A) image's pixels that are not white."""
    return float(np.mean(pixels[..., :3].min(axis=-1) < 0.9))


def assert_samples_png(path, n: int, columns: int = 8) -> None:
    """`sample`'s picture: `n` digits in rows of `columns` cells of 48 pixels (0.6 in at 80
    dpi), each cell holding a digit's strokes: neither blank nor filled."""
    pixels = imread(path)
    rows = -(-n // columns)
    assert pixels.shape[:2] == (48 * rows, 48 * columns), pixels.shape
    cells = [
        pixels[48 * r : 48 * (r + 1), 48 * c : 48 * (c + 1)]
        for r in range(rows)
        for c in range(columns)
    ][:n]
    shares = [ink(cell) for cell in cells]
    assert all(0.03 < share < 0.6 for share in shares), shares


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--preset", "huge", "--out", "x"], "invalid choice: 'huge'"),
        (["train", "--epochs", "0", "--out", "x"], "must be a positive finite number, got 0"),
        (["train", "--batch-size", "-8", "--out", "x"], "must be a positive finite number, got -8"),
        (["train", "--latent-dim", "two", "--out", "x"], "'two' is not a whole number"),
        (["train", "--kl-weight", "-1", "--out", "x"], "zero or positive (and finite), got -1.0"),
        (["train", "--learning-rate", "0", "--out", "x"], "a positive finite number, got 0.0"),
        (["train", "--learning-rate", "inf", "--out", "x"], "argument --learning-rate: learning"),
        (
            ["sample", "--run", "r", "--digit", "10", "--out", "s.png"],
            "digit from 0 to 9, got '10'",
        ),
        (["sample", "--run", "r", "--digit", "3", "-n", "0", "--out", "s.png"], "positive finite"),
        (["train", "--digits", "3-12", "--out", "x"], "integers from 0 to 9, got [10, 11, 12]"),
        (["train", "--digits", "three", "--out", "x"], "like 0-4 or 5,6,7, got 'three'"),
        (
            ["train", "--warmup-epochs", "5", "--out", "x"],
            "argument --warmup-epochs: warmup_epochs",
        ),
        (["train", "--clip-norm", "0", "--out", "x"], "argument --clip-norm: clip_norm must be"),
        (["train", "--api", "torch", "--out", "x"], "argument --api: invalid choice: 'torch'"),
        (
            ["train", "--precision", "float16", "--out", "x"],
            "argument --precision: invalid choice: 'float16'",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err


def test_a_missing_run_directory(capsys, tmp_path):
    code, err = run_cli(
        capsys, "sample", "--run", str(tmp_path / "nope"), "--digit", "3", "--out", "s.png"
    )
    assert code == 2
    assert "does not exist" in err and "train --out" in err


def test_a_foreign_run_directory(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    code, err = run_cli(capsys, "figures", "--run", str(tmp_path), "--out", str(tmp_path / "f"))
    assert code == 2
    assert "is not a flaxguide run" in err


def test_train_refuses_to_overwrite(capsys, tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    code, err = run_cli(capsys, "train", "--out", str(tmp_path))
    assert code == 2
    assert "not empty" in err
    assert (tmp_path / "keep.txt").read_text() == "precious"


@pytest.fixture(scope="module")
def quick_run_and_compiles(tmp_path_factory, mnist_mirror):
    """A quick run, trained once per test run (conftest's `built_once`), and the number of times
    each program was compiled while it trained. Tests that write to a run copy it first."""

    def train(folder):
        with pytest.MonkeyPatch.context() as mp, count_compiles() as compiles:
            mp.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
            mp.setenv("FLAXGUIDE_DATA", str(folder / "data"))
            main(["train", "--preset", "quick", "--out", str(folder / "quick")])
        (folder / "compiles.json").write_text(json.dumps(compiles))

    folder = built_once(tmp_path_factory, "quick-run", train)
    return folder / "quick", json.loads((folder / "compiles.json").read_text())


@pytest.fixture(scope="module")
def quick_run(quick_run_and_compiles):
    return quick_run_and_compiles[0]


def test_the_epoch_compiles_once_for_a_whole_run(quick_run_and_compiles):
    _, compiles = quick_run_and_compiles
    # Two epochs, each one call of the jitted epoch: the second must find the first's program.
    assert compiles["train_epoch"] == 1, compiles
    assert compiles["eval_step"] >= 1  # the counter sees the run's other programs too


def test_quick_preset_trains_and_writes_a_run(quick_run):
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert metrics["preset"] == "quick"
    assert len(metrics["history"]) == 2
    # Two epochs already beat a model that predicts grey: 784 * log 2 = 543 nats.
    assert 0 < metrics["test_nelbo"] < 200
    assert 0.9 < metrics["classifier_test_accuracy"] <= 1.0
    # Samples read as the digit asked for: 46.5% measured after two epochs; a decoder that
    # ignored the class would score chance, 10%.
    assert 0.35 < metrics["conditional_accuracy"] <= 1.0
    # A binarised run (the presets' default) reports an importance-weighted -log p(x): at most
    # the negative ELBO of its own class, plus log 10 for not being told the class.
    assert metrics["test_binarization_seed"] == 0 and metrics["nll_test_images"] == 500
    assert metrics["test_nll"] <= metrics["test_nll_conditional"] + math.log(10) + 1e-3
    assert metrics["test_nll_conditional"] < metrics["test_nelbo"]
    assert sorted(p.name for p in (quick_run / "checkpoints").iterdir() if p.name.isdigit()) == [
        "1",
        "2",
    ]


@pytest.fixture
def mnist_env(mnist_mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
    monkeypatch.setenv("FLAXGUIDE_DATA", str(tmp_path / "data"))


def test_stop_and_resume_gives_the_uninterrupted_run(quick_run, tmp_path, mnist_env, capsys):
    out = tmp_path / "resumed"
    main(["train", "--preset", "quick", "--stop-after", "1", "--out", str(out)])
    assert "continue with: python -m flaxguide train --resume" in capsys.readouterr().out
    assert not (out / "metrics.json").exists()
    # The unfinished run restores from its directory alone, moved elsewhere, with no data.
    moved = shutil.copytree(out, tmp_path / "moved")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAXGUIDE_MNIST_MIRROR", str(tmp_path / "no-mnist-here"))
        state, history, epoch = restore_run(read_run(moved))
    assert (epoch, len(history)) == (1, 1)
    assert int(state.step) == json.loads((out / "run.json").read_text())["steps_per_epoch"]
    main(["train", "--resume", "--out", str(out)])
    resumed = json.loads((out / "metrics.json").read_text())
    straight = json.loads((quick_run / "metrics.json").read_text())
    for name in ("test_nelbo", "test_nelbo_raw_params", "conditional_accuracy"):
        assert resumed[name] == straight[name], name
    for a, b in zip(resumed["history"], straight["history"], strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }


def finetune_on_5_to_9(source, tmp_path):
    """One epoch of finetuning `source` on the digits 5 to 9, from the command line."""
    out = tmp_path / "finetuned"
    main(
        [
            "train",
            "--finetune-from",
            str(source),
            "--digits",
            "5-9",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    return out


def test_finetune_freezes_the_encoder(quick_run, tmp_path, mnist_env):
    from flaxguide.run.restore import load_trained

    out = finetune_on_5_to_9(quick_run, tmp_path)
    run = json.loads((out / "run.json").read_text())
    assert run["finetuned_from"] == {"run": str(quick_run), "epoch": 2}
    assert run["digits"] == [5, 6, 7, 8, 9]
    assert run["frozen"] == ["encoder", "to_latent"]
    metrics = json.loads((out / "metrics.json").read_text())
    # Samples are asked for the run's digits only: all ten would cap the share at 50%.
    assert metrics["conditional_accuracy_digits"] == [5, 6, 7, 8, 9]
    _, source = load_trained(read_run(quick_run))
    _, tuned = load_trained(read_run(out))
    for name in ("encoder", "to_latent", "decoder"):
        same = jax.tree.all(
            jax.tree.map(
                np.array_equal, source.params["params"][name], tuned.params["params"][name]
            )
        )
        assert same == (name != "decoder"), name


def test_resume_needs_an_unfinished_run_directory(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--resume", "--out", str(tmp_path / "missing"))
    assert code == 2
    assert "does not exist" in err


def test_sample_and_figures_read_the_run(quick_run, nnx_run, tmp_path, mnist_mirror, monkeypatch):
    monkeypatch.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
    monkeypatch.setenv("FLAXGUIDE_DATA", str(tmp_path / "data"))
    main(
        [
            "sample",
            "--run",
            str(quick_run),
            "--digit",
            "7",
            "-n",
            "8",
            "--out",
            str(tmp_path / "s.png"),
        ]
    )
    assert_samples_png(tmp_path / "s.png", 8)
    main(
        [
            "figures",
            "--run",
            str(quick_run),
            "--twin",
            str(quick_run),
            str(nnx_run),
            "--out",
            str(tmp_path / "figures"),
        ]
    )
    manifest = json.loads((tmp_path / "figures" / "manifest.json").read_text())
    assert manifest["run"]["preset"] == "quick"
    assert [row["api"] for row in manifest["twins"]] == ["linen", "nnx"]
    for name in manifest["figures"]:
        pixels = imread(tmp_path / "figures" / name)
        assert pixels.shape[0] * pixels.shape[1] >= 80_000, (name, pixels.shape)  # not a stamp
        assert 0.01 < ink(pixels) < 0.9, name  # something drawn on the white background
    # Redrawn without the twins, the table comes from the earlier manifest, marked as carried.
    earlier = tmp_path / "figures" / "manifest.json"
    main(["figures", "--tables-from", str(earlier), "--out", str(tmp_path / "again")])
    again = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert again["twins"] == manifest["twins"]
    assert again["carried_tables"]["twins"]["command"] == manifest["command"]


def test_tables_from_must_name_a_manifest(capsys, tmp_path):
    (tmp_path / "m.json").write_text("[1, 2]")
    code, err = run_cli(capsys, "figures", "--tables-from", str(tmp_path / "m.json"))
    assert code == 2
    assert "argument --tables-from:" in err and "has no 'command'" in err
    assert not (tmp_path / "f").exists()


def test_ctrl_c_during_training_says_how_to_resume(capsys, tmp_path, monkeypatch):
    import flaxguide.run.session

    def interrupted(config, out, **kwargs):
        out.mkdir(parents=True)
        (out / "run.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(flaxguide.run.session, "train_run", interrupted)
    code, err = run_cli(capsys, "train", "--out", str(tmp_path / "run"))
    assert code == 130
    assert f"train --resume --out {tmp_path / 'run'}" in err


@pytest.fixture(scope="module")
def nnx_run(tmp_path_factory, mnist_mirror):
    """A quick NNX run, stopped after its first epoch and resumed from the command line (once
    per test run)."""

    def train(folder):
        out = folder / "nnx"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FLAXGUIDE_MNIST_MIRROR", str(mnist_mirror))
            mp.setenv("FLAXGUIDE_DATA", str(folder / "data"))
            stopped = ["--preset", "quick", "--stop-after", "1", "--out", str(out)]
            main(["train", "--api", "nnx", *stopped])
            assert not (out / "metrics.json").exists()
            main(["train", "--resume", "--out", str(out)])

    return built_once(tmp_path_factory, "nnx-run", train) / "nnx"


def test_an_nnx_run_trains_resumes_and_samples(nnx_run, tmp_path, mnist_env):
    run = json.loads((nnx_run / "run.json").read_text())
    assert run["config"]["api"] == "nnx"
    metrics = json.loads((nnx_run / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert metrics["test_nelbo"] < 200  # two epochs of the quick preset: about 106 nats
    assert 0.35 < metrics["conditional_accuracy"] <= 1.0  # measured 43.2%; chance is 10%
    state, _, epoch = restore_run(read_run(nnx_run))
    assert epoch == 2 and type(state).__name__ == "NNXTrainState"
    main(
        [
            "sample",
            "--run",
            str(nnx_run),
            "--digit",
            "4",
            "-n",
            "4",
            "--out",
            str(tmp_path / "s.png"),
        ]
    )
    assert_samples_png(tmp_path / "s.png", 4)


def test_an_nnx_finetuning_run_keeps_the_encoder(nnx_run, tmp_path, mnist_env):
    from flaxguide.run.restore import load_trained

    out = finetune_on_5_to_9(nnx_run, tmp_path)
    assert json.loads((out / "run.json").read_text())["config"]["api"] == "nnx"  # the source's
    _, source = load_trained(read_run(nnx_run))
    _, tuned = load_trained(read_run(out))
    for name in ("encoder", "to_latent", "decoder"):
        pairs = zip(
            jax.tree.leaves(source.params["params"][name]),
            jax.tree.leaves(tuned.params["params"][name]),
            strict=True,
        )
        assert all(np.array_equal(a, b) for a, b in pairs) == (name != "decoder"), name


def test_a_run_keeps_its_api(capsys, quick_run, nnx_run, tmp_path):
    code, err = run_cli(capsys, "train", "--resume", "--api", "nnx", "--out", str(quick_run))
    assert code == 2
    assert f"--resume continues {quick_run}, a run trained with linen; drop --api nnx" in err
    code, err = run_cli(
        capsys,
        "train",
        "--finetune-from",
        str(nnx_run),
        "--api",
        "linen",
        "--out",
        str(tmp_path / "f"),
    )
    assert code == 2
    assert f"--finetune-from keeps {nnx_run}, a run trained with nnx; drop --api linen" in err
    assert not (tmp_path / "f").exists()


def test_measure_takes_a_finished_runs_numbers_again(tmp_path, quick_run, mnist_env):
    run = tmp_path / "copy"
    shutil.copytree(quick_run, run)
    before = json.loads((run / "metrics.json").read_text())
    main(["measure", "--run", str(run)])
    after = json.loads((run / "metrics.json").read_text())
    assert (
        after["history"] == before["history"] and after["train_seconds"] == before["train_seconds"]
    )
    assert after["measured"]["python"] and after["test_nelbo"] == pytest.approx(
        before["test_nelbo"]
    )
    # The judge's own accuracy is taken on the grey test images it learned from.
    assert 0.9 < after["classifier_test_accuracy"] <= 1.0


def test_resume_and_finetune_read_each_run_json_once(quick_run, tmp_path, mnist_env, monkeypatch):
    import flaxguide.run.session

    reads = []
    read_text = Path.read_text

    def counted(path, *args, **kwargs):
        if path.name == "run.json":
            reads.append(path)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    # What is counted is the way to training: each session stops before its first epoch.
    monkeypatch.setattr(
        flaxguide.run.session, "fit", lambda config, state, *a, **k: (state, [], False)
    )
    run = shutil.copytree(quick_run, tmp_path / "run")
    main(["train", "--resume", "--out", str(run)])
    assert reads == [run / "run.json"]
    reads.clear()
    tuned = tmp_path / "tuned"
    main(["train", "--finetune-from", str(quick_run), "--digits", "5-9", "--out", str(tuned)])
    assert reads == [quick_run / "run.json"]  # the new run's own is written, never read back
    assert (tuned / "run.json").is_file()


def test_sample_refuses_more_than_it_can_draw_in_one_go(capsys, tmp_path):
    code, err = run_cli(
        capsys, "sample", "--run", str(tmp_path), "--digit", "3", "-n", "100000",
        "--out", str(tmp_path / "s.png"),
    )  # fmt: skip
    assert code == 2
    assert err.strip().splitlines() == [
        "python -m flaxguide sample: error: argument -n: at most 1,000 samples at a time, "
        "got 100,000; draw more with several --seed values (--help lists the options)"
    ]
    assert not (tmp_path / "s.png").exists()


def test_resume_names_a_run_json_field_of_the_wrong_kind(capsys, tmp_path):
    from flaxguide.config import PRESETS
    from flaxguide.run.record import new_run, write_json

    run = new_run(tmp_path, PRESETS["quick"], preset="quick", provenance={}, digits=None,
                  steps_per_epoch=4).to_json()  # fmt: skip
    run["config"]["latent_dim"] = "many"
    write_json(tmp_path / "run.json", run)
    code, err = run_cli(capsys, "train", "--resume", "--out", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [
        f"python -m flaxguide train: error: {tmp_path}/run.json: config.latent_dim: latent_dim "
        "must be a whole number, got 'many'"
    ]


def test_a_bfloat16_run_records_its_precision_and_keeps_it(capsys, tmp_path, mnist_env):
    out = tmp_path / "bf16"
    argv = ["--digits", "0", "--epochs", "2", "--stop-after", "1", "--out", str(out)]
    main(["train", "--precision", "bfloat16", *argv])
    assert read_run(out).config.precision == "bfloat16"
    assert json.loads((out / "run.json").read_text())["config"]["precision"] == "bfloat16"
    code, err = run_cli(capsys, "train", "--resume", "--precision", "float32", "--out", str(out))
    assert code == 2
    assert "with its own settings (from its run.json); drop --precision" in err


def test_the_precision_table_reads_finished_runs(capsys, quick_run, nnx_run, tmp_path):
    out = tmp_path / "precision.json"
    precision.main(["--runs", str(quick_run), str(nnx_run), "--out", str(out)])
    rows = json.loads(out.read_text())["runs"]
    assert [(row["run"], row["api"], row["precision"]) for row in rows] == [
        (quick_run.name, "linen", "float32"),
        (nnx_run.name, "nnx", "float32"),
    ]
    assert rows[0]["test_nll"] == read_metrics(quick_run)["test_nll"]
    with pytest.raises(SystemExit) as exit_info:
        precision.main(["--runs", str(tmp_path), "--out", str(out)])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
