"""Rejecting at pick time in real Chromium: København rejects a ship-home line and Hamburg gets it with the
reason shown; a pickup line rejected at Hamburg's desk is collected at København by the customer's choice on
their phone, and København's desk sees the new order."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.orders import order_rules
from omnistore.orders import placing as ordering
from omnistore.orders.models import LineRejection, Order, Transfer
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel
from tests.e2e.conftest import TIMEOUT_MS, BrowserProblems
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_order_builder import settled

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def net(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={
            "ham_clerk": ("clerk", "HAM", "Hanna Berg", "hanna@example.test"),
            "cph_clerk": ("clerk", "CPH", "Carl Holm", "carl@example.test"),
        },
        variants={"boot": {"product": "Trail Boot", "brand": "Nordwind", "size": "44", "colour": "Brown"}},
    )
    made["customer"] = make.customer("Ida", "Holm", email="ida@example.test", locale="en")
    for location in (made.cph, made.ham):
        ledger.receive(ledger.StockChange(made.boot.id, location.id, 2, "delivery note 12"), None)
    return made


def place(net, fulfilment):
    return ordering.place(
        ordering.PlaceOrder(
            channel="web",
            customer_id=net.customer.id,
            lines=(order_rules.LineRequest(net.boot.id, 1),),
            fulfilment=fulfilment,
            payment_state="paid",
            pickup_location_id=net.ham.id if fulfilment == "pickup" else None,
            delivery_address=order_rules.Address(
                name="Ida Holm", street="Nørregade 1", postcode="1165", city="København", country="DK"
            )
            if fulfilment == "delivery"
            else None,
        ),
        staff=net.cph_clerk,
    )


def fresh_reads():
    db.session.rollback()
    db.session.expire_all()


def stock(variant, location):
    fresh_reads()
    row = db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )
    return row.on_hand, row.allocated


def test_copenhagen_rejects_a_ship_home_line_and_hamburg_sends_it(page, net):
    order = place(net, "delivery")
    transfer = db.session.scalar(select(Transfer).where(Transfer.order_id == order.id))
    assert transfer.source_location_id == net.cph.id

    sign_in(page, "carl@example.test")
    page.goto("/orders/send")
    page.wait_for_load_state("load")
    card = page.locator(f"#transfer-{transfer.id}")
    expect(card).to_contain_text("Home delivery")
    card.get_by_text("Can't supply it? Reject a line").click()
    card.get_by_label("How many are missing?").fill("1")
    card.get_by_label("Not found on the shelf").check()
    card.get_by_role("button", name="Reject and source elsewhere").click()
    expect(card.get_by_role("status")).to_contain_text("It now comes from Hamburg")
    expect(card).to_contain_text("Not supplied by København: not found on the shelf")
    expect(card.locator(".status")).to_have_text("Cancelled")
    assert stock(net.boot, net.cph) == (1, 0)  # København's figure corrected

    settled(page)
    card.get_by_role("link", name=order.number).click()
    page.wait_for_load_state("load")
    lines = page.locator("main table").first
    expect(lines).to_contain_text("Hamburg")
    expect(lines).to_contain_text("Shipped from the store Hamburg")  # why this store
    sign_out(page)

    sign_in(page, "hanna@example.test")
    page.goto("/orders/send")
    page.wait_for_load_state("load")
    expect(page.locator("#send-list")).to_contain_text(order.number)
    assert stock(net.boot, net.ham) == (2, 1)


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="en",
        timezone_id="Europe/Berlin",
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = BrowserProblems(tab)
    yield tab
    context.close()
    assert problems.errors == []


def test_a_rejected_pickup_line_is_collected_at_another_store_by_the_customers_choice(page, phone, net):
    order = place(net, "pickup")
    assert order.lines[0].source_location_id == net.ham.id

    sign_in(page, "hanna@example.test")
    page.goto(f"/pickups/orders/{order.number}")
    page.wait_for_load_state("load")
    prepare = page.locator("#prepare")
    prepare.get_by_text("Can't supply it? Reject a line").click()
    prepare.get_by_label("Damaged").check()
    prepare.get_by_role("button", name="Reject and source elsewhere").click()
    expect(page.locator("#prepare .notice")).to_contain_text("The customer is asked by e-mail")
    expect(page.locator("#prepare")).to_contain_text("Not supplied by Hamburg: damaged")
    sign_out(page)

    fresh_reads()
    token = db.session.get(Order, order.id).pickup.token
    phone.goto(f"/o/{token}")
    phone.wait_for_load_state("load")
    choice = phone.locator(".public-choice")
    expect(choice).to_contain_text("Hamburg could not supply 1 × Trail Boot")
    collect = choice.get_by_role("button", name="Collect it at København")
    expect(collect).to_contain_text("km")
    collect.tap()
    expect(phone.locator("#order-status")).to_contain_text("Trail Boot is now collected at København")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]

    fresh_reads()
    moved = db.session.scalar(select(LineRejection)).replacement_order
    assert moved.pickup_location_id == net.cph.id

    sign_in(page, "carl@example.test")
    page.goto("/pickups/")
    page.wait_for_load_state("load")
    expect(page.locator("section.qgroup-to_pick").locator(f"[data-order='{moved.number}']")).to_contain_text("Ida")
    assert stock(net.boot, net.cph) == (2, 1)
