"""Screenshots for the README, kept current by the e2e tests: docs/screenshots/<name>-<width>.png."""
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {820: {"width": 820, "height": 1180}, 1280: {"width": 1280, "height": 800}}  # tablet portrait, landscape


def capture(page, name, widths=(820, 1280)):
    """Save what the clerk sees (the viewport, not the whole page) at each width; restore the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    try:
        for width in widths:
            page.set_viewport_size(SIZES[width])
            path = SCREENSHOTS / f"{name}-{width}.png"
            page.screenshot(path=str(path), animations="disabled", caret="hide")
            paths.append(path)
    finally:
        page.set_viewport_size(original)
        # caret="hide" leaves style="" on text fields; htmx would copy it on its next swap, which the strict
        # CSP (style-src 'self') reports as a violation. Tidy up after ourselves.
        page.evaluate("for (const el of document.querySelectorAll('[style=\"\"]')) el.removeAttribute('style')")
    return paths
