"""After the purchase, in a real browser: the worker's job sends the follow-up e-mail through a real SMTP server
(aiosmtpd), the customer taps the low rating in that e-mail and adds a comment, and the store manager finds them
on the list to call back, marks the call with a note, and the list keeps it after a reload. Screenshots of the
rating page and the list."""

import email
import email.policy
import re
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from omnistore.clienteling import followups
from omnistore.core import outbox_delivery
from omnistore.core.public_url import FIXED
from omnistore.core.types import utcnow
from omnistore.customers import services as customer_service
from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


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
def app_config():
    return {
        "OMNISTORE_SMTP_HOST": "127.0.0.1",
        "OMNISTORE_SMTP_PORT": SMTP_PORT,
        "OMNISTORE_SMTP_STARTTLS": False,
        "OMNISTORE_SMTP_FROM": "Nordwind <shop@nordwind.example>",
    }


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def bought(make):
    shop = make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM"), "manager": ("manager", "HAM", "Maren Manager")},
        variants={
            "parka": dict(product="Fjord Parka", category="Jackets", size="M", stock={"HAM": 5}),
            "tee": dict(product="Linen Tee", category="T-shirts", size="M", colour="White", stock={"HAM": 3}),
        },
    )
    other = make.customer("Other", "Buyer")
    make.order(shop.ham, [(shop.parka, 1, shop.ham), (shop.tee, 1, shop.ham)], status="collected", customer_id=other.id)
    anna = make.customer("Anna", "Hansen", email="anna@example.de", phone="+4915112345678", locale="en")
    customer_service.record_consent(anna, "email", True, staff=shop.clerk)
    order = make.order(shop.ham, [(shop.parka, 1, shop.ham)], status="collected", customer_id=anna.id)
    make.event(order, "collected", utcnow() - timedelta(days=8))
    shop["order"] = order
    return shop


def test_a_low_rating_tapped_in_the_email_reaches_the_managers_call_back_list(
    app, page, live_server, smtp_server, bought
):
    app.config["OMNISTORE_PUBLIC_URL"], app.config[FIXED] = live_server.url, True  # the links reach this server
    assert followups.run().sent == 1
    assert outbox_delivery.deliver_all_due().sent == 1

    [(recipients, raw)] = smtp_server.messages
    assert recipients == ["anna@example.de"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == f"Was everything as expected with your order {bought.order.number}?"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Linen Tee" in text and re.search(r"/m/[A-Za-z0-9_-]+/unsubscribe", text)

    # The customer opens the e-mail on the phone and taps "1".
    page.set_content(html)
    page.locator("a[data-rating='1']").click()
    expect(page.locator("#rated")).to_be_visible()
    page.wait_for_load_state("load")
    expect(page.locator("#rated .rating")).to_have_text("1 / 5")
    page.get_by_label("Anything you want to tell us? (optional)").fill("The parka's zip broke on day two.")
    page.get_by_role("button", name="Send comment").click()
    expect(page.locator("#comment-saved")).to_be_visible()
    capture(page, "followup-rated")

    # The store manager: Manager → To call back.
    context = page.context.browser.new_context(base_url=live_server.url, viewport={"width": 820, "height": 1180})
    staff_page = context.new_page()
    try:
        nav = sign_in(staff_page, "manager@example.test")
        nav.get_by_role("link", name="Manager").click()
        staff_page.wait_for_load_state("load")
        staff_page.get_by_role("link", name="To call back").click()
        staff_page.wait_for_load_state("load")
        row = staff_page.locator("#callbacks .callback", has_text="Anna Hansen")
        expect(row).to_contain_text("1 / 5")
        expect(row).to_contain_text("The parka's zip broke on day two.")
        expect(row).to_contain_text(bought.order.number)
        capture(staff_page, "manager-callbacks")
        row.get_by_label("What was said (optional)").fill("Exchanged the zip, she is happy")
        row.get_by_role("button", name="Mark as called").click()
        expect(staff_page.locator("#callbacks-empty")).to_be_visible()
        expect(staff_page.locator("#callbacks .done")).to_contain_text("Exchanged the zip, she is happy")
        staff_page.reload()
        expect(staff_page.locator("#callbacks .done")).to_contain_text("Maren Manager")
        expect(staff_page.locator("#callbacks .callback")).to_have_count(0)
    finally:
        context.close()


def test_a_clerk_sends_a_message_from_the_profile_and_it_shows_on_the_timeline(page, make):
    shop = make.shop(
        "HAM",
        team={"clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={
            "scarf": dict(product="Wool Scarf", category="Accessories", size="One size", stock={"HAM": 4}),
            "cap": dict(product="Rib Beanie", category="Accessories", size="One size", stock={"HAM": 2}),
        },
    )
    anna = make.customer("Anna", "Hansen", email="anna@example.de", locale="de")
    bert = make.customer("Bert", "Berg", email="bert@example.de")
    for person in (anna, bert):
        customer_service.add_to_wishlist(person, shop.scarf.id, staff=shop.clerk)
    customer_service.add_to_wishlist(anna, shop.cap.id, staff=shop.clerk)
    customer_service.record_consent(anna, "email", True, staff=shop.clerk)

    sign_in(page, "clerk@example.test")
    page.goto(f"/customers/{bert.id}")
    page.wait_for_load_state("load")
    expect(page.locator("#outreach-no-consent")).to_be_visible()  # no consent: no button
    expect(page.get_by_role("button", name="Send by e-mail")).to_have_count(0)
    # Bert agrees at the counter: the panel offers the button at once.
    page.locator("#consents .consent", has_text="News by email").get_by_role("button", name="Customer agrees").click()
    expect(page.locator("#consents .consent", has_text="News by email")).to_contain_text("Given")
    expect(page.locator("#outreach").get_by_role("button", name="Send by e-mail")).to_be_visible()

    page.goto(f"/customers/{anna.id}/outreach")  # the panel as a page of its own (without JavaScript)
    expect(page.get_by_role("button", name="Send by e-mail")).to_be_visible()
    capture(page, "customers-outreach")
    page.goto(f"/customers/{anna.id}")
    page.wait_for_load_state("load")
    panel = page.locator("#outreach")
    panel.get_by_label("Wool Scarf").check()
    panel.get_by_label("Rib Beanie").check()
    panel.get_by_label("Message").fill("Your scarf is back in Hamburg — shall we keep one for you?")
    panel.get_by_role("button", name="Send by e-mail").click()
    expect(page.locator("#outreach-sent")).to_be_visible()
    panel.get_by_label("Wool Scarf").check()
    panel.get_by_label("Message").fill("One more thing")
    panel.get_by_role("button", name="Send by e-mail").click()
    expect(page.locator("#outreach .form-error")).to_contain_text("already got a message")
    page.reload()
    page.wait_for_load_state("load")
    entry = page.locator("#timeline .entry-outreach").first
    expect(entry).to_contain_text("Jonas Weber")
    expect(entry).to_contain_text("Your scarf is back in Hamburg")
