#!/usr/bin/env bash
# One entry point for a fresh machine: it makes the environment itself, then serves the site,
# runs the tests or builds the site.
#
#   bash scripts/dev.sh serve   # the site on http://127.0.0.1:8000
#   bash scripts/dev.sh test    # the whole test suite
#   bash scripts/dev.sh build   # the static site in site/ (mkdocs build --strict)
#   bash scripts/dev.sh setup   # only the environment
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FLAXGUIDE_VENV:-.venv}
# Material prints a multi-line banner about its successor on every build; keep logs readable.
export NO_MKDOCS_2_WARNING=1

setup() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    python3 -m venv "$venv"
  fi
  # Reinstall only when the dependency list changed since the last install.
  local stamp="$venv/.flaxguide-installed" want
  want=$(cat pyproject.toml package-lock.json | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -d node_modules/katex ]; then
    echo "== installing Python packages into $venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e '.[docs,test,dev]'
    echo "== installing the site's KaTeX from npm"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
  # Tests read real MNIST. Without a mirror, torchvision downloads it on first use.
  if [ -z "${FLAXGUIDE_MNIST_MIRROR:-}" ] && [ -d ../shared/data/mnist ]; then
    FLAXGUIDE_MNIST_MIRROR=$(cd ../shared/data/mnist && pwd)
    export FLAXGUIDE_MNIST_MIRROR
    echo "== MNIST: local mirror $FLAXGUIDE_MNIST_MIRROR"
  fi
}

case "${1:-}" in
  setup) setup ;;
  serve) setup; exec "$venv/bin/mkdocs" serve --dev-addr 127.0.0.1:8000 ;;
  test) setup; shift; exec "$venv/bin/python" -m pytest "$@" ;;
  build) setup; exec "$venv/bin/mkdocs" build --strict ;;
  *)
    echo "usage: bash scripts/dev.sh {serve|test|build|setup}" >&2
    exit 2
    ;;
esac
