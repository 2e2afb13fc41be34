"""Goods moving for orders: pick, ship (dispatch), receive (arrive), deliver — with the order following."""

import threading

import pytest

from omnistore.core.errors import InvalidTransition, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.orders import cancelling, transfers
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order, OrderEvent, OrderLine, Transfer
from omnistore.pickups import preparing
from omnistore.stock.models import StockLevel, StockMovement


@pytest.fixture
def net(make):
    class Net:
        ham = make.location("HAM")
        cph = make.location("CPH")
        ber = make.location("BER")
        ham_clerk = make.staff(location=ham, name="Hanna Hamburg")
        cph_clerk = make.staff(location=cph, name="Carl Copenhagen")
        ber_clerk = make.staff(location=ber, name="Bea Berlin")
        boot = make.variant(size="42")
        scarf = make.variant(size="One size")

    return Net


def level(variant, location):
    db.session.expire_all()
    row = db.session.query(StockLevel).filter_by(variant_id=variant.id, location_id=location.id).one_or_none()
    return (row.on_hand, row.allocated) if row else (0, 0)


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def events(order):
    db.session.expire_all()
    return db.session.query(OrderEvent).filter_by(order_id=order.id).order_by(OrderEvent.id).all()


def pickup_order(make, net, *sources):
    """A pickup order at Hamburg with one boot per source, allocated there, and a transfer per other source."""
    lines = []
    for source in sources:
        make.stock(net.boot, source, 3, allocated=1)
        lines.append((net.boot, 1, source))
    order = make.order(net.ham, lines=lines, channel="store")
    moving = [make.transfer(order, source) for source in dict.fromkeys(sources) if source is not net.ham]
    return order, moving


def test_copenhagen_picks_and_ships_and_hamburg_receives_and_the_order_is_ready(make, net):
    order, (transfer,) = pickup_order(make, net, net.cph)

    transfers.pick(transfer, staff=net.cph_clerk)
    assert fresh(Transfer, transfer.id).status == "picked"
    assert fresh(Transfer, transfer.id).picked_at is not None
    assert fresh(Order, order.id).status == "placed"

    transfers.ship(transfer, staff=net.cph_clerk, tracking="  GLS 1234  5678 ")
    moved = fresh(Transfer, transfer.id)
    assert (moved.status, moved.tracking_reference) == ("shipped", "GLS 1234 5678")
    assert moved.shipped_at is not None
    assert level(net.boot, net.cph) == (2, 0)  # the goods left Copenhagen
    assert fresh(Order, order.id).status == "in_transit"
    out = db.session.query(StockMovement).filter_by(location_id=net.cph.id, kind="transfer_out").one()
    assert out.reference == order.number and out.staff_id == net.cph_clerk.id

    preparing.receive_parcel(transfer, staff=net.ham_clerk)
    assert fresh(Transfer, transfer.id).status == "received"
    assert level(net.boot, net.ham) == (1, 1)  # on hand in Hamburg, still reserved for the order
    ready = fresh(Order, order.id)
    assert ready.status == "ready"
    assert [line.status for line in ready.lines] == ["allocated"]
    assert ready.pickup.ready_at is not None and ready.pickup.pickup_by is not None  # the desk's mark_ready

    history = [(e.kind, e.from_status, e.to_status, e.staff_id, e.location_id) for e in events(order)]
    assert history[0] == ("picked", "", "", net.cph_clerk.id, net.cph.id)
    assert history[1] == ("shipped", "placed", "in_transit", net.cph_clerk.id, net.cph.id)
    assert history[2] == ("received", "", "", net.ham_clerk.id, net.ham.id)
    assert history[3][2] == "ready"
    assert events(order)[1].detail["tracking"] == "GLS 1234 5678"


def test_the_order_waits_for_every_transfer(make, net):
    order, (from_cph, from_ber) = pickup_order(make, net, net.cph, net.ber, net.ham)
    transfers.pick(from_cph, staff=net.cph_clerk)
    transfers.ship(from_cph, staff=net.cph_clerk, tracking="PN-1")
    assert fresh(Order, order.id).status == "placed"  # Berlin's goods have not left yet
    transfers.pick(from_ber, staff=net.ber_clerk)
    transfers.ship(from_ber, staff=net.ber_clerk, tracking="DHL-2")
    assert fresh(Order, order.id).status == "in_transit"

    preparing.receive_parcel(from_cph, staff=net.ham_clerk)
    assert fresh(Order, order.id).status == "in_transit"  # one parcel still on the way
    preparing.receive_parcel(from_ber, staff=net.ham_clerk)
    assert fresh(Order, order.id).status == "ready"
    assert level(net.boot, net.ham) == (3 + 2, 1 + 2)  # Hamburg's own boot and the two that came


def test_shipping_needs_picking_first_and_a_second_tap_changes_nothing(make, net):
    order, (transfer,) = pickup_order(make, net, net.cph)
    with pytest.raises(InvalidTransition, match="not been picked"):
        transfers.ship(transfer, staff=net.cph_clerk, tracking="X1")
    transfers.pick(transfer, staff=net.cph_clerk)
    with pytest.raises(InvalidTransition, match="already been picked"):
        transfers.pick(fresh(Transfer, transfer.id), staff=net.cph_clerk)
    transfers.ship(fresh(Transfer, transfer.id), staff=net.cph_clerk, tracking="X1")
    with pytest.raises(InvalidTransition, match="already been shipped"):
        transfers.ship(fresh(Transfer, transfer.id), staff=net.cph_clerk, tracking="X2")
    assert level(net.boot, net.cph) == (2, 0)  # dispatched once
    assert fresh(Transfer, transfer.id).tracking_reference == "X1"
    preparing.receive_parcel(fresh(Transfer, transfer.id), staff=net.ham_clerk)
    with pytest.raises(InvalidTransition, match="already been received"):
        preparing.receive_parcel(fresh(Transfer, transfer.id), staff=net.ham_clerk)
    assert level(net.boot, net.ham) == (1, 1)  # arrived once


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the tracking reference"),
        ("   ", "Enter the tracking reference"),
        ("A" * 101, "At most 100 characters"),
        ("<script>", "Use letters, digits"),
        ("1Z\u0000", "Use letters, digits"),
        (None, "Enter the tracking reference"),
    ],
)
def test_a_bad_tracking_reference_is_refused_at_the_field_and_nothing_changes(make, net, typed, message):
    order, (transfer,) = pickup_order(make, net, net.cph)
    transfers.pick(transfer, staff=net.cph_clerk)
    with pytest.raises(ValidationFailed) as refused:
        transfers.ship(fresh(Transfer, transfer.id), staff=net.cph_clerk, tracking=typed)
    assert message in str(refused.value.fields["tracking"])
    assert fresh(Transfer, transfer.id).status == "picked"
    assert level(net.boot, net.cph) == (3, 1)


def test_a_home_delivery_is_shipped_with_tracking_then_delivered(make, net):
    make.stock(net.boot, net.cph, 2, allocated=1)
    make.stock(net.scarf, net.ber, 2, allocated=2)
    order = make.order(
        net.ham,
        fulfilment="delivery",
        channel="store",
        origin_location=net.ham,
        delivery_address={
            "name": "Ida",
            "street": "Nørregade 1",
            "postcode": "1165",
            "city": "København",
            "country": "DK",
        },
        lines=[(net.boot, 1, net.cph), (net.scarf, 2, net.ber)],
    )
    from_cph = make.transfer(order, net.cph, destination=None)
    from_ber = make.transfer(order, net.ber, destination=None)

    listed = transfers.to_send(net.cph.id)
    assert [t.id for t in listed.to_pick] == [from_cph.id]
    transfers.pick(from_cph, staff=net.cph_clerk)
    transfers.ship(from_cph, staff=net.cph_clerk, tracking="PN 111")
    assert fresh(Order, order.id).status == "placed"
    transfers.pick(from_ber, staff=net.ber_clerk)
    transfers.ship(from_ber, staff=net.ber_clerk, tracking="DHL 222")
    shipped = fresh(Order, order.id)
    assert shipped.status == "shipped"
    assert shipped.tracking_reference == "PN 111, DHL 222"
    assert level(net.scarf, net.ber) == (0, 0)
    assert [t.id for t in transfers.to_send(net.ber.id).out_for_delivery] == [from_ber.id]

    with pytest.raises(InvalidTransition, match="mark it delivered"):
        preparing.receive_parcel(fresh(Transfer, from_ber.id), staff=net.ber_clerk)
    with pytest.raises(OutOfScope):  # Aarhus neither sold nor supplied it
        transfers.mark_delivered(shipped, staff=make.staff(location=make.location("AAR")))

    transfers.mark_delivered(fresh(Order, order.id), staff=net.ber_clerk)
    done = fresh(Order, order.id)
    assert done.status == "delivered"
    assert {line.status for line in done.lines} == {"delivered"}
    assert {t.status for t in transfers.transfers_of(done)} == {"received"}
    assert transfers.to_send(net.ber.id).out_for_delivery == []
    with pytest.raises(InvalidTransition):
        transfers.mark_delivered(done, staff=net.ber_clerk)


def test_goods_of_an_order_cancelled_on_the_way_become_the_stores_own(make, net):
    order, (transfer,) = pickup_order(make, net, net.cph)
    transfers.pick(transfer, staff=net.cph_clerk)
    transfers.ship(transfer, staff=net.cph_clerk, tracking="X1")
    db.session.execute(db.update(Order).where(Order.id == order.id).values(status="cancelled"))
    db.session.commit()
    preparing.receive_parcel(fresh(Transfer, transfer.id), staff=net.ham_clerk)
    assert level(net.boot, net.ham) == (1, 0)  # on the shelf, free to sell
    assert fresh(Order, order.id).status == "cancelled"
    assert db.session.query(OrderLine).filter_by(order_id=order.id).one().status == "released"


def test_each_store_sees_and_acts_on_its_own_lists_only(make, net):
    order, (transfer,) = pickup_order(make, net, net.cph)
    assert [t.id for t in transfers.to_send(net.cph.id).to_pick] == [transfer.id]
    assert transfers.to_send(net.ham.id).count == 0
    assert transfers.to_send(net.ber.id).count == 0
    assert [t.id for t in transfers.arriving(net.ham.id)] == [transfer.id]
    assert transfers.arriving(net.cph.id) == [] and transfers.arriving(net.ber.id) == []
    assert transfers.counts(net.cph.id) == (1, 0)
    assert transfers.counts(net.ham.id) == (0, 0)  # on its way only once shipped

    assert transfers.get_transfer_for_staff(transfer.id, net.cph_clerk, "source").id == transfer.id
    assert transfers.get_transfer_for_staff(transfer.id, net.ham_clerk, "destination").id == transfer.id
    for clerk, side in (
        (net.ham_clerk, "source"),
        (net.ber_clerk, "source"),
        (net.cph_clerk, "destination"),
        (net.ber_clerk, "destination"),
    ):
        with pytest.raises(OutOfScope):
            transfers.get_transfer_for_staff(transfer.id, clerk, side)
    admin = make.staff("admin", net.ber)
    assert transfers.get_transfer_for_staff(transfer.id, admin, "source").id == transfer.id


def test_two_tablets_shipping_the_same_parcel_at_once_dispatch_once(app, make, net):
    if app.database_kind != "postgresql":
        pytest.skip("real concurrency on PostgreSQL")
    order, (transfer,) = pickup_order(make, net, net.cph)
    transfers.pick(transfer, staff=net.cph_clerk)
    results, barrier = [], threading.Barrier(4)

    def attempt(n):
        with app.app_context():
            clerk = db.session.get(type(net.cph_clerk), net.cph_clerk.id)
            moving = db.session.get(Transfer, transfer.id)
            barrier.wait()
            try:
                transfers.ship(moving, staff=clerk, tracking=f"T{n}")
                results.append("ok")
            except InvalidTransition:
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    assert level(net.boot, net.cph) == (2, 0)
    assert db.session.query(StockMovement).filter_by(kind="transfer_out").count() == 1
    assert [e.kind for e in events(order)].count("shipped") == 1


def test_with_the_ordering_service_placed_shipped_cancelled_on_the_way_then_received(make, net):
    from omnistore.customers.models import Customer
    from omnistore.orders import placing

    customer = Customer(first_name="Ida", last_name="Lund", email="ida@example.test", created_channel="store")
    db.session.add(customer)
    db.session.commit()
    make.stock(net.scarf, net.cph, 2)
    draft = order_drafts.start_draft(net.ham_clerk, customer_id=customer.id)
    order_drafts.set_line(draft, net.scarf.id, 2, staff=net.ham_clerk)
    order = placing.place(draft, staff=net.ham_clerk)
    (transfer,) = transfers.transfers_of(order)
    assert (transfer.source_location_id, transfer.destination_location_id) == (net.cph.id, net.ham.id)
    assert level(net.scarf, net.cph) == (2, 2)

    transfers.pick(transfer, staff=net.cph_clerk)
    transfers.ship(fresh(Transfer, transfer.id), staff=net.cph_clerk, tracking="PN 9")
    assert fresh(Order, order.id).status == "in_transit"
    cancelling.cancel(fresh(Order, order.id), staff=net.ham_clerk, reason="changed her mind")
    assert fresh(Transfer, transfer.id).status == "shipped"  # on the road: it still arrives

    preparing.receive_parcel(fresh(Transfer, transfer.id), staff=net.ham_clerk)
    assert level(net.scarf, net.cph) == (0, 0)
    assert level(net.scarf, net.ham) == (2, 0)  # Hamburg's own stock now
    assert fresh(Order, order.id).status == "cancelled"


def test_the_last_parcel_is_known_and_receiving_it_puts_the_order_on_the_shelf_named(make, net):
    order, (from_cph, from_ber) = pickup_order(make, net, net.cph, net.ber)
    for transfer, clerk in ((from_cph, net.cph_clerk), (from_ber, net.ber_clerk)):
        transfers.pick(transfer, staff=clerk)
        transfers.ship(transfer, staff=clerk, tracking="PN-1")
    assert not transfers.completes_order(fresh(Transfer, from_cph.id))  # two parcels on the way: not the last
    preparing.receive_parcel(fresh(Transfer, from_cph.id), staff=net.ham_clerk)
    last = fresh(Transfer, from_ber.id)
    assert transfers.completes_order(last)

    # The desk's rule for the shelf holds here too: a refused shelf changes nothing.
    with pytest.raises(ValidationFailed) as refused:
        preparing.receive_parcel(last, staff=net.ham_clerk, shelf_location="B" * 40)
    assert "shelf_location" in refused.value.fields
    assert fresh(Transfer, from_ber.id).status == "shipped" and fresh(Order, order.id).status == "in_transit"

    preparing.receive_parcel(fresh(Transfer, from_ber.id), staff=net.ham_clerk, shelf_location=" c-07 ")
    ready = fresh(Order, order.id)
    assert ready.status == "ready" and ready.pickup.shelf_location == "c-07"
    assert not transfers.completes_order(fresh(Transfer, from_ber.id))  # received: nothing left to ask
