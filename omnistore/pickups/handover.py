"""Handing a pickup order over: finding the order a customer shows at the desk (the QR code or the short code,
failed short codes throttled per clerk and per store and audited), and the handover itself with its
verification, the lines the customer refuses and the payment collected at pickup."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from omnistore.core import audit
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
    RESERVED_LINE_STATUSES,
    line_word,
    order_word,
)
from omnistore.core.types import utcnow
from omnistore.orders import line_reasons, notifications
from omnistore.orders import services as orders
from omnistore.orders.models import VERIFICATIONS, Order, Pickup
from omnistore.orders.pickup_codes import SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH, open_pickup
from omnistore.pickups.preparing import check_may_act, reasons_by_line
from omnistore.stock import ledger
from omnistore.stock.ledger import StockChange
from omnistore.stores.locations import location_zone
from omnistore.stores.models import Location, Staff


class WrongStore(Conflict):
    """The code belongs to an order collected at another store; `detail` says which."""

    code = "wrong_store"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429


_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_CODE_NOISE = re.compile(r"[\s\-–—_.]+")


def normalize_code(value: str) -> str:
    """What a clerk types from the customer's screen: case, spaces and dashes do not matter."""
    return _CODE_NOISE.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def parse_short_code(value: str) -> str | None:
    """The short code a clerk typed (case, spaces and dashes ignored), or None when it cannot be one."""
    code = normalize_code(value)
    if len(code) != SHORT_CODE_LENGTH or set(code) - set(SHORT_CODE_ALPHABET):
        return None
    return code


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
    return (
        int(config["OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK"]),
        int(config["OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_STORE"]),
        int(config["OMNISTORE_PICKUP_CODE_WINDOW_SECONDS"]),
    )


FAILED_CODE = "pickup.code_failed"


def failed_attempts(*, staff=None, location_id=None, since):
    """Failed short-code attempts (from the audit trail, so every app process counts the same)."""
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == FAILED_CODE, AuditEvent.created_at >= since)
    )
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
        session.execute(
            select(Location.id).where(Location.id == staff.location_id).with_for_update(key_share=True)
        ).all()
        session.execute(select(Staff.id).where(Staff.id == staff.id).with_for_update(key_share=True)).all()
    since = utcnow() - timedelta(seconds=window)
    return (
        failed_attempts(staff=staff, since=since) >= per_clerk
        or failed_attempts(location_id=staff.location_id, since=since) >= per_store
    )


def _too_many_attempts(staff):
    window = _throttle_settings()[2]
    with transaction():
        audit.record("pickup.code_throttled", staff=staff)
    return TooManyAttempts(
        _l(
            "Too many wrong pickup codes. Wait %(minutes)d minutes, or scan the customer's QR code instead.",
            minutes=max(1, window // 60),
        ),
        retry_after=window,
    )


def _failed(staff, typed, reason, order=None):
    """Audit a failed attempt (committed, even though the caller goes on to refuse)."""
    with transaction():
        audit.record(
            FAILED_CODE,
            entity=("orders", order.id) if order is not None else None,
            staff=staff,
            typed=typed[:40],
            reason=reason,
        )
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
            raise NotFound(
                _l(
                    "“%(code)s” is not a pickup code. A pickup code has 8 letters and digits, like ACDE 3467.",
                    code=value.strip()[:40],
                )
            )
    else:
        order = _order_where(Pickup.token == token)
        refusal = _refusal(order, staff)
        if refusal is not None:
            _failed(staff, value, refusal, order)
    found_by = "qr" if token is not None else "code"
    if refusal == "unknown":
        if token is not None:
            raise NotFound(_l("This QR code does not belong to any pickup order."))
        raise NotFound(_l("No pickup order has the code %(code)s. Check the code with the customer.", code=code))
    if refusal == "other_store":
        store = order.pickup_location
        raise WrongStore(
            _l(
                "Order %(number)s is to be collected at %(store)s (%(address)s), not here.",
                number=order.number,
                store=store.name,
                address=store.address_line,
            ),
            location=store.code,
        )
    _check_open(order)
    return Handover(order=order, found_by=found_by)


def _order_where(where):
    return db.session.scalar(
        select(Order)
        .join(Pickup, Pickup.order_id == Order.id)
        .where(where)
        .options(
            orders.LINES_SHOWN,
            joinedload(Order.pickup).joinedload(Pickup.collected_by),
            joinedload(Order.customer),
            joinedload(Order.pickup_location),
        )
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
        when = (
            local_datetime(pickup.collected_at, location_zone(order.pickup_location))
            if pickup and pickup.collected_at
            else "?"
        )
        raise AlreadyCollected(
            _l(
                "Order %(number)s was already collected on %(when)s (handed over by %(who)s). "
                "Nothing is handed over again.",
                number=order.number,
                when=when,
                who=who,
            )
        )
    if order.status in ("cancelled", "expired"):
        raise InvalidTransition(
            _l(
                "Order %(number)s is %(status)s: nothing to hand over.",
                number=order.number,
                status=order_word(order.status),
            ),
            status=order.status,
        )
    if order.status != "ready":
        raise InvalidTransition(
            _l(
                "Order %(number)s is not ready yet: it is %(status)s.",
                number=order.number,
                status=order_word(order.status),
            ),
            status=order.status,
        )


def hand_over(order: Order, *, staff, verification, payment_collected=False, refused=()) -> Order:
    """The customer takes the order: single-use (of two tablets confirming at once, one wins; the other gets
    AlreadyCollected and nothing changes twice). Taken lines leave the store's stock through the ledger
    (ledger.hand_over), refused lines go back to stock (ledger.release), the order is collected, and who, when
    and how (verification, payment) is recorded. Only staff of the pickup store (admin anywhere)."""
    check_may_act(order, staff)
    errors = {}
    if verification not in VERIFICATIONS:
        errors["verification"] = _l("Say how you checked that this is the customer's order.")
    pay_at_pickup = order.payment_state == "pay_at_pickup"
    if pay_at_pickup and payment_collected is not True:
        errors["payment"] = _l("This order is paid at pickup: collect the payment first, then confirm.")
    if errors:
        raise ValidationFailed(_l("Please check the highlighted fields."), errors)
    refused_lines = reasons_by_line(order, refused, field="refused", missing=_l("Say why the customer refused it."))
    if order.status != "ready":
        _check_open(order)
    open_lines = [line for line in order.lines if line.status in RESERVED_LINE_STATUSES]
    for line in refused_lines:
        if line not in open_lines:
            raise InvalidTransition(_l("That line cannot be refused: it is %(status)s.", status=line_word(line.status)))
    taken = [line for line in open_lines if line not in refused_lines]
    if not taken:
        raise ValidationFailed(
            _l("The customer refuses everything: nothing is handed over. Cancel the order instead."),
            {"refused": _l("At least one line must be handed over.")},
        )
    location_id = order.pickup_location_id
    now = utcnow()
    with transaction():
        # First the conditional status change: the loser of a double tap stops here, before touching stock.
        orders.transition(
            order,
            "collected",
            staff=staff,
            location_id=location_id,
            verification=verification,
            payment_collected=bool(pay_at_pickup and payment_collected),
            refused=[{"line": line.id, "reason": reason} for line, reason in refused_lines.items()],
        )
        reference = order.number or ""
        for line in sorted(open_lines, key=lambda item: (item.variant_id, item.id)):  # stable lock order
            change = StockChange(
                line.variant_id, location_id, line.quantity, reference=reference, reason=refused_lines.get(line, "")
            )
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
        audit.record(
            "pickup.handed_over",
            entity=order,
            staff=staff,
            location_id=location_id,
            verification=verification,
            payment_collected=bool(pay_at_pickup),
            refused=len(refused_lines),
            taken=len(taken),
        )
        notifications.handover_receipt(order)  # the receipt email and the order.collected webhook
    return order


def handover_for(number, staff) -> Handover:
    """The handover screen of an order opened from the queue (by its number): this store's, ready."""
    order = orders.get_order_for_staff(number, staff)
    check_may_act(order, staff)
    _check_open(order)
    return Handover(order=order, found_by="queue")
