"""Site build hooks.

- Serve KaTeX from the site itself: its files come from the npm registry (`npm ci`), never a CDN,
  so pages work offline and send no request to third parties; and load it only on the pages
  that have maths (273 KB the others do not need).
- Fill the `<!-- versions -->` marker with the versions the pages are executed with: the pins of
  `requirements.lock` and the Pythons of pyproject.toml's classifiers, never typed by hand. They
  are read from the files, not from the installed packages: `serve` builds the site in an
  environment without jax or torch (requirements-site.lock). This module imports nothing beyond
  that environment; the tests load it by path for `locked_versions` and `tested_pythons`.
- Fill the `<!-- run-metrics -->` marker from `docs/figures/manifest.json`, so the quality
  numbers on a page always belong to the figures beside them.
- Fill the `<!-- reading-time -->` marker at the top of a chapter with the time its main line
  takes to read, counted from the page as built (`reading.py` says what counts).
- Fill the `<!-- faults -->` marker from the test suite's list of fault cases
  (`tests/fault_cases.py`), so the table says what the tests try.
"""

from __future__ import annotations

import json
import re
import runpy
import tomllib
from pathlib import Path

from locked import LOCK, locked_versions
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url
from page_blocks import expand_snippets
from reading import CODE_LINES_PER_MINUTE, PROSE_WORDS_PER_MINUTE, main_line

ROOT = Path(__file__).resolve().parents[2]
KATEX_DIST = ROOT / "node_modules" / "katex" / "dist"
# Only what the pages load: the minified script, auto-render, the stylesheet and its fonts.
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")
VERSIONS_MARKER = "<!-- versions -->"
METRICS_MARKER = "<!-- run-metrics -->"
FAULTS_MARKER = "<!-- faults -->"
READING_MARKER = "<!-- reading-time -->"
FAULT_CASES = ROOT / "tests" / "fault_cases.py"
MANIFEST = ROOT / "docs" / "figures" / "manifest.json"
BENCH = ROOT / "docs" / "figures" / "bench.json"
PYPROJECT = ROOT / "pyproject.toml"
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "torchvision")
PYTHON_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)")


def tested_pythons(pyproject: Path = PYPROJECT) -> list[str]:
    """The Pythons the test suite executes the pages on: pyproject.toml's `3.x` classifiers."""
    classifiers = tomllib.loads(pyproject.read_text())["project"]["classifiers"]
    return [m[1] for c in classifiers if (m := PYTHON_CLASSIFIER.fullmatch(c))]


def on_files(files, config):
    if not (KATEX_DIST / "katex.min.js").is_file():
        raise PluginError(
            f"KaTeX is missing from {KATEX_DIST}. Run `npm ci` in {ROOT} "
            "(the README's commands do) so the site can serve its own maths renderer."
        )
    wanted = [KATEX_DIST / name for name in KATEX_FILES]
    wanted += sorted((KATEX_DIST / "fonts").glob("*.woff2"))
    for path in wanted:
        rel = path.relative_to(KATEX_DIST).as_posix()
        files.append(File.generated(config, f"assets/katex/{rel}", abs_src_path=str(path)))
    return files


def versions_table() -> str:
    locked = locked_versions()
    missing = [name for name in PACKAGES if name not in locked]
    if missing:
        raise PluginError(
            f"{LOCK.name} pins no {', '.join(missing)}, which the versions table lists"
        )
    rows = [("Python", ", ".join(f"`{v}`" for v in tested_pythons()))]
    rows += [(name, f"`{locked[name]}`") for name in PACKAGES]
    lines = ["| package | version |", "| --- | --- |"]
    lines += [f"| {name} | {version} |" for name, version in rows]
    return "\n".join(lines)


def metrics_table() -> str:
    manifest = json.loads(MANIFEST.read_text())
    run, metrics = manifest["run"], manifest["metrics"]
    rows = [
        ("preset", run["preset"]),
        ("trained for", "{epochs} epochs, KL weight {kl_weight}".format(**run["config"])),
        ("device", f"{run['device']['platform']} ({run['device']['kind']})"),
        ("trained", f"{run['date']} at commit `{(run['commit'] or 'unknown')[:10]}`"),
        ("test negative ELBO", f"{metrics['test_nelbo']:.2f} nats"),
    ]
    if "test_nll" in metrics:  # a binarised run: a likelihood, comparable with the literature
        k = 10 * metrics["nll_samples_per_class"] + metrics.get("nll_judged_class_samples", 0)
        rows += [
            ("test -log p(x)", f"{metrics['test_nll']:.2f} nats ({k:,} samples per image)"),
            ("test -log p(x | c), class given", f"{metrics['test_nll_conditional']:.2f} nats"),
            ("pixels", f"binarised (test set with seed {metrics['test_binarization_seed']})"),
        ]
    rows += [
        ("samples read as the digit asked for", f"{metrics['conditional_accuracy']:.2%}"),
        ("the judging classifier's test accuracy", f"{metrics['classifier_test_accuracy']:.2%}"),
        ("training time", f"{metrics['train_seconds'] / 60:.1f} min"),
    ]
    bench = json.loads(BENCH.read_text())
    # The training loop's own setting (batch 128), not the benchmark's fastest row.
    epoch = next(r for r in bench["rows"] if r["batch_size"] == 128 and "scan" in r["path"])
    host = bench["host"]
    rows.append(
        (
            "training speed",
            f"{epoch['examples_per_second']:,.0f} examples/s (a whole epoch in one `jit`, "
            f"batch 128) on {host['cpus']} {host['machine']} CPU cores",
        )
    )
    lines = ["| measure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def reading_time(markdown: str, config) -> str:
    """The estimate a chapter opens with, from its main line with the embedded code expanded."""
    line = main_line(expand_snippets(markdown, config))
    return (
        f'<p class="reading-time" markdown>About **{line.minutes} minutes** to read: '
        f"{line.words:,} words and {line.code_lines:,} lines of code on the main line "
        f"(at {PROSE_WORDS_PER_MINUTE} words and {CODE_LINES_PER_MINUTE} lines a minute). "
        "Folded notes and *Under the hood* are extra.</p>"
    )


def on_page_markdown(markdown, page, config, files):
    if READING_MARKER in markdown:
        markdown = markdown.replace(READING_MARKER, reading_time(markdown, config))
    if VERSIONS_MARKER in markdown:
        markdown = markdown.replace(VERSIONS_MARKER, versions_table())
    if METRICS_MARKER in markdown:
        markdown = markdown.replace(METRICS_MARKER, metrics_table())
    if FAULTS_MARKER in markdown:
        markdown = markdown.replace(FAULTS_MARKER, runpy.run_path(str(FAULT_CASES))["table"]())
    return markdown


# KaTeX's files, in the order a page with maths loads them; the last renders the page's maths.
KATEX_STYLESHEET = "assets/katex/katex.min.css"
KATEX_SCRIPTS = (
    "assets/katex/katex.min.js",
    "assets/katex/contrib/auto-render.min.js",
    "javascripts/katex.js",
)


def on_post_page(output, page, config):
    if 'class="arithmatex"' not in output:  # what pymdownx.arithmatex wraps maths in
        return output
    stylesheet = f'<link rel="stylesheet" href="{get_relative_url(KATEX_STYLESHEET, page.url)}">'
    scripts = "".join(
        f'<script src="{get_relative_url(path, page.url)}"></script>' for path in KATEX_SCRIPTS
    )
    output = output.replace("</head>", stylesheet + "</head>", 1)
    return output.replace("</body>", scripts + "</body>", 1)
