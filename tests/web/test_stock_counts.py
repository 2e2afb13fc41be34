"""The counts screens: starting a count, scanning (htmx and plain), typed figures, the check before submitting,
the manager's decisions with the orders that block a line, count accuracy and its CSV."""

import re

import pytest
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.stock import counts, ledger
from omnistore.stock.models import StockCount, StockLevel

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    """København with two jackets (3 and 10 on hand) and a scarf; a clerk and a manager there; Hamburg's clerk."""
    return make.shop(
        "CPH",
        "HAM",
        team={
            "clerk": ("clerk", "CPH", "Mette Hansen"),
            "manager": ("manager", "CPH"),
            "ham_clerk": ("clerk", "HAM"),
        },
        variants={
            "small": dict(product="Rain Jacket", category="Jackets", size="S", stock={"CPH": 3}),
            "large": dict(product="Rain Jacket", category="Jackets", size="L", stock={"CPH": 10}),
            "scarf": dict(product="Wool Scarf", category="Scarves", size="One", stock={"CPH": 4}),
        },
    )


def text(response):
    return response.get_data(as_text=True)


def on_hand(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.on_hand).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def switch(client, email):
    client.submit("/logout")
    client.login(email)


def start(client, **form):
    response = client.submit("/stock/counts", {"scope": "category", "category": "Jackets", "blind": "1", **form})
    assert response.status_code == 303, text(response)
    return int(re.search(r"/stock/counts/(\d+)", response.headers["Location"]).group(1))


def test_the_counts_page_is_in_the_menu_and_offers_the_categories_here(client, shop):
    client.login("clerk@example.test")
    home = text(client.get("/"))
    assert 'href="/stock/counts"' in home
    page = text(client.get("/stock/counts"))
    assert "Start a count" in page
    assert '<option value="Jackets"' in page and '<option value="Scarves"' in page
    assert "Nothing waits to be counted" in page


def test_a_bad_start_is_refused_at_its_field(client, shop):
    client.login("clerk@example.test")
    response = client.submit("/stock/counts", {"scope": "variants", "codes": "NOPE-1"})
    assert response.status_code == 422
    assert "No product has these codes: NOPE-1" in text(response)
    response = client.submit("/stock/counts", {"scope": "category", "category": ""})
    assert response.status_code == 422 and "Choose a category." in text(response)
    assert db.session.scalar(select(StockCount.id)) is None


def test_a_blind_count_hides_the_figures_and_scans_into_the_component(client, shop):
    client.login("clerk@example.test")
    count_id = start(client)
    page = text(client.get(f"/stock/counts/{count_id}"))
    assert "data-wedge-target" in page and "Not scanned yet (2)" in page
    assert "Expected" not in page  # blind
    response = client.submit(f"/stock/counts/{count_id}/scan", {"code": shop["large"].ean}, headers=HX)
    fragment = text(response)
    assert response.status_code == 200 and fragment.lstrip().startswith('<div id="count"')
    assert "Rain Jacket" in fragment and 'value="1" data-counted' in fragment
    response = client.submit(f"/stock/counts/{count_id}/scan", {"code": shop["scarf"].ean}, headers=HX)
    assert response.status_code == 422 and "is not part of this count" in text(response)
    response = client.submit(f"/stock/counts/{count_id}/scan", {"code": "", "quantity": "1"}, headers=HX)
    assert response.status_code == 422 and "Scan a barcode or type a SKU." in text(response)
    line_id = counts.get_count(count_id).lines[1].id
    response = client.submit(f"/stock/counts/{count_id}/lines/{line_id}", {"quantity": "x"}, headers=HX)
    assert response.status_code == 422 and "is not a number" in text(response)
    response = client.submit(f"/stock/counts/{count_id}/lines/{line_id}", {"quantity": "10"})
    assert response.status_code == 303  # without JavaScript: back to the page


def test_an_open_count_shows_the_figures_and_other_stores_cannot_see_it(client, shop):
    client.login("clerk@example.test")
    count_id = start(client, blind="")
    assert "Expected 10" in text(client.get(f"/stock/counts/{count_id}"))
    switch(client, "ham_clerk@example.test")
    assert client.get(f"/stock/counts/{count_id}").status_code == 404
    assert client.submit(f"/stock/counts/{count_id}/scan", {"code": shop["large"].ean}).status_code == 404


def test_check_lists_what_counts_as_zero_then_submit_and_the_manager_posts_it(client, shop):
    client.login("clerk@example.test")
    count_id = start(client)
    client.submit(f"/stock/counts/{count_id}/scan", {"code": shop["large"].sku, "quantity": "10"})
    check = text(client.get(f"/stock/counts/{count_id}/check"))
    assert "They count as 0 when you submit" in check and shop["small"].sku in check
    response = client.submit(f"/stock/counts/{count_id}/submit")
    assert response.status_code == 303
    page = text(client.get(f"/stock/counts/{count_id}"))
    assert "1 items wait for the manager" in page
    assert 'data-status="review"' in page and 'data-status="posted"' in page
    assert on_hand(shop["small"], shop["cph"]) == 3

    assert client.get(f"/manager/counts/{count_id}").status_code == 403  # a clerk does not decide
    switch(client, "manager@example.test")
    overview = text(client.get("/manager/counts"))
    assert f"/manager/counts/{count_id}" in overview
    review = text(client.get(f"/manager/counts/{count_id}"))
    assert "Variances to decide" in review and shop["small"].sku in review
    line_id = next(line.id for line in counts.get_count(count_id).lines if line.variant_id == shop["small"].id)
    response = client.submit(f"/manager/counts/{count_id}/lines/{line_id}", {"decision": "approve"})
    assert response.status_code == 303
    assert on_hand(shop["small"], shop["cph"]) == 0
    assert counts.get_count(count_id).status == "posted"
    assert client.submit(f"/manager/counts/{count_id}/lines/{line_id}", {"decision": "nonsense"}).status_code == 404

    accuracy = text(client.get("/manager/counts"))
    assert "data-count-accuracy" in accuracy and "3 / 13" in accuracy
    csv = client.get("/manager/counts.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.get_data(as_text=True)
    assert "CPH" in body and "Item accuracy (%)" in body


def test_a_blocked_line_names_the_orders_that_hold_it(client, shop, make):
    order = make.order(shop["cph"], lines=[(shop["small"], 2, shop["cph"])])
    ledger.allocate(ledger.StockChange(shop["small"].id, shop["cph"].id, 2, reference=order.number))
    client.login("clerk@example.test")
    count_id = start(client, scope="variants", codes=shop["small"].sku, category="")
    client.submit(f"/stock/counts/{count_id}/submit")
    switch(client, "manager@example.test")
    line_id = counts.get_count(count_id).lines[0].id
    client.submit(f"/manager/counts/{count_id}/lines/{line_id}", {"decision": "approve"})
    review = text(client.get(f"/manager/counts/{count_id}"))
    assert "Orders reserve more than was counted" in review and order.number in review
    assert on_hand(shop["small"], shop["cph"]) == 3


def test_the_manager_posts_every_waiting_line_at_once(client, shop):
    client.login("clerk@example.test")
    count_id = start(client)
    client.submit(f"/stock/counts/{count_id}/submit")  # nothing scanned: both jackets far off
    switch(client, "manager@example.test")
    assert "Post all counts" in text(client.get(f"/manager/counts/{count_id}"))
    response = client.submit(f"/manager/counts/{count_id}/all", {"decision": "approve"})
    assert response.status_code == 303
    assert (on_hand(shop["small"], shop["cph"]), on_hand(shop["large"], shop["cph"])) == (0, 0)
    assert counts.get_count(count_id).status == "posted"
    assert client.submit(f"/manager/counts/{count_id}/all", {"decision": "x"}).status_code == 404


# --- zones ---------------------------------------------------------------------------------------------------


def test_a_clerk_gives_an_item_a_zone_on_its_stock_page_and_counts_the_zone(client, shop):
    client.login("clerk@example.test")
    page = text(client.get(f"/stock/variants/{shop.small.id}/here"))
    assert "Zone in this store" in page and 'name="zone"' in page
    saved = client.submit(
        f"/stock/variants/{shop.small.id}/zone", {"zone": " Shoe  wall "}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200 and "Zone: Shoe wall." in text(saved) and 'value="Shoe wall"' in text(saved)
    assert 'value="Shoe wall"' in text(client.get("/stock/counts"))  # offered when starting a count

    response = client.submit("/stock/counts", {"scope": "zone", "zone": "Shoe wall", "blind": "1"})
    assert response.status_code == 303
    count_page = text(client.get(response.headers["Location"]))
    assert "Zone · Shoe wall" in count_page and "Rain Jacket" in count_page


@pytest.mark.parametrize(
    ("zone", "message"),
    [("Z" * 41, "At most 40 characters"), ("A\u001b3", "without control characters")],
)
def test_a_bad_zone_comes_back_at_the_field(client, shop, zone, message):
    client.login("clerk@example.test")
    response = client.submit(f"/stock/variants/{shop.small.id}/zone", {"zone": zone}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and message in text(response)
    assert 'id="zone-zone"' in text(response) and 'aria-invalid="true"' in text(response)


def test_an_item_never_stocked_here_gets_no_zone(client, shop, make):
    client.login("clerk@example.test")
    other = make.variant(size="XS")
    response = client.submit(f"/stock/variants/{other.id}/zone", {"zone": "A3"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "never stocked here" in text(response)


def test_another_store_s_clerk_cannot_set_a_zone_here(client, shop):
    client.login(shop.ham_clerk.email)
    response = client.submit(f"/stock/variants/{shop.small.id}/zone?location=CPH", {"zone": "A3"})
    assert response.status_code == 403
    from omnistore.stock import zones

    assert zones.zone_of(shop.small.id, shop.cph.id) == ""


def test_a_count_of_a_zone_needs_one(client, shop):
    client.login("clerk@example.test")
    page = text(client.get("/stock/counts"))
    assert "No zones yet" in page
    response = client.submit("/stock/counts", {"scope": "zone", "zone": "Nowhere", "blind": "1"})
    assert response.status_code == 422 and "Nothing here is in the zone “Nowhere”." in text(response)
