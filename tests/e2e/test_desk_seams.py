"""The pickup desk where it meets the rest: the home screen's tiles open the desk on their group, and a
handover whose answer was lost on the way is told honestly (and a retry answers with what happened)."""

import re

import pytest
from playwright.sync_api import expect

from omnistore.core.extensions import db
from omnistore.orders import transfers
from omnistore.orders.models import Order
from omnistore.pickups import preparing
from tests.e2e import test_pickup_desk
from tests.e2e.screenshots import capture
from tests.e2e.test_pickup_desk import fresh_reads, queue_group, sign_in, web_order

pytestmark = pytest.mark.e2e
shop = test_pickup_desk.shop  # the fixture: Hamburg with a parka and boots in stock, and a clerk


def ready_order(make, shop, first_name):
    order = web_order(make, shop, first_name)
    preparing.mark_ready(order, staff=shop["clerk"], shelf_location="C-03")
    return order


def test_the_home_tiles_open_the_desk_on_their_group(page, make, shop):
    to_pick = web_order(make, shop, "Mia")
    ready = ready_order(make, shop, "Ole")
    sign_in(page)
    tiles = page.get_by_role("region", name="Today's pickup desk")

    tiles.get_by_role("link", name=re.compile("Ready for pickup")).click()
    expect(page).to_have_url(re.compile(r"/pickups/\?show=ready$"))
    expect(queue_group(page, "ready").locator(f"[data-order='{ready.number}']")).to_contain_text("Ole Jensen")
    expect(queue_group(page, "to_pick")).to_have_count(0)
    capture(page, "pickup-desk-one-group")

    page.get_by_role("link", name="Show the whole queue").click()
    expect(queue_group(page, "to_pick").locator(f"[data-order='{to_pick.number}']")).to_be_visible()
    expect(queue_group(page, "ready").locator(f"[data-order='{ready.number}']")).to_be_visible()

    page.locator("nav.mainnav").get_by_role("link", name="Home", exact=True).click()
    page.get_by_role("region", name="Today's pickup desk").get_by_role("link", name=re.compile("To prepare")).click()
    expect(page).to_have_url(re.compile(r"/pickups/\?show=to_pick$"))
    expect(queue_group(page, "to_pick").locator(f"[data-order='{to_pick.number}']")).to_contain_text("Mia Jensen")
    expect(queue_group(page, "ready")).to_have_count(0)
    for tile in ("Customers here now", "Arriving", "Overdue", "Collected today"):
        page.goto("/")
        page.get_by_role("region", name="Today's pickup desk").get_by_role("link", name=re.compile(tile)).click()
        expect(page).not_to_have_url(re.compile(r"/$"))
        expect(page.locator("main")).to_have_count(1)


def test_a_handover_whose_answer_was_lost_says_so_and_a_retry_answers_with_the_collected_order(page, make, shop):
    order = ready_order(make, shop, "Mia")
    sign_in(page)
    page.goto(f"/pickups/orders/{order.number}/handover")
    page.get_by_text("ID shown").click()
    lost = []

    def answer_lost(route):  # the server does the handover; its answer never reaches the tablet
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch(max_redirects=0).status)
            route.abort()
        else:
            route.continue_()

    page.route(f"**/pickups/orders/{order.number}/handover", answer_lost)
    page.get_by_role("button", name="Confirm handover").click()
    unconfirmed = page.locator("#unconfirmed-banner")
    expect(unconfirmed).to_be_visible()
    expect(unconfirmed).to_contain_text("We could not confirm")
    expect(page.locator("#connection-banner")).to_be_hidden()  # not "nothing reaches the server": it did
    check = unconfirmed.get_by_role("link", name="Check the order")
    expect(check).to_have_attribute("href", f"/orders/{order.number}")
    assert lost == [303]
    fresh_reads()
    assert db.session.get(Order, order.id).status == "collected"

    # Tapped again: the answer is what happened, not an error.
    page.get_by_role("button", name="Confirm handover").click()
    expect(page).to_have_url(re.compile(r"/pickups/$"))
    expect(page.locator(".flashes")).to_contain_text(f"Order {order.number} was already collected")
    expect(page.locator("#unconfirmed-banner")).to_be_hidden()

    page.goto(f"/orders/{order.number}")
    expect(page.locator(".card-head .status")).to_have_text("Collected")


def test_receiving_the_last_parcel_asks_where_it_goes_and_the_desk_shows_that_shelf(page, make):
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff("clerk", ham, email="clerk@example.test", name="Jonas Weber")
    cph_clerk = make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    boots = make.variant(make.product(name="Trail Boot", brand="Nordwind"), size="44", colour="Brown")
    make.stock(boots, cph, 2, allocated=1)
    order = make.order(ham, lines=[(boots, 1, cph)], channel="store")
    transfer = make.transfer(order, cph)
    transfers.pick(transfer, staff=cph_clerk)
    transfers.ship(transfer, staff=cph_clerk, tracking="PN 0042")

    sign_in(page)
    page.goto("/orders/arriving")
    card = page.locator(f"#transfer-{transfer.id}")
    shelf = card.get_by_label("Shelf or bin")
    expect(shelf).to_be_visible()
    expect(card).to_contain_text("the order is ready for pickup once it is received")
    capture(page, "orders-arriving-last-parcel")
    shelf.fill("D-04")
    card.get_by_role("button", name="Received – the parcel is here").click()
    expect(card.get_by_role("status")).to_contain_text("ready for pickup")

    page.goto("/pickups/")
    expect(queue_group(page, "ready").locator(f"[data-order='{order.number}']")).to_contain_text("D-04")
