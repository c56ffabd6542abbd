"""Each page's weight: the bytes a reader's browser fetches to open it, held under one budget.

A page is opened cold (a fresh browser context, so nothing comes from a cache) at 1280 x 900,
and weighed with the Resource Timing API: the decoded size of the page itself and of every
file it fetched before the reader does anything (stylesheets, scripts, the search worker,
fonts, images, KaTeX). The local server does not compress, so these are the bytes a browser
holds, not the fewer that travel gzipped from GitHub Pages. What the site fetches only when
the reader asks is not counted, by design: the search index (fetched on opening search), the
API reference's source listings (fetched on opening one) and figures below the first screen
(`loading="lazy"`), all arranged by `docs/_hooks/weight.py`.
"""

import base64
import os
import re
from urllib.parse import urlparse

import pytest
from browser import PATHS, Visit, require_chromium, serve

require_chromium(__name__)

# The most a page may fetch on a cold load before the reader does anything, in decoded bytes.
# What every page shares comes to about 0.33 MB (Material's stylesheets, bundle and search
# worker, the site's own scripts); a page with maths adds KaTeX, about 0.35 MB with the fonts
# its maths uses; then the page's own HTML, 0.03 to 0.65 MB, most of it highlighted code. The
# heaviest page, the CVAE chapter, weighs about 1.36 MB; 1.5 MB leaves it room to grow by a
# section, and is exceeded on most pages if the search index (0.77 MB), the CVAE chapter's
# figures (0.7 MB) or the reference's source listings (1.8 MB) come back to the first load.
BUDGET = 1_500_000

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


@pytest.mark.parametrize("path", PATHS)
def test_every_page_loads_within_the_weight_budget(site, browser, path):
    visit = Visit(browser, site[1] + path)
    try:
        rows = weigh(visit.page)
    finally:
        visit.close()
    assert rows and rows[0][0] > 0, rows  # the timeline was read, with sizes
    problem = over_budget(rows)
    assert problem is None, f"{path}: {problem}"


# The check can fail: pages over the budget, in the page itself or in a file it fetches. And
# a figure far below the first screen that loads lazily is not part of the first load.
NOISE = 1_200_000  # the bytes of a heavy figure, and the budget these pages are held to
HEAVY_PAGES = {
    "inline-image": (
        '<p><img alt="inline" src="data:image/png;base64,{noise}"></p>',
        True,
    ),
    "image-file": ('<p><img alt="heavy" src="heavy.png"></p>', True),
    "lazy-image-below": (
        '<div style="height: 6000px"></div><p><img alt="heavy" src="heavy.png" loading="lazy" '
        'width="100" height="100"></p>',
        False,
    ),
}


@pytest.mark.parametrize("name", HEAVY_PAGES)
def test_the_weight_check_fails_on_a_page_over_budget(browser, tmp_path, name):
    from PIL import Image

    body, over = HEAVY_PAGES[name]
    # A real PNG of noise, which no compression shrinks: a browser that fetches it fetches all.
    side = int((NOISE / 3) ** 0.5)
    Image.frombytes("RGB", (side, side), os.urandom(3 * side * side)).save(tmp_path / "heavy.png")
    inline = base64.b64encode((tmp_path / "heavy.png").read_bytes()).decode()
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><body><main>"
        + body.replace("{noise}", inline)
        + "</main></body></html>"
    )
    server, url = serve(tmp_path)
    try:
        visit = Visit(browser, url + "/")
        rows = weigh(visit.page)
        visit.close()
    finally:
        server.shutdown()
        server.server_close()
    problem = over_budget(rows, budget=NOISE)
    if over:
        assert problem is not None, f"the {name} page passed: {rows}"
        assert re.search(r"The largest:\n +[\d,]+ +(HTML|image) ", problem), problem
    else:
        assert problem is None, problem


LAZY_FIGURES_JS = """async () => {
  const found = [];
  for (const img of document.querySelectorAll('.md-content img[loading=lazy]')) {
    const before = [img.clientWidth, img.clientHeight];
    img.scrollIntoView({block: 'center'});
    await img.decode().catch(() => {});
    found.push({src: img.getAttribute('src'), before, after: [img.clientWidth, img.clientHeight],
                natural: img.naturalWidth});
  }
  return found;
}"""


def test_figures_below_the_first_screen_load_when_scrolled_to_in_the_box_kept_for_them(
    site, browser
):
    visit = Visit(browser, site[1] + "/cvae/")
    try:
        figures = visit.page.evaluate(LAZY_FIGURES_JS)
        assert visit.failures == []
    finally:
        visit.close()
    assert len(figures) >= 5, figures  # the chapter's figures, all below the first screen
    for figure in figures:
        assert figure["natural"] > 0, f"{figure['src']} did not load when scrolled to"
        # The box reserved from its width and height is the box it fills: nothing jumps.
        assert figure["before"] == figure["after"], figure
