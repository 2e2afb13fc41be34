// omnistore customers: the customer picker other pages embed (templates/customers/_picker.html).
// - Enter in the picker's search box searches; it must not submit the form the picker sits in.
// - The picker's "Scan card" button: the scanned loyalty code goes into the picker's search, not to a page.
// - "New customer" starts with what was typed in the search.
// No inline scripts, no eval (strict CSP). Loaded once however many pickers a page has.
(function () {
  "use strict";
  if (window.omnistoreCustomers) { return; }
  window.omnistoreCustomers = true;

  function search(input) {
    input.dispatchEvent(new CustomEvent("picker:search", { bubbles: true }));
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target instanceof Element && target.matches("[data-picker-search]")) {
      event.preventDefault();
      search(target);
    }
  });

  // "New customer" opened after a search: the form starts with what was typed (a name, an email or a phone
  // number, read by the server as the customers page's "Create a profile" reads it), not empty.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!(details instanceof Element) || !details.matches("details[data-prefill-url]") || !details.open) { return; }
    var picker = details.closest("[data-customer-picker]");
    var input = picker && picker.querySelector("[data-picker-search]");
    var q = input ? input.value.trim() : "";
    var typed = Array.prototype.some.call(details.querySelectorAll("input[type=text], input[type=email], input[type=tel]"),
                                          function (field) { return field.value; });
    if (!q || typed || !window.htmx) { return; }
    window.htmx.ajax("GET", details.getAttribute("data-prefill-url") + "&new=" + encodeURIComponent(q),
                     { target: picker, swap: "outerHTML" });
  }, true);

  document.addEventListener("scanner:decoded", function (event) {
    var opener = event.target instanceof Element ? event.target.closest("[data-picker-scan]") : null;
    if (!opener) { return; }
    var picker = opener.closest("[data-customer-picker]");
    var input = picker && picker.querySelector("[data-picker-search]");
    if (!input) { return; }
    event.preventDefault();
    input.value = event.detail.value;
    search(input);
  });
})();
