// The API reference's source listings are fetched when the reader opens one, not with the
// page: folded, they were most of its bytes. docs/_hooks/weight.py moves each listing of a
// `<details class="mkdocstrings-source">` to a file of its own and leaves a placeholder naming
// it; this script fills the placeholder when its fold opens, and gives the listing the copy
// button Material gives every code block when the page loads.
document.addEventListener(
  "toggle",
  async (event) => {
    const fold = event.target;
    const slot = fold.open && fold.querySelector(":scope > [data-source]");
    if (!slot || slot.dataset.loading) return;
    slot.dataset.loading = "true";
    const response = await fetch(new URL(slot.dataset.source, location.href));
    if (!response.ok) {
      delete slot.dataset.loading;
      return;
    }
    const listing = document.createRange().createContextualFragment(await response.text());
    for (const pre of listing.querySelectorAll(".highlight pre:has(> code)")) {
      pre.id ||= `__code_${slot.dataset.source.replace(/\W/g, "_")}`;
      const code = pre.querySelector(":scope > code");
      code.classList.add("md-code__content");
      const nav = document.createElement("nav");
      nav.className = "md-code__nav";
      const button = document.createElement("button");
      button.className = "md-code__button";
      button.title = "Copy to clipboard";
      button.dataset.clipboardTarget = `#${pre.id} > code`;
      button.dataset.mdType = "copy";
      nav.append(button);
      pre.insertBefore(nav, code);
    }
    slot.replaceWith(listing);
  },
  true, // `toggle` does not bubble
);
