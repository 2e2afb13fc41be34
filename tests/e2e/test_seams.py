"""Where features meet, tapped as people tap them: links inside live components open one page, file links
download, a page reached in-app has its styles and scripts as after a reload, and text links are big enough
to hit. (Any CSP violation on these pages fails the test too: see BrowserProblems in conftest.)"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from omnistore.core import outbox
from omnistore.core.db import transaction
from omnistore.pickups import preparing
from tests.e2e.test_foundation import sign_in
from tests.e2e.test_pickup_desk import (
    shop,  # noqa: F401 (a fixture)
    web_order,
)

pytestmark = pytest.mark.e2e

MIN_TARGET = 44


def expect_one_page(page):
    """Exactly one page on screen: one top bar, one menu, one <main>."""
    expect(page.locator("main")).to_have_count(1)
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("nav.mainnav")).to_have_count(1)


# --- No page inside a page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link, url, landmark",
    [
        ("Receive / correct", r"/stock/variants/\d+/here$", "Receive goods"),
        ("History", r"/stock/variants/\d+/here#history$", "Receive goods"),
    ],
)
def test_links_inside_the_live_network_panel_open_one_page(page, make, link, url, landmark):
    ham = make.location("HAM")
    parka = make.variant(make.product(name="Fjord Parka", brand="Nordwind"), size="XL", colour="Navy")
    make.stock(parka, ham, 4)
    make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    sign_in(page, "jonas@example.test")
    page.goto(f"/stock/products/{parka.product_id}?variant={parka.id}")
    panel = page.locator("#network-panel[data-live]")
    expect(panel).to_be_visible()

    panel.get_by_role("link", name=link, exact=True).click()
    expect(page).to_have_url(re.compile(url))
    expect(page.get_by_role("form", name=landmark)).to_be_visible()
    expect_one_page(page)
    expect(page.locator("#network-panel")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fjord Parka")


def test_hand_over_inside_the_live_pickup_queue_opens_one_page(page, make, shop):  # noqa: F811
    order = web_order(make, shop, "Mia")
    preparing.mark_ready(order, staff=shop["clerk"], shelf_location="B-12")
    sign_in(page, "clerk@example.test")
    page.goto("/pickups/")
    row = page.locator(f"#pickup-queue[data-live] [data-order='{order.number}']")
    row.get_by_role("link", name="Hand over").click()
    expect(page).to_have_url(re.compile(rf"/pickups/orders/{order.number}/handover$"))
    expect(page.locator("#pickup-queue")).to_have_count(0)
    expect_one_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mia")


def test_the_order_number_on_a_transfer_card_opens_one_page(page, make):
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    boots = make.variant(make.product(name="Trail Boot", brand="Nordwind"), size="44", colour="Brown")
    make.stock(boots, cph, 2, allocated=1)
    order = make.order(ham, lines=[(boots, 1, cph)], channel="store")
    transfer = make.transfer(order, cph)
    sign_in(page, "carl@example.test")
    page.goto("/orders/send")
    page.locator(f"#transfer-{transfer.id}").get_by_role("link", name=order.number).click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.number}$"))
    expect(page.locator(f"#transfer-{transfer.id}")).to_have_count(0)
    expect_one_page(page)


# --- Downloads are files -----------------------------------------------------------------------------------


@pytest.fixture
def review(make):
    """One endless-aisle pickup order of Hamburg supplied by Berlin, collected late; an admin and a manager."""
    ham, ber = make.location("HAM"), make.location("BER")
    make.staff("admin", ham, email="ada@example.test", name="Ada Admin")
    make.staff("manager", ham, email="mia@example.test", name="Mia Manager")
    clerk = make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    variant = make.variant(price_minor=3995)
    placed = datetime.now(UTC) - timedelta(days=3)
    order = make.order(
        ham,
        [(variant, 1, ber)],
        status="collected",
        channel="store",
        origin_location_id=ham.id,
        placed_at=placed,
        promised_at=placed + timedelta(hours=24),
    )
    ready, collected = placed + timedelta(hours=30), placed + timedelta(hours=32)
    make.pickup(order, ready_at=ready, collected_at=collected, collected_by_staff_id=clerk.id, verification="qr")
    make.event(order, "placed", placed)
    make.event(order, "ready", ready, staff=clerk, from_status="placed", to_status="ready")
    make.event(
        order, "collected", collected, staff=clerk, from_status="ready", to_status="collected", verification="qr"
    )
    customer = make.customer("Anna", "Berg", email="anna@example.test")
    return {"order": order, "customer": customer, "ham": ham, "ber": ber}


def expect_file(page, link, suffix):
    """Tap the link: a file arrives (the page stays), named *suffix; its bytes are returned."""
    url = page.url
    with page.expect_download() as arrived:
        link.click()
    download = arrived.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(suffix), download.suggested_filename
    assert page.url == url
    return Path(download.path()).read_bytes()


def expect_csv(page, link, first_column):
    text = expect_file(page, link, ".csv").decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[0] == first_column and len(header) > 1, text[:200]
    expect_one_page(page)


def test_every_export_link_of_the_manager_downloads_a_csv_file(page, review):
    sign_in(page, "ada@example.test")
    page.get_by_role("link", name="Manager", exact=True).click()
    expect(page).to_have_url(re.compile(r"/manager/$"))
    page.goto("/manager/?period=30d&store=network")
    expect_csv(page, page.get_by_role("link", name="Export figures (CSV)"), "Figure")
    expect_csv(page, page.get_by_role("link", name="Export league (CSV)"), "Code")

    page.locator("#manager-dashboard").get_by_role("link", name="Handover log").click()
    expect(page).to_have_url(re.compile(r"/manager/handovers"))
    expect_csv(page, page.get_by_role("link", name="Export log (CSV)"), "Order")

    page.goto("/manager/?period=30d&store=network")
    page.locator(".figure-link", has_text="Collected").first.click()
    expect(page).to_have_url(re.compile(r"/manager/orders\?"))
    expect_csv(page, page.get_by_role("link", name="Export list (CSV)"), "Order")


# --- A page's styles and scripts after in-app navigation ------------------------------------------------


def test_the_outbox_email_preview_is_styled_after_in_app_navigation_and_after_a_reload(page, make):
    ham = make.location("HAM")
    make.staff("admin", ham, email="ada@example.test", name="Ada Admin")
    with transaction():
        outbox.enqueue_email(
            "order.confirmation",
            to="anna@example.test",
            subject="Thank you for your order",
            text="Hello Anna",
            html="<p>Hello Anna</p>",
        )
    sign_in(page, "ada@example.test")
    page.locator("nav.mainnav").get_by_role("link", name="Outbox").click()
    expect(page).to_have_url(re.compile(r"/outbox/$"))
    page.get_by_role("link", name="Thank you for your order").click()
    expect(page).to_have_url(re.compile(r"/outbox/\d+$"))

    def styled():
        facts, preview = page.locator(".outbox-facts"), page.locator("iframe.outbox-preview")
        expect(facts).to_have_css("display", "grid")
        expect(preview).to_have_css("height", "900px")
        expect(page.locator(".outbox-pending")).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")

    styled()
    page.reload()
    styled()


def test_the_desk_pages_come_by_in_app_navigation_with_their_script(page, make, shop):  # noqa: F811
    """The desk pages need their script (Print; the QR wedge scan): a tap there swaps the page in, in one
    request, instead of a second, full load (the old workaround), and the script is there."""
    order = web_order(make, shop, "Mia")
    nav = sign_in(page, "clerk@example.test")
    page.evaluate("window.__sameDocument = true")
    nav.get_by_role("link", name="Pickups", exact=True).click()
    expect(page).to_have_url(re.compile(r"/pickups/$"))
    page.locator("#pickup-queue").get_by_role("link", name="Print all pick lists").click()
    expect(page).to_have_url(re.compile(r"/pickups/picklist"))
    expect(page.locator("main")).to_contain_text(order.number)
    expect_one_page(page)
    assert page.evaluate("window.__sameDocument") is True
    page.evaluate("window.print = () => { window.__printed = true; }")  # no print dialog in a test
    page.get_by_role("button", name="Print", exact=True).click()
    page.wait_for_function("window.__printed === true")


# --- Touch targets -------------------------------------------------------------------------------------------


def expect_target(locator):
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET, (locator, box)


def test_text_links_are_big_enough_to_tap(page, make, review):
    ham, ber = review["ham"], review["ber"]
    sign_in(page, "ada@example.test")
    expect_target(page.locator("header.topbar .brand"))

    page.goto("/manager/?period=30d&store=network")
    expect_target(page.get_by_role("link", name="late orders"))
    aisle = page.get_by_role("region", name="Endless aisle")
    expect_target(aisle.locator("td a").first)
    league = page.locator("#league tbody tr").first.locator("td a")
    expect(league).not_to_have_count(0)
    for index in range(league.count()):
        expect_target(league.nth(index))
    service = page.get_by_role("region", name="Service").locator("dd > a")
    for index in range(service.count()):
        expect_target(service.nth(index))

    page.goto("/customers/?q=Anna")
    expect_target(page.get_by_role("link", name="Create a new profile"))

    # The order numbers on the transfer lists, on both sides.
    boots = make.variant(make.product(name="Trail Boot", brand="Nordwind"), size="44", colour="Brown")
    make.stock(boots, ber, 2, allocated=1)
    make.stock(boots, ham, 2, allocated=1)
    moving = make.order(ham, lines=[(boots, 1, ber)], channel="store")
    make.transfer(moving, ber, status="shipped")
    outgoing = make.order(ber, lines=[(boots, 1, ham)], channel="store")
    make.transfer(outgoing, ham)
    page.goto("/orders/arriving")
    expect_target(page.get_by_role("link", name=moving.number))
    page.goto("/orders/send")
    expect_target(page.get_by_role("link", name=outgoing.number))


def test_the_customers_refresh_link_is_big_enough_to_tap(page, make):
    ham = make.location("HAM")
    variant = make.variant()
    order = make.order(ham, [(variant, 1, ham)], status="ready")
    record = make.pickup(order, ready_at=datetime.now(UTC), pickup_by=datetime.now(UTC) + timedelta(days=5))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/o/{record.token}")
    expect_target(page.get_by_role("link", name="Refresh"))
