"""Changing stock in a real browser: a clerk receives goods and tries a count the rules refuse."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_foundation import sign_in

pytestmark = pytest.mark.e2e


def test_clerk_receives_goods_and_an_impossible_count_is_refused(page, make):
    ham = make.location("HAM")
    parka = make.variant(make.product(name="Fjord Parka", brand="Nordwind"), size="XL", colour="Navy")
    make.stock(parka, ham, 4, allocated=2)
    make.staff("clerk", ham, email="jonas@example.test", name="Jonas Weber")
    sign_in(page, "jonas@example.test")

    page.goto(f"/stock/variants/{parka.id}/here")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fjord Parka")
    expect(page.get_by_text("Stock at Hamburg")).to_be_visible()
    figures = page.locator(".here-figures")
    expect(figures.locator("[data-figure=on_hand]")).to_have_text("4")
    expect(figures.locator("[data-figure=available]")).to_have_text("2")

    # Receive 3 with a reason: the figures and the history update in place (no page load).
    page.evaluate("window.__sameDocument = true")
    receive = page.get_by_role("form", name="Receive goods")
    receive.get_by_label("Quantity received").fill("3")
    receive.get_by_label("Reason").fill("Lieferung aus dem Lager")
    receive.get_by_label("Delivery note or reference").fill("LS-4711")
    receive.get_by_role("button", name="Add to stock").click()
    expect(page.get_by_role("status").filter(has_text="Received 3. On hand now: 7.")).to_be_visible()
    expect(figures.locator("[data-figure=on_hand]")).to_have_text("7")
    expect(figures.locator("[data-figure=available]")).to_have_text("5")
    newest = page.locator("#history tbody tr").first
    expect(newest).to_contain_text("Received")
    expect(newest).to_contain_text("+3")
    expect(newest).to_contain_text("Lieferung aus dem Lager")
    expect(newest).to_contain_text("LS-4711")
    expect(newest).to_contain_text("Jonas Weber")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_label("Quantity received")).to_have_value("")  # ready for the next delivery

    # Two are reserved for orders: a count of 1 is refused, with the reason at the field.
    correct = page.get_by_role("form", name="Correct count")
    correct.get_by_label("Counted on hand").fill("1")
    correct.get_by_label("Reason").fill("Stocktake")
    correct.get_by_role("button", name="Save count").click()
    error = page.locator("#correct-quantity-error")
    expect(error).to_contain_text("Reserved for customer orders: 2. The count cannot be lower than that")
    expect(page.get_by_label("Counted on hand")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Counted on hand")).to_have_value("1")
    expect(figures.locator("[data-figure=on_hand]")).to_have_text("7")
    expect(page.locator("#history tbody tr")).to_have_count(3)

    # A possible count goes through.
    page.get_by_label("Counted on hand").fill("6")
    page.get_by_role("form", name="Correct count").get_by_role("button", name="Save count").click()
    expect(page.get_by_role("status").filter(has_text="Count saved: 6 on hand (-1).")).to_be_visible()
    expect(page.locator("#history tbody tr").first).to_contain_text("Count corrected")
    expect(page).to_have_url(re.compile(rf"/stock/variants/{parka.id}/here$"))
