"""Returns, the rest of the issue in a real browser: the manager's returns tab (a period, the CSV), a resellable
unit returned in Berlin sent on to the warehouse through the send lists, and an exchange whose credit covers
part of the new order (the amount due)."""

import re

import pytest
from playwright.sync_api import expect

from omnistore.core.extensions import db
from omnistore.returns.models import Return
from omnistore.stock import reads
from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_order_builder import settled
from tests.e2e.test_pickup_desk import fresh_reads
from tests.e2e.test_returns import collected_in_hamburg, take_back
from tests.e2e.test_seams import expect_file

pytestmark = pytest.mark.e2e


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        "BER",
        "WH1",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "lea": ("clerk", "BER", "Lea Schmidt"),
            "ines": ("manager", "BER", "Ines Vogel"),
            "uwe": ("clerk", "WH1", "Uwe Lang"),
        },
        variants={
            "parka": dict(product="Fjord Parka", size="M", colour="Navy", price_minor=12900, stock={"HAM": 3}),
            "parka_l": dict(product="Fjord Parka", size="L", colour="Navy", price_minor=13900, stock={"HAM": 2}),
            "boots": dict(product="Trail Boots", size="42", colour="Brown", price_minor=8900, stock={"HAM": 3}),
        },
    )


def test_a_manager_opens_the_returns_tab_filters_a_period_and_downloads_the_csv(page, shop):
    number, _token = collected_in_hamburg(shop, (shop.parka, 1), (shop.boots, 1))
    sign_in(page, "lea@example.test")
    take_back(page, number, {("Resell", "Fjord Parka Navy / M"): 1})
    sign_out(page)

    nav = sign_in(page, "ines@example.test")
    nav.get_by_role("link", name="Manager", exact=True).click()
    expect(page).to_have_url(re.compile(r"/manager/$"))
    page.locator(".manager-tabs").get_by_role("link", name="Returns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Returns")
    page.wait_for_load_state("load")
    across = page.locator('tr[data-crossing="HAM-BER"]')
    expect(across).to_contain_text("Hamburg")
    expect(across).to_contain_text("Does not fit: 1")
    capture(page, "manager-returns")

    page.locator(".chip-radio", has_text="30 days").click()
    expect(page).to_have_url(re.compile(r"/manager/returns\?.*period=30d"))
    page.wait_for_load_state("load")
    expect(page.locator('tr[data-crossing="HAM-BER"]')).to_contain_text("129")

    link = page.get_by_role("link", name="Export (CSV)")
    expect(link).to_have_attribute("href", re.compile(r"period=30d"))
    text = expect_file(page, link, ".csv").decode("utf-8-sig")
    rows = text.splitlines()
    assert rows[0].split(";")[:4] == ["Section", "Name", "Units sold", "Units returned"]
    assert any("Hamburg → Berlin" in row and "129" in row for row in rows), rows


def test_a_resellable_unit_returned_in_berlin_is_sent_to_the_warehouse(page, shop):
    number, _token = collected_in_hamburg(shop, (shop.parka, 1))
    sign_in(page, "lea@example.test")
    return_id = take_back(page, number, {("Resell", "Fjord Parka Navy / M"): 1})

    send = page.locator("#send-on")
    expect(send).to_contain_text("Fjord Parka")
    capture(page, "return-send-on")
    send.get_by_label("Send to").select_option(label="Kassel warehouse (warehouse)")
    send.get_by_label("Units").fill("1")
    send.get_by_role("button", name="Send on").click()
    expect(page.locator(".flashes")).to_contain_text("sent on to Kassel warehouse")
    expect(page.locator("[data-sent-on]")).to_contain_text("1 sent on to Kassel warehouse")
    expect(page.locator("#send-on")).to_have_count(0)  # nothing left to send

    # Berlin's list to pick and send has it, as a stock transfer for the warehouse.
    page.goto("/orders/")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="To pick & send").click()
    page.wait_for_load_state("load")
    card = page.locator("article.transfer", has_text="Kassel warehouse")
    expect(card).to_contain_text("Stock transfer")
    expect(card).to_contain_text(f"return #{return_id}")
    expect(card).to_contain_text("Fjord Parka")
    capture(page, "send-list-stock-transfer")
    card.get_by_role("button", name="Picked – goods are off the shelf").click()
    expect(card.get_by_role("status")).to_contain_text("Pack it and enter the tracking reference")
    settled(page)
    card.get_by_label("Tracking reference").fill("DHL 555")
    card.get_by_role("button", name="Packed and shipped").click()
    expect(card.get_by_role("status")).to_contain_text("tracking DHL 555")
    sign_out(page)

    sign_in(page, "uwe@example.test")
    page.goto("/orders/arriving")
    page.wait_for_load_state("load")
    card = page.locator("article.transfer", has_text="From Berlin")
    expect(card).to_contain_text("Stock transfer")
    card.get_by_role("button", name="Received – the parcel is here").click()
    expect(card.get_by_role("status")).to_contain_text("this store's stock now")
    page.goto(f"/stock/?q={shop.parka.ean}")
    expect(page.locator('#network-panel tr[data-location="WH1"] td.qty strong')).to_have_text("1")
    fresh_reads()
    assert reads.level_at(shop.parka.id, shop.wh1.id).available == 1
    assert reads.level_at(shop.parka.id, shop.ber.id).on_hand == 0


def test_an_exchange_where_the_credit_covers_part_of_the_new_order_shows_the_amount_due(page, shop):
    number, _token = collected_in_hamburg(shop, (shop.parka, 1))  # 129.00
    sign_in(page, "lea@example.test")
    take_back(page, number, {("Resell", "Fjord Parka Navy / M"): 1})
    page.get_by_role("button", name="Exchange for Fjord Parka Navy / L").click()  # 139.00
    expect(page).to_have_url(re.compile(r"/orders/drafts/[0-9a-f]{32}$"))
    page.wait_for_load_state("load")
    builder = page.locator("#draft")
    expect(builder.locator(".exchange-credit")).to_contain_text("129")
    expect(builder.locator("[data-amount-due]")).to_contain_text("10")
    capture(page, "exchange-builder-amount-due")
    builder.get_by_role("button", name=re.compile("Place order")).click()
    expect(page.get_by_role("status").filter(has_text="placed")).to_be_visible()
    expect(page.locator("[data-amount-due]")).to_contain_text("10.00")
    expect(page.locator(".exchange-credit")).to_contain_text("129.00")
    capture(page, "exchange-order-amount-due")
    page.reload()
    expect(page.locator("[data-amount-due]")).to_contain_text("10.00")

    fresh_reads()
    ret = db.session.scalar(db.select(Return))
    assert ret.status == "refunded" and ret.credit_applied_minor == 12900
    page.goto(f"/returns/{ret.id}")
    expect(page.locator("[data-return-status]")).to_have_text("Refunded")
    expect(page.locator("[data-refund-due]")).to_contain_text("0.00")
