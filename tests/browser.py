"""What the browser tests check on a page, as functions that return the problems they find.

Kept apart from the tests so the same checks can be shown to fail on pages built broken.
"""

from __future__ import annotations

# Everything that a reader would see as broken on one page, found by script in the browser.
PAGE_PROBLEMS_JS = """() => {
  const problems = [];
  for (const img of document.querySelectorAll('img')) {
    if (!img.complete || img.naturalWidth === 0) problems.push(`image not loaded: ${img.src}`);
  }
  // Text outside code that still holds TeX delimiters was not rendered by KaTeX.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style, .katex')) continue;
    const text = node.textContent;
    for (const raw of ['$$', '\\\\(', '\\\\[']) {
      if (text.includes(raw)) problems.push(`raw maths ${raw} in: ${text.trim().slice(0, 60)}`);
    }
  }
  for (const el of document.querySelectorAll('.arithmatex')) {
    if (!el.querySelector('.katex'))
      problems.push(`maths not rendered: ${el.textContent.slice(0, 60)}`);
  }
  for (const pre of document.querySelectorAll('.md-content pre')) {
    if (pre.closest('.linenodiv, .linenos')) continue;  // the line numbers beside source code
    const block = pre.closest('.highlight') || pre;
    const button = block.querySelector('.md-code__button, .md-clipboard');
    if (!button) {
      problems.push(`code block without a copy button: ${pre.textContent.slice(0, 40)}`);
      continue;
    }
    // Long lines must end clear of the button, which sits over the block's right edge.
    const code = pre.querySelector('code') || pre;
    if (parseFloat(getComputedStyle(code).paddingRight) < button.offsetWidth)
      problems.push(`copy button over the text: ${pre.textContent.slice(0, 40)}`);
  }
  // An equation wider than its column must be scrollable from the keyboard too.
  for (const eq of document.querySelectorAll('.katex-display')) {
    if (eq.scrollWidth > eq.clientWidth + 1 && eq.tabIndex < 0)
      problems.push(`a wide equation the keyboard cannot scroll: ${eq.textContent.slice(0, 40)}`);
  }
  // A table header cell with no text: a screen reader announces nothing for its column.
  for (const th of document.querySelectorAll('.md-content th')) {
    if (!th.textContent.trim()) problems.push('a table header cell without text');
  }
  // Maths in a heading written as plain text, like f_θ.
  for (const h of document.querySelectorAll('.md-content h1, .md-content h2, .md-content h3')) {
    const prose = h.cloneNode(true);  // the heading without its code, where _ is fine
    prose.querySelectorAll('code, .headerlink').forEach(c => c.remove());
    if (/[A-Za-z]_[A-Za-zθφ\\{]/.test(prose.textContent))
      problems.push(`maths as plain text in a heading: ${h.textContent}`);
  }
  return problems;
}"""

# At a phone's width: nothing scrolls the page sideways, and wide equations scroll in their box.
NARROW_PROBLEMS_JS = """() => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const scrolled = document.documentElement.scrollWidth;
  if (scrolled > width + 1) problems.push(`the page scrolls sideways: ${scrolled}px > ${width}px`);
  for (const eq of document.querySelectorAll('.katex-display')) {
    const style = getComputedStyle(eq);
    if (eq.scrollWidth > eq.clientWidth + 1 && !['auto', 'scroll'].includes(style.overflowX))
      problems.push(`equation clipped: ${eq.textContent.slice(0, 40)}`);
  }
  return problems;
}"""


def problems_on(page) -> list[str]:
    """The problems a loaded Playwright `page` shows, at its current viewport."""
    return page.evaluate(PAGE_PROBLEMS_JS)


def narrow_problems_on(page) -> list[str]:
    return page.evaluate(NARROW_PROBLEMS_JS)
