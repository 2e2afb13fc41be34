"""The click-and-collect desk of a store."""
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit, validation
from omnistore.core.audit import AuditEvent
from omnistore.core.db import transaction
from omnistore.core.errors import (
    AlreadyCollected,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    OutOfScope,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.formatting import local_datetime
from omnistore.core.statuses import (
    HELD_LINE_STATUSES,
    OPEN_PICKUP_STATUSES,
    PREPARING_STATUSES,
    RESERVED_LINE_STATUSES,
    line_word,
    order_word,
)
from omnistore.core.types import utcnow
from omnistore.orders import line_reasons, transfers
from omnistore.orders import services as orders
from omnistore.orders.models import VERIFICATIONS, Order, OrderLine, Pickup, Transfer
from omnistore.orders.pickup_codes import SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH, open_pickup
from omnistore.stock import ledger
from omnistore.stock.ledger import StockChange
from omnistore.stores.locations import location_zone
from omnistore.stores.models import Location, Staff


@dataclass(frozen=True)
class QueueSummary:
    to_prepare: int  # placed, goods in this store: pick and mark ready
    arriving: int  # in transit from another location
    ready: int  # waiting on the shelf
    checked_in: int  # the customer says "I'm here"
    overdue: int  # ready past the pickup-by date
    collected_today: int

    @property
    def waiting(self):
        return self.to_prepare + self.arriving + self.ready


def start_of_local_day(location: Location, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(location.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def queue_summary(location: Location, now: datetime | None = None) -> QueueSummary:
    """Today's figures for the pickup desk of `location`, in one query."""
    now = now or utcnow()
    status = Order.status
    ready = status == "ready"
    row = db.session.execute(
        select(
            func.count().filter(status == "placed"),
            func.count().filter(status == "in_transit"),
            func.count().filter(ready),
            func.count().filter(and_(ready, Pickup.checked_in_at.is_not(None))),
            func.count().filter(and_(ready, Pickup.pickup_by < now)),
            func.count().filter(
                and_(status == "collected", Pickup.collected_at >= start_of_local_day(location, now))
            ),
        )
        .select_from(Order)
        .outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location.id, Order.fulfilment == "pickup")
    ).one()
    return QueueSummary(*(int(value or 0) for value in row))










def parse_short_code(value: str) -> str | None:
    """The short code a clerk typed (case, spaces and dashes ignored), or None when it cannot be one."""
    code = normalize_code(value)
    if len(code) != SHORT_CODE_LENGTH or set(code) - set(SHORT_CODE_ALPHABET):
        return None
    return code








# --- the desk's verbs -------------------------------------------------------------------------------------
#
# Goods for a pickup order are reserved (allocated) at the pickup store once they are there: lines the store
# supplies itself from the start, lines from elsewhere when their transfer is received (ledger.arrive). So
# everything the desk does to stock happens at the pickup location: a short or refused line is released
# there, a handed-over line leaves there (ledger.hand_over).

SHELF_MAX = 32
REASON_MAX = 300


class WrongStore(Conflict):
    """The code belongs to an order collected at another store; `detail` says which."""

    code = "wrong_store"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429


def _may_act(order, staff):
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
    return transfer is not None and transfer.status == "received" \
        and transfer.destination_location_id == order.pickup_location_id


def _clean_text(value, *, max_length, field, errors, required=False, missing=None):
    return validation.text(value, field=field, errors=errors, max_length=max_length, required=required,
                           missing=missing)




def _line_reasons(order, items, *, field, missing):
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
            raise ValidationFailed(_l("Please check the highlighted fields."),
                                   {field: _l("That line is not part of this order.")}) from None
        line = by_id.get(line_id)
        if line is None:
            raise ValidationFailed(_l("Please check the highlighted fields."),
                                   {field: _l("That line is not part of this order.")})
        chosen[line] = _clean_text(reason, max_length=REASON_MAX, field=f"{field}-{line_id}", errors=errors,
                                   required=True, missing=missing)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    return chosen


def mark_picked(order: Order, lines, staff) -> list[OrderLine]:
    """The clerk took these lines (ids or OrderLines) off the shelves for a placed order. Returns the lines
    that changed (picking a picked line again changes nothing)."""
    _may_act(order, staff)
    wanted = {line if isinstance(line, int) else getattr(line, "id", None) for line in (lines or ())}
    by_id = {line.id: line for line in order.lines}
    if not wanted:
        raise ValidationFailed(_l("Choose the lines you picked."), {"lines": _l("Choose the lines you picked.")})
    if wanted - set(by_id):
        raise ValidationFailed(_l("That line is not part of this order."),
                               {"lines": _l("That line is not part of this order.")})
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
                raise InvalidTransition(_l("That line cannot be picked: it is %(status)s.",
                                           status=line_word(line.status)))
            if not line_is_here(order, line):
                raise InvalidTransition(_l("%(product)s is still on its way from %(location)s.",
                                           product=line.variant.product.name, location=line.source_location.name))
            line.status = "picked"
            changed.append(line)
        if changed:
            orders.record_event(order, "picked", staff=staff, lines=[line.id for line in changed])
    return changed


def _lock_order(order):
    """Bump the order (its updated_at moves the desk's live queue) and hold its row for this transaction,
    and fail if someone else closed it meanwhile."""
    changed = db.session.execute(
        update(Order).where(Order.id == order.id, Order.status == order.status)
        .values(updated_at=utcnow()).execution_options(synchronize_session=False)
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
    _may_act(order, staff)
    errors = {}
    shelf = _clean_text(shelf_location, max_length=SHELF_MAX, field="shelf_location", errors=errors)
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    short_lines = _line_reasons(order, short, field="short", missing=_l("Say why this line is short."))
    if not orders.can_transition(order, "ready"):
        orders._refuse(order, order.status)
    open_lines = [line for line in order.lines if line.status in HELD_LINE_STATUSES]
    for line in short_lines:
        if line.status not in RESERVED_LINE_STATUSES:
            raise InvalidTransition(_l("That line cannot be marked short: it is %(status)s.",
                                       status=line_word(line.status)))
    if not [line for line in open_lines if line not in short_lines]:
        raise ValidationFailed(_l("Every line is short: there is nothing to collect. Cancel the order instead."),
                               {"short": _l("At least one line must be ready.")})
    for line in open_lines:
        if not line_is_here(order, line):
            raise InvalidTransition(_l("%(product)s is still on its way from %(location)s.",
                                       product=line.variant.product.name, location=line.source_location.name))
    location = db.session.get(Location, order.pickup_location_id)
    now = utcnow()
    with transaction():
        orders.transition(order, "ready", staff=staff, location_id=location.id, shelf_location=shelf,
                          short=[{"line": line.id, "reason": reason} for line, reason in short_lines.items()])
        for line, reason in sorted(short_lines.items(), key=lambda item: (item[0].variant_id, item[0].id)):
            ledger.release(StockChange(line.variant_id, location.id, line.quantity, reason=reason,
                                      reference=order.number or ""), staff)
            line_reasons.typed(line, "short", reason)
        pickup = order.pickup or open_pickup(order)
        pickup.shelf_location = shelf
        pickup.ready_at = now
        pickup.pickup_by = pickup_by_for(location, now)
        audit.record("pickup.ready", entity=order, staff=staff, location_id=location.id, shelf_location=shelf,
                     short=len(short_lines))
        _notifications().order_ready(order)  # the email (QR, code, address, pickup-by) and the order.ready webhook
    return order


def _notifications():
    """services/notifications, which queues the customer's email and the webhooks in this transaction.
    Imported here: notifications reads pickups (status_url) at import time."""
    from omnistore.orders import notifications

    return notifications


# --- finding the order a customer shows at the desk ----------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_CODE_NOISE = re.compile(r"[\s\-–—_.]+")


def normalize_code(value: str) -> str:
    """What a clerk types from the customer's screen: case, spaces and dashes do not matter."""
    return _CODE_NOISE.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def _token_from(value: str) -> str | None:
    """The token of a status URL (whatever host the QR names) or a raw token, else None."""
    text = value.strip()
    if "/" in text:
        try:
            path = urlsplit(text).path
        except ValueError:
            return None
        parts = [part for part in path.split("/") if part]
        if len(parts) < 2 or parts[-2] != "o":
            return None
        text = parts[-1]
    return text if _TOKEN.fullmatch(text) else None


@dataclass(frozen=True)
class Handover:
    """What the handover screen needs: the order, how it was found ("qr" or "code"), what to collect."""

    order: Order
    found_by: str

    @property
    def pickup(self):
        return self.order.pickup

    @property
    def lines(self):
        return [line for line in self.order.lines if line.status in RESERVED_LINE_STATUSES]

    @property
    def amount_due_minor(self):
        return sum(line.quantity * line.unit_price_minor for line in self.lines)

    @property
    def first_name(self):
        customer = self.order.customer
        return (customer.first_name if customer is not None else "") or ""


def _throttle_settings():
    config = current_app.config
    return (int(config["OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK"]),
            int(config["OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE"]),
            int(config["OMNISTORE_PICKUP_CODE_WINDOW_SECONDS"]))


FAILED_CODE = "pickup.code_failed"


def failed_attempts(*, staff=None, location_id=None, since):
    """Failed short-code attempts (from the audit trail, so every app process counts the same)."""
    query = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == FAILED_CODE, AuditEvent.created_at >= since)
    if staff is not None:
        query = query.where(AuditEvent.staff_id == staff.id)
    if location_id is not None:
        query = query.where(AuditEvent.location_id == location_id)
    return db.session.scalar(query)


def _throttled(session, staff):
    """Whether the clerk or the store has used up the window's attempts. Called inside the attempt's
    transaction after locking the store's and the clerk's rows (in that order; FOR NO KEY UPDATE on
    PostgreSQL, SQLite's write transaction holds the database), so concurrent attempts by one clerk or at
    one store count one after the other and never record more failures than the limit."""
    per_clerk, per_store, window = _throttle_settings()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Location.id).where(Location.id == staff.location_id)
                        .with_for_update(key_share=True)).all()
        session.execute(select(Staff.id).where(Staff.id == staff.id).with_for_update(key_share=True)).all()
    since = utcnow() - timedelta(seconds=window)
    return failed_attempts(staff=staff, since=since) >= per_clerk or \
        failed_attempts(location_id=staff.location_id, since=since) >= per_store


def _too_many_attempts(staff):
    window = _throttle_settings()[2]
    with transaction():
        audit.record("pickup.code_throttled", staff=staff)
    return TooManyAttempts(_l("Too many wrong pickup codes. Wait %(minutes)d minutes, or scan the customer's "
                              "QR code instead.", minutes=max(1, window // 60)), retry_after=window)


def _failed(staff, typed, reason, order=None):
    """Audit a failed attempt (committed, even though the caller goes on to refuse)."""
    with transaction():
        audit.record(FAILED_CODE, entity=("orders", order.id) if order is not None else None, staff=staff,
                     typed=typed[:40], reason=reason)
        if order is not None:
            orders.record_event(order, "code_failed", staff=staff, reason=reason)


def find_for_handover(code_or_token: str, staff) -> Handover:
    """The order a customer shows at the desk: from the QR code (the status URL or its bare token, as the
    camera or the wedge scanner reads it) or the 8-character short code (case, spaces, dashes ignored).

    Refused, with a message for the clerk: nothing matches (NotFound); another store's order (WrongStore, says
    where); already collected (AlreadyCollected, says when and by whom); cancelled, expired or not ready yet
    (InvalidTransition). Short codes are throttled per clerk and per store (TooManyAttempts); every failed
    attempt is audited.
    """
    if staff is None:
        raise OutOfScope(_l("No order with that number."))
    value = code_or_token if isinstance(code_or_token, str) else ""
    value = value[:300]
    code = normalize_code(value)
    token = None if len(code) == SHORT_CODE_LENGTH else _token_from(value)
    if token is None:
        # The throttle check, the lookup and the failure's record are one transaction under the throttle's
        # locks: the limit holds however many attempts arrive at once.
        with transaction() as session:
            if _throttled(session, staff):
                order, refusal = None, "throttled"
            elif parse_short_code(value) is None:
                order, refusal = None, "malformed"
            else:
                order = _order_where(Pickup.short_code == code)
                refusal = _refusal(order, staff)
            if refusal not in (None, "throttled"):
                _failed(staff, value, refusal, order)
        if refusal == "throttled":
            raise _too_many_attempts(staff)
        if refusal == "malformed":
            raise NotFound(_l("“%(code)s” is not a pickup code. A pickup code has 8 letters and digits, like "
                              "ACDE 3467.", code=value.strip()[:40]))
    else:
        order = _order_where(Pickup.token == token)
        refusal = _refusal(order, staff)
        if refusal is not None:
            _failed(staff, value, refusal, order)
    found_by = "qr" if token is not None else "code"
    if refusal == "unknown":
        if token is not None:
            raise NotFound(_l("This QR code does not belong to any pickup order."))
        raise NotFound(_l("No pickup order has the code %(code)s. Check the code with the customer.",
                          code=code))
    if refusal == "other_store":
        store = order.pickup_location
        raise WrongStore(_l("Order %(number)s is to be collected at %(store)s (%(address)s), not here.",
                            number=order.number, store=store.name, address=store.address_line),
                         location=store.code)
    _check_open(order)
    return Handover(order=order, found_by=found_by)


def _order_where(where):
    return db.session.scalar(
        select(Order).join(Pickup, Pickup.order_id == Order.id).where(where)
        .options(selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
                 selectinload(Order.pickup).selectinload(Pickup.collected_by),
                 selectinload(Order.customer), selectinload(Order.pickup_location))
    )


def _refusal(order, staff):
    """Why the desk refuses the order found (a failed attempt), or None."""
    if order is None:
        return "unknown"
    if not staff.is_admin and order.pickup_location_id != staff.location_id:
        return "other_store"
    return None


def _check_open(order):
    pickup = order.pickup
    if order.status == "collected":
        who = (pickup.collected_by.name or pickup.collected_by.email) if pickup and pickup.collected_by else "?"
        # The language's conventions on the store's clock (not Babel's default US "12/4/26, 4:24 PM").
        when = (local_datetime(pickup.collected_at, location_zone(order.pickup_location))
                if pickup and pickup.collected_at else "?")
        raise AlreadyCollected(_l("Order %(number)s was already collected on %(when)s (handed over by %(who)s). "
                                  "Nothing is handed over again.", number=order.number, when=when, who=who))
    if order.status in ("cancelled", "expired"):
        raise InvalidTransition(_l("Order %(number)s is %(status)s: nothing to hand over.", number=order.number,
                                   status=order_word(order.status)), status=order.status)
    if order.status != "ready":
        raise InvalidTransition(_l("Order %(number)s is not ready yet: it is %(status)s.", number=order.number,
                                   status=order_word(order.status)),
                                status=order.status)



# --- the handover -------------------------------------------------------------------------------------------

def hand_over(order: Order, *, staff, verification, payment_collected=False, refused=()) -> Order:
    """The customer takes the order: single-use (of two tablets confirming at once, one wins; the other gets
    AlreadyCollected and nothing changes twice). Taken lines leave the store's stock through the ledger
    (ledger.hand_over), refused lines go back to stock (ledger.release), the order is collected, and who, when
    and how (verification, payment) is recorded. Only staff of the pickup store (admin anywhere)."""
    _may_act(order, staff)
    errors = {}
    if verification not in VERIFICATIONS:
        errors["verification"] = _l("Say how you checked that this is the customer's order.")
    pay_at_pickup = order.payment_state == "pay_at_pickup"
    if pay_at_pickup and payment_collected is not True:
        errors["payment"] = _l("This order is paid at pickup: collect the payment first, then confirm.")
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    refused_lines = _line_reasons(order, refused, field="refused", missing=_l("Say why the customer refused it."))
    if order.status != "ready":
        _check_open(order)
    open_lines = [line for line in order.lines if line.status in RESERVED_LINE_STATUSES]
    for line in refused_lines:
        if line not in open_lines:
            raise InvalidTransition(_l("That line cannot be refused: it is %(status)s.",
                                       status=line_word(line.status)))
    taken = [line for line in open_lines if line not in refused_lines]
    if not taken:
        raise ValidationFailed(_l("The customer refuses everything: nothing is handed over. Cancel the order "
                                  "instead."), {"refused": _l("At least one line must be handed over.")})
    location_id = order.pickup_location_id
    now = utcnow()
    with transaction():
        # First the conditional status change: the loser of a double tap stops here, before touching stock.
        orders.transition(order, "collected", staff=staff, location_id=location_id, verification=verification,
                          payment_collected=bool(pay_at_pickup and payment_collected),
                          refused=[{"line": line.id, "reason": reason} for line, reason in refused_lines.items()])
        reference = order.number or ""
        for line in sorted(open_lines, key=lambda item: (item.variant_id, item.id)):  # stable lock order
            change = StockChange(line.variant_id, location_id, line.quantity, reference=reference,
                                 reason=refused_lines.get(line, ""))
            if line in refused_lines:
                ledger.release(change, staff)
                line_reasons.typed(line, "refused", refused_lines[line])
            else:
                ledger.hand_over(change, staff)
                line.status = "collected"
        pickup = order.pickup or open_pickup(order)
        pickup.collected_at = now
        pickup.collected_by_staff_id = staff.id
        pickup.verification = verification
        if pay_at_pickup:
            pickup.payment_collected_at = now
        audit.record("pickup.handed_over", entity=order, staff=staff, location_id=location_id,
                     verification=verification, payment_collected=bool(pay_at_pickup),
                     refused=len(refused_lines), taken=len(taken))
        _notifications().handover_receipt(order)  # the receipt email and the order.collected webhook
    return order



# --- the desk's live queue --------------------------------------------------------------------------------

QUEUE_LIMIT = 300  # open orders shown per store; a desk with more has other problems


@dataclass(frozen=True)
class QueueItem:
    order: Order
    lines: list  # the lines still to be collected (reserved or picked)
    here: int  # how many of them are at the store
    now: datetime

    @property
    def pickup(self):
        return self.order.pickup

    @property
    def customer_name(self):
        customer = self.order.customer
        return customer.display_name if customer is not None else ""

    @property
    def units(self):
        return sum(line.quantity for line in self.lines)

    @property
    def picked(self):
        return sum(1 for line in self.lines if line.status == "picked")

    @property
    def waiting(self):
        """How long it has waited on the shelf (ready orders), else None."""
        pickup = self.pickup
        return self.now - pickup.ready_at if pickup is not None and pickup.ready_at else None

    @property
    def overdue(self):
        pickup = self.pickup
        return self.order.status == "ready" and pickup is not None and pickup.pickup_by is not None \
            and pickup.pickup_by < self.now

    @property
    def checked_in(self):
        return self.pickup is not None and self.pickup.checked_in_at is not None

    @property
    def on_the_way(self):
        return self.pickup is not None and self.pickup.on_the_way_at is not None and not self.checked_in


@dataclass(frozen=True)
class DeskQueue:
    location: Location
    checked_in: list
    to_pick: list
    arriving: list
    ready: list
    overdue: list
    fingerprint: str
    truncated: bool = False

    @property
    def empty(self):
        return not (self.checked_in or self.to_pick or self.arriving or self.ready or self.overdue)


def queue_fingerprint(location: Location, now: datetime | None = None) -> str:
    """Changes whenever the desk's queue would look different: an order arrives, moves or closes, a customer
    is on the way or checks in, a transfer to the store moves, or a minute passes (waiting times, overdue).
    One aggregate over the store's open orders and one over its incoming transfers."""
    now = now or utcnow()
    orders_row = db.session.execute(
        select(func.count(Order.id), func.max(Order.updated_at), func.max(Pickup.checked_in_at),
               func.max(Pickup.on_the_way_at), func.max(Pickup.ready_at), func.sum(func.length(Pickup.check_in_note)))
        .select_from(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(Order.pickup_location_id == location.id, Order.status.in_(OPEN_PICKUP_STATUSES))
    ).one()
    transfers_row = db.session.execute(
        select(func.count(Transfer.id), func.max(Transfer.picked_at), func.max(Transfer.shipped_at),
               func.max(Transfer.received_at))
        .where(Transfer.destination_location_id == location.id)
    ).one()
    stamp = repr((tuple(orders_row), tuple(transfers_row), now.strftime("%Y%m%d%H%M")))
    return hashlib.sha1(stamp.encode(), usedforsecurity=False).hexdigest()[:16]


def desk_queue(location: Location, now: datetime | None = None) -> DeskQueue:
    """The open pickup orders of `location`, grouped as the desk works them: customers checked in (at the
    top), to pick, arriving, ready on the shelf, overdue. Oldest first in each group."""
    now = now or utcnow()
    fingerprint = queue_fingerprint(location, now)  # first: a change landing meanwhile shows on the next poll
    found = db.session.scalars(
        select(Order)
        .where(Order.pickup_location_id == location.id, Order.fulfilment == "pickup",
               Order.status.in_(OPEN_PICKUP_STATUSES))
        .options(selectinload(Order.lines).selectinload(OrderLine.variant).selectinload(Variant.product),
                 selectinload(Order.lines).selectinload(OrderLine.source_location),
                 selectinload(Order.pickup), selectinload(Order.customer))
        .order_by(Order.placed_at, Order.id)
        .limit(QUEUE_LIMIT + 1)
    ).all()
    truncated = len(found) > QUEUE_LIMIT
    found = found[:QUEUE_LIMIT]
    transfer_ids = {line.transfer_id for order in found for line in order.lines if line.transfer_id}
    received = set(db.session.scalars(
        select(Transfer.id).where(Transfer.id.in_(transfer_ids), Transfer.status == "received",
                                  Transfer.destination_location_id == location.id))) \
        if transfer_ids else set()
    groups = {"checked_in": [], "to_pick": [], "arriving": [], "ready": [], "overdue": []}
    for order in found:
        lines = [line for line in order.lines if line.status in HELD_LINE_STATUSES]
        here = sum(1 for line in lines if line.status in RESERVED_LINE_STATUSES and (
            (line.source_location_id == location.id and line.transfer_id is None) or line.transfer_id in received))
        item = QueueItem(order=order, lines=lines, here=here, now=now)
        if item.checked_in:
            groups["checked_in"].append(item)
        elif order.status == "ready":
            groups["overdue" if item.overdue else "ready"].append(item)
        elif order.status == "placed" and here == len(lines):
            groups["to_pick"].append(item)
        else:
            groups["arriving"].append(item)
    groups["checked_in"].sort(key=lambda item: item.pickup.checked_in_at)
    for name in ("ready", "overdue"):
        groups[name].sort(key=lambda item: (item.pickup.ready_at or item.order.placed_at))
    return DeskQueue(location=location, fingerprint=fingerprint, truncated=truncated, **groups)


def orders_to_pick(location: Location, numbers=None) -> list[Order]:
    """Pick lists: the given orders of this store (by number), or every order waiting to be picked."""
    queue = desk_queue(location)
    items = queue.checked_in + queue.to_pick
    if numbers:
        wanted = {str(number).strip().upper() for number in numbers}
        items = [item for item in items if item.order.number in wanted]
    return [item.order for item in items if item.order.status == "placed" and item.here == len(item.lines)]


def handover_for(number, staff) -> Handover:
    """The handover screen of an order opened from the queue (by its number): this store's, ready."""
    order = orders.get_order_for_staff(number, staff)
    _may_act(order, staff)
    _check_open(order)
    return Handover(order=order, found_by="queue")


def desk_order(number, staff) -> Order:
    """A pickup order of the staff member's store (admin: any), for its pick list and the ready form."""
    order = orders.get_order_for_staff(number, staff)
    _may_act(order, staff)
    return order


def receive_parcel(transfer, *, staff, shelf_location=""):
    """A parcel arrived at its store (transfers.receive). When it brings the last goods of a pickup order to
    its pickup store, the order becomes ready here too, on the shelf the clerk names (see
    transfers.completes_order: the arriving list's card asks for it) — one transaction for both."""
    with transaction():
        transfers.receive(transfer, staff=staff)
        order = transfer.order
        if order.status != "cancelled" and order.fulfilment == "pickup" and transfers.all_at_pickup_store(order):
            mark_ready(order, staff=staff, shelf_location=shelf_location)
    return transfer
