"""What the browser tests share: Chromium, a local server, a page visit, and the checks they run
on a page, as functions that return the problems they find.

Kept apart from the tests so that each browser test module uses the same ones, and the checks
can be shown to fail on pages built broken.

Playwright drives Debian's `chromium` package through `executable_path`: Playwright's own
browser download cannot work offline, so it is never used. Without Chromium the browser tests
skip with one line saying how to enable them, except where `FLAXGUIDE_BROWSER_TESTS=required`
(CI), where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import MKDOCS_YML, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The pages of the navigation, from mkdocs.yml: `index.md` is served at /, `x.md` at /x/.
NAV = re.findall(r":\s*([\w-]+\.(?:md|ipynb))\s*$", MKDOCS_YML.read_text(), flags=re.MULTILINE)
PATHS = ["/" if page == "index.md" else f"/{page.rsplit('.', 1)[0]}/" for page in NAV]


def require_chromium(module: str) -> None:
    """Skip the browser test module `module` where no Chromium is installed (fail in CI)."""
    if CHROMIUM is not None:
        return
    if os.environ.get("FLAXGUIDE_BROWSER_TESTS") == "required":
        raise RuntimeError(f"{module}: browser tests are required, but no chromium is installed")
    pytest.skip(
        "browser tests need Chromium: `apt-get install chromium` (Debian) to run them",
        allow_module_level=True,
    )


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A browser context closed mid-request (a lazy figure, a held-back search index) drops
        # its connection; that is no error of the site. Anything else is printed as usual.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(folder: Path):
    """`folder` served on a free local port, in a thread: `(server, url)`."""
    server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Visit:
    """A page opened in a fresh context, with everything that went wrong while it loaded."""

    def __init__(self, browser, url: str, width: int = 1280, dark: bool = False):
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
        )
        self.page = self.context.new_page()
        self.failures: list[str] = []
        host = urlparse(url).netloc
        self.page.on(
            "console",
            lambda m: m.type in ("error", "warning") and self.failures.append(f"console: {m.text}"),
        )
        self.page.on("pageerror", lambda e: self.failures.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.failures.append(f"failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.failures.append(f"HTTP {r.status}: {r.url}"),
        )
        self.page.on(
            "request",
            lambda r: (
                urlparse(r.url).netloc not in (host, "")
                and not r.url.startswith("data:")
                and self.failures.append(f"request to another host: {r.url}")
            ),
        )
        self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(400)  # scripts that run after load: KaTeX, copy buttons

    def close(self):
        self.context.close()


# Everything that a reader would see as broken on one page, found by script in the browser.
PAGE_PROBLEMS_JS = """() => {
  const problems = [];
  for (const img of document.querySelectorAll('img')) {
    if (!img.complete || img.naturalWidth === 0) problems.push(`image not loaded: ${img.src}`);
  }
  // Text outside code that still holds TeX delimiters was not rendered by KaTeX.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, .katex')) continue;
    const text = node.textContent;
    for (const raw of ['$$', '\\\\(', '\\\\[']) {
      if (text.includes(raw)) problems.push(`raw maths ${raw} in: ${text.trim().slice(0, 60)}`);
    }
  }
  for (const el of document.querySelectorAll('.arithmatex')) {
    if (!el.querySelector('.katex'))
      problems.push(`maths not rendered: ${el.textContent.slice(0, 60)}`);
  }
  for (const pre of document.querySelectorAll('.md-content pre')) {
    if (pre.closest('.linenodiv, .linenos')) continue;  // the line numbers beside source code
    const block = pre.closest('.highlight') || pre;
    const button = block.querySelector('.md-code__button, .md-clipboard');
    if (!button) {
      problems.push(`code block without a copy button: ${pre.textContent.slice(0, 40)}`);
      continue;
    }
    // Long lines must end clear of the button, which sits over the block's right edge.
    const code = pre.querySelector('code') || pre;
    if (parseFloat(getComputedStyle(code).paddingRight) < button.offsetWidth)
      problems.push(`copy button over the text: ${pre.textContent.slice(0, 40)}`);
  }
  // An equation wider than its column must be scrollable from the keyboard too.
  for (const eq of document.querySelectorAll('.katex-display')) {
    if (eq.scrollWidth > eq.clientWidth + 1 && eq.tabIndex < 0)
      problems.push(`a wide equation the keyboard cannot scroll: ${eq.textContent.slice(0, 40)}`);
  }
  // A table header cell with no text: a screen reader announces nothing for its column.
  for (const th of document.querySelectorAll('.md-content th')) {
    if (!th.textContent.trim()) problems.push('a table header cell without text');
  }
  // Maths in a heading written as plain text, like f_θ.
  for (const h of document.querySelectorAll('.md-content h1, .md-content h2, .md-content h3')) {
    const prose = h.cloneNode(true);  // the heading without its code, where _ is fine
    prose.querySelectorAll('code, .headerlink').forEach(c => c.remove());
    if (/[A-Za-z]_[A-Za-zθφ\\{]/.test(prose.textContent))
      problems.push(`maths as plain text in a heading: ${h.textContent}`);
  }
  return problems;
}"""

# At a phone's width: nothing scrolls the page sideways, and wide equations scroll in their box.
NARROW_PROBLEMS_JS = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const scrolled = document.documentElement.scrollWidth;
  if (scrolled > width + 1) problems.push(`the page scrolls sideways: ${scrolled}px > ${width}px`);
  for (const eq of document.querySelectorAll('.katex-display')) {
    const style = getComputedStyle(eq);
    if (eq.scrollWidth > eq.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX))
      problems.push(`equation clipped: ${eq.textContent.slice(0, 40)}`);
  }
  return problems;
}"""


# Figures below a page's opening section load when scrolled near (`loading="lazy"`, from
# docs/_hooks/weight.py): bring each into view and wait for it, as a reader scrolling would,
# then scroll back. An image that never loads is still reported by PAGE_PROBLEMS_JS.
LOAD_LAZY_IMAGES_JS = """async () => {
  const top = window.scrollY;
  for (const img of document.querySelectorAll('img[loading=lazy]')) {
    if (img.complete && img.naturalWidth) continue;
    img.scrollIntoView({block: 'center'});
    await Promise.race([img.decode().catch(() => {}), new Promise(r => setTimeout(r, 5000))]);
  }
  window.scrollTo(0, top);
}"""


def load_lazy_images(page) -> None:
    """Scroll each lazily loaded image of `page` into view and wait until it has loaded."""
    page.evaluate(LOAD_LAZY_IMAGES_JS)


def problems_on(page) -> list[str]:
    """The problems a loaded Playwright `page` shows, at its current viewport, once its lazy
    images have been scrolled to."""
    load_lazy_images(page)
    return page.evaluate(PAGE_PROBLEMS_JS)


def narrow_problems_on(page) -> list[str]:
    return page.evaluate(NARROW_PROBLEMS_JS)


# What a page shows of itself: its names, its tabs' order, where KaTeX loads, wide maths.

WIDE_EQUATIONS = """() => [...document.querySelectorAll('.katex-display')]
  .filter(equation => equation.scrollWidth > equation.clientWidth + 1)
  .map(equation => equation.textContent.slice(0, 40))"""


NAMES = """() => ({
  h1: document.querySelector('.md-content h1').firstChild.textContent.trim(),
  title: document.title,
  nav: [...document.querySelectorAll('.md-sidebar--primary a.md-nav__link--active')]
    .map(a => a.textContent.trim()),
  tabs: [...document.querySelectorAll('.tabbed-labels')]
    .map(group => [...group.querySelectorAll('label')].map(label => label.textContent.trim())),
})"""
# Within a group of tabs, the JAX side comes first and PyTorch, the reader's old friend, last.
TAB_ORDER = ["JAX", "Optax", "Flax + Optax", "Linen", "NNX", "PyTorch"]


def assert_one_name_and_one_tab_order(page) -> None:
    """The page is called one name, and every group of tabs keeps TAB_ORDER."""
    names = page.evaluate(NAMES)
    # The heading, the navigation (and so the previous page's "Next") and the window title.
    assert names["nav"] == [names["h1"]], names
    assert names["title"].startswith(names["h1"] + " - "), names
    for labels in names["tabs"]:
        assert all(label in TAB_ORDER for label in labels), labels
        assert labels == sorted(labels, key=TAB_ORDER.index), labels


def assert_katex_only_where_there_is_maths(page) -> None:
    """KaTeX's script was fetched if and only if the page holds maths."""
    maths = page.evaluate("() => document.querySelectorAll('.arithmatex').length")
    katex = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(name => /katex/.test(name))"
    )
    if maths:
        assert any(name.endswith("katex.min.js") for name in katex), katex
    else:
        assert katex == [], katex


# A page's weight on a cold load (tests/test_weight.py shows the check failing).

# The most a page may fetch on a cold load before the reader does anything, in decoded bytes.
# What every page shares comes to about 0.33 MB (Material's stylesheets, bundle and search
# worker, the site's own scripts); a page with maths adds KaTeX, about 0.35 MB with the fonts
# its maths uses; then the page's own HTML, 0.03 to 0.65 MB, most of it highlighted code. The
# heaviest page, the CVAE chapter, weighs about 1.36 MB; 1.5 MB leaves it room to grow by a
# section, and is exceeded on most pages if the search index (0.77 MB), the CVAE chapter's
# figures (0.7 MB) or the reference's source listings (1.8 MB) come back to the first load.
BUDGET = 1_500_000
# The playground's model is its content: it fetches the published weights as it opens (1.9 MB:
# float16, gzipped; and their header), on top of what any page may weigh.
PLAYGROUND = ROOT / "docs" / "figures" / "playground"
MODEL_BYTES = sum(path.stat().st_size for path in PLAYGROUND.glob("weights.*"))


def budget_for(path: str) -> int:
    """The cold-load budget of the page at `path` (`/playground/`: the budget and its model)."""
    return BUDGET + (MODEL_BYTES if path == "/playground/" else 0)


# Every entry of the page's timeline: the page itself, then each file it fetched.
RESOURCES_JS = """() => [
  ...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource'),
].map(entry => ({url: entry.name, bytes: entry.decodedBodySize}))"""


def kind(url: str, first: bool) -> str:
    """What a fetched file is, for the failure message."""
    path = urlparse(url).path
    if first:
        return "HTML"
    if "/katex/" in path or path.endswith("/katex.js"):
        return "KaTeX"
    if path.endswith("search_index.json"):
        return "search index"
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return {
        "css": "CSS",
        "js": "JS",
        "woff2": "font",
        "woff": "font",
        "ttf": "font",
        "png": "image",
        "jpg": "image",
        "jpeg": "image",
        "svg": "image",
        "webp": "image",
        "html": "HTML",
    }.get(suffix, suffix or "other")


def weigh(page) -> list[tuple[int, str, str]]:
    """`(bytes, kind, path)` for everything `page` fetched so far, the largest first."""
    page.wait_for_load_state("networkidle")  # what starts after `load` counts too
    entries = page.evaluate(RESOURCES_JS)
    rows = [
        (entry["bytes"], kind(entry["url"], k == 0), urlparse(entry["url"]).path)
        for k, entry in enumerate(entries)
    ]
    return sorted(rows, reverse=True)


def over_budget(rows: list[tuple[int, str, str]], budget: int = BUDGET) -> str | None:
    """None if `rows` fit the budget, else a message naming the largest of them."""
    total = sum(size for size, _, _ in rows)
    if total <= budget:
        return None
    by_kind: dict[str, int] = {}
    for size, what, _ in rows:
        by_kind[what] = by_kind.get(what, 0) + size
    kinds = ", ".join(
        f"{what} {size:,}" for what, size in sorted(by_kind.items(), key=lambda kv: -kv[1])
    )
    largest = "\n".join(f"  {size:>10,}  {what:<12} {path}" for size, what, path in rows[:8])
    return (
        f"{total:,} bytes on a cold load, over the budget of {budget:,} "
        f"({len(rows)} files; {kinds}). The largest:\n{largest}"
    )


# axe-core's judgement of a page (tests/test_accessibility.py).

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

# Every violation of impact serious or critical, with the first few elements it was found on.
AXE_RUN_JS = """async (skip) => {
  const rules = Object.fromEntries(skip.map(id => [id, {enabled: false}]));
  const results = await axe.run(document, {resultTypes: ['violations'], rules});
  return results.violations
    .filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => ({id: v.id, impact: v.impact, count: v.nodes.length,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def axe_violations(page, skip: tuple[str, ...] = ()) -> list[str]:
    """The serious and critical violations axe-core finds on `page`, one line per rule, with
    the rules `skip` names left out."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing from {AXE.parent}: run `npm ci` in {ROOT}")
    if not page.evaluate("() => typeof axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return [
        f"{v['id']} ({v['impact']}, {v['count']} elements): {', '.join(v['targets'])}"
        for v in page.evaluate(AXE_RUN_JS, list(skip))
    ]


# Code blocks against the column (tests/test_code_width.py).

# The blocks allowed to be wider than the column, by page and first 40 characters, each with why.
ALLOWED = {
    ("/cvae/", '{\n  "command": "python -m flaxguide figu'): (
        "the run's manifest in full, in a closed fold: a data file shown as the figures command "
        "wrote it, whose `command` entries are single long strings"
    ),
    ("/debugging/", "checkify: nan generated by primitive: do"): (
        "JAX prints its own one-line message while `jax_debug_nans` re-runs the function; the "
        "page shows the output as printed"
    ),
    ("/debugging/", "Invalid nan value encountered in the bac"): (
        "JAX prints its own one-line message while `jax_debug_nans` re-runs the backward pass; "
        "the page shows the output as printed"
    ),
}

# Every code block of the content that is wider than its box, after showing every block: the
# blocks of tabs not selected and of closed folds are not laid out at all until shown. The line
# numbers beside source code are a column of their own, never wide.
WIDE_CODE_JS = """() => {
  const style = document.createElement('style');
  style.textContent = '.md-content .tabbed-block { display: block !important; }';
  document.head.appendChild(style);
  document.querySelectorAll('.md-content details').forEach(fold => { fold.open = true; });
  const wide = [], unseen = [];
  for (const code of document.querySelectorAll('.md-content pre > code')) {
    if (code.closest('.linenodiv, .linenos')) continue;
    const start = code.textContent.slice(0, 40);
    if (code.getClientRects().length === 0) unseen.push(start);
    const overflow = code.scrollWidth - code.clientWidth;
    if (overflow > 1) wide.push([start, overflow]);
  }
  return {wide, unseen};
}"""


def wide_code_on(page, path: str) -> list[str]:
    """What is wrong with the code blocks' widths on a loaded Playwright `page` at `path`."""
    found = page.evaluate(WIDE_CODE_JS)
    problems = [f"{path}: a code block the check cannot see: {s!r}" for s in found["unseen"]]
    starts = set()
    for start, overflow in found["wide"]:
        starts.add(start)
        if (path, start) not in ALLOWED:
            problems.append(f"{path}: {start!r} is {overflow}px wider than its box")
    for page_path, start in ALLOWED:
        if page_path == path and start not in starts:
            problems.append(f"{path}: {start!r} fits now: take it off ALLOWED")
    return problems
