"""The crawler on the demo: every screen a clerk, a manager, an admin and a customer reach is checked.

The demo is loaded once, through the product's own `load_demo()`, for the whole module (it takes a few
seconds); the crawl never taps a button that changes data, so the roles can share it in any order. Each
role's report (pages, taps, checks) prints at the end of the test run, failures or not; a role's test
fails with every finding, grouped by check (see tests/e2e/crawler.py for what each check means).
"""

import time

import pytest
from flask import request_started
from sqlalchemy import select

from omnistore import create_app
from omnistore.core.extensions import db
from omnistore.orders import desk as order_desk
from omnistore.orders.models import Order, Pickup
from omnistore.stores.models import Staff
from omnistore_tools import demo
from tests.conftest import _empty_all_tables, _fresh_g, _test_config
from tests.e2e.conftest import TIMEOUT_MS, LiveServer
from tests.e2e.crawler import REPORTS, Crawl

# One worker for the whole module (pytest-xdist): the demo is loaded once, and the roles share what the
# earlier crawls checked and tapped.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("crawler")]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
# Not to be walked into: signing out ends the crawl's session; a camera scan page needs a code.
SKIP = [r"/logout$"]
# Products and customers are found by searching, not listed: type as a clerk does (one of each is enough).
SEARCHES = [
    ("/stock/", "Product, brand, SKU or EAN", "parka"),
    ("/customers/", "Name, email, phone or loyalty number", "mueller"),
]


@pytest.fixture(scope="module")
def demo_server(database_url):
    """The demo network, loaded once by the product's own function, served for the whole module."""
    # Static files cached for an hour, as behind any real web server: a page load costs one request, not nine.
    app = create_app(_test_config(database_url, SEND_FILE_MAX_AGE_DEFAULT=3600))
    request_started.connect(_fresh_g, app)
    with app.app_context():
        demo.load_demo()
        db.session.remove()
    server = LiveServer(app).start()
    yield server
    server.stop()
    with app.app_context():
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()
    if server.errors:
        pytest.fail("the server raised during the crawl:\n\n" + "\n".join(server.errors), pytrace=False)


@pytest.fixture
def new_context(browser, demo_server):
    contexts = []

    def make(viewport=TABLET):
        ctx = browser.new_context(
            base_url=demo_server.url,
            viewport=dict(viewport),
            device_scale_factor=1,
            has_touch=True,
            locale="en",
            timezone_id="Europe/Berlin",
            accept_downloads=True,
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        from tests.e2e.crawler import SETTLE_SCRIPT

        ctx.add_init_script(SETTLE_SCRIPT)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/")
    page.wait_for_load_state("load")


@pytest.fixture(scope="module")
def checked():
    """Kinds of screen that already had the costly checks (axe, targets, assets) in this module's crawls: a
    template a clerk's crawl checked is not checked again for the manager; what only a manager sees is."""
    return set()


@pytest.fixture(scope="module")
def tapped():
    """Buttons (route, label) an earlier role's crawl already tapped: the same button on the same kind of
    screen is tapped once in the module; a button only a manager or an admin sees is tapped by them."""
    return set()


def crawl(page, server, role, checked, start="/", staff=True, throwaway=(), tapped=None):
    began = time.monotonic()
    crawler = Crawl(
        page,
        server.url,
        role,
        staff=staff,
        skip=SKIP,
        searches=SEARCHES if staff else (),
        checked=checked,
        throwaway=throwaway,
        tapped=tapped,
    )
    REPORTS.append(crawler.report)
    try:
        report = crawler.run(start)
    finally:
        crawler.report.seconds = time.monotonic() - began
    if report.failures:
        lines = []
        for check, failures in sorted(report.failures_by_check().items()):
            lines.append(f"{check} ({len(failures)}):")
            lines.extend(f"  {failure.where}: {failure.what}" for failure in failures)
        pytest.fail(f"the crawler found {len(report.failures)} problems as {role}:\n" + "\n".join(lines), pytrace=False)


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_crawl_as_store_staff(role, new_context, demo_server, checked, tapped):
    page = new_context().new_page()
    sign_in(page, demo.staff_email(role, "HAM"))
    crawl(page, demo_server, f"{role} (HAM)", checked, tapped=tapped)


def test_crawl_as_admin(new_context, demo_server, checked, tapped):
    # The demo has no email in the outbox yet: send one order's confirmation again (the product's own verb,
    # as "Send again" on the order page does), so the crawl reaches a message and its preview.
    with demo_server.app.app_context():
        admin = db.session.scalar(select(Staff).where(Staff.email == demo.ADMIN_EMAIL))
        order = db.session.scalar(
            select(Order).where(Order.status == "placed", Order.fulfilment == "pickup").order_by(Order.id).limit(1)
        )
        order_desk.resend_confirmation(order, staff=admin)
        db.session.remove()
    page = new_context().new_page()
    sign_in(page, demo.ADMIN_EMAIL)
    crawl(page, demo_server, "admin", checked, tapped=tapped)


def test_crawl_the_customers_order_page_on_a_phone(new_context, demo_server, checked):
    # The last ready order nobody has said anything about: this crawl's own, so it also says "on my way" and
    # "I'm here" (the staff crawls, which come first, never change it).
    with demo_server.app.app_context():
        token = db.session.scalar(
            select(Pickup.token)
            .join(Order)
            .where(Order.status == "ready", Pickup.checked_in_at.is_(None), Pickup.on_the_way_at.is_(None))
            .order_by(Order.id.desc())
            .limit(1)
        )
        db.session.remove()
    page = new_context(PHONE).new_page()
    crawl(
        page,
        demo_server,
        "customer (order page, 390×844)",
        checked,
        start=f"/o/{token}",
        staff=False,
        throwaway=["I'm on my way", "I'm here"],
    )


def test_the_crawler_forgives_a_search_request_replaced_while_under_way_and_nothing_else():
    """htmx logs an aborted request's end and then its abort as errors (a search typed on replaces the one under
    way); an end followed by a send error is a failure, and so are both of its messages."""
    from types import SimpleNamespace

    from tests.e2e.crawler import Watcher

    class Page:
        def on(self, event, handler):
            if event == "console":
                self.console = handler

    def watched(*texts):
        page = Page()
        watcher = Watcher(page, "http://127.0.0.1")
        for text in texts:
            page.console(SimpleNamespace(type="error", text=f"{text}, [object HTMLElement]", location={}))
        return [text.split(",")[0] for _check, text in watcher.problems]

    assert watched("htmx:afterRequest", "htmx:sendAbort") == []
    assert watched("htmx:afterRequest", "htmx:sendAbort", "htmx:afterRequest", "htmx:sendAbort") == []
    assert watched("htmx:afterRequest", "htmx:sendError") == ["htmx:afterRequest", "htmx:sendError"]
    assert watched("htmx:afterRequest") == ["htmx:afterRequest"]
    assert watched("htmx:sendAbort", "htmx:afterRequest") == ["htmx:afterRequest"]
