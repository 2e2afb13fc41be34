// omnistore's service worker, served at /sw.js (web/offline.py puts self.OMNISTORE in front: the version, the
// app shell's files, the offline page). It keeps two things, so the tablet stays readable without Wi-Fi:
//
// - the app shell (styles, scripts, icons, the offline page), in "omnistore-shell-<version>";
// - copies of the pages the clerk opened (a product, the network panel, a customer, the desk queue…), in
//   "omnistore-pages-<scope>", where <scope> is the X-Offline-Scope header of the page: an opaque name of the
//   signed-in session. The newest PAGES_KEPT pages are kept. A page of another session empties the copies of
//   the last one; a page of no session (the sign-in page, after sign-out or the idle timeout) empties all.
//
// Pages come from the network first; only when the network fails does a navigation get the saved copy,
// marked with the time it was saved (<body data-offline-saved>, which offline.js shows as its age), or the
// offline page. Nothing but GET pages is ever answered from here: forms, live panels and the API go to the
// network as before (the queue of forms waiting to be sent is offline.js's, in the page).
"use strict";

var SETTINGS = self.OMNISTORE || { version: "dev", shell: [], offlinePage: "/offline" };
var SHELL = "omnistore-shell-" + SETTINGS.version;
var PAGES = "omnistore-pages-";
var PAGES_KEPT = 40;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL).then(function (cache) {
      // Without cookies: nothing in the shell is anyone's, and an answer arriving after a sign-out must not
      // bring back the ended session's cookie.
      return cache.addAll(SETTINGS.shell.concat([SETTINGS.offlinePage]).map(function (url) {
        return new Request(url, { credentials: "omit" });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("omnistore-shell-") === 0 && name !== SHELL;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function pageCaches() {
  return caches.keys().then(function (names) {
    return names.filter(function (name) { return name.indexOf(PAGES) === 0; });
  });
}

function forgetPages(except) {
  return pageCaches().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== except; }).map(function (name) {
      return caches.delete(name);
    }));
  });
}

function keyOf(url) { return url.pathname + url.search; }

// Keep a copy of a page the network gave us, under its session's name; or forget everything when the page
// belongs to no session.
function remember(url, response) {
  var scope = response.headers.get("X-Offline-Scope");
  var type = response.headers.get("Content-Type") || "";
  if (scope === null || type.indexOf("text/html") !== 0) { return Promise.resolve(); }
  if (!scope) { return forgetPages(null); }
  if (response.status !== 200) { return Promise.resolve(); }
  var name = PAGES + scope;
  return forgetPages(name).then(function () {
    return Promise.all([caches.open(name), response.text()]);
  }).then(function (opened) {
    var cache = opened[0];
    var headers = new Headers(response.headers);
    headers.set("X-Offline-Saved", String(Date.now()));
    var key = keyOf(url);
    return cache.delete(key, { ignoreVary: true }).then(function () {
      return cache.put(key, new Response(opened[1], { status: 200, headers: headers }));
    }).then(function () { return cache.keys(); }).then(function (keys) {
      var extra = keys.length - PAGES_KEPT;  // keys come oldest first: a page seen again was put anew
      return Promise.all(keys.slice(0, Math.max(0, extra)).map(function (old) { return cache.delete(old); }));
    });
  });
}

function savedCopy(url) {
  return pageCaches().then(function (names) {
    if (!names.length) { return null; }
    return caches.open(names[0]).then(function (cache) { return cache.match(keyOf(url), { ignoreVary: true }); });
  }).then(function (copy) {
    if (!copy) { return null; }
    var saved = copy.headers.get("X-Offline-Saved") || "";
    return copy.text().then(function (html) {
      var marked = html.replace("<body", '<body data-offline-saved="' + saved.replace(/[^0-9]/g, "") + '"');
      return new Response(marked, { status: 200, headers: copy.headers });
    });
  });
}

function offlinePage() {
  return caches.match(SETTINGS.offlinePage).then(function (page) {
    return page || new Response("No connection.", { status: 503, headers: { "Content-Type": "text/plain" } });
  });
}

function page(event, url) {
  var request = event.request;
  return fetch(request).then(function (response) {
    event.waitUntil(remember(url, response.clone()).catch(function () {}));
    return response;
  }, function (error) {
    if (request.mode !== "navigate") { throw error; }  // htmx sees the failure, as it did without a worker
    return savedCopy(url).then(function (copy) { return copy || offlinePage(); });
  });
}

function shellFile(request) {
  return fetch(request).then(function (response) {
    return response;
  }, function (error) {
    return caches.match(request, { ignoreSearch: false }).then(function (kept) {
      if (kept) { return kept; }
      throw error;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) { event.respondWith(shellFile(request)); return; }
  var isPage = request.mode === "navigate" || request.headers.get("HX-Boosted") === "true";
  if (isPage) { event.respondWith(page(event, url)); }
});
