"""The order builder at the counter: start from a variant or a customer, add items, choose how the customer
gets them, see the proposal and the hold, place once — and bad input shown where the clerk looks."""

import re

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import DraftHold, Order, OrderDraft
from omnistore.stock.models import StockLevel
from tests.helpers import count_statements

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    class Shop:
        ham = make.location("HAM")
        ber = make.location("BER")
        cph = make.location("CPH")
        wh = make.location("WH1", lead_time_days=2)
        clerk = make.staff(location=ham, email="hanna@example.test")
        cph_clerk = make.staff(location=cph, email="carl@example.test")
        boot = make.variant(make.product(name="Trail Boot"), size="43", colour="Brown", price_minor=12900)
        scarf = make.variant(make.product(name="Wool Scarf"), size="One size", colour="Grey", price_minor=2900)

    customer = Customer(first_name="Ida", last_name="Lund", email="ida@example.test", created_channel="store")
    db.session.add(customer)
    db.session.commit()
    Shop.customer = customer
    make.stock(Shop.boot, Shop.cph, 2)
    make.stock(Shop.scarf, Shop.ham, 5)
    return Shop


def start(client, **params):
    response = client.get("/orders/new", query_string=params)
    assert response.status_code == 303
    token = re.search(r"/orders/drafts/([0-9a-f]{32})$", response.headers["Location"]).group(1)
    return token


def draft_of(token):
    db.session.expire_all()
    return db.session.scalar(select(OrderDraft).where(OrderDraft.token == token))


def held(variant, location):
    db.session.expire_all()
    row = db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )
    return row.allocated if row else 0


def test_a_variant_from_elsewhere_is_ordered_for_collection_in_another_store(client, shop):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.boot.id, customer_id=shop.customer.id)
    page = client.get(f"/orders/drafts/{token}").get_data(as_text=True)
    assert "Trail Boot" in page and "Ida Lund" in page
    assert "from København" in page  # the proposal: Copenhagen supplies it
    assert held(shop.boot, shop.cph) == 1  # held while the clerk builds the order
    assert 'data-countdown="' in page

    # Collect in Berlin instead (the nearest other store is preselected; Berlin is chosen here).
    part = client.submit(
        f"/orders/drafts/{token}/fulfilment", {"choice": "store", "pickup_location_id": shop.ber.id}, headers=HTMX
    )
    assert part.status_code == 200
    html = part.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="draft"')
    assert "Ready for pickup at Berlin" in html
    assert draft_of(token).pickup_location_id == shop.ber.id

    # Place: one order, however often the button is tapped with the same form.
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    first = client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": key})
    second = client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": key})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    order = db.session.scalar(select(Order))
    assert (order.fulfilment, order.pickup_location_id, order.channel) == ("pickup", shop.ber.id, "store")
    assert held(shop.boot, shop.cph) == 1  # now the order's allocation, no longer a hold
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    detail = client.get(first.headers["Location"]).get_data(as_text=True)
    assert f"Order {order.number} placed" in detail and "ida@example.test" in detail
    assert "København" in detail and "To pick" in detail  # the line's source and its transfer


def test_items_are_added_by_scan_or_search_and_changed_with_plus_and_minus(client, shop):
    client.login(shop.clerk.email)
    token = start(client, customer_id=shop.customer.id)
    added = client.submit(f"/orders/drafts/{token}/add", {"code": shop.scarf.ean}, headers=HTMX)
    assert added.status_code == 200 and "Added Wool Scarf" in added.get_data(as_text=True)
    client.submit(f"/orders/drafts/{token}/add", {"code": shop.scarf.ean}, headers=HTMX)
    assert [line.quantity for line in draft_of(token).lines] == [2]

    found = client.submit(f"/orders/drafts/{token}/add", {"code": "trail boot"}, headers=HTMX)
    html = found.get_data(as_text=True)
    assert "Trail Boot" in html and "0 here · 2 network" in html
    client.submit(f"/orders/drafts/{token}/lines", {"variant_id": shop.boot.id, "quantity": "1"}, headers=HTMX)
    client.submit(f"/orders/drafts/{token}/lines", {"variant_id": shop.scarf.id, "quantity": "3"}, headers=HTMX)
    assert {line.variant_id: line.quantity for line in draft_of(token).lines} == {shop.scarf.id: 3, shop.boot.id: 1}
    assert held(shop.scarf, shop.ham) == 3
    removed = client.submit(
        f"/orders/drafts/{token}/lines", {"variant_id": shop.scarf.id, "quantity": "0"}, headers=HTMX
    )
    assert "Wool Scarf" in removed.get_data(as_text=True) and "removed" in removed.get_data(as_text=True)
    assert [line.variant_id for line in draft_of(token).lines] == [shop.boot.id]
    assert held(shop.scarf, shop.ham) == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "at least 1"),
        ("-2", "at least 1"),
        ("1000", "At most 999"),
        ("99999999999999", "whole number"),
        ("2.5", "whole number"),
        ("zwei", "whole number"),
    ],
)
def test_a_bad_quantity_is_shown_at_the_line_and_changes_nothing(client, shop, typed, message):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    response = client.submit(
        f"/orders/drafts/{token}/lines", {"variant_id": shop.scarf.id, "typed": typed}, headers=HTMX
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="qty-{shop.scarf.id}-error"' in html and message in html
    assert [line.quantity for line in draft_of(token).lines] == [1]
    assert held(shop.scarf, shop.ham) == 1


def test_unknown_variants_and_codes_are_told_at_the_add_field(client, shop):
    client.login(shop.clerk.email)
    token = start(client)
    for data in ({"variant_id": "999999", "quantity": "1"}, {"variant_id": "x", "quantity": "1"}):
        response = client.submit(f"/orders/drafts/{token}/lines", data, headers=HTMX)
        assert response.status_code == 422
        assert "We could not find that product variant." in response.get_data(as_text=True)
    response = client.submit(f"/orders/drafts/{token}/add", {"code": "4000000099999"}, headers=HTMX)
    assert response.status_code == 422 and 'id="add-code-error"' in response.get_data(as_text=True)
    assert draft_of(token).lines == []
    flashed = client.get("/orders/new?variant_id=123456789").headers["Location"]
    assert "We could not find that product variant." in client.get(flashed).get_data(as_text=True)


def test_a_store_without_pickup_desk_and_a_bad_address_are_refused_at_their_fields(client, shop, make):
    shop.ber.pickup_enabled = False
    db.session.commit()
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id, customer_id=shop.customer.id)
    response = client.submit(
        f"/orders/drafts/{token}/fulfilment", {"choice": "store", "pickup_location_id": shop.ber.id}, headers=HTMX
    )
    assert response.status_code == 422
    assert "Berlin has no pickup desk" in response.get_data(as_text=True)
    assert draft_of(token).pickup_location_id == shop.ham.id

    opened = client.submit(f"/orders/drafts/{token}/fulfilment", {"choice": "delivery"}, headers=HTMX)
    assert opened.status_code == 200 and 'id="address-street"' in opened.get_data(as_text=True)
    assert draft_of(token).fulfilment == "pickup"  # nothing typed yet: only the form opened
    bad = client.submit(
        f"/orders/drafts/{token}/fulfilment",
        {
            "choice": "delivery",
            "confirm_address": "1",
            "name": "Ida Lund",
            "street": "Nørregade 1",
            "postcode": "123",
            "city": "København",
            "country": "DK",
        },
        headers=HTMX,
    )
    assert bad.status_code == 422
    assert "A postcode in Denmark has 4 digits, like 1620." in bad.get_data(as_text=True)
    assert draft_of(token).fulfilment == "pickup"
    good = client.submit(
        f"/orders/drafts/{token}/fulfilment",
        {
            "choice": "delivery",
            "confirm_address": "1",
            "name": "Ida Lund",
            "street": "Nørregade 1",
            "postcode": "1165",
            "city": "København",
            "country": "DK",
        },
        headers=HTMX,
    )
    assert good.status_code == 200 and "Delivered by" in good.get_data(as_text=True)
    assert draft_of(token).fulfilment == "delivery"


def test_drafts_belong_to_their_store(client, shop):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id)
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login(shop.cph_clerk.email)
    assert client.get(f"/orders/drafts/{token}").status_code == 404
    assert client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": "k"}).status_code == 404
    assert client.get("/orders/drafts/not-a-token").status_code == 404


def test_new_order_twice_reuses_the_empty_draft(client, shop):
    client.login(shop.clerk.email)
    assert start(client) == start(client)


def test_a_new_order_with_an_unknown_customer_still_starts_and_says_so(client, shop):
    client.login(shop.clerk.email)
    token = start(client, customer_id=987654321, variant_id=shop.scarf.id)
    draft = draft_of(token)
    assert draft.customer_id is None and [line.variant_id for line in draft.lines] == [shop.scarf.id]
    assert "Please choose the customer." in client.get(f"/orders/drafts/{token}").get_data(as_text=True)


def test_the_draft_page_reads_the_stock_prices_and_holds_once_for_all_three_ways(client, shop):
    """The ways of getting the goods are proposed from the draft's own reading: each read is one round trip to
    the database, and on a busy server each round trip waits its turn."""
    client.login(shop.clerk.email)
    token = start(client, customer_id=shop.customer.id, variant_id=shop.scarf.id)
    with count_statements("SELECT") as seen:
        page = client.get(f"/orders/drafts/{token}").get_data(as_text=True)
    assert "Wool Scarf" in page
    assert re.search(r"by [^<]+</span>\s*<small>(free )?shipping", page)  # the delivery way was proposed too
    for table in ("stock_level", "variant_price", "draft_hold", "line_rejection", "order_return"):
        reads = [statement for statement in seen if f"FROM {table}" in statement]
        assert len(reads) == 1, (table, reads)


def test_a_change_reads_the_drafts_lines_once_before_and_once_under_its_lock_and_its_holds_once(client, shop):
    """The lines come with their variants and products in one statement each time (each round trip waits its
    turn on a busy server); under the lock they are read again, as another tablet may have changed them."""
    client.login(shop.clerk.email)
    token = start(client, customer_id=shop.customer.id, variant_id=shop.scarf.id)
    client.submit(f"/orders/drafts/{token}/lines", {"variant_id": shop.boot.id, "quantity": "1"}, headers=HTMX)
    with count_statements("SELECT") as seen:
        chosen = client.submit(f"/orders/drafts/{token}/fulfilment", {"choice": "here"}, headers=HTMX)
    assert chosen.status_code == 200
    assert "Wool Scarf" in chosen.get_data(as_text=True) and "Trail Boot" in chosen.get_data(as_text=True)
    assert len([statement for statement in seen if "FROM draft_line" in statement]) == 2
    assert not [statement for statement in seen if "FROM product " in statement + " "]
    assert not [statement for statement in seen if "FROM variant " in statement + " "]  # the lines brought them
    # Its holds are read once, under their lock: what it held then is known without reading them back.
    assert len([statement for statement in seen if "FROM draft_hold \nWHERE draft_hold.draft_id" in statement]) == 1


def test_the_network_panel_offers_an_order_for_a_customer(client, shop):
    client.login(shop.clerk.email)
    panel = client.get(f"/stock/variants/{shop.boot.id}/panel", headers=HTMX)
    assert panel.status_code == 200
    assert f"/orders/new?variant_id={shop.boot.id}" in panel.get_data(as_text=True)


def test_units_gone_after_the_hold_expired_are_told_with_a_fresh_proposal(client, shop, make):
    from omnistore.core.types import utcnow
    from omnistore.orders import placing

    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.boot.id, customer_id=shop.customer.id)
    page = client.get(f"/orders/drafts/{token}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)
    # The hold runs out, and a web order takes both boots meanwhile.
    db.session.execute(db.update(DraftHold).values(expires_at=utcnow()))
    db.session.commit()
    order_drafts.release_expired_holds()
    other = order_drafts.start_draft(shop.cph_clerk, customer_id=shop.customer.id)
    order_drafts.set_line(other, shop.boot.id, 2, staff=shop.cph_clerk)
    placing.place(other, staff=shop.cph_clerk)

    response = client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": key})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "no longer available" in html
    assert "Not available" in html  # the fresh proposal says so for the line
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1  # only the web order


def test_the_customer_profile_starts_an_order_for_that_customer(client, shop):
    client.login(shop.clerk.email)
    profile = client.get(f"/customers/{shop.customer.id}").get_data(as_text=True)
    assert f"/orders/new?customer_id={shop.customer.id}" in profile
    token = start(client, customer_id=shop.customer.id)
    assert draft_of(token).customer_id == shop.customer.id
    assert "Ida Lund" in client.get(f"/orders/drafts/{token}").get_data(as_text=True)


NASTY = [
    "",
    " ",
    "-1",
    "0",
    "1e9",
    "99999999999",
    "2147483648",
    "abc",
    "１２",
    "<b>x</b>",
    "x" * 5000,
    "%00",
    "\u202e1",
]


def test_no_input_makes_the_builder_fail(client, shop):
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.scarf.id, customer_id=shop.customer.id)
    for n, value in enumerate(NASTY):
        headers = HTMX if n % 2 else {}  # both paths: the fragment and the page
        for path, data in (
            ("lines", {"variant_id": value, "quantity": value}),
            ("lines", {"variant_id": str(shop.scarf.id), "typed": value}),
            ("add", {"code": value}),
            ("customer", {"customer_id": value}),
            ("fulfilment", {"choice": "store", "pickup_location_id": value}),
            ("fulfilment", {"choice": value, "current": value, "payment_state": value}),
            (
                "fulfilment",
                {
                    "choice": "delivery",
                    "confirm_address": "1",
                    "name": value,
                    "street": value,
                    "postcode": value,
                    "city": value,
                    "country": value,
                },
            ),
        ):
            response = client.submit(f"/orders/drafts/{token}/{path}", data, headers=headers)
            assert response.status_code < 500, (path, data, response.status_code)
        started = client.get("/orders/new", query_string={"variant_id": value, "customer_id": value})
        assert started.status_code in (303, 400)
        assert client.get(f"/orders/drafts/{value[:100]}").status_code < 500
    for value in NASTY:  # last: the first valid one places the order
        assert client.submit(f"/orders/drafts/{token}/place", {"idempotency_key": value}).status_code < 500


def test_other_orders_in_progress_at_the_store_are_one_tap_away(client, shop):
    client.login(shop.clerk.email)
    first = start(client, variant_id=shop.scarf.id, customer_id=shop.customer.id)
    second = start(client, variant_id=shop.boot.id)
    page = client.get(f"/orders/drafts/{second}").get_data(as_text=True)
    assert f"/orders/drafts/{first}" in page and "Ida Lund · 1 item" in page


def test_a_unit_kept_as_safety_stock_is_named_in_the_builder(client, shop):
    # København has 2 boots and keeps 2 as safety stock: nothing may leave it for Hamburg, and the builder
    # says so instead of "not available anywhere", offering what the rule allows (collect at København).
    shop.cph.safety_stock = 2
    db.session.commit()
    client.login(shop.clerk.email)
    token = start(client, variant_id=shop.boot.id, customer_id=shop.customer.id)
    page = client.get(f"/orders/drafts/{token}").get_data(as_text=True)
    assert "Not available anywhere in the network" not in page
    assert "København keeps its last 2 units as safety stock: collect them at København instead." in page
    assert held(shop.boot, shop.cph) == 0
    part = client.submit(
        f"/orders/drafts/{token}/fulfilment", {"choice": "store", "pickup_location_id": shop.cph.id}, headers=HTMX
    )
    assert "Ready for pickup at København" in part.get_data(as_text=True)
    assert held(shop.boot, shop.cph) == 1
