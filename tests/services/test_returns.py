"""Returns: what may come back, the grades through the ledger, the refund and its states, the window, and two
tablets returning the same line at once (real threads; PostgreSQL row locks, SQLite's write lock)."""

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.webhooks import add_endpoint
from omnistore.orders import api_orders
from omnistore.orders.models import Order, OrderEvent, OrderLine
from omnistore.pickups import handover, preparing
from omnistore.returns import receiving, refunds
from omnistore.returns.models import Return
from omnistore.stock import reads
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores import markets
from omnistore.stores.models import ApiClient, Staff
from omnistore.stores.staff import create_api_client


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        "BER",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "berlin": ("clerk", "BER", "Lea Schmidt"),
            "berlin2": ("clerk", "BER", "Tom Krause"),
            "boss": ("manager", "BER", "Ines Vogel"),
        },
        variants={
            "parka": dict(product="Fjord Parka", size="M", colour="Navy", price_minor=12900, stock={"HAM": 5}),
            "boots": dict(product="Trail Boots", size="42", colour="Brown", price_minor=8900, stock={"HAM": 5}),
            "parka_l": dict(product="Fjord Parka", size="L", colour="Navy", price_minor=13900, stock={"HAM": 2}),
        },
    )


def collected_web_order(shop, quantities=(2, 1), payment_state="paid"):
    """A web order through the API, picked up at Hamburg's desk: the product's own verbs all the way."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == "web shop"))
    client = client or create_api_client("web shop")[0]
    lines = [{"sku": shop.parka.sku, "quantity": quantities[0]}, {"sku": shop.boots.sku, "quantity": quantities[1]}]
    placed = api_orders.place_web_order(
        {
            "customer": {"email": "mia@example.com", "first_name": "Mia", "last_name": "Jensen"},
            "lines": [line for line in lines if line["quantity"]],
            "fulfilment": "pickup",
            "pickup_location": "HAM",
            "payment_state": payment_state,
        },
        api_client=client,
    )
    order = db.session.get(Order, placed.order.id)
    preparing.mark_ready(order, staff=shop.clerk, shelf_location="A-1")
    handover.hand_over(order, staff=shop.clerk, verification="qr", payment_collected=payment_state != "paid")
    db.session.expire_all()
    return db.session.get(Order, order.id), client


def line_of(order, variant):
    return next(line for line in order.lines if line.variant_id == variant.id)


def ask(order, units, reason="does_not_fit", **extra):
    return receiving.ReturnRequest(
        quantities={(line_of(order, variant).id, grade): q for (variant, grade), q in units.items()},
        reason=reason,
        **extra,
    )


def assert_ledger_explains_every_level():
    for level in db.session.scalars(select(StockLevel)):
        sums = db.session.execute(
            select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.allocated_delta)).where(
                StockMovement.variant_id == level.variant_id, StockMovement.location_id == level.location_id
            )
        ).one()
        assert (level.on_hand, level.allocated) == (sums[0], sums[1])


def test_a_web_order_collected_in_hamburg_comes_back_in_berlin(app, shop):
    add_endpoint("shop", "https://shop.example/hooks", ["return.refund_requested"])
    order, client = collected_web_order(shop)
    ret = receiving.receive_return(
        order,
        ask(order, {(shop.parka, "resell"): 1, (shop.boots, "defective"): 1}, note="zip broken"),
        staff=shop.berlin,
    )
    assert ret.status == "refund_pending" and ret.refund_method == "online" and ret.location_id == shop.ber.id
    assert ret.refund_minor == 12900 + 8900 and ret.shipping_refund_minor == 0  # one parka still with her
    # Resellable → Berlin's stock at once; defective → booked out, never available.
    assert reads.level_at(shop.parka.id, shop.ber.id).available == 1
    assert reads.level_at(shop.boots.id, shop.ber.id).on_hand == 0
    kinds = db.session.scalars(
        select(StockMovement.kind).where(StockMovement.location_id == shop.ber.id).order_by(StockMovement.id)
    ).all()
    assert sorted(kinds) == ["return", "return", "write_off"]
    assert_ledger_explains_every_level()
    db.session.expire_all()
    assert [line.returned_quantity for line in db.session.get(Order, order.id).lines] == [1, 1]
    # The web shop is asked to refund, with the amounts per line; the customer gets a receipt.
    hook = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "return.refund_requested"))
    assert hook.payload["return"]["total_minor"] == 21800 and hook.payload["return"]["currency"] == order.currency
    assert {(line["sku"], line["grade"], line["amount_minor"]) for line in hook.payload["return"]["lines"]} == {
        (shop.parka.sku, "resell", 12900),
        (shop.boots.sku, "defective", 8900),
    }
    receipt = db.session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "return.receipt"))
    assert receipt.recipient == "mia@example.com" and "Berlin" in receipt.body and "218" in receipt.body
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.kind == "returned")) == 1
    # Confirmed by the payment side: refunded, once.
    ret, changed = refunds.confirm_online_refund(ret, api_client=client, reference="re_123")
    assert changed and ret.status == "refunded" and ret.refunded_by_api_client_id == client.id
    again, changed = refunds.confirm_online_refund(db.session.get(Return, ret.id), api_client=client)
    assert not changed and again.refund_reference == "re_123"
    with pytest.raises(Forbidden):  # Hamburg sees it but does not act on Berlin's return
        refunds.record_till_refund(again, "T-1", staff=shop.clerk)


def test_never_more_than_was_collected_and_the_last_unit_brings_the_shipping_fee(app, shop):
    order, _client = collected_web_order(shop)
    order.total_minor += 495  # a shipping fee on top of the goods
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 3}), staff=shop.berlin)
    assert f"line-{line_of(order, shop.parka).id}" in refused.value.fields
    first = receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 2}), staff=shop.berlin)
    assert first.shipping_refund_minor == 0
    order = db.session.get(Order, order.id)
    last = receiving.receive_return(order, ask(order, {(shop.boots, "damaged"): 1}), staff=shop.berlin)
    assert last.shipping_refund_minor == 495 and last.total_refund_minor == 8900 + 495
    order = db.session.get(Order, order.id)
    with pytest.raises(ValidationFailed):
        receiving.receive_return(order, ask(order, {(shop.boots, "resell"): 1}), staff=shop.berlin)


def test_not_ours_is_refused_and_moves_nothing(app, shop):
    order, _client = collected_web_order(shop)
    ret = receiving.receive_return(order, ask(order, {(shop.parka, "not_ours"): 1}), staff=shop.berlin)
    assert ret.status == "refused" and ret.total_refund_minor == 0 and ret.refused_at is not None
    assert reads.level_at(shop.parka.id, shop.ber.id).exists is False
    assert line_of(db.session.get(Order, order.id), shop.parka).returned_quantity == 0


def test_paid_at_the_desk_is_refunded_at_the_till_with_its_reference(app, shop):
    order, _client = collected_web_order(shop, payment_state="pay_at_pickup")
    ret = receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    assert ret.refund_method == "till" and ret.status == "refund_pending"
    assert (
        db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "webhook")) == 0
    )
    with pytest.raises(ValidationFailed):
        refunds.record_till_refund(ret, "  ", staff=shop.berlin)
    with pytest.raises(InvalidTransition):
        refunds.confirm_online_refund(ret, api_client=create_api_client("shop")[0])
    refunds.record_till_refund(ret, "TILL-0042", staff=shop.berlin2)
    ret = db.session.get(Return, ret.id)
    assert (
        ret.status == "refunded" and ret.refund_reference == "TILL-0042" and ret.refunded_by_staff_id == shop.berlin2.id
    )
    with pytest.raises(InvalidTransition):
        refunds.record_till_refund(ret, "TILL-0043", staff=shop.berlin)


def test_the_window_is_enforced_and_a_manager_override_is_audited(app, shop):
    from omnistore.core.audit import AuditEvent

    order, _client = collected_web_order(shop)
    for event in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        event.created_at -= timedelta(days=31)
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    assert "window" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        receiving.receive_return(
            order, ask(order, {(shop.parka, "resell"): 1}, override_window=True), staff=shop.berlin
        )
    assert "Only a manager" in str(refused.value.fields["window"])
    with pytest.raises(ValidationFailed) as refused:
        receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}, override_window=True), staff=shop.boss)
    assert "override_reason" in refused.value.fields
    ret = receiving.receive_return(
        order,
        ask(order, {(shop.parka, "resell"): 1}, override_window=True, override_reason="regular customer"),
        staff=shop.boss,
    )
    assert ret.window_override_reason == "regular customer" and ret.window_overridden_by_staff_id == shop.boss.id
    audit = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "return.window_override").order_by(AuditEvent.id)
    )
    assert audit.staff_id == shop.boss.id and audit.detail["reason"] == "regular customer"


def test_online_purchases_get_at_least_the_legal_fourteen_days(app, shop):
    from omnistore.returns.window import window_of

    app.config["OMNISTORE_RETURN_WINDOW_DAYS"] = 7
    try:
        order, _client = collected_web_order(shop)
        assert window_of(order).days == 14
        order.channel = "store"
        assert window_of(order).days == 7
    finally:
        app.config["OMNISTORE_RETURN_WINDOW_DAYS"] = 30
        db.session.rollback()


def test_an_open_order_cannot_come_back(app, shop, make):
    order = make.order(shop.ham, lines=[(shop.parka, 1, shop.ham)])
    with pytest.raises(InvalidTransition):
        receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)


def test_finding_the_order_by_number_or_its_qr_code(app, shop):
    order, _client = collected_web_order(shop)
    number = order.number
    assert receiving.find_order(number.lower().replace("-", " ")).id == order.id
    assert receiving.find_order(f"https://shop.example/o/{order.pickup.token}").id == order.id
    assert receiving.find_order(order.pickup.token).id == order.id
    with pytest.raises(Exception, match="No order matches"):
        receiving.find_order("OS-26-999999")


def test_two_tablets_returning_the_same_line_at_once_never_return_more_than_was_sold(app, shop):
    """Each round: one unit sold; two clerks in Berlin have the order open (both see 1 returnable) and take it
    back at the same moment. One return is made; the other is refused with the reason, and keeps nothing."""
    staff_ids = [shop.berlin.id, shop.berlin2.id]
    for _round in range(3):
        order, _client = collected_web_order(shop, quantities=(1, 0))
        barrier = threading.Barrier(2)
        results = [None, None]

        def run(i, order_id=order.id, barrier=barrier, results=results):
            with app.app_context():
                try:
                    staff = db.session.get(Staff, staff_ids[i])
                    mine = db.session.get(Order, order_id)
                    wanted = ask(mine, {(shop.parka, "resell"): 1})
                    assert receiving.returnable(mine.lines[0]) == 1
                    barrier.wait(timeout=30)
                    results[i] = receiving.receive_return(mine, wanted, staff=staff).id
                except Exception as error:  # noqa: BLE001 — reported to the test
                    results[i] = error
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        made = [r for r in results if isinstance(r, int)]
        refused = [r for r in results if not isinstance(r, int)]
        assert len(made) == 1 and len(refused) == 1, results
        assert isinstance(refused[0], Conflict) and "only 0 can still come back" in refused[0].message, refused
        db.session.rollback()  # the threads committed after this session's snapshot
        db.session.expire_all()
        line = db.session.scalar(select(OrderLine).where(OrderLine.order_id == order.id))
        assert line.returned_quantity == 1
        assert db.session.scalar(select(func.count()).select_from(Return).where(Return.order_id == order.id)) == 1
    assert reads.level_at(shop.parka.id, shop.ber.id).on_hand == 3
    assert_ledger_explains_every_level()


def test_an_exchange_for_another_size_from_another_store_carries_the_credit(app, shop):
    from omnistore.orders import placing
    from omnistore.returns import exchanges

    order, _client = collected_web_order(shop)
    ret = receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    options = {option.variant.id: option for option in exchanges.exchange_options(ret, shop.ber.id)}
    assert options[shop.parka_l.id].here == 0 and options[shop.parka_l.id].network == 2
    assert options[shop.parka.id].here == 1  # the unit that just came back is on Berlin's shelf again
    with pytest.raises(Forbidden):
        exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.clerk)  # Hamburg did not take it back
    draft = exchanges.start_exchange(ret, shop.parka_l.id, staff=shop.berlin)
    assert draft.customer_id == order.customer_id and draft.location_id == shop.ber.id
    credit = exchanges.credit_for_draft(draft)
    assert credit.ret.id == ret.id and credit.credit_minor == 12900
    with pytest.raises(InvalidTransition):
        exchanges.start_exchange(db.session.get(Return, ret.id), shop.parka.id, staff=shop.berlin)
    placed = placing.place(draft, staff=shop.berlin)
    assert [(line.variant_id, line.source_location_id) for line in placed.lines] == [(shop.parka_l.id, shop.ham.id)]
    db.session.expire_all()
    ret = db.session.get(Return, ret.id)
    assert ret.exchange_order.id == placed.id and placed.total_minor - ret.total_refund_minor == 1000


def test_the_orders_market_sets_the_window_online_never_below_fourteen(app, shop):
    """The market's own window replaces the network's setting; a web order still gets the legal 14 days; outside
    the market's window only a manager's audited override takes goods back."""
    from omnistore.core.audit import AuditEvent
    from omnistore.returns.window import window_of

    order, _client = collected_web_order(shop)
    assert order.market_code == "DE" and window_of(order).days == 30  # no window of its own: the network's
    markets.save_market(dataclasses.replace(markets.terms_of(order.market), return_window_days=60))
    db.session.expire_all()
    assert window_of(order).days == 60
    for event in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        event.created_at -= timedelta(days=45)
    db.session.commit()
    assert window_of(order).open_at()  # 45 days on: open in a 60-day market (closed at the network's 30)
    markets.save_market(dataclasses.replace(markets.terms_of(order.market), return_window_days=7))
    db.session.expire_all()
    assert window_of(order).days == 14  # a web order: the legal minimum, whatever the market says
    order.channel = "store"
    assert window_of(order).days == 7
    db.session.rollback()
    with pytest.raises(ValidationFailed) as refused:
        receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    assert "window" in refused.value.fields
    ret = receiving.receive_return(
        order,
        ask(order, {(shop.parka, "resell"): 1}, override_window=True, override_reason="long trip abroad"),
        staff=shop.boss,
    )
    assert ret.window_overridden_by_staff_id == shop.boss.id
    assert (
        db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "return.window_override").order_by(AuditEvent.id)
        )
        is not None
    )
