// Fetch the search index when the reader first opens search, not with every page: it is the
// largest file most pages would load (all the site's text), and most visits never search.
//
// Material asks for `search/search_index.json` with an XMLHttpRequest as soon as its bundle
// runs, over http(s); over file:// it already waits for the search toggle. This script runs
// before the bundle (docs/_hooks/weight.py puts it there) and holds that one request back
// until the search box takes focus or the search toggle is checked, which every way of
// opening search does (a click, a tap on the icon, the `f`, `s` and `/` keys). Material's
// search then starts as it does on file://. A page opened from a search result (`?h=`
// highlights the words searched for) needs the index at once, so it is not held back there.
(() => {
  if (new URL(location.href).searchParams.has("h")) return;
  const INDEX = /\/search\/search_index\.json$/;
  const { open, send } = XMLHttpRequest.prototype;
  const held = [];
  let released = false;

  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.searchIndex = INDEX.test(new URL(url, location.href).pathname);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this.searchIndex && !released) {
      held.push(() => this.readyState === XMLHttpRequest.OPENED && send.call(this, body));
      return;
    }
    return send.call(this, body);
  };

  const release = () => {
    if (released) return;
    released = true;
    for (const go of held.splice(0)) go();
  };
  document.addEventListener("focusin", (event) => {
    if (event.target instanceof Element && event.target.closest(".md-search")) release();
  });
  document.addEventListener("change", (event) => {
    if (event.target.id === "__search" && event.target.checked) release();
  });
})();
