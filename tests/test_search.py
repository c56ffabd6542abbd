"""The site's search as a reader who types API names uses it, in a real browser, and the build
hook that serves them (docs/_hooks/search.py, which says what it changes in Material's search).

The searches share one page visit; each clears the box first and then types its term, so each
list of results is the answer to that term alone. The browser tests skip without Chromium
(fail in CI) through the `browser` fixture; the hook's own tests need no browser.
"""

import re
from urllib.parse import parse_qs, urlparse

import pytest
import search as hook  # docs/_hooks/search.py
from browser import Visit

# The page that teaches each name must be its first hit.
SEARCHES = {
    "multi_transform": "/finetuning/",
    "transform": "/optax/",  # chapter 3: optimisers as gradient transformations
    "optax.multi_transform": "/finetuning/",
    "incremental_update": "/beyond/",
    "TrainState": "/beyond/",
    "apply_if_finite": "/beyond/",
    "shard_map": "/many-devices/",
    "CheckpointManager": "/checkpoints/",
    "value_and_grad": "/training-loop/",
}
# Names no page uses: real ones of JAX, Optax and Flax, and made-up ones.
UNTAUGHT = ["optax.lion", "jax.experimental.pjit", "nnx.remat", "frobnicate", "optax.frobnicate"]
# Searches whose results fell on maths or on groups of tabs, whose previews showed TeX
# (`\(\sqrt{\hat v}\)`) or labels run together ("LinenNNX").
PREVIEWED = ["adam", "ELBO", "learning_rate", "TrainState", "train_step"]
TAB_LABELS = "JAX|Optax|Flax|Linen|NNX|PyTorch"
GLUED_LABELS = re.compile(rf"({TAB_LABELS})({TAB_LABELS})")
TEX = re.compile(r"\\[()[\]]|\\[A-Za-z]+|\$\$")
NO_RESULTS = "No matching documents"
PLACEHOLDER = "Type to start searching"

# Every result shown: for each page (a list item), its links and the text of their previews,
# title and text apart and code left out (code may hold backslashes of its own).
RESULTS = """() => ({
  meta: document.querySelector('.md-search-result__meta').textContent.trim(),
  pages: [...document.querySelectorAll('.md-search-result__list > .md-search-result__item')]
    .map(item => [...item.querySelectorAll('a.md-search-result__link')].map(link => {
      const article = link.querySelector('article').cloneNode(true);
      article.querySelectorAll('pre, code').forEach(code => code.remove());
      const parts = [...article.childNodes].map(node => node.textContent);  // title, text
      return {href: link.href, preview: parts.join(' ')};
    })),
})"""


@pytest.fixture(scope="module")
def search_page(site, browser):
    visit = Visit(browser, site[1] + "/")
    visit.page.locator(".md-search__input").click()  # opening search loads its index
    wait_for_meta(visit.page, PLACEHOLDER)
    yield visit.page
    visit.close()


def wait_for_meta(page, text: str, equal: bool = True) -> None:
    page.wait_for_function(
        "([text, equal]) => (document.querySelector('.md-search-result__meta')"
        ".textContent.trim() === text) === equal",
        arg=[text, equal],
        timeout=10_000,
    )


def search(page, term: str) -> dict:
    """The results for `term`, typed as a reader does: search runs on key events."""
    box = page.locator(".md-search__input")
    box.click()
    box.fill("")
    page.keyboard.press("Backspace")  # the empty query, answered with the placeholder
    wait_for_meta(page, PLACEHOLDER)
    box.fill(term[:-1])
    page.keyboard.type(term[-1])  # one key event: one query, for the whole term
    wait_for_meta(page, PLACEHOLDER, equal=False)
    return page.evaluate(RESULTS)


@pytest.mark.parametrize("term, expected", SEARCHES.items())
def test_search_finds_api_names(search_page, term, expected):
    pages = [urlparse(links[0]["href"]).path for links in search(search_page, term)["pages"]]
    assert pages[0] == expected, pages  # the page that teaches it, first


@pytest.mark.parametrize("term", UNTAUGHT)
def test_a_name_no_page_uses_finds_nothing(search_page, term):
    found = search(search_page, term)
    shown = [links[0]["href"] for links in found["pages"]]
    assert (found["meta"], shown) == (NO_RESULTS, []), (found["meta"], shown)


def test_result_previews_read_as_text(search_page):
    raw = []
    for term in PREVIEWED:
        for links in search(search_page, term)["pages"]:
            raw += [
                (term, link["href"], link["preview"][:120])
                for link in links
                if TEX.search(link["preview"]) or GLUED_LABELS.search(link["preview"])
            ]
    assert raw == []
    # Inline maths is written out: `\hat m / (\sqrt{\hat v} + \epsilon)` in chapter 3.
    found = search(search_page, "scale_by_adam")["pages"]
    previews = [link["preview"] for links in found for link in links]
    assert any("m̂ / (√v̂ + ε)" in preview for preview in previews), previews


def test_every_result_link_highlights_what_was_searched(search_page, site, browser):
    unhighlighted = []
    for term in SEARCHES:
        for links in search(search_page, term)["pages"]:
            for link in links:
                highlight = parse_qs(urlparse(link["href"]).query).get("h", [""])[0]
                if not highlight.split():
                    unhighlighted.append((term, link["href"]))
    assert unhighlighted == []
    # A page's own entry that matched nothing itself (Material left its `?h=` empty) opens the
    # page with what its sections matched highlighted.
    first = search(search_page, "apply_if_finite")["pages"][0][0]["href"]
    visit = Visit(browser, first)
    try:
        marked = visit.page.eval_on_selector_all(
            "mark[data-md-highlight]", "marks => marks.map(mark => mark.textContent)"
        )
        assert {"apply", "finite"} <= {mark.lower() for mark in marked}, (first, marked)
    finally:
        visit.close()


def test_the_hook_writes_inline_maths_as_text():
    assert hook.tex_to_text(r"-\eta\,\hat m / (\sqrt{\hat v} + \epsilon)") == "-η m̂ / (√v̂ + ε)"
    assert hook.tex_to_text(r"\epsilon = 10^{-8}") == "ε = 10⁻⁸"
    assert hook.tex_to_text(r"z \sim \mathcal{N}(0, I)") == "z ~ 𝒩(0, I)"  # noqa: RUF001
    assert hook.tex_to_text(r"D_{\mathrm{KL}} = -\tfrac{1}{2}") == "D_KL = -1/2"
    assert hook.tex_to_text(r"e^{\log\sigma^2 / 2}") == "e^(log σ² / 2)"


def test_the_hook_leaves_display_maths_and_tab_labels_out_of_the_index():
    page = (
        '<p>moved by <span class="arithmatex">\\(0.01\\)</span>:</p>'
        '<div class="arithmatex">\\[ m_1 = 0.1\\,g \\]</div>'
        '<div class="tabbed-set tabbed-alternate"><div class="tabbed-labels">'
        '<label for="t1">Linen</label><label for="t2">NNX</label></div></div>'
    )
    marked = hook.exclude_from_search(page)
    assert marked.count('data-search-exclude="true"') == 2, marked
    assert '<span class="arithmatex">' in marked  # inline maths stays, to be written out
    assert '<div class="arithmatex" data-search-exclude="true">' in marked
    assert '<div class="tabbed-labels" data-search-exclude="true">' in marked


def test_the_hook_closes_gaps_in_prose_and_leaves_code_alone():
    code = "<pre><code>re.compile(r'\\(a\\) , b')</code></pre>"
    text = "<p>moved by \\(0.01\\) , with  a step :</p>" + code
    assert hook.readable(text) == "<p>moved by 0.01, with a step:</p>" + code
    assert hook.readable("<p>\\(a &lt; b\\)</p>") == "<p>a &lt; b</p>"
