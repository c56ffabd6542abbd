// mkdocs-jupyter adds a loader to every page that would fetch MathJax from a CDN once a notebook
// is shown. This site renders all its maths, notebooks included, with the KaTeX it serves
// itself, so the loader is told it has nothing to do (it stops when this is already set).
window.mkdocsJupyterMathJax = { refresh: () => Promise.resolve() };

// Render the maths arithmatex leaves in `.arithmatex` spans, with the KaTeX the site serves itself.
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
