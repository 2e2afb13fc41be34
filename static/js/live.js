// omnistore: live panels (the stock panel, the pickup queue). Loaded on every page from base.html, like all
// scripts; no inline scripts (strict CSP).
//
// - An element with [data-live] polls on its own (hx-trigger "every …"). While the tab is hidden its
//   requests are cancelled, and when the tab is shown again it refreshes at once ("live-refresh").
// - Tapping a variant in the size × colour matrix marks it as the chosen one (aria-current).
(function () {
  "use strict";

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-live")) {
      event.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) { return; }
    document.querySelectorAll("[data-live]").forEach(function (elt) { window.htmx.trigger(elt, "live-refresh"); });
  });

  // The matrix: mark the tapped variant at once (the panel it opens says which one it is, too).
  document.addEventListener("click", function (event) {
    var cell = event.target && event.target.closest ? event.target.closest("[data-variant-cell]") : null;
    if (!cell) { return; }
    var matrix = cell.closest("table") || document;
    matrix.querySelectorAll("[data-variant-cell][aria-current]").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    cell.setAttribute("aria-current", "true");
  });
})();
