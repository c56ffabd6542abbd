"""Build the site as `mkdocs build --strict` does, from a copy of `docs/` if asked.

The test session builds the site once (`conftest.built_site`) from a copy of `docs/` whose
notebook is the one the session executed, so the notebook page shows real outputs without
running the notebook a second time. `mkdocs build` has no flag for another `docs_dir`, so
this does what its command does, through MkDocs' own API, with that one setting changed.

    python tests/site_build.py CONFIG DOCS_DIR SITE_DIR
"""

from __future__ import annotations

import logging
import sys


def build(config_file: str, docs_dir: str, site_dir: str) -> None:
    from mkdocs.commands.build import build as build_site
    from mkdocs.config import load_config

    # What `mkdocs build` prints: its warnings and errors, on stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
    logging.getLogger("mkdocs").addHandler(handler)
    logging.getLogger("mkdocs").setLevel(logging.INFO)
    config = load_config(config_file, docs_dir=docs_dir, site_dir=site_dir, strict=True)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build_site(config, dirty=False)
    finally:
        config.plugins.on_shutdown()


if __name__ == "__main__":
    build(*sys.argv[1:])
