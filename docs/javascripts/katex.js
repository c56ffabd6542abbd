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
});
