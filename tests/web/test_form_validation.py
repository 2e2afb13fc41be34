"""Forms check their input before a view changes anything: ids and quantities that are empty, negative,
huge, not numbers or control characters come back at their field with a clear message (422), and nothing
is changed."""

# ruff: noqa: F811 — the fixtures imported below are the tests' arguments
import pytest

from omnistore.core.extensions import db
from omnistore.orders.models import Order, OrderLine, Transfer
from tests.web.test_order_builder import HTMX, draft_of, held, shop, start  # noqa: F401 — shop is a fixture
from tests.web.test_order_page import placed  # noqa: F401 — a fixture
from tests.web.test_pickups import desk, new_order  # noqa: F401 — desk is a fixture
from tests.web.test_transfer_lists import net, status_of  # noqa: F401 — net is a fixture

BAD_IDS = ["", " ", "-3", "0", "99999999999999999999", "abc", "1.5", "١٢", "\x07", "\u202e1"]


def html(response):
    return response.get_data(as_text=True)


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_customer_id_is_told_at_the_customer_field(client, shop, value):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    response = client.submit(f"/orders/drafts/{token}/customer", {"customer_id": value}, headers=HTMX)
    assert response.status_code == 422
    assert "We could not find that customer." in html(response) and "Please choose the customer." in html(response)
    assert draft_of(token).customer_id is None


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_variant_id_is_told_at_the_add_field(client, shop, value):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    response = client.submit(f"/orders/drafts/{token}/lines", {"variant_id": value, "quantity": "2"}, headers=HTMX)
    assert response.status_code == 422
    assert 'id="add-code-error"' in html(response) and "We could not find that product variant." in html(response)
    assert [(line.variant_id, line.quantity) for line in draft_of(token).lines] == [(shop.scarf.id, 1)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "at least 1"),
        ("1000", "At most 999"),
        ("99999999999999", "whole number"),
        ("zwei", "whole number"),
        ("\x07", "whole number"),
        (" ", "whole number"),
    ],
)
def test_a_bad_button_quantity_is_told_at_the_line(client, shop, value, message):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    response = client.submit(
        f"/orders/drafts/{token}/lines", {"variant_id": shop.scarf.id, "quantity": value}, headers=HTMX
    )
    assert response.status_code == 422
    assert f'id="qty-{shop.scarf.id}-error"' in html(response) and message in html(response)
    assert [line.quantity for line in draft_of(token).lines] == [1]
    assert held(shop.scarf, shop.ham) == 1


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_an_empty_code_is_told_at_the_add_field(client, shop, value):
    client.login(shop.clerk.email)
    token = start(client)
    response = client.submit(f"/orders/drafts/{token}/add", {"code": value}, headers=HTMX)
    assert response.status_code == 422
    assert 'id="add-code-error"' in html(response) and "Scan a barcode" in html(response)
    assert draft_of(token).lines == []


@pytest.mark.parametrize("value", ["-3", "0", "99999999999999999999", "abc", "\x07"])
def test_a_bad_pickup_store_is_told_at_the_store_field(client, shop, value):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id, customer_id=shop.customer.id)
    before = draft_of(token).pickup_location_id
    response = client.submit(
        f"/orders/drafts/{token}/fulfilment", {"choice": "store", "pickup_location_id": value}, headers=HTMX
    )
    assert response.status_code == 422
    assert 'id="pickup-store-error"' in html(response) and "We could not find that location." in html(response)
    assert draft_of(token).pickup_location_id == before


@pytest.mark.parametrize("value", ["", "post", "\x07"])
def test_a_bad_fulfilment_choice_is_told(client, shop, value):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    before = (draft_of(token).fulfilment, draft_of(token).pickup_location_id)
    response = client.submit(f"/orders/drafts/{token}/fulfilment", {"choice": value}, headers=HTMX)
    assert response.status_code == 422 and "Choose how the customer gets the goods." in html(response)
    assert (draft_of(token).fulfilment, draft_of(token).pickup_location_id) == before


@pytest.mark.parametrize("value", ["-3", "abc", "99999999999999999999", "\x07"])
def test_a_bad_id_in_the_new_order_link_is_told_on_the_draft(client, shop, value):
    client.login(shop.clerk.email)
    response = client.get("/orders/new", query_string={"customer_id": value, "variant_id": value})
    assert response.status_code == 303
    page = html(client.get(response.headers["Location"]))
    assert "We could not find that customer." in page and "We could not find that product variant." in page
    token = response.headers["Location"].rsplit("/", 1)[1]
    assert draft_of(token).customer_id is None and draft_of(token).lines == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Say why"),
        ("\x07", "control character"),
        ("Customer\x1b left", "control character"),
        ("x" * 400, "At most 300 characters"),
    ],
)
def test_a_bad_cancel_reason_is_told_at_the_field_and_cancels_nothing(client, placed, value, message):
    order = placed["order"]
    client.login(placed["clerk"].email)
    response = client.submit(f"/orders/{order.number}/cancel", {"reason": value})
    assert response.status_code == 422
    assert 'id="cancel-reason-error"' in html(response) and message in html(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "placed"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the tracking reference"),
        ("   ", "Enter the tracking reference"),
        ("PN\x075", "Use letters, digits"),
        ("x" * 500, "At most"),
    ],
)
def test_a_bad_tracking_reference_is_told_at_the_field_and_ships_nothing(client, net, value, message):
    db.session.execute(db.update(Transfer).where(Transfer.id == net.transfer.id).values(status="picked"))
    db.session.commit()
    client.login(net.cph_clerk.email)
    response = client.submit(f"/orders/transfers/{net.transfer.id}/ship", {"tracking": value}, headers=HTMX)
    assert response.status_code == 422
    assert f'id="tracking-{net.transfer.id}-error"' in html(response) and message in html(response)
    assert status_of(net.transfer) == "picked"


@pytest.mark.parametrize("value", ["-3", "0", "abc", "99999999999999999999", "\x07", "1.5"])
def test_a_bad_line_at_the_pickup_desk_is_told_and_picks_nothing(client, make, desk, value):
    order = new_order(make, desk)
    client.login("clerk@example.test")
    line = order.lines[0]
    response = client.submit(f"/pickups/orders/{order.number}/picked", {"line": value}, headers=HTMX)
    assert response.status_code == 422 and "That line is not part of this order." in html(response)
    response = client.submit(
        f"/pickups/orders/{order.number}/ready", {"short": value, "shelf_location": "A-1"}, headers=HTMX
    )
    assert response.status_code == 422 and "That line is not part of this order." in html(response)
    db.session.expire_all()
    assert db.session.get(OrderLine, line.id).status == line.status
    assert db.session.get(Order, order.id).status == "placed"
