"""Markets in a real browser: a København clerk sees kroner on every screen and places a cross-border order (the
only unit is in Hamburg) in kroner; the Hamburg clerk sees the same boot in euros; the network's figures show
kroner and euros side by side, never added up."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.orders import drafts as order_drafts
from omnistore.orders import placing
from omnistore.orders.models import Order
from tests.e2e.test_foundation import sign_in, sign_out

pytestmark = pytest.mark.e2e

KRONER, EUROS = "kr. 1,899.95", "€249.95"  # the same boot in DK and DE, written in English


@pytest.fixture
def network(make):
    make.market("DK")
    ham, ber, cph = make.location("HAM"), make.location("BER"), make.location("CPH")
    make.staff("clerk", ham, email="hanna@example.test", name="Hanna Berg")
    make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    make.staff("admin", ham, email="admin@example.test", name="Ada Admin")
    boots = make.product(name="Trail Boot", brand="Nordwind", category="Shoes")
    boot = make.variant(boots, size="42", colour="Brown", prices={"DE": 24995, "DK": 189995})
    make.stock(boot, ham, 2)  # only Hamburg has it
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
    return {"ham": ham, "ber": ber, "cph": cph, "boot": boot, "customer": customer}


def test_a_copenhagen_clerk_sees_kroner_everywhere_and_orders_hamburgs_unit_in_kroner(page, network):
    boot = network["boot"]
    sign_in(page, "carl@example.test")

    # The search result, the product page with its matrix and the live network panel: kroner.
    page.goto("/stock/?q=trail")
    expect(page.locator(".hit-price").first).to_have_text(KRONER)
    page.goto(f"/stock/?q={boot.ean}")
    expect(page.locator(".product-price")).to_have_text(KRONER)
    expect(page.locator("#network-panel .panel-price")).to_have_text(KRONER)
    expect(page.locator("#network-panel")).to_contain_text("Hamburg")
    expect(page.locator("main")).not_to_contain_text("€")

    # The builder and its proposal: the Danish price, the Hamburg unit, the Danish VAT.
    page.get_by_role("link", name="Order for a customer").click()
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    expect(builder.locator(".draft-line")).to_contain_text(KRONER)
    expect(builder.locator(".plan")).to_contain_text("from Hamburg")
    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(builder.locator(".picker-chosen")).to_contain_text("Ida Lund")
    expect(builder.locator(".sum-total")).to_contain_text(KRONER)
    expect(builder.locator(".sum-vat")).to_contain_text("25%")
    expect(builder.locator(".sum-vat")).to_contain_text("kr. 379.99")
    place = builder.get_by_role("button", name=re.compile("Place order"))
    expect(place).to_contain_text(f"Place order · {KRONER}")
    expect(builder).not_to_contain_text("€")

    place.dblclick()
    expect(page.get_by_role("status").filter(has_text="placed")).to_be_visible()
    number = re.search(r"OS-\d\d-\d{6}", page.locator("h1").text_content()).group()
    expect(page.locator("tfoot")).to_contain_text(KRONER)
    expect(page.locator("tfoot")).to_contain_text("incl. VAT 25%")
    expect(page.locator(".transfers")).to_contain_text("Hamburg")
    db.session.expire_all()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert (order.market_code, order.currency, order.total_minor) == ("DK", "DKK", 189995)
    assert [(line.source_location.code, line.unit_price_minor) for line in order.lines] == [("HAM", 189995)]
    sign_out(page)

    # The Hamburg clerk: the same boot, in euros.
    sign_in(page, "hanna@example.test")
    page.goto(f"/stock/?q={boot.ean}")
    expect(page.locator(".product-price")).to_have_text(EUROS)
    expect(page.locator("#network-panel .panel-price")).to_have_text(EUROS)
    expect(page.locator("main")).not_to_contain_text("kr.")


def test_the_network_figures_show_kroner_and_euros_apart(page, make, network):
    boot = network["boot"]

    def counter_order(store):
        clerk = make.staff(location=store)
        draft = order_drafts.start_draft(clerk, customer_id=network["customer"].id)
        order_drafts.set_line(draft, boot.id, 1, staff=clerk)
        return placing.place(draft, staff=clerk)

    counter_order(network["cph"])  # Hamburg's unit, sold in København: kroner
    make.stock(boot, network["cph"], 1)
    counter_order(network["ber"])  # a unit from Hamburg sold in Berlin: euros
    sign_in(page, "admin@example.test")
    page.goto("/manager/?store=network&period=7d")
    saved = page.locator("#aisle-heading").locator("xpath=ancestor::section")
    expect(saved.locator(".amount[data-currency='DKK']").first).to_have_text(KRONER)
    expect(saved.locator(".amount[data-currency='EUR']").first).to_have_text(EUROS)
    expect(saved).not_to_contain_text("2,149.90")  # 1,899.95 + 249.95: never added up
