"""The markets screen in a real browser: an admin changes Denmark's return window and delivery fee inside the
live card, sees one page with the card saved, reloads and finds the change kept; a København clerk then sees the
new delivery fee in the builder, and a bad Danish postcode gets the market's message at the field."""

import re

import pytest
from playwright.sync_api import expect

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.stores.models import Market
from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_order_builder import settled

pytestmark = pytest.mark.e2e


@pytest.fixture
def network(make):
    make.market("DE"), make.market("DK")
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff("admin", ham, email="admin@example.test", name="Ada Admin")
    make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    socks = make.variant(make.product(name="Wool Socks"), size="42", prices={"DE": 1995, "DK": 14995})
    make.stock(socks, cph, 5)
    customer = Customer(
        first_name="Ida",
        last_name="Lund",
        email="ida.lund@example.test",
        search_name="ida lund",
        created_channel="store",
    )
    db.session.add(customer)
    db.session.commit()
    return {"cph": cph, "socks": socks}


def test_an_admin_changes_denmarks_terms_and_the_counter_follows(page, network):
    nav = sign_in(page, "admin@example.test")
    nav.get_by_role("link", name="Markets").click()
    expect(page).to_have_url(re.compile(r"/markets/$"))
    page.wait_for_load_state("load")
    card = page.locator("#market-DK")
    expect(card.get_by_role("heading")).to_contain_text("Danmark · DK · DKK")
    card.get_by_label("Return window (days)").fill("45")
    card.get_by_label("Delivery fee (DKK)").fill("29,95")
    card.get_by_role("button", name="Save Danmark").click()
    expect(page.locator("#market-DK").get_by_role("status")).to_have_text("Danmark saved.")  # the card, swapped
    expect(page.locator("main")).to_have_count(1)  # one page, no page inside the card
    expect(page.locator("#market-DK")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/markets/$"))
    # A bad window: said at the field, nothing saved.
    page.locator("#market-DK").get_by_label("Return window (days)").fill("0")
    page.locator("#market-DK").get_by_role("button", name="Save Danmark").click()
    expect(page.locator("#DK-return_window_days-error")).to_contain_text("between 1 and 365")
    capture(page, "markets")
    page.reload()
    page.wait_for_load_state("load")
    card = page.locator("#market-DK")
    expect(card.get_by_label("Return window (days)")).to_have_value("45")
    expect(card.get_by_label("Delivery fee (DKK)")).to_have_value("29.95")
    db.session.expire_all()
    dk = db.session.get(Market, "DK")
    assert (dk.return_window_days, dk.shipping_fee_minor) == (45, 2995)
    sign_out(page)

    # The København clerk: a ship-home order of socks (below 499 kr.) pays the new fee; a bad postcode is told.
    sign_in(page, "carl@example.test")
    page.goto(f"/stock/?q={network['socks'].ean}")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Order for a customer").click()
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    page.get_by_label("Customer", exact=True).fill("Ida")
    page.get_by_role("button", name=re.compile("Ida Lund")).click()
    expect(builder.locator(".picker-chosen")).to_contain_text("Ida Lund")
    expect(builder.get_by_role("button", name=re.compile("Place order"))).to_be_enabled()
    settled(page)
    builder.get_by_role("button", name=re.compile("Deliver to an address")).click()
    address = page.locator("#draft form.address-form")
    expect(address).to_be_visible()
    address.get_by_label("Name").fill("Ida Lund")
    address.get_by_label("Street and number").fill("Nørregade 1")
    address.get_by_label("Postcode").fill("12345")
    address.get_by_label("City").fill("København K")
    address.get_by_label("Country").select_option("DK")
    address.get_by_role("button", name="Use this address").click()
    settled(page)
    expect(page.locator("#address-postcode-error")).to_have_text("A postcode in Denmark has 4 digits, like 1620.")
    expect(page.locator("#address-postcode")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main")).to_have_count(1)
    expect(page.locator("#address-postcode")).to_have_value("12345")  # what was typed stays
    page.locator("#address-postcode").fill("1165")
    page.locator("#draft form.address-form").get_by_role("button", name="Use this address").click()
    expect(page.locator("#draft").get_by_text("Saved: delivery to this address.")).to_be_visible()
    expect(page.locator("#draft")).to_contain_text("shipping kr. 29.95")
