// omnistore: the pickup desk. No inline scripts (strict CSP).
//
// - [data-print] buttons print the page (pick lists: one order per printed page).
// - A keyboard-wedge scanner reading the customer's QR code types its web address (letters, digits, ":/.-_")
//   and Enter while no field has focus: on the desk page that goes to the pickup-code form, not to the global
//   product search (app.js, which only takes barcodes). It runs before app.js's handler (capture on window).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (button) { event.preventDefault(); window.print(); }
  });

  var buffer = "", lastKey = 0;
  window.addEventListener("keydown", function (event) {
    var form = document.querySelector("[data-pickup-code-form]");
    if (!form) { return; }
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var now = event.timeStamp;  // when the key was pressed: a busy page delivers a scan's keys late, in a burst
    // A pause of half a second starts a new code: long enough that a slow scanner doesn't drop the first
    // digits, short enough that stray keys from earlier don't stick. A web address under way (it starts
    // with "http") waits longer: a stall in its middle would leave only its tail, which no order has.
    if (now - lastKey > (buffer.indexOf("http") === 0 ? 5000 : 500)) { buffer = ""; }
    lastKey = now;
    if (event.key.length === 1) { buffer += event.key; return; }
    if (event.key === "Enter" && buffer.length >= 8 && !/^\d+$/.test(buffer)) {  // digits only: a product barcode
      var input = form.querySelector("input[name=code]");
      event.preventDefault();
      event.stopImmediatePropagation();
      input.value = buffer;
      buffer = "";
      form.requestSubmit();
    }
  }, true);
})();
