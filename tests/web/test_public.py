"""The customer's order page at /o/<token>: no login, least data, safe actions, every bad input refused."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import pickup_codes
from omnistore.orders.models import Order, OrderEvent, Pickup
from omnistore.stock.models import StockLevel


def _customer():
    n = db.session.scalar(select(db.func.count(Customer.id)))
    customer = Customer(
        first_name="Anna",
        last_name="Bergström",
        email=f"anna.private{n or ''}@example.test",
        phone=f"+49151123456{n:02d}",
    )
    db.session.add(customer)
    db.session.commit()
    return customer


@pytest.fixture
def store(make):
    return make.location("HAM", phone="+49 40 1234567", country="GB")


def _order(make, store, status="ready", quantity=1, **fields):
    variant = make.variant(make.product(name="Rain Jacket"), size="L", colour="Navy")
    make.stock(variant, store, on_hand=5, allocated=quantity)
    order = make.order(store, [(variant, quantity, store)], status=status, customer=_customer(), **fields)
    with transaction():
        pickup = pickup_codes.open_pickup(order)
        if status == "ready":
            pickup.ready_at = datetime.now(UTC)
            pickup.pickup_by = datetime(2030, 11, 27, 22, 59, tzinfo=UTC)
    return order


def _events(order, kind=None):
    query = select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    if kind:
        query = query.where(OrderEvent.kind == kind)
    return db.session.scalars(query).all()


def _pickup(order):
    db.session.expire_all()
    return db.session.scalar(select(Pickup).where(Pickup.order_id == order.id))


def _status(order):
    db.session.expire_all()
    return db.session.get(Order, order.id).status


# --- what the page shows ------------------------------------------------------------------------------------


def test_the_ready_page_shows_status_code_qr_store_hours_and_no_more_personal_data(client, make, store):
    order = _order(make, store)
    pickup = order.pickup
    response = client.get(f"/o/{pickup.token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Hello Anna" in page and "Ready for pickup" in page
    for private in ("Bergström", "anna.private", "+4915112345600"):
        assert private not in page
    assert pickup.short_code in page and f'src="/o/{pickup.token}/qr.png"' in page
    assert "Rain Jacket" in page and "L · Navy" in page
    assert "Teststraße 1" in page and "20095 Hamburg" in page
    assert "https://www.openstreetmap.org/?mlat=53.55110&amp;mlon=9.99370" in page
    assert 'rel="noreferrer noopener"' in page
    assert "Wednesday, 27 November 2030" in page  # pickup-by, in the store's time zone
    assert "Monday" in page and "09:30–20:00" in page
    assert "I&#39;m here" in page or "I'm here" in page
    assert 'src="http' not in page and "<iframe" not in page  # nothing external is embedded
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_the_qr_image_decodes_to_the_page_itself(client, make, store):
    order = _order(make, store)
    response = client.get(f"/o/{order.pickup.token}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [code.text for code in decoded] == [pickup_codes.status_url(order.pickup)]


def test_a_page_in_the_customers_language_with_a_switch(client, make, store):
    order = _order(make, store)
    url = f"/o/{order.pickup.token}"
    german = client.get(url, headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert "Abholbereit" in german or "abholbereit" in german
    assert "Montag" in german
    switched = client.submit("/language", {"locale": "da", "next": url})
    assert switched.status_code == 303 and switched.headers["Location"] == url
    danish = client.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Klar til afhentning" in danish and "mandag" in danish


def test_before_ready_the_page_says_so_and_offers_cancel_but_no_check_in(client, make, store):
    order = _order(make, store, status="placed")
    page = client.get(f"/o/{order.pickup.token}").get_data(as_text=True)
    assert "We are preparing your order" in page
    page = page.replace("&#39;", "'")
    assert "Cancel my order" in page and "I'm here" not in page and "I'm on my way" not in page


@pytest.mark.parametrize(
    "token",
    [
        "nope",
        "x" * 64,
        "A" * 65,
        "../../etc/passwd",
        "%00abc",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "ABCDEFGHJKLMNPQRSTUVWX",
        "😀" * 20,
    ],
)
def test_unknown_or_malformed_tokens_get_a_friendly_404(client, make, store, token):
    _order(make, store)
    for path in (f"/o/{token}", f"/o/{token}/qr.png", f"/o/{token}/poll"):
        response = client.get(path)
        assert response.status_code in (404, 400), path
        assert "<script>alert" not in response.get_data(as_text=True)
    if "/" not in token and "%" not in token:  # routed to the page (not a 404 of the router, or a NUL's 400)
        assert "could not find this order" in client.get(f"/o/{token}").get_data(as_text=True)
    response = client.submit(f"/o/{token}/here", {"note": "x"})
    assert response.status_code in (404, 400)


def test_a_token_shows_only_its_own_order(client, make, store):
    mine, other = _order(make, store), _order(make, store)
    page = client.get(f"/o/{mine.pickup.token}").get_data(as_text=True)
    assert mine.number in page and other.number not in page and other.pickup.short_code not in page


# --- on my way, I'm here ------------------------------------------------------------------------------------


def test_on_my_way_then_here_with_a_note_are_recorded_for_the_store(client, make, store):
    order = _order(make, store)
    token = order.pickup.token
    response = client.submit(f"/o/{token}/on-my-way")
    assert response.status_code == 303 and response.headers["Location"] == f"/o/{token}"
    assert _pickup(order).on_the_way_at is not None
    client.submit(f"/o/{token}/on-my-way")  # a second tap changes nothing
    assert len(_events(order, "on_the_way")) == 1
    assert "on your way" in client.get(f"/o/{token}").get_data(as_text=True)

    response = client.submit(f"/o/{token}/here", {"note": "  Parking\tspot 12,\nblue car  "})
    assert response.status_code == 303
    pickup = _pickup(order)
    assert pickup.checked_in_at is not None and pickup.check_in_note == "Parking spot 12, blue car"
    [event] = _events(order, "checked_in")
    assert event.detail == {"note": "Parking spot 12, blue car"} and event.location_id == store.id
    checked_in_at = pickup.checked_in_at

    client.submit(f"/o/{token}/here", {"note": "Parking spot 12, blue car"})  # same again: nothing new
    assert len(_events(order, "checked_in")) == 1
    client.submit(f"/o/{token}/here", {"note": "At the entrance"})  # a new note: kept, time unchanged
    pickup = _pickup(order)
    assert pickup.check_in_note == "At the entrance" and pickup.checked_in_at == checked_in_at
    assert "The store knows you are here" in client.get(f"/o/{token}").get_data(as_text=True)


def test_an_htmx_check_in_answers_with_the_card_only(client, make, store):
    order = _order(make, store)
    response = client.submit(f"/o/{order.pickup.token}/here", {"note": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("{#") is False and 'id="order-status"' in html and "<html" not in html
    assert "The store knows you are here" in html
    assert _pickup(order).checked_in_at is not None


def test_a_too_long_note_is_refused_at_the_field_and_nothing_changes(client, make, store):
    order = _order(make, store)
    response = client.submit(f"/o/{order.pickup.token}/here", {"note": "x" * 201})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="note-error"' in page and "200" in page
    assert _pickup(order).checked_in_at is None and _events(order) == []


def test_posts_without_the_csrf_token_are_refused(client, make, store):
    order = _order(make, store)
    for action in ("here", "on-my-way", "cancel"):
        response = client.post(f"/o/{order.pickup.token}/{action}", data={"note": "x"})
        assert response.status_code == 400
    pickup = _pickup(order)
    assert pickup.checked_in_at is None and pickup.on_the_way_at is None and _status(order) == "ready"


@pytest.mark.parametrize("status", ["placed", "in_transit"])
def test_check_in_before_ready_is_refused_with_a_message(client, make, store, status):
    order = _order(make, store, status=status)
    for action in ("here", "on-my-way"):
        response = client.submit(f"/o/{order.pickup.token}/{action}", {"note": "hi"})
        assert response.status_code == 409
        assert "once your order is ready" in response.get_data(as_text=True)
    assert _pickup(order).checked_in_at is None and _events(order) == []


def test_get_on_an_action_url_is_not_allowed(client, make, store):
    order = _order(make, store)
    assert client.get(f"/o/{order.pickup.token}/here").status_code == 405


# --- cancel -------------------------------------------------------------------------------------------------


def test_cancel_before_ready_releases_stock_and_tells_the_customer(client, make, store):
    order = _order(make, store, status="placed", quantity=2)
    response = client.submit(f"/o/{order.pickup.token}/cancel")
    assert response.status_code == 303
    assert _status(order) == "cancelled"
    level = db.session.scalar(select(StockLevel).where(StockLevel.location_id == store.id))
    assert (level.on_hand, level.allocated) == (5, 0)
    emails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "order.cancelled")).all()
    assert [e.recipient for e in emails] == ["anna.private@example.test"]
    page = client.get(f"/o/{order.pickup.token}").get_data(as_text=True)
    assert "This order has been cancelled" in page and order.pickup.short_code not in page
    assert "Cancel my order" not in page


def test_a_ready_order_cannot_be_cancelled_from_the_page(client, make, store):
    order = _order(make, store)
    response = client.submit(f"/o/{order.pickup.token}/cancel")
    assert response.status_code == 409
    assert "can no longer be cancelled" in response.get_data(as_text=True)
    assert _status(order) == "ready"
    level = db.session.scalar(select(StockLevel).where(StockLevel.location_id == store.id))
    assert level.allocated == 1


# --- after the end ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("final", ["collected", "expired", "cancelled"])
def test_after_the_end_the_token_only_shows_the_final_status(client, make, store, final):
    order = _order(make, store)
    db.session.execute(update(Order).where(Order.id == order.id).values(status=final))
    db.session.commit()
    token = order.pickup.token
    response = client.get(f"/o/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert order.pickup.short_code not in page and "qr.png" not in page
    assert client.get(f"/o/{token}/qr.png").status_code == 404
    for action in ("here", "on-my-way", "cancel"):
        assert client.submit(f"/o/{token}/{action}", {"note": ""}).status_code == 409
    assert _status(order) == final and _pickup(order).checked_in_at is None

    # A month later the link is simply gone.
    db.session.execute(
        update(Order).where(Order.id == order.id).values(updated_at=datetime.now(UTC) - timedelta(days=31))
    )
    db.session.commit()
    assert client.get(f"/o/{token}").status_code == 404


@pytest.mark.parametrize("final", ["collected", "expired", "cancelled"])
def test_the_month_counts_from_the_final_event_not_the_last_write(client, make, store, final):
    order = _order(make, store)
    now = datetime.now(UTC)
    make.event(order, final, now - timedelta(days=365), from_status="ready", to_status=final)
    db.session.execute(update(Order).where(Order.id == order.id).values(status=final, updated_at=now))
    db.session.commit()
    assert client.get(f"/o/{order.pickup.token}").status_code == 404  # ended a year ago, touched today

    recent = _order(make, store)
    make.event(recent, final, now - timedelta(days=10), from_status="ready", to_status=final)
    db.session.execute(
        update(Order).where(Order.id == recent.id).values(status=final, updated_at=now - timedelta(days=400))
    )
    db.session.commit()
    assert client.get(f"/o/{recent.pickup.token}").status_code == 200


def test_the_open_page_reloads_itself_when_the_status_moves_on(client, make, store):
    order = _order(make, store)
    token = order.pickup.token
    assert client.get(f"/o/{token}/poll?status=ready").status_code == 204
    moved = client.get(f"/o/{token}/poll?status=placed")
    assert moved.status_code == 200 and moved.headers["HX-Refresh"] == "true"


# --- rate limits --------------------------------------------------------------------------------------------


@pytest.fixture
def app_config():
    return {"OMNISTORE_PUBLIC_ACTION_RATE_LIMIT": "3 per minute", "OMNISTORE_PUBLIC_RATE_LIMIT": "30 per minute"}


def test_actions_are_rate_limited(client, make, store):
    order = _order(make, store)
    token = order.pickup.token
    codes = [client.submit(f"/o/{token}/here", {"note": f"n{i}"}).status_code for i in range(5)]
    assert codes[:3] == [303, 303, 303] and codes[3:] == [429, 429]
    assert _pickup(order).check_in_note == "n2"


def test_guessing_tokens_is_rate_limited(client, make, store):
    _order(make, store)
    codes = [client.get(f"/o/guess{i:020d}").status_code for i in range(32)]
    assert set(codes[:30]) == {404} and codes[30:] == [429, 429]
    assert "wait a minute" in client.get("/o/guess").get_data(as_text=True)


def test_a_note_with_a_control_character_is_refused_at_the_field_and_nothing_changes(client, make, store):
    order = _order(make, store)
    response = client.submit(f"/o/{order.pickup.token}/here", {"note": "blue\x07 car"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="note-error"' in page and "control character" in page
    assert _pickup(order).checked_in_at is None and _events(order) == []


def test_a_note_keeps_an_emoji_built_with_a_zero_width_joiner(client, make, store):
    order = _order(make, store)
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    client.submit(f"/o/{order.pickup.token}/here", {"note": f"Red car {family}"})
    assert _pickup(order).check_in_note == f"Red car {family}"
