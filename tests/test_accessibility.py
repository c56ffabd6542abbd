"""The built site's accessibility, as axe-core judges it in a real browser, and the phone layout
of display maths.

axe-core comes from npm (package.json's devDependencies, `npm ci`) and is loaded into each page
by the test alone: the site never serves it (docs/_hooks/site.py copies KaTeX, nothing else, from
node_modules). Every page of the navigation must show no violation of impact "serious" or
"critical" in both of Material's colour schemes (mkdocs.yml's palette follows the browser's
`prefers-color-scheme` when a page loads; the header's toggle switches it). Both are judged in
tests/test_browser.py's one visit per page, with the other checks: the light scheme at 1280 px
and at a phone's 390 px, where every rule runs but colour contrast (the slowest by far, two
thirds of axe's time on a long chapter; colours are set per scheme, never per width), and the
dark scheme at 1280 px, switched to by the toggle (a second cold load of every page would cost
as much Chromium time as axe's run). Here: that a browser which prefers dark gets the dark
scheme from the first paint. The check itself (`axe_violations`) is in tests/browser.py.
"""

import pytest
from browser import PATHS, Visit, axe_violations, problems_on, require_chromium, serve

require_chromium(__name__)

SCHEMES = {"light": "default", "dark": "slate"}  # Material's name for each, on <body>
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_page_loads_in_the_scheme_the_browser_prefers(site, browser, scheme):
    visit = Visit(browser, site[1] + "/cvae/", dark=scheme == "dark")
    try:
        shown = visit.page.evaluate("() => document.body.dataset.mdColorScheme")
        background = visit.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert visit.failures == []
    finally:
        visit.close()
    assert shown == SCHEMES[scheme], f"asked for the {scheme} scheme, the page shows {shown}"
    # The scheme's own colours are painted, not only its name set: white, or Material's slate.
    assert background == {"light": "rgb(255, 255, 255)", "dark": "rgb(30, 33, 41)"}[scheme]


# Each display equation's box against the column's paragraphs, in pixels from the viewport's
# left; and how each box overflows.
GUTTER_JS = """() => {
  const paragraphs = [...document.querySelectorAll('.md-content article > p')]
    .map(p => p.getBoundingClientRect());
  const left = Math.min(...paragraphs.map(r => r.left));
  const right = Math.max(...paragraphs.map(r => r.right));
  return [...document.querySelectorAll('.md-content .katex-display')].map(eq => {
    const box = eq.getBoundingClientRect();
    return {text: eq.textContent.slice(0, 30), left: box.left, right: box.right,
            column: [left, right], overflow: getComputedStyle(eq).overflowX};
  });
}"""


def gutter_problems(equations: list[dict]) -> list[str]:
    """The equations whose box runs into the side padding that the paragraphs keep."""
    problems = []
    for eq in equations:
        left, right = eq["column"]
        if eq["left"] < left - 0.5 or eq["right"] > right + 0.5:
            problems.append(
                f"{eq['text']!r}: box {eq['left']:.0f}-{eq['right']:.0f} px, "
                f"paragraphs {left:.0f}-{right:.0f} px"
            )
    return problems


def display_maths_pages(folder) -> list[str]:
    """The pages of the navigation with at least one display equation."""
    pages = {path: folder / path.lstrip("/") / "index.html" for path in PATHS}
    return [path for path, page in pages.items() if '<div class="arithmatex">' in page.read_text()]


def test_display_maths_keeps_the_columns_side_padding_on_a_phone(site, browser):
    folder, url = site
    paths = display_maths_pages(folder)
    assert paths, "no page of the site has a display equation to check"
    problems, boxes = [], []
    for path in paths:
        visit = Visit(browser, url + path, width=PHONE["width"])
        try:
            equations = visit.page.evaluate(GUTTER_JS)
            # Opened at a phone's width (not resized to it): wide equations still reachable.
            assert problems_on(visit.page) == [], path
        finally:
            visit.close()
        assert equations, f"{path}: display maths in the HTML, none rendered"
        problems += [f"{path}: {problem}" for problem in gutter_problems(equations)]
        boxes += equations
    assert problems == []
    # Every equation fits a phone's column (the one-visit-per-page test holds them to it); one
    # that did not would scroll inside its own box, not push the page sideways.
    assert all(eq["overflow"] in ("auto", "scroll") for eq in boxes), boxes


# The checks themselves can fail: pages built broken, each with one defect.

BROKEN_PAGES = {
    "low-contrast": '<p style="color: #aaa; background: #fff">Grey on white, 2.3:1.</p>',
    "link-by-colour-alone": '<p style="color: #212121">Text with <a href="#x" '
    'style="color: #4051b5; text-decoration: none">a link</a> told apart by colour alone.</p>',
    "unnamed-dialog": '<div role="dialog"><p>A dialog without a name.</p></div>',
}


@pytest.mark.parametrize("defect", BROKEN_PAGES)
def test_the_axe_check_fails_on_a_broken_page(browser, tmp_path, defect):
    (tmp_path / "index.html").write_text(
        "<!doctype html><html lang='en'><head><title>Broken</title></head><body>"
        f"<main>{BROKEN_PAGES[defect]}</main></body></html>"
    )
    server, url = serve(tmp_path)
    try:
        visit = Visit(browser, url + "/")
        try:
            found = axe_violations(visit.page)
        finally:
            visit.close()
    finally:
        server.shutdown()
        server.server_close()
    assert found, f"axe-core found nothing serious on the {defect} page"


def test_the_gutter_check_fails_on_an_equation_flush_with_the_screens_edge(browser, tmp_path):
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><body style='margin: 0'><main class='md-content'><article>"
        "<p style='margin: 0 16px'>A paragraph, 16 px in from each side.</p>"
        "<div class='katex-display' style='margin: 0'>an equation from edge to edge</div>"
        "</article></main></body></html>"
    )
    server, url = serve(tmp_path)
    try:
        visit = Visit(browser, url + "/", width=PHONE["width"])
        try:
            equations = visit.page.evaluate(GUTTER_JS)
        finally:
            visit.close()
    finally:
        server.shutdown()
        server.server_close()
    assert len(equations) == 1 and gutter_problems(equations), equations
