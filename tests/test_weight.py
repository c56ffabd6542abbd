"""Each page's weight: the bytes a reader's browser fetches to open it, held under one budget.

A page is opened cold (a fresh browser context, so nothing comes from a cache) at 1280 x 900,
and weighed with the Resource Timing API: the decoded size of the page itself and of every
file it fetched before the reader does anything (stylesheets, scripts, the search worker,
fonts, images, KaTeX). The local server does not compress, so these are the bytes a browser
holds, not the fewer that travel gzipped from GitHub Pages. What the site fetches only when
the reader asks is not counted, by design: the search index (fetched on opening search), the
API reference's source listings (fetched on opening one) and figures below the first screen
(`loading="lazy"`), all arranged by `docs/_hooks/weight.py`.

The budget and the check (`BUDGET`, `weigh`, `over_budget`) are in tests/browser.py; every page
is weighed in tests/test_browser.py's one visit per page, first, while its load is still cold.
Here: the check failing on pages built too heavy, and the lazy figures of a real chapter.
"""

import base64
import os
import re

import pytest
from browser import Visit, over_budget, require_chromium, serve, weigh

require_chromium(__name__)

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
