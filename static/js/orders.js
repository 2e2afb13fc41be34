// omnistore orders: the order builder's small helpers. No inline scripts, no eval (strict CSP).
// - The hold countdown ([data-countdown] seconds left, counted from when the component arrived).
// - The customers picker inside the builder: once a customer is chosen, the builder saves it.
// - A place button sends once: a second tap while the page loads does nothing (the server's idempotency
//   key makes sure of it anyway).
(function () {
  "use strict";
  if (window.omnistoreOrders) { return; }
  window.omnistoreOrders = true;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function startCountdowns(root) {
    var timers = (root.matches && root.matches("[data-countdown]")) ? [root] : [];
    if (root.querySelectorAll) { timers = timers.concat(Array.prototype.slice.call(root.querySelectorAll("[data-countdown]"))); }
    timers.forEach(function (el) {
      if (el.dataset.counting) { return; }
      el.dataset.counting = "1";
      var deadline = Date.now() + parseInt(el.dataset.countdown, 10) * 1000;
      var clock = el.querySelector("[data-countdown-clock]");
      var expired = el.querySelector(".hold-expired");
      function tick() {
        if (!document.body.contains(el)) { return; }
        var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
        if (clock) { clock.textContent = Math.floor(left / 60) + ":" + pad(left % 60); }
        if (left <= 0) {
          el.classList.add("is-expired");
          if (expired) { expired.hidden = false; }
          return;
        }
        el.classList.toggle("is-ending", left <= 120);
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }

  function customerChosen(root) {
    var picker = root.matches && root.matches("[data-customer-picker]") ? root : null;
    if (!picker || !picker.querySelector(".picker-chosen")) { return; }
    var form = picker.closest("[data-draft-customer]");
    var input = picker.querySelector("input[type=hidden]");
    if (!form || !input || !input.value || input.value === form.dataset.saved) { return; }
    form.dataset.saved = input.value;
    if (window.htmx) { window.htmx.trigger(form, "picker-chosen"); }
  }

  // The save that never reached the server (connection lost): choosing the same customer again must send it.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!event.detail.successful && form && form.matches && form.matches("[data-draft-customer]")) {
      form.dataset.saved = "";
    }
  });

  document.addEventListener("htmx:load", function (event) {
    startCountdowns(event.target);
    customerChosen(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { startCountdowns(document); });

  // A submit that something else stopped (app.js refuses every submit while offline) sent nothing: the
  // button stays usable, or one offline tap would leave Place dead until a reload.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.hasAttribute("data-once")) { return; }
    if (button.dataset.sent) { event.preventDefault(); return; }
    if (event.defaultPrevented) { return; }
    button.dataset.sent = "1";
  });
  // Back to a page from the browser's cache (back button after a sent form): its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("[data-once][data-sent]").forEach(function (button) { delete button.dataset.sent; });
  });
})();
