// omnistore: the tablet without Wi-Fi. No inline scripts (strict CSP); loaded on every page from base.html.
//
// - Registers the service worker (/sw.js: copies of the pages the clerk opened, readable offline) and shows
//   a page's age when it is such a copy (<body data-offline-saved>, set by the worker).
// - A form marked data-offline="queue" (a stock count or receipt, a customer note) tapped while offline is
//   kept on this tablet, in IndexedDB, with an idempotency key, and sent when the connection is back (on
//   "online", on every page load, when the tablet wakes, and every half minute while something waits). It
//   shows as "waiting to send" until the server confirms; the server applies a key once (web/replay.py), so
//   sending again after a lost answer is safe. An item the server refuses stays, with the server's message,
//   until the clerk dismisses it. The same form tapped online carries a key too: if its answer is lost, it
//   goes into the queue instead of leaving the clerk to guess.
// - Any other form that would change something (placing an order, a handover…) is refused offline, with a
//   message in the form; what was typed stays where it is.
// - A tap on a link offline opens the saved copy of that page when there is one.
// - Signed out (the sign-in page: after sign-out or the idle timeout), the tablet forgets the saved pages and
//   the queue. Both belong to one session (<body data-offline-scope>): another session's are dropped.
(function () {
  "use strict";

  var DB_NAME = "omnistore-offline", STORE = "queue", RETRY_MS = 30000, PAGES = "omnistore-pages-";
  var body = document.body;
  var scope = body ? body.getAttribute("data-offline-scope") || "" : "";
  var panel = document.getElementById("offline-queue");

  function text(name, values) {  // the translated strings travel in data- attributes of the queue panel
    var source = panel || document.getElementById("offline-strings");
    var template = (source && source.getAttribute("data-" + name)) || "";
    Object.keys(values || {}).forEach(function (key) { template = template.split("{" + key + "}").join(values[key]); });
    return template;
  }

  // --- IndexedDB: the queue survives a reload and a sleeping tablet. ---
  var opening = null;
  function database() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "key" }); };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opening;
  }
  function run(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result;
        var store = tx.objectStore(STORE);
        var request = work(store);
        if (request) { request.onsuccess = function () { result = request.result; }; }
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function allItems() {
    return run("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.created - b.created; });
    });
  }
  function putItem(item) { return run("readwrite", function (store) { return store.put(item); }); }
  function removeItem(key) { return run("readwrite", function (store) { return store.delete(key); }); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- Signed out: forget this tablet's copies. Another session's: forget theirs. ---
  function forgetPages(except) {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PAGES) === 0 && name !== except;
      }).map(function (name) { return caches.delete(name); }));
    });
  }
  function forgetQueue(keepScope) {
    return allItems().then(function (items) {
      return Promise.all(items.filter(function (item) { return item.scope !== keepScope; }).map(function (item) {
        return removeItem(item.key);
      }));
    });
  }
  if (!body || !body.hasAttribute("data-offline-scope")) { return; }  // a page outside the app (a customer's)
  if (!scope) {
    Promise.all([forgetPages(null), forgetQueue(null)]).then(function () {
      document.documentElement.setAttribute("data-offline-forgotten", "true");  // for tests: it is done
    });
    return;
  }
  var readyForget = Promise.all([forgetPages(PAGES + scope), forgetQueue(scope)]);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* the app works without */ });
  }

  // --- A saved copy says how old it is. ---
  function showAge() {
    var saved = parseInt(body.getAttribute("data-offline-saved") || "", 10);
    var banner = document.getElementById("offline-copy");
    if (!saved || !banner) { return; }
    var minutes = Math.max(0, Math.round((Date.now() - saved) / 60000));
    var lang = document.documentElement.lang || "en";
    var age;
    try {
      age = minutes < 1 ? text("just-now") : new Intl.RelativeTimeFormat(lang, { numeric: "auto" }).format(
        minutes < 120 ? -minutes : -Math.round(minutes / 60), minutes < 120 ? "minute" : "hour");
    } catch (error) { age = minutes + " min"; }
    var time = new Date(saved).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    banner.querySelector("[data-offline-age]").textContent = text("saved", { age: age, time: time });
    banner.hidden = false;
  }
  showAge();
  if (body.hasAttribute("data-offline-saved")) { setInterval(showAge, 30000); }

  // --- The queue on screen. ---
  function summaryOf(form) {
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "hidden" || field.type === "submit" || field.type === "button") { return; }
      var value = String(field.value || "").trim();
      if (value) { parts.push(value); }
    });
    var summary = parts.join(" · ");
    return summary.length > 140 ? summary.slice(0, 139) + "…" : summary;
  }

  function render() {
    if (!panel) { return Promise.resolve(); }
    return allItems().then(function (items) {
      items = items.filter(function (item) { return item.scope === scope; });
      var waiting = items.filter(function (item) { return item.state !== "refused"; }).length;
      panel.hidden = items.length === 0;
      var refused = items.length - waiting;
      panel.querySelector("[data-queue-title]").textContent = waiting || !refused
        ? text("title", { count: waiting }) : text("title-refused", { count: refused });
      if (!waiting) {  // nothing waits any more: the forms' "saved on this tablet" notes are out of date
        document.querySelectorAll("[data-offline-note].notice").forEach(function (el) { el.remove(); });
      }
      var list = panel.querySelector("[data-queue-items]");
      list.textContent = "";
      items.forEach(function (item) {
        var row = document.createElement("li");
        row.className = "offline-item offline-item-" + item.state;
        row.setAttribute("data-queue-item", item.key);
        row.setAttribute("data-state", item.state);
        var what = document.createElement("a");
        what.href = item.page;
        what.className = "offline-item-label";
        what.textContent = item.label;
        row.appendChild(what);
        if (item.summary) {
          var summary = document.createElement("span");
          summary.className = "offline-item-summary";
          summary.textContent = item.summary;
          row.appendChild(summary);
        }
        var state = document.createElement("span");
        state.className = "offline-item-state";
        state.textContent = item.state === "refused" ? text("refused", { message: item.message || "" })
          : item.state === "signed-out" ? text("signed-out") : text(item.state === "sending" ? "sending" : "waiting");
        row.appendChild(state);
        if (item.state === "refused") {
          var dismiss = document.createElement("button");
          dismiss.type = "button";
          dismiss.className = "button secondary";
          dismiss.textContent = text("dismiss");
          dismiss.addEventListener("click", function () { removeItem(item.key).then(render); });
          row.appendChild(dismiss);
        }
        list.appendChild(row);
      });
    });
  }

  function note(form, message, kind) {
    var el = form.querySelector("[data-offline-note]");
    if (!el) {
      el = document.createElement("p");
      el.setAttribute("data-offline-note", "");
      var heading = form.querySelector("h2, h3");
      var button = form.querySelector("button[type=submit], button:not([type])");
      if (heading && heading.parentNode === form) { heading.insertAdjacentElement("afterend", el); }
      else if (button) { button.parentNode.insertBefore(el, button); }
      else { form.appendChild(el); }
    }
    el.className = kind === "refused" ? "form-error offline-note" : "notice offline-note";
    el.setAttribute("role", kind === "refused" ? "alert" : "status");
    el.textContent = message;
  }
  window.addEventListener("online", function () {
    document.querySelectorAll("[data-offline-note].form-error").forEach(function (el) { el.remove(); });
  });

  function modeOf(form, submitter) {
    return (submitter && submitter.getAttribute("data-offline")) || form.getAttribute("data-offline") || "";
  }

  function entryFor(form, submitter, key, params) {
    var action = submitter && submitter.hasAttribute("formaction") ? submitter.formAction : form.action;
    if (!params) {
      params = new URLSearchParams();
      new FormData(form, submitter || undefined).forEach(function (value, name) {
        if (typeof value === "string") { params.append(name, value); }
      });
    }
    return {
      key: key || newKey(),
      scope: scope,
      url: new URL(action, window.location.href).pathname + new URL(action, window.location.href).search,
      body: params.toString(),
      label: form.getAttribute("data-offline-label") || document.title,
      summary: summaryOf(form),
      page: window.location.pathname + window.location.search,
      target: form.getAttribute("hx-target") || "",
      created: Date.now(),
      state: "waiting",
      message: "",
    };
  }

  function enqueue(form, entry) {
    return putItem(entry).then(function () {
      form.reset();
      note(form, text("queued"), "queued");
      return render();
    }).then(function () { return flush(); });  // online (an answer was lost): at once; offline: on "online"
  }

  // Offline: a queue form goes into the queue, any other form that changes something is refused. (app.js has
  // already stopped the submission itself.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || navigator.onLine !== false) { return; }
    event.preventDefault();
    var submitter = event.submitter || null;
    if (modeOf(form, submitter) === "queue") {
      enqueue(form, entryFor(form, submitter));
    } else if ((form.getAttribute("method") || "get").toLowerCase() === "post") {
      note(form, text("needs-connection"), "refused");
    }
  }, true);

  // Online: a queue form carries a key, and if its answer never comes it goes into the queue (sending it
  // again is safe: the server applies a key once).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (!form || String(event.detail.verb).toLowerCase() !== "post") { return; }
    var submitter = event.detail.triggeringEvent && event.detail.triggeringEvent.submitter;
    if (modeOf(form, submitter || (elt.tagName === "BUTTON" ? elt : null)) !== "queue") { return; }
    var key = newKey();
    event.detail.headers["Idempotency-Key"] = key;
    var params = new URLSearchParams();
    var data = event.detail.formData || event.detail.parameters;
    if (data && data.forEach) {
      data.forEach(function (value, name) { if (typeof value === "string") { params.append(name, value); } });
    }
    form.offlinePending = { key: key, params: params, path: event.detail.path };
  });
  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("form") : null;
    var pending = form && form.offlinePending;
    if (!pending) { return; }
    form.offlinePending = null;
    var entry = entryFor(form, null, pending.key, pending.params);
    entry.url = pending.path;
    enqueue(form, entry);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (form && event.detail.xhr && event.detail.xhr.status > 0) { form.offlinePending = null; }
  });

  // A change sent by htmx without a submit (a button with its own hx-post): refused offline, in its form.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig || {};
    var elt = event.detail.elt;
    if (navigator.onLine !== false || String(config.verb || "get").toLowerCase() === "get" || !elt || !elt.closest) { return; }
    var form = elt.closest("form");
    if (form && modeOf(form, elt.tagName === "BUTTON" ? elt : null) !== "queue") { note(form, text("needs-connection"), "refused"); }
  });

  // A tap on a link offline: the saved copy of that page, if this tablet has one (app.js has stopped the tap).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig || {};
    if (navigator.onLine !== false || !window.caches || String(config.verb || "get").toLowerCase() !== "get") { return; }
    if (!(config.boosted || event.detail.boosted)) { return; }
    var url = new URL(config.path || "", window.location.href);
    caches.open(PAGES + scope).then(function (cache) {
      return cache.match(url.pathname + url.search, { ignoreVary: true });
    }).then(function (copy) {
      if (copy) { window.location.assign(url.pathname + url.search); }
    });
  });

  // --- Sending what waits. ---
  function csrfToken() {
    try { return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (error) { return ""; }
  }
  function messageOf(html, status) {
    var doc = new DOMParser().parseFromString(html || "", "text/html");
    var found = [];
    doc.querySelectorAll(".form-error, .field-error, .inline-error, .error-card h1").forEach(function (el) {
      var said = el.textContent.trim();
      if (said && found.indexOf(said) < 0) { found.push(said); }
    });
    return found.join(" ") || text("refused-status", { status: status });
  }
  // Sent from the page it was made on: that part of the page shows the server's answer. A replay has no
  // answer to show (the server had it already): the part is fetched anew.
  function swapIn(item, html) {
    if (!item.target || item.page !== window.location.pathname + window.location.search || !window.htmx) { return; }
    var target = document.querySelector(item.target);
    if (!target) { return; }
    if (html) { window.htmx.swap(target, html, { swapStyle: "outerHTML" }); return; }
    window.htmx.ajax("GET", item.page, { target: item.target, select: item.target, swap: "outerHTML" });
  }

  var flushing = false;
  function sendOne(item) {
    var params = new URLSearchParams(item.body);
    var token = csrfToken();
    if (token) { params.set("csrf_token", token); }
    item.state = "sending";
    return putItem(item).then(render).then(function () {
      return fetch(item.url, {
        method: "POST",
        body: params,
        credentials: "same-origin",
        headers: {
          "Idempotency-Key": item.key,
          "X-CSRFToken": token,
          "HX-Request": "true",
          "HX-Current-URL": window.location.origin + item.page,
        },
      });
    }).then(function (response) {
      return response.text().then(function (html) {
        if (response.ok) {
          return removeItem(item.key).then(function () {
            swapIn(item, response.headers.get("Idempotent-Replayed") ? "" : html);
            return "sent";
          });
        }
        if (response.status === 401) { item.state = "signed-out"; return putItem(item).then(function () { return "stop"; }); }
        if (response.status >= 500 || response.status === 429 || response.status === 408) {
          item.state = "waiting";
          return putItem(item).then(function () { return "stop"; });
        }
        item.state = "refused";
        item.message = messageOf(html, response.status);
        return putItem(item).then(function () { return "refused"; });
      });
    }, function () {  // no answer: still offline, or the server is out of reach
      item.state = "waiting";
      return putItem(item).then(function () { return "stop"; });
    });
  }
  function flush() {
    if (flushing || navigator.onLine === false) { return Promise.resolve(); }
    flushing = true;
    var work = function () {
      return allItems().then(function (items) {
        var due = items.filter(function (item) { return item.scope === scope && item.state !== "refused"; });
        var next = function (index) {
          if (index >= due.length) { return null; }
          return sendOne(due[index]).then(function (outcome) { return outcome === "stop" ? null : next(index + 1); });
        };
        return next(0);
      });
    };
    // One tab at a time sends (a second tab waits, then finds the queue empty); the server's key check is the
    // guarantee, the lock only saves requests.
    var locked = navigator.locks ? navigator.locks.request("omnistore-offline-queue", work) : work();
    return Promise.resolve(locked).catch(function () {}).then(function () {
      flushing = false;
      return render();
    });
  }

  window.addEventListener("online", flush);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { flush(); } });
  setInterval(function () {
    allItems().then(function (items) {
      if (items.some(function (item) { return item.scope === scope && item.state === "waiting"; })) { flush(); }
    });
  }, RETRY_MS);
  readyForget.then(function () {
    return allItems();
  }).then(function (items) {  // a reload while sending: what was "sending" is waiting again
    return Promise.all(items.filter(function (item) { return item.state === "sending"; }).map(function (item) {
      item.state = "waiting";
      return putItem(item);
    }));
  }).then(render).then(flush).then(function () {
    document.documentElement.setAttribute("data-offline-ready", "true");  // for tests: the queue is on screen
  });
})();
