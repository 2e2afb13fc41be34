// omnistore customers: the customer picker other pages embed (templates/customers/_picker.html).
// - Enter in the picker's search box searches; it must not submit the form the picker sits in.
// - The picker's "Scan card" button: the scanned loyalty code goes into the picker's search, not to a page.
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
