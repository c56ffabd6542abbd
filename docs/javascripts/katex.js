// Render the maths arithmatex leaves in `.arithmatex` spans, with the KaTeX the site serves itself
// (the site's hook adds this script, after KaTeX's, only to pages that have maths).
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
  markWideEquations(body);
  // KaTeX's fonts may arrive after rendering and widen an equation: measure again then.
  document.fonts.ready.then(() => markWideEquations(body));
});
window.addEventListener("resize", () => markWideEquations(document.body));

// An equation wider than the column scrolls in its box: make that box reachable from the
// keyboard (arrow keys scroll it) and name it for a screen reader, at the current width.
function markWideEquations(body) {
  for (const equation of body.querySelectorAll(".katex-display")) {
    if (equation.scrollWidth > equation.clientWidth + 1) {
      equation.tabIndex = 0;
      equation.setAttribute("role", "region");
      equation.setAttribute("aria-label", "equation (scrolls sideways)");
    } else {
      equation.removeAttribute("tabindex");
      equation.removeAttribute("role");
      equation.removeAttribute("aria-label");
    }
  }
}
