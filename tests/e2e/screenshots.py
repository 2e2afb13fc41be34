"""Screenshots for the README, kept current by the e2e tests: docs/screenshots/<name>-<width>.png."""

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {820: {"width": 820, "height": 1180}, 1280: {"width": 1280, "height": 800}}  # tablet portrait, landscape
# Fonts loaded and two frames painted.
SETTLED = (
    "() => document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))))"
)


def capture(page, name, widths=(820, 1280)):
    """Save what the clerk sees (the viewport, not the whole page) at each width.

    Each width is a fresh tab of the same browser context (same session) that loads the page's URL at that
    size: the test's own page is left as it was, and the picture never depends on a re-layout after a
    resize, so unchanged pages give byte-identical files.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width in widths:
        tab = page.context.new_page()
        try:
            tab.set_viewport_size(SIZES[width])
            tab.goto(page.url)
            tab.evaluate(SETTLED)
            path = SCREENSHOTS / f"{name}-{width}.png"
            tab.screenshot(path=str(path), animations="disabled", caret="hide")
            paths.append(path)
        finally:
            tab.close()
    return paths
