"""The built site as a reader sees it, in a real browser: every page of the navigation.

Chromium, the local server, the page visit and the page checks are in `browser.py`, shared by
every browser test module; the session's browser and served site are conftest's fixtures.
"""

import functools
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import nbformat
import pytest
from browser import (
    PATHS,
    WIDE_EQUATIONS,
    Visit,
    assert_katex_only_where_there_is_maths,
    assert_one_name_and_one_tab_order,
    axe_violations,
    budget_for,
    load_lazy_images,
    narrow_problems_on,
    over_budget,
    problems_on,
    require_chromium,
    serve,
    weigh,
    wide_code_on,
)
from conftest import DOCS, MKDOCS_YML, REPO_URL, SITE_URL
from docs_harness import expand_snippets, parse_blocks
from page_blocks import CHAPTERS

require_chromium(__name__)


CHAPTER_PATHS = {f"/{chapter.removesuffix('.md')}/": chapter for chapter in CHAPTERS}


@pytest.mark.parametrize("path", PATHS)
def test_every_page_as_a_reader_opens_it(site, browser, path):
    """One cold visit per page for every check that reads the page (a load costs Chromium about
    2.7 s of processor time here, as much as one run of axe-core): its weight, its load, its names,
    at 1280 px and at a phone's width, axe-core in the light scheme at both widths and in the
    dark scheme (switched to as a reader switches, by the header's toggle) at 1280 px; on a
    chapter, its Colab, notebook, source and report links at both widths and its folds opened;
    and last, because it opens every tab and fold, the width of its code blocks. Each check is
    in tests/browser.py or below, and is shown failing on a page built broken in the module of
    its concern."""
    chapter = CHAPTER_PATHS.get(path)
    visit = Visit(browser, site[1] + path)
    try:
        page = visit.page
        weight = over_budget(weigh(page), budget_for(path))  # first: the cold load alone
        assert weight is None, f"{path}: {weight}"
        assert visit.failures == []
        assert page.evaluate("() => document.body.dataset.mdColorScheme") == "default"
        assert problems_on(page) == []
        assert narrow_problems_on(page) == []  # wide equations scroll at 1280 px too
        assert page.evaluate(WIDE_EQUATIONS) == []  # at 1280 px, none is wider at all
        assert_katex_only_where_there_is_maths(page)
        if path != "/":  # the landing page's heading is a sentence, its navigation entry a name
            assert_one_name_and_one_tab_order(page)
        if chapter:
            assert_chapter_links(page, chapter, site[1], fetch_notebook=True)
        assert axe_violations(page) == []
        switch_scheme(page, "slate")
        assert axe_violations(page) == [], f"{path} (dark)"
        switch_scheme(page, "default")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)  # the layout settles at the new width
        assert narrow_problems_on(page) == []
        assert problems_on(page) == []  # among them: wide equations reachable by keyboard
        assert page.evaluate(WIDE_EQUATIONS) == []  # and none is left: each fits a phone too
        if chapter:
            assert_chapter_links(page, chapter, site[1])
        # Colours are set per scheme, never per width: contrast is judged at 1280 px only.
        assert axe_violations(page, skip=("color-contrast",)) == []
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(300)
        if chapter:
            assert_folds_open_and_render(page)
        assert wide_code_on(page, path) == []
        assert visit.failures == []
    finally:
        visit.close()


def switch_scheme(page, scheme: str) -> None:
    """Switch Material's colour scheme with the header's toggle, as a reader does (the palette
    follows the browser's preference only when the page loads)."""
    label = "Switch to dark mode" if scheme == "slate" else "Switch to light mode"
    page.locator(f'.md-header label[title="{label}"]').click()
    # The scheme's colours apply at once (no transition: the computed colours read right
    # after the switch are those of a page loaded in that scheme, checked).
    page.wait_for_function(f"() => document.body.dataset.mdColorScheme === {scheme!r}")


def test_content_tabs_switch(site, browser):
    visit = Visit(browser, site[1] + "/training-loop/")
    try:
        tab_sets = visit.page.locator(".tabbed-set")
        assert tab_sets.count() > 0
        second = tab_sets.first.locator(".tabbed-labels > label").nth(1)
        second.click()
        block = tab_sets.first.locator(".tabbed-content > .tabbed-block").nth(1)
        assert block.is_visible()
    finally:
        visit.close()


def open_every_fold(page) -> int:
    """Open each closed `??? note` / solution a reader can reach, in page order; count them."""
    opened = 0
    folds = page.locator("details")
    for k in range(folds.count()):
        fold = folds.nth(k)
        if not fold.is_visible():  # inside a tab that is not selected
            continue
        assert fold.get_attribute("open") is None, "a folded block starts open"
        fold.locator("> summary").click()
        assert fold.get_attribute("open") is not None
        opened += 1
    hidden = page.evaluate(FOLDED_CODE_HIDDEN_JS)
    assert hidden == [], hidden
    return opened


# Code whose nearest fold is open must show: a fold that opens on an empty box is a defect.
FOLDED_CODE_HIDDEN_JS = """() => [...document.querySelectorAll('details[open] .highlight')]
  .filter(code => code.closest('details').open && code.closest('.tabbed-block, details')
    === code.closest('details') && code.offsetHeight === 0)
  .map(code => code.textContent.slice(0, 40))"""


def assert_folds_open_and_render(page) -> None:
    """A chapter's folds (notes, solutions) open and show what they hold, at 1280 px and at a
    phone's width; the reading time is above them. Leaves the page at 1280 px, folds open."""
    assert re.match(r"About \d+ minutes to read", page.locator(".reading-time").inner_text())
    assert open_every_fold(page) >= 2  # at least the exercises' solutions
    solutions = page.locator("details > summary", has_text="Solution")
    assert solutions.count() >= 2 and all(s.is_visible() for s in solutions.all())
    assert problems_on(page) == []  # what the folds held renders like the rest
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert narrow_problems_on(page) == []
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(300)


LANDING = """() => {
  const content = document.querySelector('.md-content');
  const table = content.querySelector('table');
  const pitch = [...content.querySelectorAll('p')].find(p => /know PyTorch/.test(p.textContent));
  const start = [...content.querySelectorAll('a')]
    .find(a => a.pathname.endsWith('/training-loop/'));
  const follows = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  return {
    h1: content.querySelector('h1').firstChild.textContent.trim(),
    pitchBeforeTables: !!pitch && follows(pitch, table),
    startBeforeTables: !!start && follows(start, table),
    startTop: start ? start.getBoundingClientRect().top : null,
    rowNames: [...content.querySelectorAll('tr td:first-child')].map(td => td.textContent.trim()),
  };
}"""


def test_the_landing_page_says_what_the_guide_is_and_where_to_start_before_any_table(site, browser):
    visit = Visit(browser, site[1] + "/")
    try:
        landing = visit.page.evaluate(LANDING)
        assert landing["h1"] != "flaxguide", landing  # a sentence, not the package's name
        assert landing["pitchBeforeTables"] and landing["startBeforeTables"], landing
        assert landing["startTop"] < 900, landing  # on the first screen at 1280 x 900
        raw_keys = [name for name in landing["rowNames"] if re.search(r"[a-z]_[a-z]", name)]
        assert raw_keys == [], raw_keys  # measures named in words, not as manifest keys
    finally:
        visit.close()


CHAPTER_LINKS = """() => [...document.querySelectorAll('.chapter-actions a')].map(a => ({
  text: a.textContent.trim(), href: a.href, download: a.getAttribute('download'),
  visible: a.getBoundingClientRect().width > 0 &&
    a.getBoundingClientRect().right <= document.documentElement.clientWidth,
}))"""


def assert_chapter_links(page, chapter: str, site_url: str, fetch_notebook: bool = False) -> None:
    """A chapter offers Colab its notebook, the notebook itself, its source and a report form,
    all visible at the page's width; with `fetch_notebook`, the file the button gives is fetched by
    the page and holds every Python block of the chapter."""
    stem = chapter.removesuffix(".md")
    links = {link["text"]: link for link in page.evaluate(CHAPTER_LINKS)}
    assert list(links) == [
        "Run in Colab", "Download notebook", "View source", "Report a problem with this page"
    ]  # fmt: skip
    assert all(link["visible"] for link in links.values()), links
    owner_repo = urlparse(REPO_URL).path.strip("/")
    assert links["Run in Colab"]["href"] == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/notebooks/{stem}.ipynb"
    )
    assert re.fullmatch(
        rf"{REPO_URL}/blob/[0-9a-f]{{40}}/docs/{chapter}", links["View source"]["href"]
    ), links["View source"]["href"]
    report = urlparse(links["Report a problem with this page"]["href"])
    title = page.eval_on_selector(
        "h1",
        "h => h.firstChild.textContent.trim()",  # the title, not its permalink mark
    )
    assert report.geturl().startswith(f"{REPO_URL}/issues/new?")
    assert parse_qs(report.query)["title"] == [f"{title}: "]
    download = links["Download notebook"]
    assert download["href"] == f"{site_url}/notebooks/{stem}.ipynb"
    assert download["download"] == f"{stem}.ipynb"
    if not fetch_notebook:
        return
    # The file the button gives, fetched by the page itself (same site, nothing else).
    text = page.evaluate("url => fetch(url).then(r => r.text())", download["href"])
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    shown = expand_snippets((DOCS / chapter).read_text(encoding="utf-8"), MKDOCS_YML)
    for block in parse_blocks(shown):
        if block.is_python:
            assert block.code.rstrip("\n") in code


def test_every_chapter_is_visited_with_its_links_and_folds():
    assert set(CHAPTER_PATHS) <= set(PATHS)  # the reader's visit checks each chapter's own


def test_a_site_without_a_repository_offers_only_what_works_without_one():
    import downloads

    class Page:
        url = "cvae/"

        class file:
            src_uri = "cvae.md"

    config = {"repo_url": None, "site_url": None, "extra": {"notebooks_branch": "notebooks"}}
    row = downloads.actions(Page, "4. A class-conditioned VAE on MNIST", config)
    assert re.findall(r">([^<]+)</a>", row) == ["Download notebook", "View source"]
    assert 'href="../notebooks/cvae.ipynb"' in row and 'href="../cvae.md"' in row
    assert "git clone" not in downloads.clone_commands(None)
    assert downloads.clone_commands(downloads.repository({"repo_url": REPO_URL + ".git/"})) == (
        f"git clone {REPO_URL}.git flaxguide\ncd flaxguide"
    )


def test_the_site_publishes_its_pages_as_markdown_and_an_llms_txt(site):
    folder = site[0]
    index = (folder / "llms.txt").read_text()
    listed = re.findall(
        rf"^- \[[^\]]+\]\({re.escape(SITE_URL)}([\w-]+\.md)\)$", index, flags=re.MULTILINE
    )
    assert sorted(listed) == sorted(page.name for page in DOCS.glob("*.md"))
    assert listed[: len(CHAPTERS)] == list(CHAPTERS)  # chapters first, in order
    optax = (folder / "optax.md").read_text()
    assert "--8<--" not in optax and "def clip_by_running_norm" in optax  # snippets expanded


def figure_pages(out: Path) -> list[str]:
    """The paths of the pages that show a figure of `docs/figures`."""
    pages = [
        p for p in out.rglob("index.html") if re.search(r'src="(\.\./)?figures/', p.read_text())
    ]
    return sorted({"/" + p.parent.relative_to(out).as_posix().strip(".") for p in pages})


# The smallest text a figure may show, in CSS px: on a phone (390 px) 11, on a desktop 9.
SMALLEST_TEXT_PX = {1280: 9, 390: 11}


@pytest.mark.parametrize(
    ("width", "dark"), [(1280, False), (1280, True), (390, False)], ids=["light", "dark", "phone"]
)
def test_figures_are_legible_and_open_full_size(site, browser, width, dark):
    from PIL import Image

    out, url = site
    checked, narrow = 0, 0
    for path in figure_pages(out):
        visit = Visit(browser, url + path.rstrip("/") + "/", width=width, dark=dark)
        try:
            load_lazy_images(visit.page)  # figures below the first screen load when scrolled to
            shown = visit.page.eval_on_selector_all(
                "img[src*='figures/']",
                """imgs => imgs.map(img => ({src: img.src, shown: img.currentSrc,
                    width: img.clientWidth, natural: img.naturalWidth,
                    link: img.closest('a')?.href}))""",
            )
        finally:
            visit.close()
        for figure in shown:
            # the drawing the browser chose: a phone's, on a phone, where there is one
            png = Image.open(out / urlparse(figure["shown"]).path.lstrip("/"))
            narrow += figure["shown"] != figure["src"]
            points = float(png.text["flaxguide:smallest-text-pt"])
            scale = figure["width"] / figure["natural"]  # shown size over the PNG's own
            pixels = points * int(png.text["flaxguide:dpi"]) / 72 * scale
            # A figure without text (a grid of digits alone) records 0 points.
            assert points == 0 or pixels >= SMALLEST_TEXT_PX[width], (
                f"{figure['shown']}: text {pixels:.1f} px on {path} at {width} px"
            )
            assert figure["link"] == figure["src"], f"{figure['src']} does not open full size"
            corner = png.convert("RGBA").getpixel((0, 0))
            assert corner == (255, 255, 255, 255), f"{figure['shown']}: not on opaque white"
            checked += 1
    assert checked >= 8
    # A phone is given the phone's drawings (every figure with text has one); a desktop never.
    assert (narrow >= 8) if width == 390 else (narrow == 0), narrow


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


@functools.cache  # the reference page alone is linked to hundreds of times
def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text())
    return links


def test_every_internal_link_and_anchor_resolves(site):
    out = site[0]
    subpath = urlparse(SITE_URL).path  # where the site lives on its host: /flaxguide/
    broken = []
    for page in sorted(out.rglob("*.html")):
        base = "/" + page.relative_to(out).as_posix()
        for href in parse(page).hrefs:
            # The site's own address, whole or from its host's root (404.html), is the site.
            target = urlparse(urljoin(base, href.replace(SITE_URL, subpath, 1)))
            if target.scheme or target.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            path = target.path
            if path.startswith(subpath):
                path = "/" + path.removeprefix(subpath)
            file = out / path.lstrip("/")
            if path.endswith("/") or file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{base}: {href} (no {file.relative_to(out)})")
            elif target.fragment and target.fragment not in parse(file).ids:
                broken.append(f"{base}: {href} (no #{target.fragment})")
    assert broken == []


# The checks themselves can fail: pages built broken, each with one defect.

BROKEN_PAGES = {
    "image": '<p>A figure: <img src="missing.png" alt="gone"></p>',
    "heading": "<h2>An interactive f_θ</h2>",
    "raw-maths": "<p>The loss is $$\\mathcal{L} = x$$ here.</p>",
    "keyboard-unreachable": '<div class="katex-display" style="overflow-x: auto; width: 300px">'
    '<span style="display: inline-block; width: 900px">a wide equation, no tabindex</span></div>',
    "empty-header": "<table><tr><th></th><th>yes</th></tr><tr><td>a</td><td>1</td></tr></table>",
    "overflow": '<div class="katex-display" style="overflow: visible; width: 300px">'
    '<span style="display: inline-block; width: 900px">a very wide equation</span></div>',
}


@pytest.mark.parametrize("defect", BROKEN_PAGES)
def test_the_checks_fail_on_a_broken_page(browser, tmp_path, defect):
    (tmp_path / "index.html").write_text(
        f"<!doctype html><html><body><main class='md-content'>{BROKEN_PAGES[defect]}"
        "</main></body></html>"
    )
    server, url = serve(tmp_path)
    try:
        visit = Visit(browser, url + "/", width=390)
        found = problems_on(visit.page) + narrow_problems_on(visit.page) + visit.failures
        visit.close()
    finally:
        server.shutdown()
        server.server_close()
    assert found, f"the {defect} page passed every check"
