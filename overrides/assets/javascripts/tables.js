// Material wraps each table of the content in a box that scrolls sideways when the table is wider
// than the column (on a phone). Make such a box reachable from the keyboard (arrow keys scroll it)
// and name it for a screen reader, at the current width, as docs/javascripts/katex.js does for
// wide equations.
document$.subscribe(({ body }) => markWideTables(body));
window.addEventListener("resize", () => markWideTables(document.body));

function markWideTables(body) {
  for (const box of body.querySelectorAll(".md-typeset__scrollwrap")) {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "table (scrolls sideways)");
    } else {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
}
