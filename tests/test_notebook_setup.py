"""The notebooks' first cell (`docs/_hooks/notebook_setup.py`), run the way a notebook runs it.

The site build puts `LOCKED`, `PACKAGE` and `DEVICES` above the file's text, and so do these
tests. Each cell runs as a dry run in a fresh Python whose PATH holds only the fake tools a test
puts there (`nvidia-smi`, `uv`): nothing is installed, and this machine's own GPU and tools
don't count. The pieces that take a version lookup are called with a fake one.
"""

import importlib.metadata
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SCRIPT = ROOT / "docs" / "_hooks" / "notebook_setup.py"
STACK = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint")
COLAB = ("numpy", "matplotlib", "torch", "torchvision", "tqdm")
# Versions nothing here has, so the cell has work to do.
STALE = dict.fromkeys(STACK + COLAB, "9.9.9")
STALE_PINS = "jax==9.9.9 jaxlib==9.9.9 flax==9.9.9 optax==9.9.9 orbax-checkpoint==9.9.9"
SITE_PACKAGE = "flaxguide @ git+https://github.com/owner/repo@0123456789abcdef"
PIP = f"{sys.executable} -m pip install --quiet"
NVIDIA_SMI = """Tue Mar  4 10:12:01 2025
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver}              Driver Version: {driver}      CUDA Version: {cuda}     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|=========================================+========================+======================|
|   0  Tesla T4                       Off |   00000000:00:04.0 Off |                    0 |
| N/A   44C    P8              9W /   70W |       0MiB /  15360MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
"""


def fake_smi(driver: str, cuda: str) -> str:
    """A shell script printing `nvidia-smi`'s table for one Tesla T4 (`cat` is not on PATH)."""
    return f"printf '%s\\n' '{NVIDIA_SMI.format(driver=driver, cuda=cuda)}'\n"


def run_cell(
    tmp_path: Path,
    tools=(),
    env=(),
    *,
    locked=STALE,
    package=SITE_PACKAGE,
    devices=None,
    before="",
    after="",
) -> str:
    """What the cell prints, run as the site builds it: after `LOCKED`, `PACKAGE` and `DEVICES`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for name, script in dict(tools).items():
        (bin_dir / name).write_text("#!/bin/sh\n" + script)
        (bin_dir / name).chmod(0o755)
    block = f"LOCKED = {locked!r}\nPACKAGE = {package!r}\nDEVICES = {devices!r}\n"
    environ = {"PATH": str(bin_dir), "FLAXGUIDE_SETUP_DRY_RUN": "1", **dict(env)}
    source = before + block + SCRIPT.read_text() + after
    done = subprocess.run(
        [sys.executable, "-c", source], env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def setup() -> dict:
    """The cell's functions, loaded without running it (as a module, not as `__main__`)."""
    namespace = {"__name__": "notebook_setup"}
    exec(SCRIPT.read_text(), namespace)
    return namespace


def test_without_nvidia_smi_installs_the_cpu_build_with_pip(tmp_path: Path) -> None:
    out = run_cell(tmp_path)
    assert "CPU (no NVIDIA GPU found)" in out
    assert f"Would run: {PIP} {STALE_PINS}\n" in out
    assert "cuda" not in out.lower()
    assert "Dry run, nothing installed:\n  jax " in out


@pytest.mark.parametrize(
    ("driver", "cuda", "jax"),
    [
        ("580.82.07", "13.0", "jax[cuda13]==9.9.9"),
        ("550.54.15", "12.4", "jax[cuda12]==9.9.9"),
    ],
)
def test_gpu_gets_the_wheels_its_driver_runs(tmp_path: Path, driver, cuda, jax) -> None:
    out = run_cell(tmp_path, {"nvidia-smi": fake_smi(driver, cuda)})
    assert f"GPU (its driver runs CUDA {cuda})" in out
    assert f"Would run: {PIP} {shlex.quote(jax)} jaxlib==9.9.9 flax==9.9.9" in out


def test_driver_older_than_cuda_12_gets_the_cpu_build_and_a_warning(tmp_path: Path) -> None:
    out = run_cell(tmp_path, {"nvidia-smi": fake_smi("520.61.05", "11.8")})
    assert "WARNING: the GPU's driver runs CUDA 11.8, too old for JAX's CUDA wheels" in out
    assert f"Would run: {PIP} {STALE_PINS}\n" in out
    assert "jax[" not in out


def test_nvidia_smi_failing_means_no_gpu(tmp_path: Path) -> None:
    # Whatever it printed before failing, the GPU is not usable.
    out = run_cell(tmp_path, {"nvidia-smi": fake_smi("580.82.07", "13.0") + "exit 9\n"})
    assert "CPU (no NVIDIA GPU found)" in out
    assert f"Would run: {PIP} {STALE_PINS}\n" in out


def test_uv_installs_where_the_runtime_has_it(tmp_path: Path) -> None:
    out = run_cell(tmp_path, {"uv": "exit 1\n"})
    uv = tmp_path / "bin" / "uv"
    assert f"Would run: {uv} pip install --python {sys.executable} {STALE_PINS}\n" in out
    assert "-m pip" not in out


def test_without_dry_run_the_commands_run(tmp_path: Path) -> None:
    out = run_cell(tmp_path, {"uv": 'echo "$@" >> "$0.log"\n'}, {"FLAXGUIDE_SETUP_DRY_RUN": "0"})
    uv = f"{tmp_path / 'bin' / 'uv'} pip install --python {sys.executable}"
    assert f"Running: {uv} {STALE_PINS}\n" in out
    assert "Now installed:\n  jax " in out
    ran = (tmp_path / "bin" / "uv.log").read_text().splitlines()
    assert ran == [
        f"pip install --python {sys.executable} {STALE_PINS}",
        f"pip install --python {sys.executable} --no-deps {SITE_PACKAGE}",
    ]


def test_flaxguide_comes_from_the_site_or_from_flaxguide_package(tmp_path: Path) -> None:
    from_site = run_cell(tmp_path / "site")
    assert f"Would run: {PIP} --no-deps {shlex.quote(SITE_PACKAGE)}\n" in from_site
    wheel = "/wheels/flaxguide-0.1.0-py3-none-any.whl"
    local = run_cell(tmp_path / "local", env={"FLAXGUIDE_PACKAGE": wheel})
    assert f"Would run: {PIP} --no-deps {wheel}\n" in local
    assert "github.com" not in local


def test_installed_flaxguide_is_kept_when_no_package_is_named(tmp_path: Path) -> None:
    out = run_cell(tmp_path, package="")
    assert f"Would run: {PIP} {STALE_PINS}\n" in out
    assert "--no-deps" not in out


def test_runtime_already_set_up_installs_nothing(tmp_path: Path) -> None:
    locked = {name: importlib.metadata.version(name) for name in STACK + COLAB}
    out = run_cell(tmp_path, locked=locked)
    assert out.startswith(f"Already set up: jax {locked['jax']}, jaxlib {locked['jaxlib']}")
    assert f"flaxguide {importlib.metadata.version('flaxguide')}; nothing to install." in out
    assert "Would run" not in out
    assert out.count("\n") == 1


def test_gpu_without_its_cuda_plugin_is_not_set_up(setup: dict) -> None:
    locked = dict.fromkeys(STACK, "0.12.0")
    versions = {**locked, "flaxguide": "0.1.0"}
    assert setup["install_plan"](locked, None, "", versions.get) == []
    plan = setup["install_plan"](locked, "cuda13", "", versions.get)
    assert plan == [["jax[cuda13]==0.12.0", *(f"{name}==0.12.0" for name in STACK[1:])]]
    with_plugin = {**versions, "jax-cuda13-plugin": "0.12.0"}.get
    assert setup["install_plan"](locked, "cuda13", "", with_plugin) == []
    older_plugin = {**versions, "jax-cuda13-plugin": "0.11.2"}.get  # e.g. Colab's own
    assert setup["install_plan"](locked, "cuda13", "", older_plugin) == plan


def test_only_absent_colab_packages_are_installed(setup: dict) -> None:
    locked = {**dict.fromkeys(STACK, "0.12.0"), "numpy": "2.5.5", "torch": "2.14.1"}
    versions = {**locked, "numpy": "1.0", "torch": None, "flaxguide": "0.1.0"}.get
    plan = setup["install_plan"](locked, None, SITE_PACKAGE, versions)
    stack = [f"{name}==0.12.0" for name in STACK]
    assert plan == [[*stack, "torch==2.14.1"], ["--no-deps", SITE_PACKAGE]]
    kept = setup["describe"]("numpy", locked, versions)
    assert kept == "numpy 1.0 (already installed: left as is, the site ran 2.5.5)"
    assert setup["describe"]("torch", locked, versions) == "torch not installed"
    assert setup["describe"]("jax", locked, {"jax": "0.11.0"}.get) == "jax 0.11.0"


def test_no_package_and_no_flaxguide_says_how_to_fix_it(setup: dict) -> None:
    with pytest.raises(RuntimeError, match="Set FLAXGUIDE_PACKAGE to a clone's folder or a wheel"):
        setup["install_plan"](STALE, None, "", lambda name: None)


def test_devices_go_into_xla_flags_keeping_the_others(tmp_path: Path) -> None:
    out = run_cell(
        tmp_path,
        env={"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"},
        devices=8,
        after='print("XLA_FLAGS:", os.environ["XLA_FLAGS"])\n',
    )
    flags = "--xla_cpu_multi_thread_eigen=false --xla_force_host_platform_device_count=8"
    assert f"XLA_FLAGS: {flags}\n" in out
    assert "Restart" not in out


def test_devices_count_is_replaced_not_repeated(setup: dict) -> None:
    flags = setup["with_devices"]("--xla_force_host_platform_device_count=2 --other=1", 8)
    assert flags == "--other=1 --xla_force_host_platform_device_count=8"


def test_jax_imported_before_the_cell_asks_for_a_restart(tmp_path: Path) -> None:
    imported = 'import sys, types\nsys.modules["jax"] = types.ModuleType("jax")\n'
    out = run_cell(tmp_path, before=imported, devices=8)
    assert "jax is already imported, so it won't see 8 devices. Restart the runtime" in out
    assert "jax was imported before this install changed it. Restart the runtime" in out
