"""The first cell of every chapter's notebook: it sets a fresh runtime (Colab, or yours) up.

The site build puts three names above this text: `LOCKED` (the version of each distribution the
site was run with), `PACKAGE` (the pip requirement for `flaxguide` at the site's commit, or `""`)
and `DEVICES` (how many fake CPU devices the chapter needs, or `None`). Run twice, the cell
installs nothing. Set `FLAXGUIDE_PACKAGE` to a wheel, a clone's folder or any pip requirement to
install your own `flaxguide`; `FLAXGUIDE_SETUP_DRY_RUN=1` prints the commands instead of running.
"""

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys

# The notebook sets these above; the defaults only let this file be imported on its own.
LOCKED = globals().get("LOCKED", {})
PACKAGE = globals().get("PACKAGE", "")
DEVICES = globals().get("DEVICES")

# Always pinned: a chapter's code runs as shown only on the versions it was run with.
STACK = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint")
DEVICE_FLAG = "--xla_force_host_platform_device_count"
RESTART = "Restart the runtime (Colab: Runtime > Restart session), then run from the next cell."


def with_devices(flags: str, count: int) -> str:
    """`XLA_FLAGS` that split the CPU into `count` devices, keeping the other flags."""
    kept = [flag for flag in flags.split() if not flag.startswith(DEVICE_FLAG + "=")]
    return " ".join([*kept, f"{DEVICE_FLAG}={count}"])


def nvidia_smi() -> str:
    """What `nvidia-smi` prints; empty where there is no GPU (no tool, or it fails)."""
    tool = shutil.which("nvidia-smi")
    result = tool and subprocess.run([tool], capture_output=True, text=True, check=False)
    return result.stdout if result and result.returncode == 0 else ""


def jax_build(smi_output: str) -> tuple[str | None, str]:
    """The jax extra for the GPU's CUDA wheels (None: the CPU build), and the choice in words."""
    driver = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", smi_output)
    if not driver:
        return None, "CPU (no NVIDIA GPU found): installing JAX's CPU build."
    cuda, major = f"{driver[1]}.{driver[2]}", int(driver[1])
    if major < 12:
        return None, (
            f"WARNING: the GPU's driver runs CUDA {cuda}, too old for JAX's CUDA wheels "
            "(they need 12 or newer): installing JAX's CPU build."
        )
    extra = f"cuda{min(major, 13)}"  # JAX ships wheels for CUDA 12 and 13; newer drivers run 13's
    return extra, f"GPU (its driver runs CUDA {cuda}): installing jax[{extra}]."


def installed(name: str) -> str | None:
    """The installed version of distribution `name`, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def install_plan(locked, extra, package, version_of) -> list[list[str]]:
    """The `pip install` arguments still to run: none when the runtime is already set up.

    `version_of(name)` is a distribution's installed version, or None; `extra` is `jax_build`'s.
    """
    absent = [name for name in locked if name not in STACK and not version_of(name)]
    stack_ready = all(version_of(name) == locked[name] for name in STACK)
    # The CUDA plugin is released with jax, at its version; jax refuses any other.
    plugin_ready = extra is None or version_of(f"jax-{extra}-plugin") == locked["jax"]
    if stack_ready and plugin_ready and version_of("flaxguide") and not absent:
        return []
    if not package and not version_of("flaxguide"):
        raise RuntimeError(
            "Where should flaxguide come from? Set FLAXGUIDE_PACKAGE to a clone's folder or a "
            "wheel, or open this notebook from the published site: its notebooks carry the address."
        )
    jax = f"jax[{extra}]" if extra else "jax"
    pins = [f"{jax}=={locked['jax']}", *(f"{name}=={locked[name]}" for name in STACK[1:])]
    pins += [f"{name}=={locked[name]}" for name in absent]
    # Without flaxguide's dependencies: Colab has numpy, torch and the rest, and pip would replace
    # its torch with a 3 GB build. Those the runtime lacks are pinned above.
    return [pins, ["--no-deps", package]] if package else [pins]


def install(plan: list[list[str]], uv: str | None, dry_run: bool) -> None:
    """Run each step of the plan, with uv where the runtime has it (Colab does; it is faster)."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    start = [uv, "pip", "install", "--python", sys.executable] if uv else pip
    for arguments in plan:
        command = start + arguments
        print(("Would run: " if dry_run else "Running: ") + shlex.join(command))
        if not dry_run:
            subprocess.run(command, check=True)
    importlib.invalidate_caches()  # so the next cells import what was just installed


def describe(name: str, locked, version_of) -> str:
    """`name version`, noting a distribution found at another version than the site's and kept."""
    found = version_of(name)
    kept = name in locked and name not in STACK and found not in (None, locked[name])
    note = f" (already installed: left as is, the site ran {locked[name]})" if kept else ""
    return f"{name} {found or 'not installed'}{note}"


def set_up() -> None:
    """Set this runtime up for the chapter, saying what it did."""
    jax_imported = "jax" in sys.modules  # JAX reads its flags and installation once, on import
    if DEVICES:
        os.environ["XLA_FLAGS"] = with_devices(os.environ.get("XLA_FLAGS", ""), DEVICES)
        if jax_imported:
            print(f"jax is already imported, so it won't see {DEVICES} devices. {RESTART}")
    extra, build = jax_build(nvidia_smi())
    package = os.environ.get("FLAXGUIDE_PACKAGE") or PACKAGE  # a local build, if set
    plan = install_plan(LOCKED, extra, package, installed)
    names = [*STACK, *([f"jax-{extra}-plugin"] if extra else []), "flaxguide"]
    if not plan:
        versions = ", ".join(describe(name, LOCKED, installed) for name in names)
        print(f"Already set up: {versions}; nothing to install.")
        return
    print(build)
    dry_run = os.environ.get("FLAXGUIDE_SETUP_DRY_RUN") == "1"
    install(plan, shutil.which("uv"), dry_run)
    names += [name for name in LOCKED if name not in STACK]
    heading = "Dry run, nothing installed:" if dry_run else "Now installed:"
    print(heading, *(describe(name, LOCKED, installed) for name in names), sep="\n  ")
    if jax_imported:
        print(f"jax was imported before this install changed it. {RESTART}")


# A notebook cell runs as `__main__`; importing this file (tests, linters) runs nothing.
if __name__ == "__main__":
    set_up()
