"""After placing, in a real browser: Copenhagen picks and ships, Hamburg receives, the order is ready."""

import pytest
from playwright.sync_api import expect

from tests.e2e.screenshots import capture
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_order_builder import settled

pytestmark = pytest.mark.e2e


def test_copenhagen_ships_and_hamburg_receives_from_their_lists(page, make):
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff("clerk", ham, email="hanna@example.test", name="Hanna Berg")
    make.staff("clerk", cph, email="carl@example.test", name="Carl Holm")
    boots = make.variant(make.product(name="Trail Boot", brand="Nordwind"), size="44", colour="Brown")
    make.stock(boots, cph, 2, allocated=1)
    order = make.order(ham, lines=[(boots, 1, cph)], channel="store")
    transfer = make.transfer(order, cph)

    sign_in(page, "carl@example.test")
    page.goto("/orders/")
    page.get_by_role("link", name="To pick & send").click()
    card = page.locator(f"#transfer-{transfer.id}")
    expect(card).to_contain_text("To Hamburg")
    expect(card).to_contain_text("Trail Boot")
    capture(page, "orders-send")
    card.get_by_role("button", name="Picked – goods are off the shelf").click()
    expect(card.get_by_role("status")).to_contain_text("Pack it and enter the tracking reference")
    settled(page)
    card.get_by_role("button", name="Packed and shipped").click()  # the browser asks for the reference first
    expect(card.get_by_label("Tracking reference")).to_be_focused()
    card.get_by_label("Tracking reference").fill("<parcel>")
    card.get_by_role("button", name="Packed and shipped").click()
    expect(card.locator(".field-error")).to_contain_text("Use letters, digits")
    settled(page)
    card.get_by_label("Tracking reference").fill("PN 0042 7781")
    card.get_by_role("button", name="Packed and shipped").click()
    expect(card.get_by_role("status")).to_contain_text("tracking PN 0042 7781")
    expect(card.locator(".status")).to_have_text("Shipped")
    sign_out(page)

    sign_in(page, "hanna@example.test")
    page.goto("/orders/arriving")
    card = page.locator(f"#transfer-{transfer.id}")
    expect(card).to_contain_text("From København")
    expect(card).to_contain_text("PN 0042 7781")
    capture(page, "orders-arriving")
    card.get_by_role("button", name="Received – the parcel is here").click()
    expect(card.get_by_role("status")).to_contain_text("ready for pickup")
    card.get_by_role("link", name=order.number).click()
    expect(page.locator(".card-head .status")).to_have_text("Ready for pickup")
    history = page.locator(".timeline")
    expect(history).to_contain_text("Carl Holm")
    expect(history).to_contain_text("Hanna Berg")
