"""A keyboard-wedge scanner in the browser tests.

A scanner is a keyboard that types a whole code and Enter within a few milliseconds. The tests send the same
burst inside the page, in one task: typed key by key from the test, a busy CI machine paused more than half a
second in the middle of a code now and then, which the app rightly reads as the start of a new code.
"""

from tests.e2e.test_order_builder import settled

_BURST = """([code, focusAt, selector]) => {
  if (document.activeElement) { document.activeElement.blur(); }
  const press = (key) => {
    const focused = document.activeElement;
    (focused && focused !== document.body ? focused : document.body)
      .dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true, cancelable: true}));
  };
  [...code].forEach((key, index) => {
    if (index === focusAt) { document.querySelector(selector).focus(); }
    press(key);
  });
  press("Enter");
}"""


def wedge_scan(page, code, *, focus_at=None, focus=None):
    """Scan `code` with nothing focused, once the page has loaded and htmx is idle (the app reads a scan with
    app.js's listener). `focus_at`/`focus`: the element the page focuses after that many of the code's keys (as
    htmx does with a swapped-in [autofocus] box)."""
    page.wait_for_load_state("load")
    settled(page)
    page.evaluate(_BURST, [code, -1 if focus_at is None else focus_at, focus or ""])
