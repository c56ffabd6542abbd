"""Site build hook: a search that serves readers who type API names.

Material's search plugin (material/plugins/search/plugin.py) indexes each page in its
`on_page_context`, from `page.content`: its `Parser` keeps the text of every element but those
marked `data-search-exclude` (Material's documented way to leave a block out of search), then
the plugin strips the `data-search-*="..."` attributes, so the page a reader gets is unchanged.
It writes `search/search_index.json` in its `on_post_build`.

- Display maths and the labels of content tabs are marked `data-search-exclude`
  (`on_page_content`); inline maths is written out as text in the index the plugin wrote
  (`on_post_build`, run after the plugin's by its priority). pymdownx.arithmatex writes maths
  as TeX text (`\\(...\\)`, `\\[...\\]`) that KaTeX renders on the page, so result previews
  showed TeX source; the labels of a group of tabs ran together ("LinenNNXPyTorch"). Inline
  maths is part of its sentence ("every parameter moved by 0.01", "Adam divides by √v̂"), so
  it is written out in Unicode, as far as `tex_to_text` knows the commands (those the guide
  uses); an equation on its own line is left out, as a figure would be: a preview has no room
  for it, and the page the result opens shows it rendered.
- `javascripts/search.js`, added to every page, changes two things in the browser, where
  Material's search runs:
  - Material finds a section when any one term of the query matches, and splits a name at the
    separator (mkdocs.yml), so `optax.lion` found every page that says `optax`. The script asks
    for every part of a name written with dots, underscores or camelCase, as Material's own `+`
    syntax would (`+optax* +lion*`), so a name the guide does not use finds nothing.
  - Material lists a page's matching sections under the page's own entry, and shows that entry
    even when it matched nothing itself, with a link whose `?h=` is empty: the page opened with
    nothing highlighted. The script gives such a link the terms its sections matched.

  Material has no setting for either. The script relies on the message its bundle sends the
  search worker (`{type: 2, data: query}`, `SearchMessageType.QUERY` in Material 9) and on the
  result list's markup; tests/test_search.py fails if either changes under it.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

INDEX = Path("search") / "search_index.json"
SCRIPT = "javascripts/search.js"
# A `<div>` whose class list includes one of these is left out of the index: display maths
# (inline maths is a `<span>`) and the labels of a group of tabs.
EXCLUDED_CLASSES = {"arithmatex", "tabbed-labels"}
OPENING_TAG = re.compile(r"<div\b[^>]*>")
CLASS_ATTRIBUTE = re.compile(r'\sclass="([^"]*)"')
CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>)", re.DOTALL)


def exclude_from_search(html: str) -> str:
    """`html` with its display maths and tab labels marked `data-search-exclude="true"` (with
    a value: the search plugin strips only `data-search-*` attributes that have one)."""

    def mark(match: re.Match) -> str:
        tag = match[0]
        found = CLASS_ATTRIBUTE.search(tag)
        if not found or "data-search-exclude" in tag:
            return tag
        if not EXCLUDED_CLASSES & set(found[1].split()):
            return tag
        return tag[:-1] + ' data-search-exclude="true">'

    return OPENING_TAG.sub(mark, html)


# What inline TeX reads as. Greek letters by name, then the rest.
GREEK_NAMES = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
GREEK_NAMES += " rho sigma tau upsilon phi chi psi omega varepsilon vartheta varphi Gamma Delta"
GREEK_NAMES += " Theta Lambda Sigma Phi Psi Omega"
GREEK = dict(zip(GREEK_NAMES.split(), "αβγδεζηθικλμνξοπρστυφχψωεϑφΓΔΘΛΣΦΨΩ", strict=True))
SYMBOLS = {
    "cdot": "·", "times": "×", "odot": "⊙", "sim": "~", "mid": "|", "leftarrow": "←",  # noqa: RUF001
    "to": "→", "rightarrow": "→", "ge": "≥", "geq": "≥", "le": "≤", "leq": "≤", "ne": "≠",
    "neq": "≠", "approx": "≈", "pm": "±", "in": "∈", "infty": "∞", "nabla": "∇",
    "partial": "∂", "sum": "Σ", "prod": "Π", "top": "⊤", "lVert": "‖", "rVert": "‖",  # noqa: RUF001
    "Vert": "‖", "ldots": "…", "dots": "…", "cdots": "⋯", "quad": " ", "qquad": " ",
    ",": " ", ";": " ", ":": " ", " ": " ", "!": "", "{": "{", "}": "}", "|": "‖", "%": "%",
    "_": "_", "\\": " ",
}  # fmt: skip
ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "dot": "\u0307", "vec": "\u20d7"}
LETTERS = {
    "mathbb": dict(zip("ENRZ", "𝔼ℕℝℤ", strict=True)),  # noqa: RUF001
    "mathcal": dict(zip("LN", "ℒ𝒩", strict=True)),  # noqa: RUF001
}
FONTS = {"mathrm", "text", "mathbf", "mathit", "operatorname", "boldsymbol", *LETTERS}
SIZES = {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "displaystyle"}
SUPERSCRIPTS = dict(zip("0123456789+-=()intT⊤", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵗᵀᵀ", strict=True))  # noqa: RUF001
SUBSCRIPTS = dict(
    zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)
TEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.DOTALL)
INLINE_MATHS = re.compile(r"\\\((.+?)\\\)", re.DOTALL)


def one_symbol(text: str) -> bool:
    """Whether `text` is one character, with its accents (`v̂`)."""
    return sum(not unicodedata.combining(c) for c in text) == 1


class TexReader:
    """Inline TeX read into the Unicode text a reader would write for it."""

    def __init__(self, tex: str):
        self.tokens = TEX_TOKEN.findall(tex)
        self.at = 0

    def next(self) -> str | None:
        self.at += 1
        return self.tokens[self.at - 1] if self.at <= len(self.tokens) else None

    def text(self, end: str | None = None) -> str:
        """The text up to the token `end` (`}` for a group), or to the end."""
        parts = []
        while (token := self.next()) is not None and token != end:
            parts.append(self.token(token))
        return "".join(parts)

    def argument(self) -> str:
        """A command's argument: a `{group}` or one token."""
        token = self.next()
        while token is not None and token.isspace():
            token = self.next()
        return "" if token is None else self.token(token)

    def token(self, token: str) -> str:
        if token == "{":
            return self.text("}")
        if token in "^_":
            argument, table = self.argument(), SUPERSCRIPTS if token == "^" else SUBSCRIPTS
            if argument and all(c in table for c in argument):
                return "".join(table[c] for c in argument)
            return token + (argument if re.fullmatch(r"\w+", argument) else f"({argument})")
        if not token.startswith("\\"):
            return token
        name = token[1:]
        if name in GREEK or name in SYMBOLS:
            return GREEK.get(name) or SYMBOLS[name]
        if name in ACCENTS:
            return self.argument() + ACCENTS[name]
        if name == "sqrt":
            argument = self.argument()
            return "√" + (argument if one_symbol(argument) else f"({argument})")
        if name in ("frac", "tfrac", "dfrac"):
            top, bottom = self.argument(), self.argument()
            return f"{atom(top)}/{atom(bottom)}"
        if name in FONTS:
            argument = self.argument()
            return LETTERS.get(name, {}).get(argument, argument)
        if name in SIZES:
            return ""
        # An operator name such as \log reads as its name, apart from a name that follows.
        following = self.tokens[self.at] if self.at < len(self.tokens) else ""
        return name + " " if re.match(r"[A-Za-z\\]", following) else name


def atom(text: str) -> str:
    """`text`, in parentheses unless it is one number or name."""
    return text if one_symbol(text) or re.fullmatch(r"[\w.]+", text) else f"({text})"


def tex_to_text(tex: str) -> str:
    """Inline maths, `tex` without its delimiters, as text: `\\hat m / (\\sqrt{\\hat v} +
    \\epsilon)` reads `m̂ / (√v̂ + ε)`."""
    return re.sub(r"\s+", " ", TexReader(tex).text()).strip()


def readable(text: str) -> str:
    """An index entry's title or text with its inline maths written out and the gaps that the
    display maths left out leaves closed (runs of spaces made one, no space before
    punctuation). Code (`<pre>`, `<code>`) is kept as it is."""
    parts = CODE.split(text)
    for k in range(0, len(parts), 2):  # the prose between pieces of code
        prose = INLINE_MATHS.sub(
            lambda m: html.escape(tex_to_text(html.unescape(m[1])), quote=False), parts[k]
        )
        parts[k] = re.sub(r" ([,.;:)])", r"\1", re.sub(r" {2,}", " ", prose))
    return "".join(parts)


SEARCH_JS = """// Written by docs/_hooks/search.py, which says why.
(() => {
  // Every part of a name is required: `optax.lion` is sent as `+optax* +lion*`.
  const SEPARATOR = new RegExp(__SEPARATOR__, "g");
  const STOP_WORDS = new Set(__STOP_WORDS__);  // not in the index: none can be required
  const QUERY = 2;  // Material's SearchMessageType.QUERY
  const requireParts = word => {
    if (/^[+\\-]|["~^:*]/.test(word)) return word;  // the reader's own search syntax
    const parts = word.split(SEPARATOR).filter(part => part);
    if (parts.length < 2) return word;
    return parts.map(part => STOP_WORDS.has(part.toLowerCase()) ? part : `+${part}*`).join(" ");
  };
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, ...rest) {
    if (message && message.type === QUERY && typeof message.data === "string")
      message = {...message, data: message.data.split(/\\s+/).map(requireParts).join(" ")};
    return post.call(this, message, ...rest);
  };

  // A page's entry that matched nothing itself highlights what its sections matched.
  const highlight = link => new URL(link.href).searchParams.get("h");
  const fill = item => {
    const links = [...item.querySelectorAll("a.md-search-result__link")];
    const terms = new Set(links.flatMap(link => (highlight(link) || "").split(" ")));
    terms.delete("");
    for (const link of links.filter(link => highlight(link) === "")) {
      const url = new URL(link.href);
      if (terms.size) url.searchParams.set("h", [...terms].join(" "));
      else url.searchParams.delete("h");
      link.href = `${url}`;
    }
  };
  const list = document.querySelector(".md-search-result__list");
  if (list)
    new MutationObserver(changes => changes.forEach(change => change.addedNodes.forEach(
      node => node.nodeType === Node.ELEMENT_NODE && fill(node)
    ))).observe(list, {childList: true});
})();
"""
# lunr's English stop words (lunr.stopWordFilter, in Material's search worker): the index
# leaves them out, so `value_and_grad` must not require `and`.
STOP_WORDS_TEXT = (
    "a able about across after all almost also am among an and any are as at be because been "
    "but by can cannot could dear did do does either else ever every for from get got had has "
    "have he her hers him his how however i if in into is it its just least let like likely "
    "may me might most must my neither no nor not of off often on only or other our own rather "
    "said say says she should since so some than that the their them then there these they "
    "this tis to too twas us wants was we were what when where which while who whom why will "
    "with would yet you your"
)
STOP_WORDS = STOP_WORDS_TEXT.split()


def search_script(separator: str) -> str:
    """The script, for the search plugin's `separator`."""
    return SEARCH_JS.replace("__SEPARATOR__", json.dumps(separator)).replace(
        "__STOP_WORDS__", json.dumps(STOP_WORDS)
    )


def on_config(config):
    config.extra_javascript.append(SCRIPT)
    return config


def on_files(files, config):
    plugin = config["plugins"]["material/search"]
    files.append(File.generated(config, SCRIPT, content=search_script(plugin.config.separator)))
    return files


def on_page_content(html, page, config, files):
    return exclude_from_search(html)


@event_priority(-100)  # after the search plugin's, which writes the index
def on_post_build(config):
    path = Path(config["site_dir"]) / INDEX
    index = json.loads(path.read_text(encoding="utf-8"))
    for entry in index["docs"]:
        entry["title"], entry["text"] = readable(entry["title"]), readable(entry["text"])
    path.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
