"""Taking goods back at the counter: finding the order (at any store of the network), what may still be
returned of each line, and the return itself — lines, a grade per unit, the stock ledger, the refund owed.

`receive_return` is one transaction: the order's row is locked, each line's returned quantity rises in one
conditional UPDATE that never lets it pass what was collected or delivered (two tablets returning the same
line at once: one wins, the other is refused and nothing of it is kept), the goods go through the ledger
(resell → a `return` movement here, available at once on every tablet; damaged or defective → `return` and
`write_off`, never available; not ours → refused, nothing moves), the refund is computed (refunds.py), and
the receipt e-mail, the order's history and the refund webhook are written with it.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.statuses import LineStatus, order_word
from omnistore.core.types import utcnow
from omnistore.orders import notifications, placing
from omnistore.orders.models import Order, OrderLine, Pickup
from omnistore.orders.services import record_event
from omnistore.returns import labels, refunds
from omnistore.returns.models import GRADES, REASONS, Return, ReturnLine
from omnistore.returns.window import RETURNABLE_ORDER_STATUSES, window_of
from omnistore.stock import ledger
from omnistore.stock.ledger import StockChange

RETURNABLE_LINE_STATUSES = (LineStatus.COLLECTED, LineStatus.DELIVERED)
NOTE_MAX = 500
OVERRIDE_REASON_MAX = 300
MAX_UNITS = 10_000
_NUMBER = re.compile(r"^OS-?(\d{2})-?(\d{1,9})$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


# --- finding the order ----------------------------------------------------------------------------------


def _order_query():
    return select(Order).options(
        selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
        selectinload(Order.customer),
        selectinload(Order.pickup),
    )


def find_order(code) -> Order:
    """The order a customer brings goods back from, at any store: its number as printed on the receipt or
    the e-mail (OS-26-000123; case, spaces and a missing dash do not matter), or its QR code (the status
    link, or its bare token, as the camera or a wedge scanner reads it)."""
    value = (code if isinstance(code, str) else "").strip()[:300]
    if not value:
        raise ValidationFailed(
            _l("Scan the receipt's QR code or type the order number."),
            {"code": _l("Scan the receipt's QR code or type the order number.")},
        )
    compact = re.sub(r"\s+", "", value).upper()
    number = _NUMBER.match(compact)
    order = None
    if number:
        order = db.session.scalar(_order_query().where(Order.number == f"OS-{number[1]}-{int(number[2]):06d}"))
    else:
        token = value
        if "/" in value:
            try:
                parts = [part for part in urlsplit(value).path.split("/") if part]
            except ValueError:
                parts = []
            token = parts[-1] if len(parts) >= 2 and parts[-2] == "o" else ""
        if _TOKEN.match(token):
            order = db.session.scalar(
                _order_query().join(Pickup, Pickup.order_id == Order.id).where(Pickup.token == token)
            )
    if order is None:
        message = _l("No order matches “%(code)s”. Type the number as printed, e.g. OS-26-000123.", code=value[:40])
        raise NotFound(message, fields={"code": message})
    return order


def get_order(number) -> Order:
    order = db.session.scalar(_order_query().where(Order.number == (number or "").strip().upper()[:20]))
    if order is None:
        raise NotFound(_l("No order with that number."))
    return order


def returnable(line) -> int:
    """Units of the line that may still come back: collected or delivered, minus what came back already."""
    if line.status not in RETURNABLE_LINE_STATUSES:
        return 0
    return max(line.quantity - line.returned_quantity, 0)


def returns_of(order) -> list[Return]:
    return list(
        db.session.scalars(
            select(Return)
            .where(Return.order_id == order.id)
            .options(selectinload(Return.lines).selectinload(ReturnLine.variant), selectinload(Return.location))
            .order_by(Return.created_at, Return.id)
        )
    )


# --- the return -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnRequest:
    """What the clerk filled in: `quantities` maps (order line id, grade) to the units (as typed),
    `reason` one of REASONS with an optional `note`; outside the window a manager sets `override_window`
    and says why."""

    quantities: dict = field(default_factory=dict)
    reason: str = ""
    note: str = ""
    override_window: bool = False
    override_reason: str = ""


def _whole(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = (value if isinstance(value, str) else "").strip()
    if text == "":
        return 0
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _checked(order, request: ReturnRequest, staff):
    """The request's units as {(line, grade): quantity}, or ValidationFailed with a message per field."""
    errors = {}
    lines = {line.id: line for line in order.lines}
    units = {}
    for key, typed in (request.quantities or {}).items():
        line_id, grade = key if isinstance(key, tuple) and len(key) == 2 else (None, None)
        name = f"qty-{line_id}-{grade}"
        if line_id not in lines or grade not in GRADES:
            errors["lines"] = _l("That line is not part of this order.")
            continue
        quantity = _whole(typed)
        if quantity is None or quantity > MAX_UNITS:
            errors[name] = _l("A whole number of units, like 1.")
        elif quantity:
            units[lines[line_id], grade] = quantity
    for line in order.lines:
        taken = sum(q for (item, grade), q in units.items() if item is line and grade != "not_ours")
        refused = sum(q for (item, grade), q in units.items() if item is line and grade == "not_ours")
        left = returnable(line)
        if taken > left:
            errors[f"line-{line.id}"] = _l(
                "Only %(left)d of this line can come back (%(quantity)d bought, %(returned)d returned already).",
                left=left,
                quantity=line.quantity if line.status in RETURNABLE_LINE_STATUSES else 0,
                returned=line.returned_quantity,
            )
        elif refused > line.quantity:
            errors[f"line-{line.id}"] = _l("More units refused than were bought.")
    if not units and not errors:
        errors["lines"] = _l("Say how many units come back, and their grade.")
    if request.reason not in REASONS:
        errors["reason"] = _l("Choose the reason the customer gives.")
    note = (request.note if isinstance(request.note, str) else "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = _l("At most %(max)d characters.", max=NOTE_MAX)
    if request.reason == "other" and not note:
        errors["note"] = _l("Say what the reason is.")
    override = bool(request.override_window)
    override_reason = (request.override_reason if isinstance(request.override_reason, str) else "").strip()
    window = window_of(order)
    if not window.open_at():
        if not override:
            errors["window"] = _l(
                "Outside the return window (%(days)d days). A manager can take it back anyway, with a reason.",
                days=window.days,
            )
        elif not staff.is_manager:
            errors["window"] = _l("Only a manager can take goods back after the return window.")
        elif not override_reason:
            errors["override_reason"] = _l("Say why the goods are taken back after the window.")
        elif len(override_reason) > OVERRIDE_REASON_MAX:
            errors["override_reason"] = _l("At most %(max)d characters.", max=OVERRIDE_REASON_MAX)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    return units, note, (override_reason if not window.open_at() else "")


def _refuse_status(order):
    raise InvalidTransition(
        _l(
            "Order %(number)s is %(status)s: only collected or delivered goods can come back.",
            number=order.number,
            status=order_word(order.status),
        ),
        status=order.status,
    )


def receive_return(order: Order, request: ReturnRequest, *, staff) -> Return:
    """Take goods of `order` back at `staff`'s store (see the module docstring). Returns the Return, refund
    pending (or refused when nothing is owed)."""
    if order.status not in RETURNABLE_ORDER_STATUSES:
        _refuse_status(order)
    units, note, override_reason = _checked(order, request, staff)
    location_id = staff.location_id
    now = utcnow()
    with transaction() as session:
        # Returns of one order one after the other (PostgreSQL; SQLite's write transaction holds the database):
        # whether this one brings the last unit back (the shipping fee) is decided on what is committed.
        session.execute(select(Order.id).where(Order.id == order.id).with_for_update(key_share=True)).all()
        per_line = {}
        for (line, grade), quantity in units.items():
            if grade != "not_ours":
                per_line[line] = per_line.get(line, 0) + quantity
        for line in sorted(per_line, key=lambda item: item.id):
            raised = session.execute(
                update(OrderLine)
                .where(
                    OrderLine.id == line.id,
                    OrderLine.status.in_(RETURNABLE_LINE_STATUSES),
                    OrderLine.returned_quantity + per_line[line] <= OrderLine.quantity,
                )
                .values(returned_quantity=OrderLine.returned_quantity + per_line[line])
                .returning(OrderLine.returned_quantity)
                .execution_options(synchronize_session=False)
            ).one_or_none()
            if raised is None:
                session.refresh(line, ["returned_quantity"])
                raise Conflict(
                    _l(
                        "Meanwhile %(returned)d of %(quantity)d units of %(product)s were returned: only %(left)d "
                        "can still come back.",
                        returned=line.returned_quantity,
                        quantity=line.quantity,
                        product=line.variant.product.name,
                        left=returnable(line),
                    )
                )
        for line in per_line:
            session.expire(line, ["returned_quantity"])
        ret = Return(
            order_id=order.id,
            location_id=location_id,
            status="received",
            reason=request.reason,
            note=note,
            currency=order.currency,
            received_by_staff_id=staff.id,
            window_overridden_by_staff_id=staff.id if override_reason else None,
            window_override_reason=override_reason,
            created_at=now,
        )
        session.add(ret)
        session.flush()
        reason_text = labels.label(labels.REASON_LABELS, request.reason)
        reference = order.number or ""
        # Grade and disposition, in variant order (the ledger's lock order).
        for (line, grade), quantity in sorted(units.items(), key=lambda item: (item[0][0].variant_id, item[0][0].id)):
            disposition = {"resell": "restocked", "not_ours": "refused"}.get(grade, "written_off")
            if grade != "not_ours":
                change = StockChange(
                    line.variant_id,
                    location_id,
                    quantity,
                    reason=_("Return %(id)d: %(reason)s", id=ret.id, reason=reason_text),
                    reference=reference,
                )
                ledger.take_back(change, staff)
                if disposition == "written_off":
                    ledger.write_off(
                        StockChange(
                            line.variant_id,
                            location_id,
                            quantity,
                            reason=_(
                                "Return %(id)d: %(grade)s",
                                id=ret.id,
                                grade=labels.label(labels.GRADE_LABELS, grade),
                            ),
                            reference=reference,
                        ),
                        staff,
                    )
            session.add(
                ReturnLine(
                    return_id=ret.id,
                    order_line_id=line.id,
                    variant_id=line.variant_id,
                    quantity=quantity,
                    grade=grade,
                    disposition=disposition,
                    refund_minor=quantity * refunds.unit_refund_minor(line, grade),
                )
            )
        session.flush()
        session.refresh(ret)
        ret.graded_at = now
        ret.refund_minor = sum(item.refund_minor for item in ret.lines)
        bought = sum(line.quantity for line in order.lines if line.status in RETURNABLE_LINE_STATUSES)
        back = sum(
            session.scalar(select(OrderLine.returned_quantity).where(OrderLine.id == line.id)) or 0
            for line in order.lines
            if line.status in RETURNABLE_LINE_STATUSES
        )
        shipping_refunded = any(
            r.shipping_refund_minor for r in session.scalars(select(Return).where(Return.order_id == order.id))
        )
        if ret.refund_minor and bought and back >= bought and not shipping_refunded:
            ret.shipping_refund_minor = placing.shipping_fee_minor(order)
        if ret.total_refund_minor:
            ret.status = "refund_pending"
            ret.refund_method = refunds.refund_method(order)
            ret.refund_requested_at = now
        else:
            ret.status = "refused"
            ret.refund_method = "none"
            ret.refused_at = now
        session.flush()
        record_event(
            order,
            "returned",
            staff=staff,
            location_id=location_id,
            return_id=ret.id,
            units=sum(item.quantity for item in ret.lines if item.grade != "not_ours"),
            refund_minor=ret.total_refund_minor,
        )
        audit.record(
            "return.received",
            entity=ret,
            staff=staff,
            location_id=location_id,
            order=order.number,
            units=sum(item.quantity for item in ret.lines),
            refund_minor=ret.total_refund_minor,
            method=ret.refund_method,
        )
        if override_reason:
            audit.record(
                "return.window_override",
                entity=ret,
                staff=staff,
                location_id=location_id,
                order=order.number,
                reason=override_reason,
            )
        notifications.return_receipt(order, receipt_rows(ret), ret)
        if ret.refund_method == "online":
            refunds.queue_webhook(ret, "return.refund_requested")
    return ret


def receipt_rows(ret: Return) -> list[dict]:
    """What the receipt lists: per returned line, the product, the units, the grade's outcome, the refund."""
    rows = []
    for item in ret.lines:
        variant = item.variant
        rows.append(
            {
                "name": variant.product.name,
                "detail": " · ".join(part for part in (variant.size, variant.colour) if part),
                "quantity": item.quantity,
                "refused": item.grade == "not_ours",
                "refund_minor": item.refund_minor,
            }
        )
    return rows


def recent_returns(location_id, *, limit=30) -> list[Return]:
    """The store's latest returns, the ones still owing a refund first."""
    rows = db.session.scalars(
        select(Return)
        .where(Return.location_id == location_id)
        .options(selectinload(Return.order), selectinload(Return.lines))
        .order_by(Return.created_at.desc(), Return.id.desc())
        .limit(limit)
    ).all()
    return sorted(rows, key=lambda r: r.status != "refund_pending")
