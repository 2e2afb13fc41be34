"""The customer's side of the desk's verbs: mark_ready emails the QR and signals order.ready, the check-in
shows on the pickup, hand_over sends the receipt and order.collected, and the page ends at "collected"."""

import io

import zxingcpp
from PIL import Image
from sqlalchemy import select

from omnistore.core import outbox, webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import pickup_codes
from omnistore.pickups import customer as customer_pickups
from omnistore.pickups import handover as pickup_handover
from omnistore.pickups import preparing
from omnistore.pickups import queue as pickup_queue


def _messages(topic):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)
    ).all()


def test_ready_check_in_and_handover_reach_the_customer_and_the_web_shop(make):
    store = make.location("CPH")
    clerk = make.staff("clerk", store)
    webhooks.add_endpoint("shop", "https://shop.example.test/hooks")
    jacket = make.variant(make.product(name="Regnjakke"))
    make.stock(jacket, store, on_hand=2, allocated=1)
    customer = Customer(first_name="Mette", email="mette@example.test", locale="da")
    db.session.add(customer)
    db.session.commit()
    order = make.order(store, [(jacket, 1, store)], customer=customer)
    with transaction():
        pickup = pickup_codes.open_pickup(order)
    token = pickup.token

    preparing.mark_ready(order, staff=clerk, shelf_location="B-3")
    [email, hook] = sorted(_messages("order.ready"), key=lambda m: m.kind)
    assert email.recipient == "mette@example.test" and email.payload["locale"] == "da"
    assert "klar til afhentning" in email.subject and pickup.short_code in email.body
    [qr] = email.payload["attachments"]
    image = Image.open(io.BytesIO(outbox.attachment_content(qr)))
    assert [c.text for c in zxingcpp.read_barcodes(image)] == [pickup_codes.status_url(pickup)]
    assert hook.kind == "webhook" and hook.payload["order"]["status"] == "ready"
    assert hook.payload["order"]["pickup_by"] is not None

    view = customer_pickups.check_in(token, "Ved indgangen")
    assert view.ready and view.pickup.checked_in_at is not None
    assert pickup_queue.queue_summary(store).checked_in == 1

    db.session.expire_all()
    order = db.session.get(type(order), order.id)
    pickup_handover.hand_over(order, staff=clerk, verification="qr")
    [receipt] = [m for m in _messages("order.receipt") if m.kind == "email"]
    assert "Kvittering" in receipt.subject
    [collected] = _messages("order.collected")
    assert collected.payload["order"]["status"] == "collected" and collected.payload["order"]["collected_at"]
    view = customer_pickups.view(token)
    assert view.status == "collected" and not view.show_code
