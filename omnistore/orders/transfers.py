"""After an order is placed: the goods move. Source stores pick and ship, pickup stores receive, home
deliveries are shipped and delivered. Every step is one transaction with its stock change, its timestamps
on the Transfer and an OrderEvent naming the staff member.

A Transfer (made by orders/placing.place) carries the lines of one order from one source location either
to the order's pickup store (destination set) or to the customer's address (destination None, a home
delivery). Lines the pickup store supplies itself have no transfer.

    requested ──pick──► picked ──ship (tracking)──► shipped ──receive──► received
    (ledger.dispatch at the source on ship; ledger.arrive at the pickup store on receive: the goods stay
     reserved for the order there; a home delivery is "received" when it is marked delivered)

Orders follow their goods (orders/services.transition):
- pickup: placed → in_transit once every transfer has shipped; when every line is at the pickup store the
  desk takes over (pickups.mark_ready);
- delivery: placed → shipped (tracking reference on the order) once every transfer has shipped;
  shipped → delivered when marked delivered.

Line statuses: "shipped" while on the way, back to "allocated" once received at the pickup store (reserved
there now), "delivered" for a delivered home delivery.

A stock transfer has no order: a store sends its own goods to the warehouse or another store (`send_stock`;
resellable returned goods, returns/sending.py). Its items are reserved at the source when it is created
(ledger.allocate, so nobody sells them meanwhile), leave with ledger.dispatch on ship, and on receive arrive
(ledger.arrive) and are released (ledger.release) at once: free stock at the destination. It goes through the
same lists and steps as an order's transfer; the steps write an audit event instead of an order's event.

Scope: a clerk or manager picks and ships at their own store and receives at their own store; an admin
anywhere. Outside the scope a transfer is "not found". Concurrent taps on two tablets: the status moves with
a conditional UPDATE, so exactly one wins and the other is told what happened.
"""

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import InvalidTransition, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders import services as orders
from omnistore.orders.models import Order, OrderLine, Transfer, TransferItem
from omnistore.stock import ledger
from omnistore.stores.models import Location

OPEN_AT_SOURCE = ("requested", "picked")
ON_THE_WAY = ("requested", "picked", "shipped")
TRACKING_MAX = 100
_TRACKING = re.compile(r"[\w .,:/#+-]+")


def _options():
    return (
        selectinload(Transfer.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
        selectinload(Transfer.order).selectinload(Order.customer),
        selectinload(Transfer.source_location),
        selectinload(Transfer.destination_location),
        selectinload(Transfer.items).selectinload(TransferItem.variant).selectinload(Variant.product),
    )


# --- the lists --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendList:
    """What a store has to send: transfers to other stores and home deliveries sourced here, and the home
    deliveries it has shipped that nobody has confirmed delivered yet."""

    to_pick: list
    to_ship: list
    out_for_delivery: list

    @property
    def count(self):
        return len(self.to_pick) + len(self.to_ship)


def to_send(location_id) -> SendList:
    """The "to pick & send" list of a location, oldest first (first placed, first sent)."""
    rows = db.session.scalars(
        select(Transfer)
        .where(
            Transfer.source_location_id == location_id,
            or_(
                Transfer.status.in_(OPEN_AT_SOURCE),
                (Transfer.status == "shipped") & Transfer.destination_location_id.is_(None),
            ),
        )
        .options(*_options())
        .order_by(Transfer.created_at, Transfer.id)
    ).all()
    return SendList(
        to_pick=[t for t in rows if t.status == "requested"],
        to_ship=[t for t in rows if t.status == "picked"],
        out_for_delivery=[
            t for t in rows if t.status == "shipped" and t.order is not None and t.order.status == "shipped"
        ],
    )


def arriving(location_id) -> list:
    """Transfers on their way to this pickup store (shipped ones first: those can be received)."""
    rows = db.session.scalars(
        select(Transfer)
        .where(Transfer.destination_location_id == location_id, Transfer.status.in_(ON_THE_WAY))
        .options(*_options())
        .order_by(Transfer.created_at, Transfer.id)
    ).all()
    return sorted(rows, key=lambda t: (t.status != "shipped", t.shipped_at or t.created_at))


def counts(location_id):
    """(to send, arriving) for a location: the badges of the lists, in one query."""
    row = db.session.execute(
        select(
            func.count().filter(Transfer.source_location_id == location_id, Transfer.status.in_(OPEN_AT_SOURCE)),
            func.count().filter(Transfer.destination_location_id == location_id, Transfer.status == "shipped"),
        ).where(or_(Transfer.source_location_id == location_id, Transfer.destination_location_id == location_id))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def transfers_of(order) -> list:
    return db.session.scalars(
        select(Transfer).where(Transfer.order_id == order.id).options(*_options()).order_by(Transfer.id)
    ).all()


def get_transfer_for_staff(transfer_id, staff, side):
    """The transfer if `staff` acts on its `side` ("source" or "destination"); 404 otherwise."""
    valid = isinstance(transfer_id, int) and 0 < transfer_id < 2**31
    transfer = db.session.get(Transfer, transfer_id) if valid else None
    if transfer is None:
        raise NotFound(_l("We could not find that transfer."))
    location_id = transfer.source_location_id if side == "source" else transfer.destination_location_id
    if not staff.is_admin and staff.location_id != location_id:
        raise OutOfScope(_l("We could not find that transfer."))
    return transfer


# --- the steps --------------------------------------------------------------------------------------------


def _move(transfer, from_statuses, to_status, **values):
    """Conditional status change: of two tablets tapping at once, one wins; the other is told the news."""
    changed = db.session.execute(
        update(Transfer)
        .where(Transfer.id == transfer.id, Transfer.status.in_(from_statuses))
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.refresh(transfer, ["status"])
        raise InvalidTransition(_already(transfer), status=transfer.status)
    db.session.expire(transfer)


def _already(transfer):
    words = {
        "picked": _("This transfer has already been picked."),
        "shipped": _("This transfer has already been shipped."),
        "received": _("This transfer has already been received."),
        "cancelled": _("This transfer was cancelled: the order was cancelled."),
        "requested": _("This transfer has not been picked yet."),
    }
    return words.get(transfer.status, _("This transfer can no longer change."))


def _event_detail(transfer):
    detail = {"transfer": transfer.id, "source": transfer.source_location.code}
    if transfer.destination_location is not None:
        detail["destination"] = transfer.destination_location.code
    return detail


def pick(transfer, *, staff):
    """The goods are off the shelf at the source (requested → picked)."""
    with transaction():
        _move(transfer, ("requested",), "picked", picked_at=utcnow())
        _record(transfer, "picked", staff, transfer.source_location_id)
    return transfer


def _record(transfer, kind, staff, location_id, **extra):
    """The step on the order's history, or for a stock transfer in the audit trail."""
    if transfer.order is not None:
        orders.record_event(
            transfer.order, kind, staff=staff, location_id=location_id, **_event_detail(transfer), **extra
        )
    else:
        audit.record(
            f"transfer.{kind}",
            entity=transfer,
            staff=staff,
            location_id=location_id,
            **_event_detail(transfer),
            **extra,
        )


def clean_tracking(value):
    """The tracking reference as typed, tidied; ValidationFailed with a message at the field."""
    text = " ".join(unicodedata.normalize("NFC", value or "").split()) if isinstance(value, str) else ""
    problem = None
    if not text:
        problem = _("Enter the tracking reference from the parcel label.")
    elif len(text) > TRACKING_MAX:
        problem = _("At most %(max)d characters (now %(length)d).", max=TRACKING_MAX, length=len(text))
    elif not _TRACKING.fullmatch(text):
        problem = _("Use letters, digits, spaces and - / . # only.")
    if problem:
        raise ValidationFailed(_("Please check the highlighted fields."), {"tracking": problem})
    return text


def ship(transfer, *, staff, tracking):
    """Packed and handed to the carrier (picked → shipped): the goods leave the source (ledger.dispatch).
    When every transfer of the order has left, the order moves on (in_transit, or shipped for a delivery)."""
    tracking = clean_tracking(tracking)
    with transaction():
        _move(transfer, ("picked",), "shipped", shipped_at=utcnow(), tracking_reference=tracking)
        order = transfer.order
        if order is None:
            for item in sorted(transfer.items, key=lambda item: item.variant_id):
                ledger.dispatch(_item_change(transfer, item, _("Sent to %(store)s", store=_to(transfer))), staff)
            _record(transfer, "shipped", staff, transfer.source_location_id, tracking=tracking)
            return transfer
        for line in sorted(transfer.lines, key=lambda line: line.variant_id):
            if line.status in ("released", "short", "refused"):
                continue
            ledger.dispatch(
                ledger.StockChange(
                    line.variant_id,
                    transfer.source_location_id,
                    line.quantity,
                    reason=_("Sent for order %(number)s", number=order.number),
                    reference=order.number,
                ),
                staff,
            )
            line.status = "shipped"
        db.session.flush()
        detail = dict(_event_detail(transfer), tracking=tracking)
        target = "in_transit" if order.fulfilment == "pickup" else "shipped"
        if _all_left(order) and orders.can_transition(order, target):
            if order.fulfilment == "delivery":
                order.tracking_reference = _joined_tracking(order)[:TRACKING_MAX]
                db.session.flush()
            orders.transition(
                order, target, staff=staff, location_id=transfer.source_location_id, kind="shipped", **detail
            )
        else:
            orders.record_event(order, "shipped", staff=staff, location_id=transfer.source_location_id, **detail)
    return transfer


def _live_transfers(order):
    return db.session.scalars(
        select(Transfer).where(Transfer.order_id == order.id, Transfer.status != "cancelled").order_by(Transfer.id)
    ).all()


def _all_left(order):
    return all(t.status in ("shipped", "received") for t in _live_transfers(order))


def _joined_tracking(order):
    return ", ".join(t.tracking_reference for t in _live_transfers(order) if t.tracking_reference)


def receive(transfer, *, staff):
    """The parcel arrived at its store (shipped → received): the goods are on hand there and stay reserved
    for the order (ledger.arrive). For a pickup order, pickups.receive_parcel also makes the order ready when
    this was its last parcel."""
    with transaction():
        if transfer.destination_location_id is None:
            raise InvalidTransition(_("A home delivery is not received in a store; mark it delivered."))
        _move(transfer, ("shipped",), "received", received_at=utcnow())
        order = transfer.order
        here = transfer.destination_location_id
        if order is None:  # a stock transfer: the goods are the destination's own stock now
            for item in sorted(transfer.items, key=lambda item: item.variant_id):
                change = _item_change(
                    transfer, item, _("Arrived from %(store)s", store=transfer.source_location.name), here
                )
                ledger.arrive(change, staff)
                ledger.release(change, staff)
            _record(transfer, "received", staff, here)
            return transfer
        cancelled = order.status == "cancelled"
        for line in sorted(transfer.lines, key=lambda line: line.variant_id):
            if line.status != "shipped":  # only what left the source arrives
                continue
            change = ledger.StockChange(
                line.variant_id,
                here,
                line.quantity,
                reason=_("Arrived for order %(number)s", number=order.number),
                reference=order.number,
            )
            ledger.arrive(change, staff)
            if cancelled:  # the order was cancelled on the way: the goods are the store's own now
                ledger.release(change, staff)
                line.status = "released"
            else:
                line.status = "allocated"
        db.session.flush()
        orders.record_event(
            order, "received", staff=staff, location_id=here, cancelled_order=cancelled, **_event_detail(transfer)
        )
    return transfer


def _to(transfer):
    return transfer.destination_location.name if transfer.destination_location is not None else ""


def _reference(transfer):
    return f"T-{transfer.id}"


def _item_change(transfer, item, reason, location_id=None):
    return ledger.StockChange(
        item.variant_id,
        location_id or transfer.source_location_id,
        item.quantity,
        reason=reason,
        reference=_reference(transfer),
    )


REASON_MAX = 200


def send_stock(source_id, destination_id, items, *, staff, reason) -> Transfer:
    """A stock transfer: `items` ({variant id: units}) of the source's own stock go to `destination_id` (the
    warehouse or another store). The units are reserved at the source at once (one conditional UPDATE each,
    InsufficientStock when fewer are free), and the transfer joins the source's "to pick & send" list and the
    destination's incoming list. Run inside the caller's transaction when there is one (returns/sending.py
    records what it sent in the same one)."""
    destination = db.session.get(Location, destination_id) if isinstance(destination_id, int) else None
    errors = {}
    if destination is None or not destination.active:
        errors["destination"] = _l("Choose the store or warehouse the goods go to.")
    elif destination.id == source_id:
        errors["destination"] = _l("The goods are here already: choose another store or the warehouse.")
    clean = {v: q for v, q in (items or {}).items() if isinstance(q, int) and not isinstance(q, bool) and q > 0}
    if not clean or len(clean) != len(items or {}):
        errors["quantity"] = _l("Say how many units go.")
    reason = " ".join((reason if isinstance(reason, str) else "").split())[:REASON_MAX]
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    with transaction() as session:
        transfer = Transfer(
            order_id=None, source_location_id=source_id, destination_location_id=destination.id, reason=reason
        )
        session.add(transfer)
        session.flush()
        for variant_id in sorted(clean):
            transfer.items.append(TransferItem(variant_id=variant_id, quantity=clean[variant_id]))
            ledger.allocate(
                ledger.StockChange(
                    variant_id,
                    source_id,
                    clean[variant_id],
                    _("To send to %(store)s", store=destination.name),
                    _reference(transfer),
                ),
                staff,
            )
        session.flush()
        audit.record(
            "transfer.requested",
            entity=transfer,
            staff=staff,
            location_id=source_id,
            destination=destination.code,
            units=sum(clean.values()),
            reason=reason,
        )
    return transfer


def completes_order(transfer) -> bool:
    """Receiving this parcel brings the last goods of a pickup order to its store: the order becomes ready
    then, so whoever receives it is asked where they put it (the shelf), as at the desk."""
    order = transfer.order
    return (
        order is not None
        and transfer.status == "shipped"
        and order.fulfilment == "pickup"
        and order.status != "cancelled"
        and transfer.destination_location_id == order.pickup_location_id
        and all_at_pickup_store(order, arriving=transfer.id)
    )


def all_at_pickup_store(order, arriving=None):
    """Every live line of a pickup order is at its pickup store (supplied there or received there).
    `arriving`: a transfer counted as received already (is it the last parcel?)."""
    for line in order.lines:
        if line.status in ("released", "short", "refused"):
            continue
        if line.source_location_id == order.pickup_location_id and line.transfer_id is None:
            continue
        transfer = db.session.get(Transfer, line.transfer_id) if line.transfer_id else None
        if transfer is None or (transfer.status != "received" and transfer.id != arriving):
            return False
        if transfer.destination_location_id != order.pickup_location_id:
            return False
    return True


def mark_delivered(order, *, staff):
    """The carrier delivered a home delivery (shipped → delivered): its transfers are done."""
    if order.fulfilment != "delivery":
        raise InvalidTransition(_("Only a home delivery can be marked delivered."))
    if not staff.is_admin:
        sources = {line.source_location_id for line in order.lines}
        if staff.location_id not in sources | {order.origin_location_id}:
            raise OutOfScope(_l("No order with that number."))
    with transaction():
        orders.transition(order, "delivered", staff=staff)
        now = utcnow()
        db.session.execute(
            update(Transfer)
            .where(Transfer.order_id == order.id, Transfer.status == "shipped")
            .values(status="received", received_at=now)
            .execution_options(synchronize_session=False)
        )
        for line in order.lines:
            if line.status == "shipped":
                line.status = "delivered"
    return order
