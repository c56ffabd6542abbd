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
  // An equation wider than the column scrolls in its box: markScrollable (scrollable.js, on
  // every page) makes the box keyboard-reachable. KaTeX's fonts may arrive after rendering and
  // widen an equation: measure again then.
  markScrollable(body);
  document.fonts.ready.then(() => markScrollable(body));
});
