// omnistore: the little JavaScript every page needs. No inline scripts (strict CSP).
(function () {
  "use strict";

  // --- Connection banner: a clerk must never believe an action went through when it did not. ---
  function banner(show) {
    var el = document.getElementById("connection-banner");
    if (el) { el.hidden = !show; }
    document.documentElement.classList.toggle("offline", show);
  }
  window.addEventListener("offline", function () { banner(true); });
  window.addEventListener("online", function () { banner(false); });
  // A change sent while the connection seemed fine, whose answer never came: it may well have gone through.
  // Saying "nothing reaches the server" would be wrong; say we could not confirm, and offer a way to check
  // (the form's data-check-url, e.g. the order; else this page again).
  function unconfirmed(elt) {
    var el = document.getElementById("unconfirmed-banner");
    if (!el) { return false; }
    var source = elt && elt.closest ? elt.closest("[data-check-url]") : null;
    var link = el.querySelector("[data-check-link]");
    if (link) {
      link.href = source ? source.getAttribute("data-check-url") : window.location.href;
      if (source && source.getAttribute("data-check-label")) { link.textContent = source.getAttribute("data-check-label"); }
    }
    el.hidden = false;
    return true;
  }
  document.addEventListener("htmx:sendError", function (event) {
    var config = event.detail.requestConfig || {};
    var verb = String(config.verb || "get").toLowerCase();
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    // A form the tablet may send again (data-offline="queue") goes into offline.js's queue instead: its key
    // makes sending it again safe, so there is nothing for the clerk to check.
    if (verb !== "get" && form && form.getAttribute("data-offline") === "queue") { return; }
    if (verb !== "get" && navigator.onLine !== false && unconfirmed(event.detail.elt)) { return; }
    banner(true);
  });
  document.addEventListener("htmx:timeout", function () { banner(true); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.xhr && event.detail.xhr.status > 0) { banner(false); }
    var verb = String((event.detail.requestConfig || {}).verb || "get").toLowerCase();
    var el = document.getElementById("unconfirmed-banner");
    if (el && event.detail.successful && verb !== "get") { el.hidden = true; }  // a later change got its answer
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (navigator.onLine === false) { banner(true); event.preventDefault(); }
  });
  document.addEventListener("submit", function (event) {
    if (navigator.onLine === false) { banner(true); event.preventDefault(); }
  }, true);
  if (navigator.onLine === false) { banner(true); }

  // --- Keyboard-wedge scanner: digits typed fast then Enter, while no field has focus. ---
  // It goes to the page's own scan box where it has one ([data-wedge-target]: the order builder's "Add an
  // item", so a scan adds to the order instead of leaving it), else to the global search.
  var buffer = "", lastKey = 0;
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    // When the key was pressed, not when this handler runs: a tablet whose page was busy delivers the
    // scanner's keys late and in a burst, and the gaps must be the scanner's own.
    var now = event.timeStamp;
    // A pause of half a second starts a new code: long enough that a slow scanner doesn't drop the first
    // digits, short enough that stray keys from earlier don't stick.
    if (now - lastKey > 500) { buffer = ""; }
    // A scan already under way goes on in the buffer when the scan box takes the focus mid-code (htmx
    // focuses a swapped-in [autofocus] box): otherwise its last digits would arrive as a shorter code.
    var midScan = buffer !== "" && target && target.matches && target.matches("[data-wedge-target]");
    if (typing && !midScan) { return; }
    lastKey = now;
    if (/^[0-9A-Za-z-]$/.test(event.key)) {
      if (midScan) { event.preventDefault(); }
      buffer += event.key;
      return;
    }
    if (event.key === "Enter" && buffer.length >= 6) {
      var box = document.querySelector("[data-wedge-target]") || document.getElementById("global-search");
      if (box && box.form) {
        event.preventDefault();
        box.value = buffer;
        buffer = "";
        box.form.requestSubmit();
      }
    }
  });

  // --- A camera scan opened from a button with data-scan-fill="#box" fills that box and sends its form (a count's
  // scan box: the code stays on the page instead of opening the product). ---
  document.addEventListener("scanner:decoded", function (event) {
    var opener = event.target instanceof Element ? event.target.closest("[data-scan-fill]") : null;
    var box = opener && document.querySelector(opener.getAttribute("data-scan-fill"));
    if (!box || !box.form) { return; }
    event.preventDefault();
    box.value = event.detail.value;
    box.form.requestSubmit();
  });

  // --- A select or radio marked data-autosubmit sends its form when changed (the manager's period/store). ---
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
      if (target.form.requestSubmit) { target.form.requestSubmit(); } else { target.form.submit(); }
    }
  });
})();
