"""Click-and-collect from end to end, as the issue tells it: a web shop order arrives through the API, the
clerk marks it ready, the customer's phone shows it ready and says "I'm here", the desk's queue shows the
check-in, the clerk scans the customer's QR with the tablet camera (Chromium's fake camera showing it) and
hands the order over, and the customer's page shows it collected."""

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from omnistore.core.extensions import db
from omnistore.orders.models import Order
from omnistore.stores.staff import create_api_client
from tests.e2e import fake_camera, test_pickup_desk, test_scanner
from tests.e2e.test_customer_page import PHONE
from tests.e2e.test_pickup_desk import LIVE_WITHIN_MS, fresh_reads, queue_group, sign_in

pytestmark = pytest.mark.e2e
camera = test_scanner.camera  # fixtures: a Chromium whose camera shows a picture, and a store with stock
shop = test_pickup_desk.shop


def place_web_order(live_server, shop):
    """POST /api/v1/orders as the web shop would, over real HTTP."""
    _client, token = create_api_client("web shop")
    document = {
        "customer": {"email": "mia.jensen@example.com", "first_name": "Mia", "last_name": "Jensen"},
        "lines": [{"sku": shop["jacket"].sku, "quantity": 1}, {"sku": shop["boots"].sku, "quantity": 1}],
        "fulfilment": "pickup",
        "pickup_location": "HAM",
        "payment_state": "paid",
    }
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/orders",
        data=json.dumps(document).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": "web-checkout-4711",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            return json.load(response)
    except urllib.error.HTTPError as refused:
        pytest.fail(f"the API refused the order: {refused.code} {refused.read().decode()}")


def test_a_web_order_from_the_api_to_the_handover_at_the_desk(camera, browser, live_server, make, shop):
    placed = place_web_order(live_server, shop)
    assert placed["status"] == "placed" and placed["status_url"].endswith(
        "/o/" + db.session.scalar(db.select(Order).where(Order.number == placed["number"])).pickup.token
    )
    number = placed["number"]
    token = placed["status_url"].rsplit("/o/", 1)[1]

    # The clerk's tablet, whose camera will see the QR code the customer shows.
    desk = camera(fake_camera.held_qr(placed["status_url"]))
    sign_in(desk)
    desk.locator("nav.mainnav").get_by_role("link", name="Pickups", exact=True).click()
    row = queue_group(desk, "to_pick").locator(f"[data-order='{number}']")
    expect(row).to_contain_text("Mia Jensen")
    row.get_by_role("link", name="Pick & mark ready").click()
    desk.get_by_label("Shelf or bin").fill("C-3")
    desk.get_by_role("button", name="Mark ready and tell the customer").click()
    expect(desk.locator(".flashes")).to_contain_text(f"Order {number} is ready for pickup")

    # The customer's phone: the link from the email shows the order ready; "I'm here".
    phone_context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="en",
        timezone_id="Europe/Berlin",
    )
    phone = phone_context.new_page()
    phone.goto(f"/o/{token}")
    expect(phone.get_by_role("heading", name="Ready for pickup")).to_be_visible()
    expect(phone.get_by_role("img", name="QR code for the pickup desk")).to_be_visible()
    phone.get_by_label("Parking spot or note for the store (optional)").fill("Blue bike by the door")
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.get_by_text("The store knows you are here.")).to_be_visible()

    # The desk's queue shows the check-in on its own, at the top.
    here = queue_group(desk, "checked_in").locator(f"[data-order='{number}']")
    expect(here).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(here).to_contain_text("Blue bike by the door")

    # The clerk scans the customer's QR with the tablet camera and hands the order over.
    desk.get_by_role("button", name="Scan the customer's QR code").click()
    expect(desk).to_have_url(
        re.compile(rf"/pickups/orders/{number}/handover\?via=qr$"), timeout=test_scanner.DECODE_TIMEOUT
    )
    expect(desk.get_by_role("heading", level=1)).to_have_text("Mia")
    expect(desk.get_by_role("radio", name="QR code scanned")).to_be_checked()
    desk.get_by_role("button", name="Confirm handover").click()
    expect(desk.locator(".flashes")).to_contain_text(f"Order {number} handed over.")

    # The customer's page follows: collected, and the QR is gone.
    phone.reload()
    expect(phone.get_by_role("heading", name="Collected", exact=True)).to_be_visible()
    expect(phone.get_by_role("img", name="QR code for the pickup desk")).to_have_count(0)
    phone_context.close()

    fresh_reads()
    order = db.session.scalar(db.select(Order).where(Order.number == number))
    assert order.status == "collected" and order.pickup.verification == "qr"
    assert order.pickup.check_in_note == "Blue bike by the door"
    assert [line.status for line in order.lines] == ["collected", "collected"]
