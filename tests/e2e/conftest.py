"""End-to-end fixtures: the real app behind a real WSGI server, and Chromium at tablet size.

- `live_server` serves the test's own `app` (same database, same config) from a background thread on
  127.0.0.1 and a free port. The `app` fixture empties the tables after the test, once the server has
  stopped. An exception inside a request fails the test with the server-side traceback.
- `browser` is one Chromium for the session (Playwright, sync API); `context` is a fresh one per test at
  tablet size (820×1180, scale 1, touch, locale en); `page` is a tab in it whose base URL is the live
  server. An uncaught JavaScript error or a Content-Security-Policy violation fails the test. A failed
  test leaves a screenshot and the page's HTML in test-artifacts/e2e/.
- Without Playwright or Chromium the e2e tests skip on a laptop and fail in CI (see `missing`).

Databases: e2e tests run on the first database of OMNISTORE_TEST_DATABASES only (SQLite by default).
They test the browser side; the database-specific behaviour is covered on both databases by the view
and service tests, and this keeps the e2e time flat as the suite grows. OMNISTORE_TEST_E2E_DATABASES=all
runs them on every database.
"""

import os
import shutil
import sys
import threading
import traceback
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import DATABASES, missing

E2E_DIR = Path(__file__).resolve().parent
ROOT = E2E_DIR.parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "e2e"

CHROMIUM = os.environ.get("OMNISTORE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TABLET = {"width": 820, "height": 1180}
TIMEOUT_MS = 10_000  # no single step of a tablet page should take longer


def pytest_collection_modifyitems(config, items):
    """Keep e2e tests on the first database only (those marked `postgresql` on PostgreSQL), unless
    OMNISTORE_TEST_E2E_DATABASES=all."""
    if os.environ.get("OMNISTORE_TEST_E2E_DATABASES", "").lower() == "all" or not DATABASES:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        is_e2e = E2E_DIR in Path(str(item.path)).parents
        wanted = DATABASES[0]
        if item.get_closest_marker("postgresql") is not None and "postgresql" in DATABASES:
            wanted = "postgresql"  # needs PostgreSQL (e.g. LISTEN/NOTIFY): there instead of the first database
        if is_e2e and callspec and callspec.params.get("database_url", DATABASES[0]) != wanted:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.when == "call":
        # The crawls this test made travel with its report: with pytest-xdist the test ran in a worker process,
        # and tests/conftest.py prints the summary in the main one.
        from tests.e2e.crawler import REPORTS

        while REPORTS:
            crawl = REPORTS.pop(0)
            report.user_properties.append(("crawler", [crawl.summary(), list(crawl.pages)]))
    return report


# --- The live server ----------------------------------------------------------------------------------


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.errors = []
        self.cut = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="e2e-live-server", daemon=True
        )

    def _wsgi(self, environ, start_response):
        streamed = []

        def start(status, headers, *args):
            streamed.extend(value for name, value in headers if name.lower() == "content-type")
            return start_response(status, headers, *args)

        try:
            body = self.app.wsgi_app(environ, start)
            if any(value.startswith("text/event-stream") for value in streamed):
                return self._stream(body)  # the live stream (pickups/views/live.py): each event as it comes
            # Read the whole body and close it here: werkzeug's server skips close() when the browser drops
            # the connection early (it does, navigating away), which would leave a static file open.
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()
        except Exception:
            # TESTING propagates exceptions; keep the traceback for the test, let werkzeug answer 500.
            self.errors.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}\n{traceback.format_exc()}")
            raise

    def cut_streams(self):
        """Drop every open live stream at its next event or keep-alive, as a restart or the Wi-Fi would."""
        self.cut.set()

    def _stream(self, body):
        try:
            for chunk in body:
                if self.cut.is_set():
                    return
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    """The test's app served over HTTP on 127.0.0.1:<free port>, stopped before the tables are emptied."""
    server = LiveServer(app).start()
    yield server
    server.stop()
    if server.errors:
        pytest.fail("the server raised during the test:\n\n" + "\n".join(server.errors), pytrace=False)


# --- The browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_chromium():
    """(Playwright's chromium launcher, the executable): one Playwright per session — a second sync Playwright
    in the same thread refuses to start — for the shared browser and for tests that launch their own."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        missing(f"the Python package playwright is not installed ({error}); pip install -e '.[test]'")
    executable = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if executable is None:
        missing(
            f"Chromium not found at {CHROMIUM}; install it (apt-get install chromium) "
            "or set OMNISTORE_TEST_CHROMIUM to its path"
        )
    playwright = sync_playwright().start()
    yield playwright.chromium, executable
    playwright.stop()


@pytest.fixture(scope="session", autouse=True)
def _patient_assertions():
    """`expect(...)` waits as long as actions do (Playwright's 5 s default is short on a busy CI machine)."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        return
    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser(playwright_chromium):
    """One headless Chromium for the whole session."""
    from playwright.sync_api import Error as PlaywrightError

    launcher, executable = playwright_chromium
    try:
        chromium = launcher.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except PlaywrightError as error:
        missing(f"Chromium at {executable} did not start: {str(error).splitlines()[0]}")
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser, live_server):
    """A fresh browser profile per test: tablet size, touch, English, pointed at the live server."""
    ctx = browser.new_context(
        base_url=live_server.url,
        viewport=dict(TABLET),
        device_scale_factor=1,
        has_touch=True,
        locale="en",
        timezone_id="Europe/Berlin",
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


class BrowserProblems:
    """Uncaught JavaScript errors and CSP violations seen by a page: a test fails on any of them."""

    def __init__(self, page):
        self.errors = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught JavaScript error: {error}"))
        page.on("console", self._console)

    def _console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            where = message.location or {}
            self.errors.append(f"CSP violation at {where.get('url')}:{where.get('lineNumber')}: {message.text}")


@pytest.fixture
def page(request, context):
    tab = context.new_page()
    problems = BrowserProblems(tab)
    yield tab
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    if failed:
        _save_artifacts(tab, request.node.nodeid)
    if problems.errors and not failed:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems.errors), pytrace=False)


def _save_artifacts(tab, nodeid):
    """A screenshot and the HTML of the page where the test failed, for whoever reads the CI log."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid.split("::", 1)[-1])
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(tab.content(), encoding="utf-8")
        print(f"\ne2e artifacts: {ARTIFACTS / name}.png/.html (page was {tab.url})", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 — the test's own failure matters more than this
        print(f"\ncould not save e2e artifacts: {error}", file=sys.stderr)
