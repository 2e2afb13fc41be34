"""Preparing a pickup order at the desk: picking its lines, marking it ready (some lines perhaps short), and
receiving the parcel that brings its last goods; who may act on a pickup order, and whether a line's goods are
at the pickup store.

Goods for a pickup order are reserved (allocated) at the pickup store once they are there: lines the store
supplies itself from the start, lines from elsewhere when their transfer is received (ledger.arrive). So
everything the desk does to stock happens at the pickup location: a short or refused line is released there,
a handed-over line leaves there (ledger.hand_over, in handover.py).
"""

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from omnistore.core import audit, validation
from omnistore.core.db import transaction
from omnistore.core.errors import (
    InvalidTransition,
    OutOfScope,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.statuses import (
    HELD_LINE_STATUSES,
    PREPARING_STATUSES,
    RESERVED_LINE_STATUSES,
    line_word,
)
from omnistore.core.types import utcnow
from omnistore.orders import line_reasons, notifications, rejecting, transfers
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderLine, Transfer
from omnistore.orders.pickup_codes import open_pickup
from omnistore.stock import ledger
from omnistore.stock.ledger import StockChange
from omnistore.stores.models import Location

SHELF_MAX = 32
REASON_MAX = 300


def check_may_act(order, staff):
    """Only staff of the pickup store (admin anywhere) act on a pickup order; others see it as not found."""
    if staff is None:
        raise OutOfScope(_l("No order with that number."))
    if order.fulfilment != "pickup":
        raise InvalidTransition(_l("Order %(number)s is a home delivery, not a pickup.", number=order.number))
    if not staff.is_admin and staff.location_id != order.pickup_location_id:
        raise OutOfScope(_l("No order with that number."))


def line_is_here(order, line):
    """Are this line's goods at the pickup store (supplied by it, or their transfer received there)?"""
    if line.status not in RESERVED_LINE_STATUSES:
        return False
    if line.source_location_id == order.pickup_location_id and line.transfer_id is None:
        return True
    transfer = db.session.get(Transfer, line.transfer_id) if line.transfer_id else None
    return (
        transfer is not None
        and transfer.status == "received"
        and transfer.destination_location_id == order.pickup_location_id
    )


def _clean_text(value, *, max_length, field, errors, required=False, missing=None):
    return validation.text(value, field=field, errors=errors, max_length=max_length, required=required, missing=missing)


def reasons_by_line(order, items, *, field, missing):
    """{line: reason} from a mapping or pairs of (line id, reason); ValidationFailed naming the bad ones."""
    if items is None:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else items
    by_id = {line.id: line for line in order.lines}
    chosen, errors = {}, {}
    try:
        pairs = list(pairs)
    except TypeError:
        raise ValidationFailed(_l("Please check the highlighted fields."), {field: _l("Choose lines.")}) from None
    for pair in pairs:
        try:
            line_id, reason = pair
            line_id = int(line_id)
        except (TypeError, ValueError):
            raise ValidationFailed(
                _l("Please check the highlighted fields."), {field: _l("That line is not part of this order.")}
            ) from None
        line = by_id.get(line_id)
        if line is None:
            raise ValidationFailed(
                _l("Please check the highlighted fields."), {field: _l("That line is not part of this order.")}
            )
        chosen[line] = _clean_text(
            reason, max_length=REASON_MAX, field=f"{field}-{line_id}", errors=errors, required=True, missing=missing
        )
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    return chosen


def mark_picked(order: Order, lines, staff) -> list[OrderLine]:
    """The clerk took these lines (ids or OrderLines) off the shelves for a placed order. Returns the lines
    that changed (picking a picked line again changes nothing)."""
    check_may_act(order, staff)
    wanted = {line if isinstance(line, int) else getattr(line, "id", None) for line in (lines or ())}
    by_id = {line.id: line for line in order.lines}
    if not wanted:
        raise ValidationFailed(_l("Choose the lines you picked."), {"lines": _l("Choose the lines you picked.")})
    if wanted - set(by_id):
        raise ValidationFailed(
            _l("That line is not part of this order."), {"lines": _l("That line is not part of this order.")}
        )
    if order.status not in PREPARING_STATUSES:
        orders._refuse(order, order.status)
    changed = []
    with transaction():
        _lock_order(order)
        for line_id in sorted(wanted):
            line = by_id[line_id]
            if line.status == "picked":
                continue
            if line.status != "allocated":
                raise InvalidTransition(
                    _l("That line cannot be picked: it is %(status)s.", status=line_word(line.status))
                )
            if not line_is_here(order, line):
                raise InvalidTransition(
                    _l(
                        "%(product)s is still on its way from %(location)s.",
                        product=line.variant.product.name,
                        location=line.source_location.name,
                    )
                )
            line.status = "picked"
            changed.append(line)
        if changed:
            orders.record_event(order, "picked", staff=staff, lines=[line.id for line in changed])
    return changed


def _lock_order(order):
    """Bump the order (its updated_at moves the desk's live queue) and hold its row for this transaction,
    and fail if someone else closed it meanwhile."""
    changed = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == order.status)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.refresh(order, ["status"])
        orders._refuse(order, order.status)


def pickup_by_for(location: Location, ready_at: datetime) -> datetime:
    """The end of the local day `hold_days` after `ready_at`: the customer can come all that day."""
    zone = ZoneInfo(location.timezone)
    last_day = ready_at.astimezone(zone).date() + timedelta(days=location.hold_days)
    end = datetime.combine(last_day, time(23, 59, 59), tzinfo=zone)
    return end.astimezone(UTC)


def mark_ready(order: Order, *, staff, shelf_location="", short=()) -> Order:
    """The goods are on the pickup shelf: the order becomes ready, the customer is told.

    `short`: lines that cannot be supplied, as {line id: reason} or (line id, reason) pairs; their allocation is
    released. Every other line must be at the store. Sets ready_at and pickup_by (hold_days of the store).
    """
    check_may_act(order, staff)
    errors = {}
    shelf = _clean_text(shelf_location, max_length=SHELF_MAX, field="shelf_location", errors=errors)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    short_lines = reasons_by_line(order, short, field="short", missing=_l("Say why this line is short."))
    if not orders.can_transition(order, "ready"):
        orders._refuse(order, order.status)
    open_lines = [line for line in order.lines if line.status in HELD_LINE_STATUSES]
    for line in short_lines:
        if line.status not in RESERVED_LINE_STATUSES:
            raise InvalidTransition(
                _l("That line cannot be marked short: it is %(status)s.", status=line_word(line.status))
            )
    if not [line for line in open_lines if line not in short_lines]:
        raise ValidationFailed(
            _l("Every line is short: there is nothing to collect. Cancel the order instead."),
            {"short": _l("At least one line must be ready.")},
        )
    for line in open_lines:
        if not line_is_here(order, line):
            raise InvalidTransition(
                _l(
                    "%(product)s is still on its way from %(location)s.",
                    product=line.variant.product.name,
                    location=line.source_location.name,
                )
            )
    location = db.session.get(Location, order.pickup_location_id)
    now = utcnow()
    with transaction():
        orders.transition(
            order,
            "ready",
            staff=staff,
            location_id=location.id,
            shelf_location=shelf,
            short=[{"line": line.id, "reason": reason} for line, reason in short_lines.items()],
        )
        for line, reason in sorted(short_lines.items(), key=lambda item: (item[0].variant_id, item[0].id)):
            ledger.release(
                StockChange(line.variant_id, location.id, line.quantity, reason=reason, reference=order.number or ""),
                staff,
            )
            line_reasons.typed(line, "short", reason)
        pickup = order.pickup or open_pickup(order)
        pickup.shelf_location = shelf
        pickup.ready_at = now
        pickup.pickup_by = pickup_by_for(location, now)
        audit.record(
            "pickup.ready",
            entity=order,
            staff=staff,
            location_id=location.id,
            shelf_location=shelf,
            short=len(short_lines),
        )
        notifications.order_ready(order)  # the email (QR, code, address, pickup-by) and the order.ready webhook
    return order


def reject_at_desk(order: Order, *, staff, line_id, quantity, reason):
    """The desk cannot supply units of a line it holds for a pickup order (not found, damaged, wrong item):
    orders/rejecting.reject does the rest (stock, count task, the customer's choice). Only the pickup store's
    staff (admin anywhere)."""
    check_may_act(order, staff)
    return rejecting.reject(order, line_id=line_id, quantity=quantity, reason=reason, staff=staff)


def desk_order(number, staff) -> Order:
    """A pickup order of the staff member's store (admin: any), for its pick list and the ready form."""
    order = orders.get_order_for_staff(number, staff)
    check_may_act(order, staff)
    return order


def receive_parcel(transfer, *, staff, shelf_location=""):
    """A parcel arrived at its store (transfers.receive). When it brings the last goods of a pickup order to
    its pickup store, the order becomes ready here too, on the shelf the clerk names (see
    transfers.completes_order: the arriving list's card asks for it) — one transaction for both."""
    with transaction():
        transfers.receive(transfer, staff=staff)
        order = transfer.order  # None: a stock transfer, nothing to make ready
        if (
            order is not None
            and order.status != "cancelled"
            and order.fulfilment == "pickup"
            and transfers.all_at_pickup_store(order)
        ):
            mark_ready(order, staff=staff, shelf_location=shelf_location)
    return transfer
