#!/usr/bin/env bash
# One entry point for a fresh machine: it makes the environment itself, then serves the site,
# runs the tests or builds the site.
#
#   bash scripts/dev.sh serve     # the site on http://127.0.0.1:8000 (the site's packages only)
#   bash scripts/dev.sh test      # the whole test suite, on two workers
#   bash scripts/dev.sh build     # the static site in site/ (mkdocs build --strict)
#   bash scripts/dev.sh setup     # only the full environment
#   bash scripts/dev.sh upgrade   # re-resolve the lock to the newest releases, then test
#
# Two environments, each installed with hashes from its lock and again only when that lock
# changed: `serve` uses a small one with only MkDocs and its plugins (requirements-site.lock; no
# jax, no torch, not the project, whose source the site reads without importing it), named by
# FLAXGUIDE_SITE_VENV (.venv-site); the others use the full one (requirements.lock, and the
# project), named by FLAXGUIDE_VENV (.venv). Both share the npm packages (node_modules): the
# site's KaTeX, and axe-core, which the browser tests run in each page.
#
# Python 3.12 or newer: PYTHON=/path/to/python if set, else the first of python3.13, python3.12
# and python3 that runs and is new enough.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FLAXGUIDE_VENV:-.venv}
lock=requirements.lock
site_venv=${FLAXGUIDE_SITE_VENV:-.venv-site}
site_lock=requirements-site.lock
# Material prints a multi-line banner about its successor on every build; keep logs readable.
export NO_MKDOCS_2_WARNING=1

new_enough() {
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local candidate found=""
  if [ -n "${PYTHON:-}" ]; then
    if new_enough "$PYTHON"; then
      echo "$PYTHON"
      return
    fi
    found="PYTHON=$PYTHON: $("$PYTHON" --version 2>&1 | head -n 1)"
  else
    for candidate in python3.13 python3.12 python3; do
      if new_enough "$candidate"; then
        echo "$candidate"
        return
      fi
    done
    found="python3: $(python3 --version 2>&1 | head -n 1); no python3.13 or python3.12 on PATH that runs"
  fi
  {
    echo "flaxguide needs Python 3.12 or newer (JAX and Flax no longer support older ones)."
    echo "Found: $found."
    echo "Install Python 3.12 or 3.13, or point PYTHON at one: PYTHON=/path/to/python3.12 bash $0 ..."
  } >&2
  exit 3
}

# make_env DIR: a virtual environment in DIR; one made by an older Python is made again.
make_env() {
  local dir=$1 python
  if [ -x "$dir/bin/python" ] && ! new_enough "$dir/bin/python"; then
    echo "== $dir uses $("$dir/bin/python" --version 2>&1); making it again"
    rm -rf "$dir"
  fi
  if [ ! -x "$dir/bin/python" ]; then
    python=$(find_python)
    echo "== creating $dir with $("$python" --version 2>&1)"
    "$python" -m venv "$dir"
  fi
}

# Changed when the steps of install_lock change, so that an environment made by the earlier steps
# is set up again: 2 compiles the packages to bytecode.
INSTALL_STEPS=2

# is_current DIR WANT: DIR was installed from the files whose checksum is WANT, and the site's
# KaTeX is still there.
is_current() {
  [ "$(cat "$1/.flaxguide-installed" 2>/dev/null)" = "$2" ] && [ -d node_modules/katex ]
}

# install_lock DIR LOCK: exactly LOCK's packages, checked against its hashes, and the npm
# packages (the site's KaTeX, which its hook serves; the tests' axe-core; node_modules is
# shared by both environments).
# pip installs the locked uv, and uv the rest: it downloads in parallel and keeps one cache
# (~/.cache/uv) from which a second environment takes the same wheels without downloading
# them again, about a minute for the full set on an empty cache instead of several.
install_lock() {
  echo "== installing the locked Python packages of $2 into $1 ($("$1/bin/python" --version))"
  # uv's own lines of the full lock (its pin and hashes): the one package pip installs.
  awk '/^uv==/ { keep = 1; print; next } keep && /^ / { print; next } { keep = 0 }' \
    "$lock" >"$1/uv-requirement.txt"
  "$1/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --no-deps -r "$1/uv-requirement.txt"
  UV_PYTHON_DOWNLOADS=never "$1/bin/uv" pip install --quiet --no-config --python "$1/bin/python" \
    --require-hashes --no-deps -r "$2"
  # Compiled to bytecode here, once: uv does not, and where PYTHONDONTWRITEBYTECODE is set (as on
  # the machine the README times) nothing writes it later, so every process compiles the sources
  # of all it imports again (`import jax, flax, optax, orbax.checkpoint`: 3.7 s, not 1.4 s with
  # bytecode): every worker, kernel and subprocess of the test suite. Files already compiled are
  # skipped.
  echo "== compiling the installed packages to bytecode"
  "$1/bin/python" -m compileall -q -j 0 \
    "$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null
  echo "== installing the site's KaTeX and the tests' axe-core from npm"
  npm ci --no-audit --no-fund --loglevel=error
}

setup() {
  make_env "$venv"
  # Reinstall only when the lock, the project, the site's npm packages or the steps changed.
  local want
  want=$(cat "$lock" pyproject.toml package-lock.json <(echo "$INSTALL_STEPS") | cksum)
  if ! is_current "$venv" "$want"; then
    install_lock "$venv" "$lock"
    UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" pip install --quiet --no-config --python "$venv/bin/python" \
      --no-deps -e .
    echo "$want" >"$venv/.flaxguide-installed"
  fi
  # Tests read real MNIST. Without a mirror, torchvision downloads it on first use.
  if [ -z "${FLAXGUIDE_MNIST_MIRROR:-}" ] && [ -d ../shared/data/mnist ]; then
    FLAXGUIDE_MNIST_MIRROR=$(cd ../shared/data/mnist && pwd)
    export FLAXGUIDE_MNIST_MIRROR
    echo "== MNIST: local mirror $FLAXGUIDE_MNIST_MIRROR"
  fi
}

setup_site() {
  make_env "$site_venv"
  # Reinstall only when the site's lock, its npm packages or the steps changed.
  local want
  want=$(cat "$site_lock" package-lock.json <(echo "$INSTALL_STEPS") | cksum)
  if ! is_current "$site_venv" "$want"; then
    install_lock "$site_venv" "$site_lock"
    echo "$want" >"$site_venv/.flaxguide-installed"
  fi
}

upgrade() {
  setup
  echo "== re-resolving uv.lock to the newest releases"
  UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" lock --upgrade --python "$venv/bin/python"
  # The full set (every extra and group) and the site's group alone, with the same pins.
  UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" export --frozen --all-extras --all-groups \
    --no-emit-project --format requirements-txt --quiet -o "$lock"
  UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" export --frozen --only-group site \
    --no-emit-project --format requirements-txt --quiet -o "$site_lock"
  git --no-pager diff --stat -- uv.lock "$lock" "$site_lock" || true
  setup
  echo "== pages whose shown output changed"
  local status=0
  "$venv/bin/python" tests/docs_harness.py --report docs/*.md || status=$?
  echo "== the whole test suite"
  "$venv/bin/python" -m pytest || status=$?
  return "$status"
}

case "${1:-}" in
  setup) setup ;;
  serve)
    setup_site
    exec "$site_venv/bin/mkdocs" serve --dev-addr 127.0.0.1:8000
    ;;
  test)
    setup
    shift
    # Compiled XLA programs are kept between runs in .cache/jax (JAX's persistent compilation
    # cache, keyed by the program, jaxlib's version, the XLA flags and the devices, never by
    # the Python version): a second run, or the next Python's, compiles only what changed.
    # The whole suite's programs take about 60 MB; `rm -rf .cache/jax` starts afresh. (No size
    # limit: with one, JAX keeps the folder in another layout, which chapter 6 lists.)
    export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$PWD/.cache/jax}
    # On two workers (FLAXGUIDE_TEST_WORKERS; 0 runs the suite in this one process).
    exec "$venv/bin/python" -m pytest -n "${FLAXGUIDE_TEST_WORKERS:-2}" "$@"
    ;;
  build)
    setup
    exec "$venv/bin/mkdocs" build --strict
    ;;
  upgrade) upgrade ;;
  *)
    echo "usage: bash scripts/dev.sh {serve|test|build|setup|upgrade}" >&2
    exit 2
    ;;
esac
