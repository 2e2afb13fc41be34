"""Orders: reading them within a staff member's scope (placing and transitions arrive with endless aisle)."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Order, OrderLine, Variant
from ..models.orders import ORDER_STATUSES
from .errors import NotFound, OutOfScope, ValidationFailed

PAGE_SIZE = 25


def _in_scope(location_id):
    """Orders a store deals with: collected there, sold there, or supplied from there."""
    supplied_here = exists().where(OrderLine.order_id == Order.id, OrderLine.source_location_id == location_id)
    return or_(Order.pickup_location_id == location_id, Order.origin_location_id == location_id, supplied_here)


def get_order_for_staff(number, staff):
    """The order with `number` if the staff member may see it; NotFound/OutOfScope (a 404) otherwise."""
    number = (number or "").strip().upper()
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number)
        .options(
            selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
            selectinload(Order.lines).selectinload(OrderLine.source_location),
            selectinload(Order.events),
            selectinload(Order.pickup),
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


@dataclass(frozen=True)
class OrderPage:
    orders: list
    page: int
    pages: int
    total: int


def list_orders_for_staff(staff, *, status=None, page=1):
    """Orders of the staff member's store (admin: the network), newest first, paged."""
    if status and status not in ORDER_STATUSES:
        raise ValidationFailed(_l("Unknown status."), {"status": _l("Unknown status.")})
    query = select(Order)
    if not staff.is_admin:
        query = query.where(_in_scope(staff.location_id))
    if status:
        query = query.where(Order.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    orders = db.session.scalars(
        query.options(selectinload(Order.customer), selectinload(Order.pickup_location))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return OrderPage(orders=orders, page=page, pages=pages, total=total)
