"""The endless aisle in a real browser: a Hamburg clerk orders a size only Copenhagen has, for collection in
another store; Copenhagen ships it; the pickup store receives it and the order is ready."""

import re

import pytest
from playwright.sync_api import expect

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in, sign_out

pytestmark = pytest.mark.e2e
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"


def settled(page):
    """Wait until htmx has swapped and processed the new builder (its listeners attach when it settles)."""
    page.wait_for_function(SETTLED)


@pytest.fixture
def network(make):
    ham, ber, cph = make.location("HAM"), make.location("BER"), make.location("CPH")
    make.staff("clerk", ham, email="hanna@example.test", name="Hanna Berg")
    make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    make.staff("clerk", ber, email="bea@example.test", name="Bea Roth")
    boots = make.product(name="Trail Boot", brand="Nordwind", category="Shoes")
    sizes = {size: make.variant(boots, size=size, colour="Brown", price_minor=12900) for size in ("42", "43", "44")}
    make.stock(sizes["42"], ham, 3)
    make.stock(sizes["44"], cph, 2)
    scarf = make.variant(
        make.product(name="Wool Scarf", brand="Nordwind"), size="One size", colour="Grey", price_minor=2900
    )
    make.stock(scarf, ham, 6)
    customer = Customer(
        first_name="Ida",
        last_name="Lund",
        email="ida.lund@example.test",
        phone="+4520123456",
        search_name="ida lund",
        created_channel="store",
    )
    db.session.add(customer)
    db.session.commit()
    return {"ham": ham, "ber": ber, "cph": cph, "size44": sizes["44"], "scarf": scarf, "customer": customer}


def test_clerk_orders_a_size_from_copenhagen_for_pickup_in_berlin_and_it_travels(page, network):
    size44 = network["size44"]
    sign_in(page, "hanna@example.test")

    # Scan the barcode with the keyboard-wedge scanner: the product page with the network panel.
    page.goto(f"/stock/?q={size44.ean}")
    expect(page.locator("#network-panel")).to_contain_text("København")
    capture(page, "order-from-panel")
    page.get_by_role("link", name="Order for a customer").click()
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    # The address changes before the page has loaded: typing into the customer search before htmx has wired
    # it searched nothing, and the test waited for "Ida Lund" in vain (now and then, on a busy machine).
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    expect(builder.locator(".draft-line")).to_contain_text("Trail Boot")
    expect(builder.locator(".plan")).to_contain_text("from København")

    # The customer: search and choose in the customers picker.
    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(builder.locator(".picker-chosen")).to_contain_text("Ida Lund")
    expect(builder.get_by_role("button", name=re.compile("Place order"))).to_be_enabled()

    # A second item by scanning its EAN into the add box; + makes it two.
    page.get_by_label("Add an item").fill(network["scarf"].ean)
    page.get_by_label("Add an item").press("Enter")
    scarf_line = builder.locator(f".draft-line[data-variant='{network['scarf'].id}']")
    expect(scarf_line).to_contain_text("Wool Scarf")
    scarf_line.get_by_role("button", name="One more").click()
    expect(scarf_line.get_by_label("Quantity", exact=True)).to_have_value("2")
    settled(page)
    scarf_line.get_by_label("Quantity", exact=True).fill("0")
    scarf_line.get_by_label("Quantity", exact=True).press("Enter")
    expect(scarf_line.locator(".field-error")).to_contain_text("at least 1")
    scarf_line.get_by_role("button", name="Remove").click()
    expect(builder.locator(".draft-line")).to_have_count(1)

    # Collect in another store: Berlin; the proposal and the countdown.
    builder.get_by_role("button", name=re.compile("Collect in another store")).click()
    expect(builder.locator(".promise")).to_contain_text("Ready for pickup at Berlin")  # the nearest, to start
    settled(page)
    page.get_by_label("Pickup store (nearest first)").select_option(str(network["cph"].id))
    expect(builder.locator(".promise")).to_contain_text("Ready for pickup at København")
    settled(page)
    page.get_by_label("Pickup store (nearest first)").select_option(str(network["ber"].id))
    expect(builder.locator(".promise")).to_contain_text("Ready for pickup at Berlin")
    expect(builder.locator(".plan")).to_contain_text("from København")
    clock = builder.locator("[data-countdown-clock]")
    expect(clock).to_have_text(re.compile(r"^1[45]:\d\d$"))
    first = clock.text_content()
    expect(clock).not_to_have_text(first)  # it counts down
    capture(page, "order-builder")

    builder.get_by_role("button", name=re.compile("Place order")).dblclick()
    expect(page.get_by_role("status").filter(has_text="placed")).to_contain_text("ida.lund@example.test")
    number = re.search(r"OS-\d\d-\d{6}", page.locator("h1").text_content()).group()
    expect(page.locator(".transfers")).to_contain_text("København")
    capture(page, "order-page")
    sign_out(page)

    # Copenhagen picks and ships.
    sign_in(page, "carl@example.test")
    page.goto("/orders/send")
    card = page.locator(".transfer").filter(has_text=number)
    expect(card).to_contain_text("To Berlin")
    card.get_by_role("button", name="Picked – goods are off the shelf").click()
    expect(card.get_by_label("Tracking reference")).to_be_visible()
    settled(page)
    card.get_by_label("Tracking reference").fill("PN 4711")
    card.get_by_role("button", name="Packed and shipped").click()
    expect(card.get_by_role("status")).to_contain_text("tracking PN 4711")
    sign_out(page)

    # Berlin receives: the order is ready for pickup.
    sign_in(page, "bea@example.test")
    page.goto("/orders/arriving")
    card = page.locator(".transfer").filter(has_text=number)
    card.get_by_role("button", name="Received – the parcel is here").click()
    expect(card.get_by_role("status")).to_contain_text("ready for pickup")
    page.goto(f"/orders/{number}")
    expect(page.locator(".card-head .status")).to_have_text("Ready for pickup")
    expect(page.locator(".timeline")).to_contain_text("Carl Holm")
