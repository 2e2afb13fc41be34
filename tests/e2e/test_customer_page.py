"""The customer's order page on a phone (390×844) in real Chromium, and the admin's Outbox page.
Also keeps docs/screenshots/customer-order-390.png and outbox-email-1280.png current."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import notifications, pickup_codes
from omnistore.orders.models import Order, OrderEvent, Pickup
from omnistore.pickups import handover as pickup_handover
from tests.conftest import PASSWORD
from tests.e2e.conftest import TIMEOUT_MS, BrowserProblems
from tests.e2e.screenshots import SCREENSHOTS, SETTLED

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    """A phone: small screen, touch, a mobile browser, English."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="en",
        timezone_id="Europe/Berlin",
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = BrowserProblems(tab)
    yield tab
    context.close()
    assert problems.errors == []


def _order(make, status="ready"):
    store = make.location("HAM", street="Mönckebergstraße 7", postcode="20095", phone="+49 40 3009 1234", country="GB")
    customer = Customer(first_name="Anna", last_name="Berg", email="anna@example.test", locale="en")
    db.session.add(customer)
    db.session.commit()
    jacket = make.variant(make.product(name="Rain Jacket", brand="Nordwind"), size="M", colour="Navy")
    boots = make.variant(make.product(name="Trail Boots", brand="Fjell"), size="42", colour="Brown")
    make.stock(jacket, store, on_hand=3, allocated=1)
    make.stock(boots, store, on_hand=2, allocated=1)
    order = make.order(store, [(jacket, 1, store), (boots, 1, store)], status=status, customer=customer)
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        if status == "ready":
            pickup.ready_at = datetime.now(UTC)
            pickup.pickup_by = datetime.now(UTC) + timedelta(days=7)
            notifications.order_ready(order)
    return order


def _picture(page, name, viewport):
    """The README's picture of `page` at `viewport`, from a tab of its own (a screenshot's injected styles
    would count as CSP violations on the test's tab)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab = page.context.new_page()
    try:
        tab.set_viewport_size(viewport)
        tab.goto(page.url)
        tab.evaluate(SETTLED)
        tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled", caret="hide")
    finally:
        tab.close()


def _no_sideways_scroll(page):
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def test_on_a_phone_the_ready_page_shows_the_qr_and_im_here_records_a_check_in(phone, make):
    order = _order(make)
    pickup = order.pickup
    phone.goto(f"/o/{pickup.token}")

    expect(phone.get_by_role("heading", name="Ready for pickup")).to_be_visible()
    expect(phone.get_by_role("heading", name="Hello Anna")).to_be_visible()
    qr = phone.get_by_role("img", name="QR code for the pickup desk")
    expect(qr).to_be_visible()
    assert phone.evaluate("img => img.complete && img.naturalWidth > 200", qr.element_handle())
    expect(phone.get_by_text(pickup.short_code, exact=True)).to_be_visible()
    expect(phone.get_by_role("link", name="Show on the map")).to_have_attribute(
        "href", re.compile(r"^https://www\.openstreetmap\.org/\?mlat=53\.55110&mlon=9\.99370")
    )
    expect(phone.get_by_text("Mönckebergstraße 7")).to_be_visible()
    _no_sideways_scroll(phone)
    for button in phone.locator("main button, main .button").all():
        if button.is_visible():
            assert button.bounding_box()["height"] >= 44

    _picture(phone, "customer-order-390", PHONE)

    phone.get_by_role("button", name="I'm on my way").click()
    expect(phone.get_by_text("The store knows you are on your way.")).to_be_visible()
    phone.get_by_label("Parking spot or note for the store (optional)").fill("Parking spot 12, blue car")
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.get_by_text("The store knows you are here.")).to_be_visible()
    expect(phone.get_by_role("button", name="Update my note")).to_be_visible()
    _no_sideways_scroll(phone)
    phone.set_viewport_size({"width": 360, "height": 740})  # a small phone: still nothing to scroll sideways
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 360

    db.session.expire_all()
    stored = db.session.scalar(select(Pickup).where(Pickup.id == pickup.id))
    assert stored.on_the_way_at is not None and stored.checked_in_at is not None
    assert stored.check_in_note == "Parking spot 12, blue car"
    kinds = db.session.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)).all()
    assert "on_the_way" in kinds and "checked_in" in kinds


def test_a_too_long_note_is_refused_at_the_field(phone, make):
    order = _order(make)
    phone.goto(f"/o/{order.pickup.token}")
    note = phone.get_by_label("Parking spot or note for the store (optional)")
    note.evaluate("input => input.removeAttribute('maxlength')")  # as a script or an old browser might
    note.fill("x" * 250)
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.get_by_text("Please keep the note to 200 characters.").first).to_be_visible()
    db.session.expire_all()
    assert db.session.scalar(select(Pickup.checked_in_at).where(Pickup.order_id == order.id)) is None


def test_the_customer_cancels_before_ready_in_german(phone, make):
    order = _order(make, status="placed")
    phone.goto(f"/o/{order.pickup.token}")
    phone.get_by_role("button", name="Deutsch").click()
    expect(phone.get_by_role("heading", name="Wir bereiten Ihre Bestellung vor")).to_be_visible()
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Bestellung stornieren").click()
    expect(phone.get_by_text("Diese Bestellung wurde storniert.")).to_be_visible()
    expect(phone.get_by_role("button", name="Bestellung stornieren")).to_have_count(0)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"


def test_an_unknown_link_gets_a_friendly_page(phone, make):
    _order(make)
    phone.goto("/o/abcdefghijklmnopqrstuvwxyz012345")
    expect(phone.get_by_role("heading", name="Sorry, we could not open this order")).to_be_visible()
    _no_sideways_scroll(phone)


def test_the_admin_reads_the_ready_email_with_its_qr_in_the_outbox(page, make):
    order = _order(make)
    admin = make.staff("admin", email="admin@example.test")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.locator("nav.mainnav").get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    page.get_by_role("link", name=f"Your order {order.number} is ready for pickup").click()
    expect(page.get_by_role("heading", name=f"Your order {order.number} is ready for pickup")).to_be_visible()
    frame = page.frame_locator("iframe.outbox-preview")
    qr = frame.get_by_role("img", name="QR code for the pickup desk")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")
    expect(frame.get_by_text(order.pickup.short_code)).to_be_visible()
    email = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert email.status == "pending"  # no SMTP here: kept in the outbox
    _picture(page, "outbox-email-1280", {"width": 1280, "height": 800})


@pytest.mark.parametrize("app_config", [{"OMNISTORE_PUBLIC_REFRESH_SECONDS": 1}])
def test_an_open_page_follows_the_order_to_collected(phone, make, app_config):
    order = _order(make)
    clerk = make.staff("clerk", order.pickup_location)
    phone.goto(f"/o/{order.pickup.token}")
    expect(phone.get_by_role("heading", name="Ready for pickup")).to_be_visible()
    pickup_handover.hand_over(db.session.get(Order, order.id), staff=clerk, verification="qr")
    expect(phone.get_by_role("heading", name="Collected", exact=True)).to_be_visible()
    expect(phone.get_by_text("You collected this order on")).to_be_visible()
    expect(phone.get_by_role("img", name="QR code for the pickup desk")).to_have_count(0)
