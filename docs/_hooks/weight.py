"""Site build hook: keep what a page loads before the reader does anything small.

- Figures below a page's opening section load lazily (`loading="lazy"`), when the reader
  scrolls near them; every figure gets its PNG's `width` and `height`, so the browser reserves
  its box before the image arrives and nothing below it jumps. A figure in the opening section
  (before the first `<h2>`) is on or near the first screen and loads at once.
- A figure also drawn for a phone (`x-narrow.png` beside `x.png`, written by
  `python -m flaxguide figures`) is offered to screens up to `PHONE` wide through `<picture>`:
  a phone loads only its own drawing, whose text reads at its width; a desktop, only the other.
- The search index (all the site's text, the largest file a page would load) is fetched when
  the reader first opens search: `javascripts/search-on-demand.js` runs before Material's
  bundle and holds back the bundle's request for it until then.
- The API reference's source listings, folded under "Source code in ...", are written to files
  of their own (`reference/sources/<n>.html`) and fetched when the reader opens one
  (`javascripts/source-on-demand.js`): folded, they were most of the page's bytes (1.8 of
  2.1 MB). Without JavaScript the fold holds a link to its listing instead.

`tests/test_weight.py` holds each page to the budget this keeps it under.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url

SEARCH_ON_DEMAND = "javascripts/search-on-demand.js"
SOURCE_ON_DEMAND = "javascripts/source-on-demand.js"
SOURCES = "sources"  # the folder beside a page that holds its source listings
# mkdocstrings' fold around an object's source (`show_source`): the summary, then the listing.
SOURCE_FOLD = re.compile(
    r'(<details class="mkdocstrings-source">\s*<summary>.*?</summary>)(.*?)(</details>)', re.S
)
BUNDLE = re.compile(r'<script src="[^"]*assets/javascripts/bundle\.[0-9a-f]+\.min\.js"></script>')
IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\ssrc="([^"]+)"')
# Material's own breakpoint (its main.css) below which its layout is a phone's, 719.75 px.
# Wider, a desktop drawing keeps its smallest text at 9 CSS px or more.
PHONE = "(max-width: 44.984375em)"


def png_size(path: Path) -> tuple[int, int] | None:
    """A PNG's width and height from its header, or None for a file that is not a PNG."""
    with path.open("rb") as file:
        head = file.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def sized_and_lazy(tag: str, page_url: str, docs_dir: Path, lazy: bool) -> str:
    """`tag`, an `<img>`, with its PNG's size, loading lazily if `lazy`, and in a `<picture>`
    with its phone drawing if it has one."""
    found = SRC.search(tag)
    if found is None or urlparse(found[1]).scheme:
        return tag
    path = docs_dir / unquote(urlparse(urljoin("/" + page_url, found[1])).path).lstrip("/")
    size = png_size(path) if path.is_file() else None
    extra = ""
    if size and " width=" not in tag and " height=" not in tag:
        extra += f' width="{size[0]}" height="{size[1]}"'
    if lazy and " loading=" not in tag:
        extra += ' loading="lazy" decoding="async"'
    tag = tag[:4] + extra + tag[4:]
    narrow = path.with_name(path.stem + "-narrow.png")
    narrow_size = png_size(narrow) if path.suffix == ".png" and narrow.is_file() else None
    if narrow_size is None:
        return tag
    src = found[1].removesuffix(".png") + "-narrow.png"
    width, height = narrow_size
    source = f'<source media="{PHONE}" srcset="{src}" width="{width}" height="{height}">'
    return f"<picture>{source}{tag}</picture>"


def source_on_demand(output: str, page, config) -> str:
    """`output` with each folded source listing moved to a file of its own, loaded on opening."""
    folder = Path(config["site_dir"]) / Path(page.file.dest_uri).parent / SOURCES
    count = 0

    def move(fold: re.Match) -> str:
        nonlocal count
        count += 1
        name = f"{SOURCES}/{count}.html"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{count}.html").write_text(fold[2].strip() + "\n", encoding="utf-8")
        placeholder = (
            f'<div data-source="{name}"><noscript><a href="{name}">The source listing</a>'
            "</noscript></div>"
        )
        return fold[1] + placeholder + fold[3]

    output = SOURCE_FOLD.sub(move, output)
    if count:
        src = get_relative_url(SOURCE_ON_DEMAND, page.url)
        script = f'<script src="{src}"></script>'
        output = output.replace("</body>", script + "</body>", 1)
    return output


def on_post_page(output, page, config):
    output = source_on_demand(output, page, config)
    docs_dir = Path(config["docs_dir"])
    opening_ends = output.find("<h2", output.find('class="md-content"'))
    if opening_ends < 0:
        opening_ends = len(output)
    output = IMG.sub(
        lambda m: sized_and_lazy(m[0], page.url, docs_dir, lazy=m.start() > opening_ends), output
    )
    bundle = BUNDLE.search(output)
    if bundle is None:
        raise PluginError(
            f"{page.file.src_uri}: no Material bundle <script> to put {SEARCH_ON_DEMAND} before"
        )
    script = f'<script src="{get_relative_url(SEARCH_ON_DEMAND, page.url)}"></script>'
    return output[: bundle.start()] + script + output[bundle.start() :]
