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
from omnistore.pickups import preparing
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel
from tests.e2e.conftest import TIMEOUT_MS, BrowserProblems
from tests.e2e.test_foundation import sign_in, sign_out
from tests.e2e.test_order_builder import settled

pytestmark = pytest.mark.e2e
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
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


def test_a_rejected_pickup_line_is_shipped_home_free_by_the_customers_choice(page, phone, net):
    order = place(net, "pickup")
    assert order.lines[0].source_location_id == net.ham.id
    preparing.reject_at_desk(order, staff=net.ham_clerk, line_id=order.lines[0].id, quantity=1, reason="not_found")

    fresh_reads()
    token = db.session.get(Order, order.id).pickup.token
    phone.goto(f"/o/{token}")
    phone.wait_for_load_state("load")
    choice = phone.locator(".public-choice")
    expect(choice).to_contain_text("Hamburg could not supply 1 × Trail Boot")
    choice.get_by_text("Ship it home free").tap()
    form = choice.locator("form").filter(has=phone.get_by_role("button", name="Send it to this address"))
    form.get_by_label("Name").fill("Ida Holm")
    form.get_by_label("Street and number").fill("Nørregade 1")
    form.get_by_label("Postcode").fill("20095")  # a German postcode for a Danish address
    form.get_by_label("City").fill("København")
    form.get_by_label("Country").select_option("DK")
    form.get_by_role("button", name="Send it to this address").tap()

    status = phone.locator("#order-status")
    postcode = status.get_by_label("Postcode")
    expect(postcode).to_have_attribute("aria-invalid", "true")
    expect(status).to_contain_text("A postcode in Denmark has 4 digits, like 1620.")
    expect(status.get_by_label("Street and number")).to_have_value("Nørregade 1")  # kept as typed
    phone.wait_for_function(SETTLED)
    postcode.fill("1165")
    status.get_by_role("button", name="Send it to this address").tap()

    shipped_note = status.locator(".public-shipped")
    expect(shipped_note).to_contain_text("1 × Trail Boot is sent to your home")
    expect(shipped_note).to_contain_text("Ida Holm, Nørregade 1, 1165 København, DK")
    expect(shipped_note).to_contain_text("Delivery: free")
    expect(shipped_note).to_contain_text("we waived the delivery fee")
    expect(status.get_by_text("Ship it home free")).to_have_count(0)
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    phone.reload()
    phone.wait_for_load_state("load")
    expect(phone.locator(".public-shipped")).to_contain_text("Delivery: free")

    fresh_reads()
    shipped = db.session.scalar(select(LineRejection)).replacement_order
    assert shipped.fulfilment == "delivery" and shipped.shipping_fee_waived
    assert shipped.total_minor == shipped.lines[0].unit_price_minor  # no fee in the total
    assert stock(net.boot, net.cph) == (2, 1)  # København sends it; Hamburg rejected it

    sign_in(page, "carl@example.test")
    page.goto(f"/orders/{shipped.number}")
    page.wait_for_load_state("load")
    expect(page.locator("main")).to_contain_text("Free: we waived the delivery fee")
    expect(page.locator("main")).to_contain_text("Nørregade 1")


def test_a_manager_sets_the_store_s_pick_deadline_and_a_late_order_is_flagged_on_its_desk(page, net, make):
    from datetime import timedelta

    from sqlalchemy import update

    from omnistore.core.types import utcnow

    make.staff("manager", net.ham, email="mia@example.test", name="Mia Lund")
    net.ham.opening_hours = net.cph.opening_hours = {}  # always open: the test does not depend on the clock
    db.session.commit()
    order = place(net, "pickup")
    db.session.execute(update(Order).values(placed_at=utcnow() - timedelta(hours=2)))
    db.session.commit()

    sign_in(page, "hanna@example.test")
    page.goto("/pickups/")
    page.wait_for_load_state("load")
    card = page.locator(f"section.qgroup-to_pick [data-order='{order.number}']")
    expect(card).to_be_visible()
    expect(card.locator(".late-pick")).to_have_count(0)  # 2 of the network's 4 hours
    sign_out(page)

    nav = sign_in(page, "mia@example.test")
    nav.get_by_role("link", name="Manager").click()
    page.wait_for_load_state("load")
    page.locator(".manager-tabs").get_by_role("link", name="Pickup settings").click()
    page.wait_for_load_state("load")
    deadline = page.get_by_label("Pick within (opening hours)")
    deadline.fill("one")
    page.get_by_role("button", name="Save pickup settings").click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("Give a number of hours from 0.25 to 168")).to_be_visible()
    page.get_by_label("Pick within (opening hours)").fill("1,5")
    page.get_by_role("button", name="Save pickup settings").click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("Pickup settings saved.")).to_be_visible()
    expect(page.get_by_label("Pick within (opening hours)")).to_have_value("1.5")
    sign_out(page)

    sign_in(page, "hanna@example.test")
    page.goto("/pickups/")
    page.wait_for_load_state("load")
    late = page.locator(f"section.qgroup-to_pick [data-order='{order.number}'] .late-pick")
    expect(late).to_contain_text("late: to be picked by")
    sign_out(page)
    sign_in(page, "carl@example.test")  # København's desk keeps the network's deadline
    page.goto("/pickups/")
    page.wait_for_load_state("load")
    expect(page.locator(".late-pick")).to_have_count(0)
