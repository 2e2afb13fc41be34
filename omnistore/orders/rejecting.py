"""Rejecting units of an order line at pick time, and sourcing them again.

A store asked to pick units it cannot supply rejects them — per line and per quantity — from its "to pick &
send" list (a transfer not yet on the road) or from the pickup desk's pick list (goods reserved at the pickup
store). `reject(order, line_id=…, quantity=…, reason=…, staff=…)` is one transaction:

- the order (and the line's transfer) are claimed by conditional UPDATEs, so a rejection racing a cancel, a
  shipment or another rejection of the same line finds out and changes nothing;
- the rejected units leave the line: a whole line becomes "short", part of one is split off as a short line
  of its own (the rest keeps moving);
- the reason's stock effect goes through the ledger where the units are reserved:
    not_found   the units are not there: on_hand and allocated fall (ledger.write_off_reserved), and a count task is
                raised for the variant there (stock/counts.raise_count_task);
    damaged     booked out as damaged (ledger.write_off_reserved, reason "damaged");
    wrong_item  the shelf holds something else under that label: the reservation is released
                (ledger.release) and a count task is raised;
- a LineRejection row records who, when, why, and for how long (OMNISTORE_REJECTION_EXCLUDE_HOURS) sourcing
  does not choose that store for that variant again (orders/sourcing.rejected_recently);
- then the units are sourced again (`resource`):
    a home delivery: at once, from the next source under the same rules (orders/sourcing.propose without the
    rejecting store); the new line carries its "why this store". Nobody can send it: the line is dropped and
    the customer told;
    a pickup order never changes store silently: the customer is e-mailed and chooses on their order page
    (orders/rejection_choices.py) — wait for a transfer, collect at another store, or drop the line — with
    a default after OMNISTORE_REJECTION_CHOICE_HOURS.
The other lines of the order keep moving; an order left with no live line is cancelled (the one cancel verb).
"""

from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.statuses import (
    HELD_LINE_STATUSES,
    OPEN_TRANSFER_STATUSES,
    PREPARING_STATUSES,
    RESERVED_LINE_STATUSES,
    LineStatus,
    TransferStatus,
    line_word,
    order_word,
)
from omnistore.core.types import utcnow
from omnistore.orders import line_reasons, notifications, sourcing, transfer_capacity
from omnistore.orders import services as orders
from omnistore.orders.models import REJECTION_REASONS, LineRejection, Order, OrderLine, Transfer
from omnistore.orders.order_rules import LineRequest
from omnistore.stock import ledger
from omnistore.stock.counts import raise_count_task
from omnistore.stores.models import Location

COUNTED_REASONS = ("not_found", "wrong_item")  # these raise a count task for the variant at the store


reason_label = line_reasons.rejection_label


# --- where, and who ---------------------------------------------------------------------------------------


def where_reserved(line, transfer=None):
    """The location whose stock holds this line's units now: its source while its transfer has not left (or
    it has none), the pickup store once the transfer was received there; None while on the road or when the
    line holds nothing."""
    if line.status not in RESERVED_LINE_STATUSES:
        return None
    if line.transfer_id is None:
        return line.source_location_id
    transfer = transfer or db.session.get(Transfer, line.transfer_id)
    if transfer.status in OPEN_TRANSFER_STATUSES:
        return transfer.source_location_id
    if transfer.status == TransferStatus.RECEIVED and transfer.destination_location_id is not None:
        return transfer.destination_location_id
    return None


def may_reject(order, line, staff) -> bool:
    """Can `staff` reject units of `line` now: the order is still being prepared and the units are reserved at
    the staff member's store (an admin: anywhere)."""
    if staff is None or order.status not in PREPARING_STATUSES:
        return False
    where = where_reserved(line)
    return where is not None and (staff.is_admin or staff.location_id == where)


def _checked(order, line_id, quantity, reason):
    """(line, quantity, reason) from the form's values; ValidationFailed naming the field otherwise."""
    line = next((line for line in order.lines if line.id == line_id), None) if isinstance(line_id, int) else None
    if line is None:
        raise ValidationFailed(_("That line is not part of this order."), {"line": _("Choose a line of this order.")})
    if reason not in REJECTION_REASONS:
        raise ValidationFailed(
            _("Please say why you cannot supply it."), {"reason": _("Choose: not found, damaged or wrong item.")}
        )
    if isinstance(quantity, str):
        quantity = int(quantity.strip()) if quantity.strip().isascii() and quantity.strip().isdigit() else None
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= line.quantity:
        raise ValidationFailed(
            _("Please check the quantity."),
            {"quantity": _("Enter a whole number from 1 to %(max)d.", max=line.quantity)},
        )
    return line, quantity, reason


# --- the verb ---------------------------------------------------------------------------------------------


def reject(order: Order, *, line_id, quantity, reason, staff) -> LineRejection:
    """`staff` cannot supply `quantity` units of the order's line `line_id` for `reason` (see the module
    docstring). Returns the LineRejection, its outcome decided (home delivery) or pending (pickup)."""
    line, quantity, reason = _checked(order, line_id, quantity, reason)
    if order.status not in PREPARING_STATUSES:
        raise InvalidTransition(
            _(
                "Order %(number)s is %(status)s: nothing is picked for it any more.",
                number=order.number,
                status=order_word(order.status),
            )
        )
    if line.status not in RESERVED_LINE_STATUSES:
        raise InvalidTransition(_("That line cannot be rejected: it is %(status)s.", status=line_word(line.status)))
    where = where_reserved(line)
    if where is None:
        raise InvalidTransition(_("That line is on its way: it can only be rejected where its goods are."))
    if not staff.is_admin and staff.location_id != where:
        raise OutOfScope(_("No order with that number."))
    now = utcnow()
    with transaction() as session:
        _claim(session, order, line, quantity)
        store = session.get(Location, where)
        rejected = _split_off(session, order, line, quantity, reason, store)
        change = ledger.StockChange(
            line.variant_id,
            where,
            quantity,
            reason=_stock_reason(reason, order),
            reference=order.number or "",
        )
        if reason == "wrong_item":
            ledger.release(change, staff)
        else:
            ledger.write_off_reserved(change, staff)
        if reason in COUNTED_REASONS:
            raise_count_task(where, line.variant_id, reason, staff, reference=order.number or "")
        rejection = LineRejection(
            order_id=order.id,
            line_id=rejected.id,
            variant_id=line.variant_id,
            location_id=where,
            quantity=quantity,
            reason=reason,
            staff_id=staff.id,
            created_at=now,
            exclude_until=now + timedelta(hours=current_app.config["OMNISTORE_REJECTION_EXCLUDE_HOURS"]),
            outcome="pending",
            decided_by="",
        )
        session.add(rejection)
        session.flush()
        orders.record_event(
            order,
            "rejected",
            staff=staff,
            location_id=where,
            line=rejected.id,
            variant_id=line.variant_id,
            quantity=quantity,
            rejected_because=reason,
            store=store.code,
        )
        audit.record(
            "order.line_rejected",
            entity=order,
            staff=staff,
            location_id=where,
            number=order.number,
            line=rejected.id,
            quantity=quantity,
            reason=reason,
        )
        _close_empty_transfers(session, order)
        if order.fulfilment == "delivery":
            resource(rejection, decided_by="system", now=now)
        else:
            rejection.choice_due_at = now + timedelta(hours=current_app.config["OMNISTORE_REJECTION_CHOICE_HOURS"])
            session.flush()
            notifications.line_rejected(order, rejection)
    return rejection


def _stock_reason(reason, order):
    if reason == "not_found":
        return _("Not found when picking order %(number)s", number=order.number)
    if reason == "damaged":
        return _("Damaged: found when picking order %(number)s", number=order.number)
    return _("Wrong item or label when picking order %(number)s", number=order.number)


def _claim(session, order, line, quantity):
    """Hold the order's row (conditional on the status seen: a cancel or a handover that came first wins), the
    line's transfer (conditional on not having left: a shipment that came first wins) and the line (its
    status and quantity as seen: a second rejection of the same units loses)."""
    changed = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == order.status)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.refresh(order, ["status"])
        orders._refuse(order, order.status)
    if line.transfer_id is not None:
        held = session.execute(
            update(Transfer)
            .where(Transfer.id == line.transfer_id, Transfer.status.in_((*OPEN_TRANSFER_STATUSES, "received")))
            .values(status=Transfer.status)
            .execution_options(synchronize_session=False)
        ).rowcount
        if held != 1:
            raise InvalidTransition(_("This transfer has already been shipped: it can no longer be rejected here."))
    still = session.execute(
        update(OrderLine)
        .where(
            OrderLine.id == line.id,
            OrderLine.status == line.status,
            OrderLine.quantity == line.quantity,
            OrderLine.quantity >= quantity,
        )
        .values(quantity=OrderLine.quantity)
        .execution_options(synchronize_session=False)
    ).rowcount
    if still != 1:
        session.refresh(line, ["status", "quantity"])
        raise InvalidTransition(_("That line changed a moment ago. Check it and try again."))


def _split_off(session, order, line, quantity, reason, store):
    """The rejected units as a short line: the line itself when all of it, else a new line split off it."""
    params = {"reason": reason, "store": store.name}
    if quantity == line.quantity:
        line_reasons.mark(line, LineStatus.SHORT, "rejected", **params)
        session.flush()
        return line
    line.quantity -= quantity
    rejected = OrderLine(
        order_id=order.id,
        variant_id=line.variant_id,
        quantity=quantity,
        unit_price_minor=line.unit_price_minor,
        source_location_id=line.source_location_id,
        transfer_id=line.transfer_id,
        status_reason="",
        source_reason=line.source_reason,
    )
    line_reasons.mark(rejected, LineStatus.SHORT, "rejected", **params)
    order.lines.append(rejected)
    session.flush()
    return rejected


def _close_empty_transfers(session, order):
    """A transfer whose every line was rejected before it left has nothing to send: cancelled."""
    for transfer in session.scalars(
        select(Transfer).where(Transfer.order_id == order.id, Transfer.status.in_(OPEN_TRANSFER_STATUSES))
    ):
        lines = session.scalars(select(OrderLine.status).where(OrderLine.transfer_id == transfer.id)).all()
        if lines and all(status not in HELD_LINE_STATUSES for status in lines):
            transfer.status = TransferStatus.CANCELLED
    session.flush()


# --- sourcing again ---------------------------------------------------------------------------------------


def replacement_plan(rejection, *, now=None):
    """Where the rejected units could come from now for the same order (same pickup store, or the same
    delivery address), the rejecting store left out: the PlannedLine, or None when nobody can send them."""
    order = rejection.order
    request = sourcing.SourcingRequest(
        lines=(LineRequest(rejection.variant_id, rejection.quantity),),
        fulfilment=order.fulfilment,
        pickup_location_id=order.pickup_location_id,
        delivery_country=(order.delivery_address or {}).get("country"),
        selling_location_id=order.origin_location_id if order.fulfilment == "delivery" else None,
        exclude=((rejection.variant_id, rejection.location_id),),
        now=now or utcnow(),
    )
    proposal = sourcing.propose(request)
    return proposal.lines[0] if proposal.complete else None


def resource(rejection, *, decided_by, now=None, staff=None) -> LineRejection:
    """Source the rejected units again for the same order (inside the caller's transaction): a new line from
    the next source under the same rules, reserved there (its safety stock kept) with a transfer (its daily
    capacity claimed under its lock). Nobody can send them: the line is dropped (`drop`)."""
    now = now or utcnow()
    order = rejection.order
    with transaction() as session:
        planned = replacement_plan(rejection, now=now)
        if planned is None:
            return drop(rejection, decided_by=decided_by, outcome="unavailable", now=now)
        source = planned.source
        own = order.fulfilment == "pickup" and source.id == order.pickup_location_id
        if not own:
            transfer_capacity.claim_transfer_capacity(session, [source], now)
        ledger.allocate(
            ledger.StockChange(
                rejection.variant_id,
                source.id,
                rejection.quantity,
                _("Order %(number)s", number=order.number),
                order.number,
            ),
            staff,
            keep_safety_stock=planned.keeps_safety_stock,
        )
        line = OrderLine(
            order_id=order.id,
            variant_id=rejection.variant_id,
            quantity=rejection.quantity,
            unit_price_minor=rejection.line.unit_price_minor,
            source_location_id=source.id,
            status=LineStatus.ALLOCATED,
            status_reason="",
            source_reason={"code": planned.reason_code, "params": planned.reason_params},
        )
        if not own:
            line.transfer_id = _open_transfer(session, order, source, now).id
        order.lines.append(line)
        session.flush()
        rejection.outcome = "resourced"
        rejection.replacement_line_id = line.id
        rejection.decided_at, rejection.decided_by = now, decided_by
        if order.promised_at is not None and planned.promised_date is not None:
            promised = _start_of(planned.promised_date)
            if promised > order.promised_at:
                order.promised_at = promised
        session.flush()
        orders.record_event(
            order,
            "resourced",
            staff=staff,
            location_id=source.id,
            line=line.id,
            rejection=rejection.id,
            source=source.code,
            reason_code=planned.reason_code,
            reason_params=planned.reason_params,
            promised_date=planned.promised_date.isoformat() if planned.promised_date else None,
            decided_by=decided_by,
        )
    return rejection


def _start_of(day):
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _open_transfer(session, order, source, now):
    """The order's transfer from `source` still waiting to be picked, or a new one."""
    transfer = session.scalar(
        select(Transfer).where(
            Transfer.order_id == order.id,
            Transfer.source_location_id == source.id,
            Transfer.status == TransferStatus.REQUESTED,
        )
    )
    if transfer is None:
        transfer = Transfer(
            order_id=order.id,
            source_location_id=source.id,
            destination_location_id=order.pickup_location_id if order.fulfilment == "pickup" else None,
            status=TransferStatus.REQUESTED,
            created_at=now,
        )
        session.add(transfer)
        session.flush()
    return transfer


def drop(rejection, *, decided_by, outcome="dropped", now=None) -> LineRejection:
    """Give the rejected units up (inside the caller's transaction): the customer is told; an order left with
    no live line is cancelled through the one cancel verb."""
    from omnistore.orders import cancelling

    now = now or utcnow()
    order = rejection.order
    with transaction() as session:
        rejection.outcome = outcome
        rejection.decided_at, rejection.decided_by = now, decided_by
        session.flush()
        orders.record_event(order, "line_dropped", rejection=rejection.id, outcome=outcome, decided_by=decided_by)
        live = [line for line in order.lines if line.status in HELD_LINE_STATUSES]
        if not live and orders.can_transition(order, "cancelled"):
            cancelling.cancel(
                order,
                by_system=True,
                reason=_("Nothing is left to send: %(product)s is not available.", product=_product(rejection)),
            )
        elif decided_by != "customer":
            notifications.line_dropped(order, rejection)
    return rejection


def _product(rejection):
    return rejection.variant.product.name if rejection.variant is not None else ""


def rejections_of(order) -> list:
    """The order's rejections, oldest first (for its page and the customer's)."""
    return db.session.scalars(
        select(LineRejection).where(LineRejection.order_id == order.id).order_by(LineRejection.id)
    ).all()
