""" "Available near you" in real Chromium: a clerk records "notify me" from the network panel of a variant the
store does not have; a wished-for variant arrives at the customer's store (the stock's own receipt verb), the
job (run as the worker runs it) sends one e-mail, read from a real SMTP server; the customer opens its button
link on a phone and holds the unit; the clerk's panel shows it held; a second run sends nothing.
Screenshots of the pages at 820 and 1280 go to test-artifacts/screens/ (not committed)."""

import email
import email.policy
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from omnistore.core import outbox_delivery, periodic
from omnistore.core.types import utcnow
from omnistore.customers import services as customers
from omnistore.jobs import JOBS
from omnistore.stock import ledger
from tests.conftest import PASSWORD
from tests.e2e.conftest import TIMEOUT_MS, BrowserProblems
from tests.e2e.screenshots import SETTLED, SIZES

pytestmark = pytest.mark.e2e
SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
PHONE = {"width": 390, "height": 844}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SMTP_PORT = _free_port()


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def app_config():
    return {
        "OMNISTORE_SMTP_HOST": "127.0.0.1",
        "OMNISTORE_SMTP_PORT": SMTP_PORT,
        "OMNISTORE_SMTP_STARTTLS": False,
        "OMNISTORE_SMTP_FROM": "Nordwind <shop@nordwind.example>",
        "OMNISTORE_OUTBOX_TIMEOUT_SECONDS": 3,
    }


@pytest.fixture
def world(make):
    ham = make.location("HAM", street="Mönckebergstraße 7", postcode="20095")
    make.location("BER")
    clerk = make.staff("clerk", ham, email="clerk@example.test", name="Jonas Weber")
    product = make.product(name="Fjord Parka")
    jacket = make.variant(product, size="M", colour="Navy")
    make.variant(product, size="L", colour="Navy")
    anna = make.customer("Anna", "Berg", email="anna@example.test", preferred_location_id=ham.id, locale="en")
    customers.record_consent(anna, "email", True, staff=clerk)
    return type("World", (), dict(ham=ham, clerk=clerk, jacket=jacket, anna=anna))


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = BrowserProblems(tab)
    yield tab
    context.close()
    assert problems.errors == []


def sign_in(page):
    page.goto("/login")
    page.get_by_label("Email").fill("clerk@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.wait_for_load_state("load")


def screens(page, name, sizes=(820, 1280)):
    SCREENS.mkdir(parents=True, exist_ok=True)
    for width in sizes:
        tab = page.context.new_page()
        try:
            tab.set_viewport_size(SIZES.get(width, PHONE))
            tab.goto(page.url)
            tab.evaluate(SETTLED)
            tab.screenshot(path=str(SCREENS / f"{name}-{width}.png"), animations="disabled", caret="hide")
        finally:
            tab.close()


def run_the_job(now):
    """The job as the worker runs it (claim on the due time, the lock), then the outbox delivered over SMTP."""
    job = next(job for job in JOBS if job.name == "nearby.notify")
    assert periodic.run_job(job, worker_id="e2e", now=now) == "ok"
    return outbox_delivery.deliver_pending()


def test_a_clerk_records_notify_me_from_the_panel_of_a_variant_the_store_does_not_have(page, world):
    sign_in(page)
    page.goto(f"/stock/products/{world.jacket.product_id}?variant={world.jacket.id}")
    page.wait_for_load_state("load")
    panel = page.locator("#network-panel")
    expect(panel).to_contain_text("Fjord Parka")
    screens(page, "nearby-panel")
    panel.get_by_role("link", name="Notify a customer when available").click()
    expect(page).to_have_url(re.compile(r"/customers/notify\?variant_id="))
    page.wait_for_load_state("load")
    page.get_by_label("Customer", exact=True).fill("Anna")
    page.get_by_role("button", name=re.compile("Anna Berg")).click()
    expect(page.locator(".picker-chosen")).to_contain_text("Anna Berg")
    screens(page, "nearby-notify")
    page.get_by_role("button", name="Notify this customer").click()
    expect(page).to_have_url(re.compile(rf"/customers/{world.anna.id}(#notify-requests)?$"))
    requests = page.locator("#notify-requests")
    expect(requests).to_contain_text("Fjord Parka")
    page.reload()
    page.wait_for_load_state("load")
    expect(page.locator("#notify-requests")).to_contain_text(world.jacket.sku)
    # Cancelled in place, one tap.
    page.locator("#notify-requests").get_by_role("button", name="Cancel").click()
    expect(page.locator("#notify-requests")).to_contain_text("Nothing.")
    assert page.locator("main").count() == 1


def test_a_wished_variant_arrives_one_email_whose_button_holds_the_unit(
    page, phone, world, smtp_server, app, live_server
):
    app.config["OMNISTORE_PUBLIC_URL"] = live_server.url  # the e-mail's links lead to this server
    customers.add_to_wishlist(world.anna, world.jacket.id, staff=world.clerk)
    # The goods arrive at Hamburg, Anna's store, through the stock's own receipt verb.
    ledger.receive(ledger.StockChange(world.jacket.id, world.ham.id, 2, "delivery from the warehouse"), world.clerk)

    delivered = run_the_job(utcnow() + timedelta(minutes=1))
    assert delivered.sent == 1
    [(recipients, raw)] = smtp_server.messages
    assert recipients == ["anna@example.test"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Fjord Parka is available at Hamburg" in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Mönckebergstraße 7" in html and "09:30–20:00" in html
    link = re.search(r'href="([^"]+/n/[^"]+)"[^>]*>Hold it for me<', html).group(1)
    assert link.startswith(live_server.url)

    # On her phone: the link, the button, held.
    phone.goto(link)
    phone.wait_for_load_state("load")
    expect(phone.locator("#nearby-offer")).to_contain_text("Available at Hamburg")
    screens(phone, "nearby-offer", sizes=(390,))
    phone.get_by_role("button", name="Hold it for me").click()
    expect(phone.locator("#nearby-offer [data-state=held]")).to_be_visible()
    expect(phone.locator("#nearby-offer")).to_contain_text("Collect it at Hamburg until")
    phone.reload()
    expect(phone.locator("#nearby-offer [data-state=held]")).to_be_visible()
    screens(phone, "nearby-held", sizes=(390, 820))

    # The clerk's panel in Hamburg shows the unit held for her, and one fewer available here.
    sign_in(page)
    page.goto(f"/stock/products/{world.jacket.product_id}?variant={world.jacket.id}")
    page.wait_for_load_state("load")
    panel = page.locator("#network-panel")
    expect(panel.locator("[data-held-for]")).to_contain_text("Held for pickup for Anna Berg")
    expect(panel.locator("[data-total=here]")).to_have_text("1")
    screens(page, "nearby-held-panel")
    panel.get_by_role("link", name="Open the order").click()
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    expect(page.locator("#draft")).to_contain_text("Anna Berg")

    # A second run, later: nothing new to send.
    assert run_the_job(utcnow() + timedelta(minutes=10)).sent == 0
    assert len(smtp_server.messages) == 1
