"""The figures of a review as predicates over orders, and the orders behind each figure.

Each counted figure is one predicate over orders (`figure_condition`), so the list of orders behind a number
(`orders_for_figure`, and the CSV export) is the same query as the figure itself.

The moment each figure is dated by:
- placed: Order.placed_at            - ready: Pickup.ready_at            - collected: Pickup.collected_at
- expired / cancelled: the order's "expired" / "cancelled" event (and the order is in that status now)
- checked in: Pickup.checked_in_at   - endless aisle: Order.placed_at of an order sold by the store
- waiting now / overdue now: the state at `now` (ready on the shelf; past the pickup-by date)
On time: ready at or before promised_at (orders without a promise are not judged).
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import selectinload

from omnistore.core.errors import NotFound
from omnistore.core.extensions import db
from omnistore.core.pagination import Page, paginate
from omnistore.orders.models import Order, OrderEvent, OrderLine, Pickup
from omnistore.orders.services import PAGE_SIZE
from omnistore.stores.models import Location

COUNTED = (
    "placed",
    "ready",
    "collected",
    "expired",
    "cancelled",
    "waiting",
    "overdue",
    "on_time",
    "late",
    "checked_in",
    "endless_aisle",
)
FIGURE_LABELS = {
    "placed": _l("Placed for pickup"),
    "ready": _l("Ready"),
    "collected": _l("Collected"),
    "expired": _l("Expired"),
    "cancelled": _l("Cancelled"),
    "waiting": _l("Waiting now"),
    "overdue": _l("Overdue now"),
    "on_time": _l("Ready on time"),
    "late": _l("Ready late"),
    "checked_in": _l("Check-ins"),
    "endless_aisle": _l("Endless-aisle orders"),
    "cancelled_after_ready": _l("Cancelled after ready"),
    "partial": _l("Partial handovers"),
}


def between(column, scope):
    return and_(column >= scope.start, column < scope.end)


def _event_in_period(kind, scope, *extra):
    return exists().where(
        OrderEvent.order_id == Order.id, OrderEvent.kind == kind, between(OrderEvent.created_at, scope), *extra
    )


def pickup_scope(scope):
    """Pickup orders collected (or to be collected) at the scope's store."""
    conditions = [Order.fulfilment == "pickup"]
    if scope.location is not None:
        conditions.append(Order.pickup_location_id == scope.location.id)
    return conditions


def _sold_elsewhere_line(source_id=None):
    conditions = [OrderLine.order_id == Order.id, OrderLine.source_location_id != Order.origin_location_id]
    if source_id is not None:
        conditions.append(OrderLine.source_location_id == source_id)
    return exists().where(*conditions)


def figure_condition(scope, figure, *, source_id=None):
    """The WHERE clause (over Order outer-joined to Pickup) of the orders a figure counts."""
    ready_in = between(Pickup.ready_at, scope)
    conditions = {
        "placed": between(Order.placed_at, scope),
        "ready": ready_in,
        "collected": and_(Order.status == "collected", between(Pickup.collected_at, scope)),
        "expired": and_(Order.status == "expired", _event_in_period("expired", scope)),
        "cancelled": and_(Order.status == "cancelled", _event_in_period("cancelled", scope)),
        "cancelled_after_ready": and_(
            Order.status == "cancelled", _event_in_period("cancelled", scope, OrderEvent.from_status == "ready")
        ),
        "waiting": Order.status == "ready",
        "overdue": and_(Order.status == "ready", Pickup.pickup_by < scope.now),
        "on_time": and_(ready_in, Order.promised_at.is_not(None), Pickup.ready_at <= Order.promised_at),
        "late": and_(ready_in, Order.promised_at.is_not(None), Pickup.ready_at > Order.promised_at),
        "checked_in": between(Pickup.checked_in_at, scope),
        "partial": and_(Order.status == "collected", between(Pickup.collected_at, scope), partial_line()),
    }
    if figure == "endless_aisle":
        where = [
            between(Order.placed_at, scope),
            Order.origin_location_id.is_not(None),
            _sold_elsewhere_line(source_id),
        ]
        if scope.location is not None:
            where.append(Order.origin_location_id == scope.location.id)
        return and_(*where)
    if figure not in conditions:
        raise NotFound(_l("No such figure."))
    return and_(*pickup_scope(scope), conditions[figure])


def partial_line():
    return exists().where(OrderLine.order_id == Order.id, OrderLine.status.in_(("refused", "short")))


def orders_for_figure(scope, figure, *, source=None, page=1) -> Page:
    """The orders behind a figure, newest first, paged like the orders list."""
    source_id = None
    if source:
        source_id = db.session.scalar(select(Location.id).where(Location.code == str(source).strip().upper()[:16]))
        if source_id is None:
            raise NotFound(_l("No store with that code."))
    query = (
        select(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure, source_id=source_id))
    )
    return paginate(
        query.options(
            selectinload(Order.customer), selectinload(Order.pickup_location), selectinload(Order.pickup)
        ).order_by(Order.placed_at.desc(), Order.id.desc()),
        page,
        PAGE_SIZE,
    )


def all_orders_for_figure(scope, figure, *, source_id=None, limit=50_000):
    """Every order behind a figure (for the CSV export), oldest first."""
    return db.session.scalars(
        select(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure, source_id=source_id))
        .options(selectinload(Order.customer), selectinload(Order.pickup_location), selectinload(Order.pickup))
        .order_by(Order.placed_at, Order.id)
        .limit(limit)
    ).all()


def _count(scope, figure):
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Order)
            .outerjoin(Pickup, Pickup.order_id == Order.id)
            .where(figure_condition(scope, figure))
        )
        or 0
    )
