"""An exchange's credit set against the new order's payment: amount due = new total − credit (never below 0),
the rest refunded the usual way; a refund paid out meanwhile refuses the placement (nothing is kept)."""

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import Forbidden, InvalidTransition
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.webhooks import add_endpoint
from omnistore.orders import notifications
from omnistore.orders.models import Order, OrderEvent
from omnistore.returns import exchanges, receiving, refunds
from omnistore.returns.models import Return
from tests.services.test_returns import ask, collected_web_order


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        "BER",
        team={"clerk": ("clerk", "HAM", "Jonas Weber"), "berlin": ("clerk", "BER", "Lea Schmidt")},
        variants={
            "parka": dict(product="Fjord Parka", size="M", colour="Navy", price_minor=12900, stock={"HAM": 9}),
            "boots": dict(product="Trail Boots", size="42", colour="Brown", price_minor=8900, stock={"HAM": 9}),
            "parka_l": dict(product="Fjord Parka", size="L", colour="Navy", price_minor=13900, stock={"HAM": 4}),
            "cap": dict(product="Fjord Parka", size="XS", colour="Navy", price_minor=4900, stock={"HAM": 4}),
        },
    )


def returned(shop, units, payment_state="paid"):
    order, _client = collected_web_order(shop, payment_state=payment_state)
    return receiving.receive_return(order, ask(order, units), staff=shop.berlin)


def test_the_credit_covers_part_of_the_new_order_and_the_customer_owes_the_rest(app, shop):
    add_endpoint("shop", "https://shop.example/hooks", ["return.refund_requested", "return.refund_changed"])
    ret = returned(shop, {(shop.parka, "resell"): 1})  # 129.00 credit
    draft = exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.berlin)  # 139.00
    with pytest.raises(Forbidden):
        exchanges.place_exchange(ret, draft, staff=shop.clerk)
    order = exchanges.place_exchange(ret, draft, staff=shop.berlin).order
    assert (order.total_minor, order.credit_minor, order.amount_due_minor) == (13900, 12900, 1000)
    db.session.expire_all()
    ret = db.session.get(Return, ret.id)
    # The whole credit went to the new order: nothing is paid back, the return is settled.
    assert (ret.credit_applied_minor, ret.refund_due_minor, ret.status) == (12900, 0, "refunded")
    assert ret.refund_reference == order.number
    changed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "return.refund_changed"))
    assert changed.payload["return"]["refund_due_minor"] == 0 and changed.payload["return"]["credit_minor"] == 12900
    # The confirmation e-mail shows the amount due; the order's webhook payload and the history carry it.
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "order.confirmation").order_by(OutboxMessage.id.desc())
    ).first()
    assert order.number in mail.body and "−129,00" in mail.body and "10,00" in mail.body  # in her language (German)
    assert notifications.webhook_payload(order, "order.ready")["order"]["amount_due_minor"] == 1000
    kinds = db.session.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)).all()
    assert "exchange_credit" in kinds


def test_a_cheaper_new_order_costs_nothing_and_the_rest_is_refunded(app, shop):
    ret = returned(shop, {(shop.parka, "resell"): 1})  # 129.00 credit
    draft = exchanges.start_exchange(ret, shop.cap.id, staff=shop.berlin)  # 49.00
    order = exchanges.place_exchange(ret, draft, staff=shop.berlin).order
    assert (order.credit_minor, order.amount_due_minor) == (4900, 0)
    db.session.expire_all()
    ret = db.session.get(Return, ret.id)
    assert (ret.status, ret.credit_applied_minor, ret.refund_due_minor) == ("refund_pending", 4900, 8000)
    assert refunds.webhook_payload(ret, "return.refund_changed")["return"]["refund_due_minor"] == 8000


def test_a_refund_paid_out_meanwhile_refuses_the_credit_and_keeps_nothing(app, shop):
    ret = returned(shop, {(shop.parka, "resell"): 1}, payment_state="pay_at_pickup")  # a till refund
    draft = exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.berlin)
    # While the exchange is being built, the till refund is refused (its credit is in use)…
    with pytest.raises(InvalidTransition):
        refunds.record_till_refund(ret, "TILL-1", staff=shop.berlin)
    # …but if it was paid out anyway (here: straight in the database), placing refuses to spend it again.
    db.session.execute(Return.__table__.update().where(Return.id == ret.id).values(status="refunded"))
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(Order))
    with pytest.raises(InvalidTransition, match="paid out meanwhile"):
        exchanges.place_exchange(db.session.get(Return, ret.id), draft, staff=shop.berlin)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == before
    assert db.session.get(Return, ret.id).credit_applied_minor == 0


def test_only_the_returns_own_draft_takes_its_credit(app, shop):
    from omnistore.orders import drafts

    ret = returned(shop, {(shop.parka, "resell"): 1})
    other = drafts.start_draft(shop.berlin, customer_id=ret.order.customer_id)
    with pytest.raises(InvalidTransition):
        exchanges.place_exchange(ret, other, staff=shop.berlin)
    with pytest.raises(InvalidTransition):
        exchanges.place_exchange(ret, None, staff=shop.berlin)
