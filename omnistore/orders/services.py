"""Orders: reading them within a staff member's scope, and the one place where their status changes."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from omnistore.catalog.models import Variant
from omnistore.core.errors import AlreadyCollected, InvalidTransition, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.pagination import Page, paginate
from omnistore.core.statuses import FINAL_STATUSES, ORDER_STATUSES, OrderStatus, order_word
from omnistore.core.types import utcnow
from omnistore.orders.models import Order, OrderEvent, OrderLine

PAGE_SIZE = 25


def order_number(order_id, placed_at):
    """An order's number, OS-<yy>-<id>: the year it was placed and its id (the demo numbers its orders so, too)."""
    return f"OS-{placed_at:%y}-{order_id:06d}"


def _in_scope(location_id):
    """Orders a store deals with: collected there, sold there, or supplied from there."""
    supplied_here = exists().where(OrderLine.order_id == Order.id, OrderLine.source_location_id == location_id)
    return or_(Order.pickup_location_id == location_id, Order.origin_location_id == location_id, supplied_here)


# An order's lines as its pages show them, in one statement: with what each is and where it comes from.
LINES_SHOWN = selectinload(Order.lines).options(
    joinedload(OrderLine.variant).joinedload(Variant.product), joinedload(OrderLine.source_location)
)


def get_order_for_staff(number, staff):
    """The order with `number` if the staff member may see it; NotFound/OutOfScope (a 404) otherwise."""
    number = (number or "").strip().upper()
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number)
        .options(
            # What every page of one order shows, in three statements: the order with its pickup and customer,
            # its lines with what each is and where it comes from, and its events (each round trip waits its turn).
            joinedload(Order.pickup),
            joinedload(Order.customer),
            LINES_SHOWN,
            selectinload(Order.events),
        )
    )
    if order is None:
        raise NotFound(_l("No order with that number."))
    if not staff.is_admin:
        locations = {order.pickup_location_id, order.origin_location_id}
        locations.update(line.source_location_id for line in order.lines)
        if staff.location_id not in locations:
            raise OutOfScope(_l("No order with that number."))
    return order


def list_orders_for_staff(staff, *, status=None, page=1) -> Page:
    """Orders of the staff member's store (admin: the network), newest first, paged."""
    if status and status not in ORDER_STATUSES:
        raise ValidationFailed(_l("Unknown status."), {"status": _l("Unknown status.")})
    query = select(Order)
    if not staff.is_admin:
        query = query.where(_in_scope(staff.location_id))
    if status:
        query = query.where(Order.status == status)
    return paginate(
        query.options(selectinload(Order.customer), selectinload(Order.pickup_location)).order_by(
            Order.placed_at.desc(), Order.id.desc()
        ),
        page,
        PAGE_SIZE,
    )


# The order status machine of DESIGN.md: the only moves an order can make, per fulfilment.
_S = OrderStatus
TRANSITIONS = {
    "pickup": {
        _S.PLACED: {_S.IN_TRANSIT, _S.READY, _S.CANCELLED},
        _S.IN_TRANSIT: {_S.READY, _S.CANCELLED},
        _S.READY: {_S.COLLECTED, _S.EXPIRED, _S.CANCELLED},
    },
    "delivery": {
        _S.PLACED: {_S.SHIPPED, _S.CANCELLED},
        _S.SHIPPED: {_S.DELIVERED},
    },
}


def ended_at(order):
    """When a final order reached its final status: the time of that event (not `updated_at`, which any later
    write or a bulk load moves). None while the order is open; `updated_at` for a final order without events."""
    if order.status not in FINAL_STATUSES:
        return None
    at = db.session.scalar(
        select(OrderEvent.created_at)
        .where(OrderEvent.order_id == order.id, OrderEvent.to_status == order.status)
        .order_by(OrderEvent.created_at.desc())
        .limit(1)
    )
    return at or order.updated_at


def can_transition(order, to_status):
    return to_status in TRANSITIONS[order.fulfilment].get(order.status, ())


def record_event(order, kind, *, staff=None, api_client=None, location_id=None, from_status="", to_status="", **detail):
    """Add a line to the order's history (placed, picked, notified, checked_in…) in the caller's transaction."""
    if location_id is None and staff is not None:
        location_id = staff.location_id
    event = OrderEvent(
        order_id=order.id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        staff_id=staff.id if staff is not None else None,
        api_client_id=api_client.id if api_client is not None else None,
        location_id=location_id,
        detail=detail,
        created_at=utcnow(),
    )
    db.session.add(event)
    return event


def transition(order, to_status, *, staff=None, api_client=None, location_id=None, kind=None, **detail):
    """Move `order` to `to_status` inside the caller's transaction, and record it in its history.

    The UPDATE is conditional on the status the caller saw, so of two tablets acting on the same order at
    once exactly one wins; the other gets InvalidTransition (AlreadyCollected for a collected order).
    """
    from_status = order.status
    if not can_transition(order, to_status):
        _refuse(order, from_status)
    now = utcnow()
    changed = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.refresh(order, ["status"])
        _refuse(order, order.status)
    # What the UPDATE wrote, as if read back: reading it back would be one more round trip.
    set_committed_value(order, "status", to_status)
    set_committed_value(order, "updated_at", now)
    return record_event(
        order,
        kind or to_status,
        staff=staff,
        api_client=api_client,
        location_id=location_id,
        from_status=from_status,
        to_status=to_status,
        **detail,
    )


def _refuse(order, current):
    if current == OrderStatus.COLLECTED:
        raise AlreadyCollected(_l("Order %(number)s has already been collected.", number=order.number))
    raise InvalidTransition(
        _l("Order %(number)s can no longer change: it is %(status)s.", number=order.number, status=order_word(current)),
        status=current,
    )


def shipping_fee_minor(order) -> int:
    """What the customer pays beyond the goods (a delivery's fee, 0 when waived), the goods net of any offer."""
    return max(order.total_minor - sum(line.net_minor for line in order.lines), 0)
