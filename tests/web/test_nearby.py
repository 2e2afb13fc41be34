""" "Available near you" on the screens: "notify me" from the network panel, the profile's list and its cancel,
and the public page behind the e-mail's button — bad input, another store, replays."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.clienteling import nearby
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import notify
from omnistore.customers import services as customers
from omnistore.customers.models import NotifyRequest
from omnistore.orders.models import OrderDraft
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel


@pytest.fixture
def shop(make):
    ham, ber = make.location("HAM"), make.location("BER")
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    berlin = make.staff("clerk", ber, email="berlin@example.test")
    jacket = make.variant(make.product(name="Fjord Parka"), size="M", colour="Navy")
    anna = make.customer("Anna", "Berg", email="anna@example.test", preferred_location_id=ham.id, locale="en")
    customers.record_consent(anna, "email", True, staff=clerk)
    return type("Shop", (), dict(ham=ham, ber=ber, clerk=clerk, berlin=berlin, jacket=jacket, anna=anna))


def _mailed_token(shop, units=1):
    customers.add_to_wishlist(shop.anna, shop.jacket.id, staff=shop.clerk)
    ledger.receive(ledger.StockChange(shop.jacket.id, shop.ham.id, units, "delivery"), shop.clerk)
    assert nearby.run(utcnow() + timedelta(minutes=1)).sent == 1
    body = db.session.scalar(select(OutboxMessage.body).where(OutboxMessage.topic == nearby.TOPIC))
    return body[body.index("/n/") + 3 :].split()[0]


def test_the_panel_of_a_variant_not_here_offers_notify_me_and_the_page_records_it(client, shop):
    client.login("clerk@example.test")
    panel = client.get(f"/stock/variants/{shop.jacket.id}/panel", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Notify a customer when available" in panel
    page = client.get(f"/customers/notify?variant_id={shop.jacket.id}")
    assert page.status_code == 200 and "Fjord Parka" in page.get_data(as_text=True)
    answer = client.submit("/customers/notify", {"variant_id": shop.jacket.id, "customer_id": shop.anna.id})
    assert answer.status_code == 303 and f"/customers/{shop.anna.id}" in answer.headers["Location"]
    profile = client.get(f"/customers/{shop.anna.id}").get_data(as_text=True)
    assert "Waiting to hear about" in profile and shop.jacket.sku in profile


@pytest.mark.parametrize(
    "data, status, message",
    [
        ({"customer_id": ""}, 422, "Choose the customer first."),
        ({"customer_id": "-3"}, 422, "Choose the customer first."),
        ({"customer_id": "ünï"}, 422, "Choose the customer first."),
        ({"customer_id": "9" * 40}, 422, "Choose the customer first."),
        ({"customer_id": "424242"}, 404, ""),
    ],
)
def test_notify_me_refuses_bad_input_with_a_message_and_changes_nothing(client, shop, data, status, message):
    client.login("clerk@example.test")
    answer = client.submit("/customers/notify", {"variant_id": shop.jacket.id, **data})
    assert answer.status_code == status
    assert message in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(NotifyRequest)) == 0


def test_notify_me_for_an_unknown_variant_or_without_the_token_changes_nothing(client, shop):
    client.login("clerk@example.test")
    assert client.get("/customers/notify?variant_id=999999").status_code == 404
    assert client.get("/customers/notify?variant_id=abc").status_code == 404
    assert client.submit("/customers/notify", {"variant_id": "x", "customer_id": shop.anna.id}).status_code == 404
    no_token = client.post("/customers/notify", data={"variant_id": shop.jacket.id, "customer_id": shop.anna.id})
    assert no_token.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(NotifyRequest)) == 0


def test_the_profile_cancels_a_request_in_place_and_not_another_customers(client, shop, make):
    request = notify.request_notification(shop.anna, shop.jacket.id, staff=shop.clerk)
    bob = make.customer("Bob", "Lund")
    client.login("clerk@example.test")
    wrong = client.submit(f"/customers/{bob.id}/notify/{request.id}/cancel", headers={"HX-Request": "true"})
    assert wrong.status_code == 404
    answer = client.submit(f"/customers/{shop.anna.id}/notify/{request.id}/cancel", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and 'id="notify-requests"' in answer.get_data(as_text=True)
    assert "<main" not in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(NotifyRequest, request.id).cancelled_at is not None


def test_the_button_page_holds_once_replays_hold_nothing_more(client, shop):
    token = _mailed_token(shop, units=2)
    page = client.get(f"/n/{token}")
    assert page.status_code == 200 and "Hold it for me" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert client.post(f"/n/{token}/hold").status_code == 400  # no CSRF token: nothing held
    assert db.session.scalar(select(func.count()).select_from(OrderDraft)) == 0
    for _tap in range(2):
        answer = client.submit(f"/n/{token}/hold")
        assert answer.status_code == 303
    held = client.get(f"/n/{token}").get_data(as_text=True)
    assert "It is held for you" in held and "Hamburg" in held
    db.session.expire_all()
    assert db.session.scalar(select(StockLevel.allocated)) == 1
    assert db.session.scalar(select(func.count()).select_from(OrderDraft)) == 1


def test_the_button_when_the_unit_has_gone_says_so_and_holds_nothing(client, shop):
    token = _mailed_token(shop)
    ledger.allocate(ledger.StockChange(shop.jacket.id, shop.ham.id, 1), shop.clerk)
    answer = client.submit(f"/n/{token}/hold")
    assert answer.status_code == 409
    text = answer.get_data(as_text=True)
    assert "no unit left to hold" in text and "Sorry, it has gone" in text
    assert db.session.scalar(select(func.count()).select_from(OrderDraft)) == 0


@pytest.mark.parametrize(
    "token, status",
    [("nope", 404), ("x" * 300, 404), ("ünïcödé" * 5, 404), ("%00%01", 400)],  # control characters: the app's check
)
def test_a_bad_link_is_a_friendly_404(client, shop, token, status):
    assert client.get(f"/n/{token}").status_code == status
    assert client.submit(f"/n/{token}/hold").status_code == status
    assert db.session.scalar(select(func.count()).select_from(OrderDraft)) == 0


def test_the_hold_shows_on_the_stores_panel_and_another_store_cannot_open_it(client, shop):
    token = _mailed_token(shop)
    client.submit(f"/n/{token}/hold")
    draft = db.session.scalar(select(OrderDraft))
    client.login("clerk@example.test")
    panel = client.get(f"/stock/variants/{shop.jacket.id}/panel", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Held for pickup for Anna Berg" in panel
    assert client.get(f"/orders/drafts/{draft.token}").status_code == 200
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login("berlin@example.test")
    assert client.get(f"/orders/drafts/{draft.token}").status_code == 404
