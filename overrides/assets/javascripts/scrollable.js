// A box that scrolls sideways because what it holds is wider than the column (on a phone): a
// table in Material's wrapper, or a display equation (docs/javascripts/katex.js calls
// markScrollable once KaTeX has drawn them). Make each such box reachable from the keyboard
// (arrow keys scroll it) and name it for a screen reader, at the current width.
const SCROLLABLE = {
  ".md-typeset__scrollwrap": "table (scrolls sideways)",
  ".katex-display": "equation (scrolls sideways)",
};

function markScrollable(body) {
  for (const [selector, label] of Object.entries(SCROLLABLE)) {
    for (const box of body.querySelectorAll(selector)) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", label);
      } else {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }
}

document$.subscribe(({ body }) => markScrollable(body));
window.addEventListener("resize", () => markScrollable(document.body));
