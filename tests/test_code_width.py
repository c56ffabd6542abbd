"""Code fits the reading column: at 1280 px no code or output block scrolls sideways.

The package is formatted to the column's width (`src/ruff.toml`), and the pages' own blocks and
the outputs they show are written to it; this holds them there, as a reader sees them: every
page of the navigation, with every content tab shown and every fold open, so that no block
escapes the check by being hidden when the page loads.

The check (`wide_code_on`, with the blocks `ALLOWED` to be wider) is in tests/browser.py and runs
on every page in tests/test_browser.py's one visit per page; here it is shown failing on a page
built broken.
"""

from browser import Visit, require_chromium, serve, wide_code_on

require_chromium(__name__)

BROKEN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wide</title>
<style>
  .md-content { width: 600px; }
  pre > code { display: block; overflow-x: auto; padding: 0 16px; font-family: monospace; }
  .tabbed-block { display: none; }
</style></head>
<body><div class="md-content">
<pre><code>short = 1</code></pre>
<pre><code>WIDE = "{line}"</code></pre>
<details><summary>fold</summary><pre><code>FOLDED = "{line}"</code></pre></details>
<div class="tabbed-set"><div class="tabbed-content">
  <div class="tabbed-block"><pre><code>TABBED = "{line}"</code></pre></div>
</div></div>
<table><tr><td class="linenos"><div class="linenodiv"><pre><code>{numbers}</code></pre></div>
</td></tr></table>
</div></body></html>
"""


def test_the_check_finds_a_wide_block_on_a_page_built_broken(tmp_path, browser):
    # One long line, in plain sight, in a closed fold and in a tab not selected; a short line and
    # a wide column of line numbers that are not code.
    page = BROKEN_PAGE.replace("{line}", "x" * 200).replace("{numbers}", "1" * 200)
    (tmp_path / "index.html").write_text(page)
    server, url = serve(tmp_path)
    visit = Visit(browser, url + "/")
    try:
        problems = wide_code_on(visit.page, "/")
    finally:
        visit.close()
        server.shutdown()
        server.server_close()
    starts = [f'{name} = "{"x" * 200}'[:40] for name in ("WIDE", "FOLDED", "TABBED")]
    assert [p.split(" is ")[0] for p in problems] == [f"/: {s!r}" for s in starts]
    assert all(p.endswith("px wider than its box") for p in problems)
