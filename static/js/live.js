// omnistore: live panels (the stock panel, the pickup queue). Loaded on every page from base.html, like all
// scripts; no inline scripts (strict CSP).
//
// - An element with [data-live] polls on its own (hx-trigger "every …"). While the tab is hidden its
//   requests are cancelled, and when the tab is shown again it refreshes at once ("live-refresh").
// - Tapping a variant in the size × colour matrix marks it as the chosen one (aria-current).
// - Push, where the server offers it (<body data-live-stream-url>): one EventSource for the page's live
//   elements (their data-live-stream parts make its address). When it says a topic changed, the element with
//   that data-live-topic refreshes at once ("live-refresh"). The stream is told when the page's elements were
//   rendered (the oldest data-live-since) and says "change" at once only if something may have changed since
//   then — including after it reconnects — so opening a page costs no second fetch. While it is open, the poll is
//   skipped except every data-live-push-refresh-ms after the element's render or last fetch (the clock: "open
//   now", waiting times). When the stream drops, the browser opens it again by itself, and until then the poll
//   runs as before (the fallback); a 204 (no push on this server) leaves the poll in charge. "end" (signed out)
//   stops listening, and the poll takes the ordinary way to the sign-in page. <html data-live-push> says the
//   state (open, waiting, off).
(function () {
  "use strict";

  var source = null;
  var sourceKey = "";
  var state = "off";
  var lastFetch = {};  // topic → when its element last fetched (ms)

  function setState(next) {
    state = next;
    document.documentElement.setAttribute("data-live-push", next);
  }

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live][data-live-topic]"));
  }

  function refresh(elt) {
    elt.liveForced = true;
    window.htmx.trigger(elt, "live-refresh");
  }

  function close() {
    if (source) { source.close(); }
    source = null;
  }

  function renderedAt() {
    var times = liveElements().map(function (elt) { return Number(elt.getAttribute("data-live-since")); })
      .filter(function (at) { return at > 0; });
    return times.length ? Math.min.apply(null, times) : 0;
  }

  function open(base, key) {
    var since = renderedAt();
    var stream = new EventSource(base + "?" + key + (since ? "&since=" + since : ""));
    source = stream;
    setState("waiting");
    stream.addEventListener("ready", function () {
      if (source !== stream) { return; }
      setState("open");  // a "change" came just before if the elements may have missed something
    });
    stream.addEventListener("change", function (event) {
      var topics = String(event.data || "").split(" ");
      liveElements().forEach(function (elt) {
        if (topics.indexOf(elt.getAttribute("data-live-topic")) >= 0) { refresh(elt); }
      });
    });
    stream.addEventListener("end", function () {
      if (source !== stream) { return; }
      close();
      setState("off");
      liveElements().forEach(refresh);  // the poll finds the session gone and goes to the sign-in page
    });
    stream.onerror = function () {
      if (source !== stream) { return; }
      if (stream.readyState === EventSource.CLOSED) { close(); }  // no push here (204): the poll stays
      setState(stream.readyState === EventSource.CLOSED ? "off" : "waiting");  // else it reconnects by itself
    };
  }

  function sync() {
    var base = document.body && document.body.getAttribute("data-live-stream-url");
    var parts = [];
    var push = Boolean(base && window.EventSource);
    liveElements().forEach(function (elt) {
      var topic = elt.getAttribute("data-live-topic");
      if (!lastFetch[topic]) { lastFetch[topic] = Date.now(); }  // a new element is as fresh as its render
      var part = elt.getAttribute("data-live-stream");
      if (push && part && parts.indexOf(part) < 0) { parts.push(part); }
    });
    var key = parts.sort().join("&");
    if (key === sourceKey) { return; }
    close();
    setState("off");
    sourceKey = key;
    if (key) { open(base, key); }
  }

  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("htmx:afterSettle", sync);
  if (document.readyState !== "loading") { sync(); }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live")) { return; }
    if (document.hidden) { event.preventDefault(); return; }
    var forced = elt.liveForced;
    elt.liveForced = false;
    var topic = elt.getAttribute("data-live-topic");
    var every = Number(document.body.getAttribute("data-live-push-refresh-ms") || 60000);
    if (!forced && state === "open" && topic && Date.now() - (lastFetch[topic] || 0) < every) {
      event.preventDefault();  // the stream tells this element when to fetch
      return;
    }
    if (topic) { lastFetch[topic] = Date.now(); }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) { return; }
    document.querySelectorAll("[data-live]").forEach(refresh);
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
