"""Customer emails and order webhooks, written to the outbox in the caller's transaction."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from omnistore.core import outbox, webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import notifications, pickup_codes
from omnistore.orders.models import OrderEvent


def _customer(email="anna@example.test", first_name="Anna", locale="en", **fields):
    customer = Customer(first_name=first_name, last_name="Berg", email=email, locale=locale, **fields)
    db.session.add(customer)
    db.session.commit()
    return customer


@pytest.fixture
def ready_order(make):
    store = make.location("HAM", country="GB")  # English: neither Danish nor German
    variant = make.variant(make.product(name="Rain Jacket"), size="M", colour="Navy", price_minor=8995)
    order = make.order(store, [(variant, 2, store)], status="ready", customer=_customer())
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        pickup.ready_at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        pickup.pickup_by = datetime(2026, 11, 27, 22, 59, tzinfo=UTC)
    return order


def _messages(kind=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalars(query).all()


def test_ready_email_has_code_store_hours_pickup_by_and_a_qr_that_decodes_to_the_status_url(ready_order):
    with transaction():
        notifications.order_ready(ready_order)
    [email] = _messages("email")
    url = pickup_codes.status_url(ready_order.pickup)
    assert email.recipient == "anna@example.test" and email.topic == "order.ready"
    assert email.subject == f"Your order {ready_order.number} is ready for pickup"
    text = email.body
    assert "Hello Anna," in text and "Berg" not in text
    assert ready_order.pickup.short_code in text and url in text
    assert "Teststraße 1" in text and "openstreetmap.org/?mlat=53.55110&mlon=9.99370" in text
    assert "Friday, 27 November 2026, 23:59" in text  # pickup-by in the store's time zone
    assert "Monday: 09:30–20:00" in text and "Sunday: closed" in text
    assert "2 × Rain Jacket (M · Navy)" in text
    html = email.payload["html"]
    assert 'src="cid:pickup-qr"' in html and ready_order.pickup.short_code in html
    [qr] = email.payload["attachments"]
    assert qr["content_id"] == "pickup-qr" and qr["mimetype"] == "image/png"
    image = Image.open(io.BytesIO(outbox.attachment_content(qr)))
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [url]
    events = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == ready_order.id)).all()
    assert [(e.kind, e.detail) for e in events] == [("notified", {"topic": "order.ready"})]


@pytest.mark.parametrize(
    "code, language, words",
    [
        ("CPH", "da", ["Hej Anna", "klar til afhentning", "mandag"]),
        ("BER", "de", ["Hallo Anna,", "abholbereit", "Montag"]),
    ],
)
def test_the_email_is_written_in_the_customers_language(make, code, language, words):
    store = make.location(code)
    variant = make.variant()
    order = make.order(store, [(variant, 1, store)], status="ready", customer=_customer(locale=language))
    with transaction():
        pickup_codes.open_pickup(order).pickup_by = datetime(2026, 11, 27, 22, 59, tzinfo=UTC)
        notifications.order_ready(order)
    [email] = _messages("email")
    assert email.payload["locale"] == language
    for word in words:
        assert word in email.body


def test_every_email_renders_in_every_language(make):
    store = make.location("HAM")
    variant = make.variant()
    for locale in ("en", "de", "da"):
        order = make.order(
            store, [(variant, 1, store)], status="ready", customer=_customer(email=f"{locale}@example.test")
        )
        with transaction():
            pickup_codes.open_pickup(order).pickup_by = datetime.now(UTC) + timedelta(days=3)
        order.customer.locale = locale  # a profile with a language wins over the store's country
        with transaction():
            for compose in (
                notifications.order_confirmation,
                notifications.order_ready,
                notifications.pickup_reminder,
                notifications.order_expired,
                notifications.order_cancelled,
                notifications.handover_receipt,
            ):
                assert compose(order)
    emails = _messages("email")
    assert len(emails) == 18
    assert {e.payload["locale"] for e in emails} == {"en", "de", "da"}
    for email in emails:
        assert email.subject and email.body.strip() and "<html" in email.payload["html"]
        assert "{{" not in email.body and "%(" not in email.body


def test_no_email_without_an_address_but_webhooks_still_go(make):
    store = make.location("HAM")
    webhooks.add_endpoint("shop", "https://shop.example.test/hooks", ["order.ready"])
    order = make.order(store, [(make.variant(), 1, store)], status="ready")
    with transaction():
        pickup_codes.open_pickup(order)
        notifications.order_ready(order)
        notifications.order_cancelled(order)  # the endpoint did not ask for this one
    [hook] = _messages()
    assert hook.kind == "webhook" and hook.topic == "order.ready"
    assert hook.recipient == "https://shop.example.test/hooks"
    body = hook.payload
    assert body["event"] == "order.ready" and body["order"]["number"] == order.number
    assert body["order"]["status"] == "ready" and body["order"]["pickup_location"] == "HAM"


def test_a_webhook_never_carries_the_customers_status_url(make):
    """The status URL is the QR credential; every endpoint gets every order's events, so none gets it."""
    store = make.location("HAM")
    webhooks.add_endpoint("shop", "https://shop.example.test/hooks")
    order = make.order(store, [(make.variant(), 1, store)], status="ready")
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        notifications.order_ready(order)
        notifications.order_cancelled(order)
    hooks = [message for message in _messages() if message.kind == "webhook"]
    assert {hook.topic for hook in hooks} == {"order.ready", "order.cancelled"}
    for hook in hooks:
        assert "status_url" not in hook.payload["order"] and hook.payload["order"]["number"] == order.number
        assert pickup.token not in json.dumps(hook.payload)


def test_a_rolled_back_change_queues_nothing(ready_order):
    with pytest.raises(RuntimeError), transaction():
        notifications.order_ready(ready_order)
        raise RuntimeError("the change failed")
    assert _messages() == []


def test_the_receipt_says_which_lines_were_refused(make):
    store = make.location("HAM", country="GB")
    jacket, boots = make.variant(make.product(name="Rain Jacket")), make.variant(make.product(name="Boots"))
    order = make.order(store, [(jacket, 1, store), (boots, 1, store)], status="collected", customer=_customer())
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        pickup.collected_at = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)
        order.lines[0].status, order.lines[1].status = "collected", "refused"
        notifications.handover_receipt(order)
    [email] = _messages("email")
    assert "on Saturday, 21 November 2026, 16:30" in email.body
    assert email.body.count("Not taken — returned to the store") == 1
    assert "Boots" in email.body.split("Not taken")[0].splitlines()[-1]


def test_names_are_escaped_in_the_html_email(make):
    store = make.location("HAM", country="GB")
    order = make.order(store, [(make.variant(), 1, store)], customer=_customer(first_name="<b>Eve</b>"))
    with transaction():
        pickup_codes.open_pickup(order)
        notifications.order_confirmation(order)
    [email] = _messages("email")
    assert "<b>Eve</b>" not in email.payload["html"] and "&lt;b&gt;Eve&lt;/b&gt;" in email.payload["html"]
    assert "Hello <b>Eve</b>," in email.body  # plain text is not HTML


def test_a_delivery_order_confirmation_has_no_pickup_part(make):
    store = make.location("HAM", country="GB")
    order = make.order(
        store, [(make.variant(), 1, store)], fulfilment="delivery", customer=_customer(), origin_location=store
    )
    with transaction():
        notifications.order_confirmation(order)
    [email] = _messages("email")
    assert "Pickup code" not in email.body and email.payload["attachments"] == []
    assert "We will let you know when it is on its way." in email.body


@pytest.mark.parametrize("code, language", [("CPH", "da"), ("BER", "de"), ("XYZ", "de"), ("HAM", "de")])
def test_without_a_customer_language_the_orders_market_decides(make, code, language):
    store = make.location(code, country={"XYZ": "AT"}.get(code) or make.CITIES.get(code, ("", 0, 0, "", "DE"))[4])
    order = make.order(store, [(make.variant(), 1, store)], customer=_customer())
    assert order.market is not None and order.pickup_location is store  # loaded before the change below
    order.customer.locale = None  # e.g. a profile from before languages were kept (never written)
    assert notifications.customer_locale(order) == language
    store.country = "GB"  # the store's country no longer decides: the order's market does
    assert notifications.customer_locale(order) == language
    order.market.locale = "en"
    assert notifications.customer_locale(order) == "en"


def test_a_hamburg_pickup_of_a_kobenhavn_order_is_written_in_danish(make):
    """Cross-border: sold in København (market DK), collected in Hamburg: the Danish market's language, not
    the pickup store's country; the customer's own language wins when the profile has one."""
    cph, ham = make.location("CPH"), make.location("HAM")
    order = make.order(ham, [(make.variant(), 1, ham)], customer=_customer(), market_code="DK")
    assert order.market is not None
    order.customer.locale = None
    assert (order.market_code, notifications.customer_locale(order)) == ("DK", "da")
    order.customer.locale = "en"
    assert notifications.customer_locale(order) == "en"
    assert cph.market_code == "DK"
