#!/usr/bin/env bash
# One entry point for a fresh machine: it makes the environment itself, then serves the site,
# runs the tests or builds the site.
#
#   bash scripts/dev.sh serve     # the site on http://127.0.0.1:8000
#   bash scripts/dev.sh test      # the whole test suite
#   bash scripts/dev.sh build     # the static site in site/ (mkdocs build --strict)
#   bash scripts/dev.sh setup     # only the environment
#   bash scripts/dev.sh upgrade   # re-resolve the lock to the newest releases, then test
#
# Python 3.12 or newer: PYTHON=/path/to/python if set, else the first of python3.13, python3.12
# and python3 that runs and is new enough. FLAXGUIDE_VENV names the environment (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FLAXGUIDE_VENV:-.venv}
lock=requirements.lock
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

setup() {
  # An environment made by an older Python is made again.
  if [ -x "$venv/bin/python" ] && ! new_enough "$venv/bin/python"; then
    echo "== $venv uses $("$venv/bin/python" --version 2>&1); making it again"
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    local python
    python=$(find_python)
    echo "== creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
  fi
  # Reinstall only when the lock, the project or the site's npm packages changed.
  local stamp="$venv/.flaxguide-installed" want
  want=$(cat "$lock" pyproject.toml package-lock.json | cksum)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -d node_modules/katex ]; then
    echo "== installing the locked Python packages into $venv ($("$venv/bin/python" --version))"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$lock"
    "$venv/bin/python" -m pip install --quiet --no-deps -e .
    echo "== installing the site's KaTeX from npm"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
  # Tests read real MNIST. Without a mirror, torchvision downloads it on first use.
  if [ -z "${FLAXGUIDE_MNIST_MIRROR:-}" ] && [ -d ../shared/data/mnist ]; then
    FLAXGUIDE_MNIST_MIRROR=$(cd ../shared/data/mnist && pwd)
    export FLAXGUIDE_MNIST_MIRROR
    echo "== MNIST: local mirror $FLAXGUIDE_MNIST_MIRROR"
  fi
}

upgrade() {
  setup
  echo "== re-resolving uv.lock to the newest releases"
  UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" lock --upgrade --python "$venv/bin/python"
  UV_PYTHON_DOWNLOADS=never "$venv/bin/uv" export --frozen --all-extras --no-emit-project \
    --format requirements-txt --quiet -o "$lock"
  git --no-pager diff --stat -- uv.lock "$lock" || true
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
    setup
    exec "$venv/bin/mkdocs" serve --dev-addr 127.0.0.1:8000
    ;;
  test)
    setup
    shift
    exec "$venv/bin/python" -m pytest "$@"
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
