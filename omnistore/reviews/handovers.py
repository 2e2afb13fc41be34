"""The handover log and the exceptions of a review's scope: who handed over which order, when, how it was verified and
whether the customer refused a line; expiries, cancellations after ready, partial handovers and failed short-code
attempts at the desk."""

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.pagination import Page, paginate
from omnistore.orders.models import VERIFICATIONS, Order, OrderEvent, Pickup
from omnistore.orders.services import PAGE_SIZE
from omnistore.reviews.dashboard import review
from omnistore.reviews.figures import between, partial_line, pickup_scope
from omnistore.stores.models import Staff


@dataclass
class Handover:
    order: Order
    collected_at: datetime
    staff_name: str
    verification: str
    partial: bool


def handover_staff(scope):
    """Staff who handed over in the period (for the filter), by name."""
    query = (
        select(Staff)
        .join(Pickup, Pickup.collected_by_staff_id == Staff.id)
        .join(Order, Order.id == Pickup.order_id)
        .where(*pickup_scope(scope), between(Pickup.collected_at, scope))
        .distinct()
    )
    return sorted(db.session.scalars(query).all(), key=lambda s: (s.name.lower(), s.id))


def handovers(scope, *, staff_id=None, method=None, limit=None, page=1) -> Page:
    """The handovers in the period, newest first (who, when, how verified, partial or complete): a page of
    them, or with `limit` the first `limit` (the CSV export)."""
    if method and method not in VERIFICATIONS:
        raise ValidationFailed(_l("Unknown verification method."), {"method": _l("Unknown verification method.")})
    partial = partial_line()
    query = (
        select(Order, Pickup.collected_at, Staff.name, Pickup.verification, partial.label("partial"))
        .join(Pickup, Pickup.order_id == Order.id)
        .outerjoin(Staff, Staff.id == Pickup.collected_by_staff_id)
        .where(*pickup_scope(scope), Order.status == "collected", between(Pickup.collected_at, scope))
    )
    if staff_id:
        query = query.where(Pickup.collected_by_staff_id == staff_id)
    if method:
        query = query.where(Pickup.verification == method)
    query = query.options(selectinload(Order.customer)).order_by(Pickup.collected_at.desc(), Order.id.desc())
    result = paginate(query, 1 if limit else page, limit or PAGE_SIZE, rows=True)
    return dataclasses.replace(
        result,
        items=[
            Handover(order, at, name or "", verification, bool(is_partial))
            for order, at, name, verification, is_partial in result.items
        ],
    )


@dataclass
class ExceptionRow:
    kind: str  # expired | cancelled_after_ready | partial | code_failed
    at: datetime
    order_number: str
    staff_name: str
    detail: str = ""


def exceptions(scope, *, limit=200):
    """What went wrong in the period, newest first: expiries, cancellations after ready, partial handovers,
    failed short-code attempts at the desk (audit action "pickup.code_failed")."""
    rows = []
    actor = aliased(Staff)
    for kind, event_kind, extra in (
        ("expired", "expired", ()),
        ("cancelled_after_ready", "cancelled", (OrderEvent.from_status == "ready",)),
    ):
        query = (
            select(Order.number, OrderEvent.created_at, actor.name, OrderEvent.detail)
            .select_from(OrderEvent)
            .join(Order, Order.id == OrderEvent.order_id)
            .outerjoin(actor, actor.id == OrderEvent.staff_id)
            .where(
                *pickup_scope(scope),
                OrderEvent.kind == event_kind,
                Order.status == event_kind,
                between(OrderEvent.created_at, scope),
                *extra,
            )
            .order_by(OrderEvent.created_at.desc())
            .limit(limit)
        )
        for number, at, name, detail in db.session.execute(query):
            reason = (detail or {}).get("reason", "") if isinstance(detail, dict) else ""
            rows.append(ExceptionRow(kind, at, number, name or "", str(reason)[:200]))
    for handover in handovers(scope, limit=limit).items:
        if handover.partial:
            rows.append(ExceptionRow("partial", handover.collected_at, handover.order.number, handover.staff_name))
    failed = (
        select(AuditEvent.created_at, AuditEvent.entity_type, AuditEvent.entity_id, Staff.name)
        .outerjoin(Staff, Staff.id == AuditEvent.staff_id)
        .where(AuditEvent.action == "pickup.code_failed", between(AuditEvent.created_at, scope))
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    numbers = {}
    for at, entity_type, entity_id, name in db.session.execute(failed):
        number = ""
        if entity_type == "orders" and entity_id.isdigit():
            if entity_id not in numbers:
                numbers[entity_id] = db.session.scalar(select(Order.number).where(Order.id == int(entity_id))) or ""
            number = numbers[entity_id]
        rows.append(ExceptionRow("code_failed", at, number, name or ""))
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[:limit]


def exception_counts(scope, counts=None):
    """How many of each exception in the period (failed code attempts counted in the audit)."""
    if counts is None:
        counts = review(scope).counts
    failed = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "pickup.code_failed", between(AuditEvent.created_at, scope))
    )
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    return {
        "expired": counts["expired"],
        "cancelled_after_ready": counts["cancelled_after_ready"],
        "partial": counts["partial"],
        "code_failed": db.session.scalar(failed) or 0,
    }
