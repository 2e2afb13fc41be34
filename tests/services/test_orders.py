"""The order status machine: legal moves pass and are recorded, illegal and concurrent ones are refused."""

import threading

import pytest

from omnistore.core.db import transaction
from omnistore.core.errors import AlreadyCollected, InvalidTransition
from omnistore.core.extensions import db
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderEvent
from tests.helpers import count_statements


@pytest.fixture
def store(make):
    return make.location("HAM")


def test_a_legal_move_changes_the_status_and_records_who_and_what(make, store):
    clerk = make.staff(location=store)
    order = make.order(store)
    with transaction():
        orders.transition(order, "ready", staff=clerk, shelf="B3")
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "ready"
    event = db.session.query(OrderEvent).filter_by(order_id=order.id).one()
    assert (event.kind, event.from_status, event.to_status) == ("ready", "placed", "ready")
    assert event.staff_id == clerk.id and event.location_id == store.id and event.detail == {"shelf": "B3"}


def test_a_move_knows_what_it_wrote_without_reading_the_order_back(make, store):
    order = make.order(store)
    with count_statements("SELECT") as seen, transaction():
        orders.transition(order, "ready")
        status, updated_at = order.status, order.updated_at
    assert not [statement for statement in seen if "FROM orders" in statement], seen
    db.session.expire_all()
    assert (status, updated_at) == (order.status, order.updated_at) and status == "ready"


@pytest.mark.parametrize(
    ("fulfilment", "status", "target"),
    [
        ("pickup", "placed", "collected"),
        ("pickup", "cancelled", "ready"),
        ("pickup", "expired", "collected"),
        ("pickup", "placed", "shipped"),
        ("delivery", "placed", "ready"),
        ("delivery", "delivered", "cancelled"),
    ],
)
def test_an_illegal_move_is_refused_and_changes_nothing(make, store, fulfilment, status, target):
    order = make.order(store, status=status, fulfilment=fulfilment)
    with pytest.raises(InvalidTransition), transaction():
        orders.transition(order, target)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == status
    assert db.session.query(OrderEvent).count() == 0


def test_a_collected_order_says_so(make, store):
    order = make.order(store, status="collected")
    with pytest.raises(AlreadyCollected), transaction():
        orders.transition(order, "collected")


def test_a_stale_copy_loses_to_the_change_made_meanwhile(make, store):
    order = make.order(store, status="ready")
    stale = db.session.get(Order, order.id)
    with transaction():
        db.session.execute(db.update(Order).where(Order.id == order.id).values(status="collected"))
    with pytest.raises(AlreadyCollected), transaction():
        orders.transition(stale, "collected")
    assert db.session.query(OrderEvent).count() == 0


def test_two_tablets_collecting_at_once_collect_once(app, make, store):
    order_id = make.order(store, status="ready").id
    barrier = threading.Barrier(8)
    outcomes = []

    def collect():
        with app.app_context():
            order = db.session.get(Order, order_id)
            barrier.wait()
            try:
                with transaction():
                    orders.transition(order, "collected")
                outcomes.append("collected")
            except AlreadyCollected:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=collect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["collected"] + ["refused"] * 7
    assert db.session.query(OrderEvent).filter_by(order_id=order_id, to_status="collected").count() == 1
