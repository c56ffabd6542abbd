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
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import MKDOCS_YML

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


def serve(folder: Path):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
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
