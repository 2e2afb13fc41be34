"""Ordering: drafts at the counter with held units, placing an order (from a draft or the API), cancelling.

Drafts. `start_draft` opens one for a staff member at their store; `set_line`, `remove_line`,
`set_customer` and `choose_fulfilment` change it. After every change the draft is re-sourced
(orders/sourcing.py) and the units of the plan are HELD: real allocations (ledger.allocate, reference
"DRAFT-<token>") recorded as DraftHold rows that expire OMNISTORE_HOLD_MINUTES (default 15) after the last
change. Each verb returns a DraftState: the draft, its current proposal, and when the holds expire (the
UI's countdown). Expired holds are released by `release_expired_holds(now)`: called cheaply at the start of
every draft and placement verb and by `flask --app app holds release` (cron). Holds are claimed by a
conditional DELETE … WHERE expires_at < now, so of several processes exactly one releases each hold.

Placing. `place(draft_or_PlaceOrder, idempotency_key=…)` creates the order in one transaction with its
final allocations: a draft's holds are converted (released and allocated again under the order number,
key by key in a stable order, so concurrent placements never deadlock), missing units are allocated by the
conditional UPDATE of ledger.allocate. Units that went away meanwhile raise InsufficientStock ("no longer
available") carrying a fresh proposal (for a draft: re-held). An API order (PlaceOrder) is re-sourced up
to three times before giving up, since the web shop promised no particular store. The same idempotency
key (per staff member or API client) never makes a second order; a draft is placed at most once. Only the
key's SHA-256 is stored (a client may put personal data into it). A draft is placed under its customer's
lock (the one erase and merge take): an erased customer's draft is refused, whenever the erase happened. The
order gets its number (OS-YY-NNNNNN), OrderEvents "placed" and "sourced", a Transfer per source location
that is not the pickup store (every source of a delivery ships to the customer), a Pickup for a pickup
order, and the confirmation email via services/notifications.order_confirmation(order).

Cancelling. `cancel(order, …)` while the status machine allows it: allocations released where the goods
are, open transfers cancelled, the customer told (notifications).
"""
import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit, validation
from omnistore.core import config as settings
from omnistore.core.db import transaction
from omnistore.core.errors import (
    DomainError,
    Forbidden,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    OutOfScope,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.statuses import OPEN_TRANSFER_STATUSES, RESERVED_LINE_STATUSES, TransferStatus, order_word
from omnistore.core.types import utcnow
from omnistore.customers import contact as contact_rules
from omnistore.customers import finding
from omnistore.customers import services as customers
from omnistore.customers.models import Customer
from omnistore.customers.services import lock_customer
from omnistore.orders import desk as order_desk
from omnistore.orders import line_reasons, notifications, pickup_codes, sourcing
from omnistore.orders import services as orders
from omnistore.orders.models import DraftHold, DraftLine, Order, OrderDraft, OrderEvent, OrderLine, Transfer
from omnistore.orders.sourcing import LineRequest, SourcingRequest
from omnistore.stock import ledger
from omnistore.stores import staff as staff_service
from omnistore.stores.models import ApiClient, Location, Staff

IDEMPOTENCY_KEY_MAX = 150
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")
_PLACE_ATTEMPTS = 3


def hold_minutes():
    minutes = current_app.config["OMNISTORE_HOLD_MINUTES"] if has_app_context() else settings.default("HOLD_MINUTES")
    return max(1, int(minutes))


def _hold_reference(draft):
    return f"DRAFT-{draft.token}"


# --- what the UI sees ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftState:
    draft: OrderDraft
    proposal: sourcing.Proposal | None  # None: no lines yet, or the fulfilment is not complete
    holds_expire_at: datetime | None
    held_units: int
    problem: str = ""  # why there is no proposal (e.g. "Enter the delivery address.")
    problem_fields: dict = field(default_factory=dict)

    def seconds_left(self, now=None):
        if self.holds_expire_at is None or not self.held_units:
            return 0
        return max(0, int((self.holds_expire_at - (now or utcnow())).total_seconds()))

    @property
    def can_place(self):
        return (self.proposal is not None and self.proposal.complete and self.draft.customer_id is not None
                and self.draft.status == "open"
                and (self.draft.fulfilment != "delivery" or bool(self.draft.delivery_address)))


@dataclass(frozen=True)
class PlaceOrder:
    """An order without a draft (the web shop's API): everything placement needs, already checked."""

    channel: str
    customer_id: int
    lines: tuple  # of LineRequest
    fulfilment: str
    payment_state: str
    pickup_location_id: int | None = None
    delivery_address: sourcing.Address | None = None
    origin_location_id: int | None = None
    request_fingerprint: str = ""  # the API's body hash: same key + another body is refused
    contact: object = None  # a CustomerContact to match or create (inside the order's transaction)


class IdempotencyConflict(InvalidTransition):
    code = "idempotency_key_reused"


class _AlreadyPlaced(Exception):
    """A concurrent call placed the same draft first."""


# --- drafts -------------------------------------------------------------------------------------------

def _check_actor(staff):
    if not isinstance(staff, Staff):
        raise Forbidden(_("Sign in to take orders."))


def start_draft(staff, *, customer_id=None, location=None) -> OrderDraft:
    """A new, empty draft at the staff member's store (admin: any store), collect here by default."""
    _check_actor(staff)
    location = location or staff.location
    if location.id != staff.location_id and not staff.is_admin:
        raise OutOfScope(_("You can only take orders for your own store."))
    with transaction() as session:
        draft = OrderDraft(
            token=secrets.token_hex(16), status="open", staff_id=staff.id, location_id=location.id,
            fulfilment="pickup" if location.is_store and location.pickup_enabled else "delivery",
            pickup_location_id=location.id if location.is_store and location.pickup_enabled else None,
            delivery_address={}, payment_state="pay_at_pickup", created_at=utcnow(), updated_at=utcnow(),
        )
        if customer_id is not None:
            draft.customer_id = _customer(session, customer_id).id
        session.add(draft)
    return draft


def draft_for(token, staff) -> OrderDraft:
    """The open or placed draft with `token`, if it belongs to the staff member's store (admin: any)."""
    _check_actor(staff)
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
        raise NotFound(_("That order draft does not exist (any more)."))
    draft = db.session.scalar(
        select(OrderDraft).where(OrderDraft.token == token)
        .options(selectinload(OrderDraft.lines).selectinload(DraftLine.variant).selectinload(Variant.product))
    )
    if draft is None or (draft.status == "abandoned" and not _customer_erased(draft)):
        raise NotFound(_("That order draft does not exist (any more)."))
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    if draft.status == "abandoned":
        _refuse_erased_customer()
    return draft


def _customer_erased(draft):
    if draft.customer_id is None:
        return False
    return db.session.scalar(select(Customer.erased_at).where(Customer.id == draft.customer_id)) is not None


def open_drafts(staff, *, limit=20):
    """The staff member's store's open drafts, newest first (the queue of customers being served)."""
    query = select(OrderDraft).where(OrderDraft.status == "open")
    if not staff.is_admin:
        query = query.where(OrderDraft.location_id == staff.location_id)
    return db.session.scalars(query.order_by(OrderDraft.updated_at.desc(), OrderDraft.id.desc()).limit(limit)).all()


def _customer(session, customer_id):
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None or customer.erased_at is not None:
        raise ValidationFailed(_("Please choose the customer."), {"customer": _("We could not find that customer.")})
    return customer


def _variant(session, variant_id):
    variant = session.get(Variant, variant_id) if isinstance(variant_id, int) and not isinstance(
        variant_id, bool) else None
    if variant is None:
        raise NotFound(_("We could not find that product variant."))
    return variant


def _editable(draft, staff):
    _check_actor(staff)
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    if draft.status != "open":
        raise InvalidTransition(_("This order has already been placed."))


def set_customer(draft, customer_id, *, staff) -> DraftState:
    release_expired_holds()
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        draft.customer_id = _customer(session, customer_id).id
        draft.updated_at = utcnow()
        return _rehold(session, draft, staff)


def set_line(draft, variant_id, quantity, *, staff) -> DraftState:
    """Set the quantity of a variant in the draft (adds the line; 0 removes it) and re-hold."""
    release_expired_holds()
    if quantity in (0, "0"):
        return remove_line(draft, variant_id, staff=staff)
    quantity = sourcing.check_quantity(quantity)
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        variant = _variant(session, variant_id)
        line = next((line for line in draft.lines if line.variant_id == variant.id), None)
        if line is None:
            if len(draft.lines) >= sourcing.MAX_LINES:
                raise ValidationFailed(_("Too many lines."), {
                    "lines": _("At most %(max)d lines per order.", max=sourcing.MAX_LINES)})
            draft.lines.append(DraftLine(variant_id=variant.id, quantity=quantity))
        else:
            line.quantity = quantity
        draft.updated_at = utcnow()
        session.flush()
        return _rehold(session, draft, staff)


def remove_line(draft, variant_id, *, staff) -> DraftState:
    release_expired_holds()
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        line = next((line for line in draft.lines if line.variant_id == variant_id), None)
        if line is not None:
            draft.lines.remove(line)
        draft.updated_at = utcnow()
        session.flush()
        return _rehold(session, draft, staff)


def choose_fulfilment(draft, fulfilment, *, staff, pickup_location_id=None, address=None,
                      payment_state=None) -> DraftState:
    """Collect at a pickup store, or deliver to `address` (a dict, checked); re-source and re-hold."""
    release_expired_holds()
    if fulfilment not in sourcing.FULFILMENTS:
        raise ValidationFailed(_("Choose pickup or delivery."), {"fulfilment": _("Choose pickup or delivery.")})
    if payment_state is not None and payment_state not in ("paid", "pay_at_pickup"):
        raise ValidationFailed(_("Choose how the customer pays."), {"payment_state": _("Unknown payment state.")})
    if fulfilment == "delivery" and payment_state == "pay_at_pickup":
        raise ValidationFailed(_("A delivery must be paid when it is ordered."), {
            "payment_state": _("A delivery must be paid when it is ordered.")})
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        if fulfilment == "pickup":
            draft.pickup_location_id = sourcing.pickup_location(pickup_location_id).id
        else:
            draft.delivery_address = sourcing.check_address(address).as_dict()
            draft.pickup_location_id = None
        draft.fulfilment = fulfilment
        if payment_state is not None:
            draft.payment_state = payment_state
        elif fulfilment == "delivery":
            draft.payment_state = "paid"
        draft.updated_at = utcnow()
        session.flush()
        return _rehold(session, draft, staff)


def abandon(draft, *, staff) -> None:
    """Drop the draft and release its holds now."""
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        _drop(session, draft, staff, _("Order draft dropped"))


def _drop(session, draft, actor, reason):
    holds = _claim_holds(session, draft)
    _apply(session, draft, holds, {}, actor, reference=_hold_reference(draft), reason=reason)
    draft.status = "abandoned"
    draft.holds_expire_at = None


def forget_customer_drafts(session, customer_ids, *, staff) -> int:
    """In the caller's transaction (an erase, which holds the customers' locks): every open draft of these
    customers is dropped with its holds released, and every draft of theirs forgets its delivery address.
    Returns how many open drafts were dropped."""
    if not customer_ids:
        return 0
    drafts = session.scalars(
        select(OrderDraft).where(OrderDraft.customer_id.in_(customer_ids)).order_by(OrderDraft.id)
        .with_for_update().execution_options(populate_existing=True)).all()
    dropped = 0
    for draft in drafts:
        if draft.status == "open":
            _drop(session, draft, staff, _("Order draft cancelled: the customer's data was erased"))
            dropped += 1
        draft.delivery_address = {}
    session.flush()
    return dropped


def _refuse_erased_customer():
    raise InvalidTransition(_("This customer's personal data was erased, so this order draft was cancelled. "
                              "Start a new order with the customer's consent."))


def draft_state(draft, *, now=None) -> DraftState:
    """The draft as it stands: its proposal (counting its own holds) and the holds' expiry. Reads only."""
    holds = db.session.scalars(select(DraftHold).where(DraftHold.draft_id == draft.id)).all()
    return _state(draft, holds, now=now)


def _lock_open_draft(session, draft, staff):
    _editable(draft, staff)
    query = select(OrderDraft).where(OrderDraft.id == draft.id).execution_options(populate_existing=True)
    locked = session.scalar(query.with_for_update())
    if locked is None or locked.status != "open":
        raise InvalidTransition(_("This order has already been placed."))


def _request(draft, holds, now=None):
    lines = tuple(LineRequest(line.variant_id, line.quantity) for line in draft.lines)
    address = draft.delivery_address or {}
    country = address.get("country") if draft.fulfilment == "delivery" else None
    if draft.fulfilment == "delivery" and not country:
        country = draft.location.country if draft.location is not None else None
    return SourcingRequest(
        lines=lines, fulfilment=draft.fulfilment, pickup_location_id=draft.pickup_location_id,
        delivery_country=country, selling_location_id=draft.location_id,
        own_holds=tuple((h.variant_id, h.location_id, h.quantity) for h in holds), now=now,
    )


def _state(draft, holds, *, now=None):
    held = sum(h.quantity for h in holds)
    expires = min((h.expires_at for h in holds), default=None)
    if not draft.lines:
        return DraftState(draft, None, expires, held, _("Add an item to start the order."))
    try:
        proposal = sourcing.propose(_request(draft, holds, now))
    except (ValidationFailed, NotFound) as error:
        return DraftState(draft, None, expires, held, error.message, getattr(error, "fields", {}) or {})
    return DraftState(draft, proposal, expires, held)


def _claim_holds(session, draft):
    """The draft's holds, locked (PostgreSQL) so an expiry run waits for this transaction."""
    return session.scalars(
        select(DraftHold).where(DraftHold.draft_id == draft.id).order_by(DraftHold.location_id, DraftHold.variant_id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()


def _apply(session, draft, holds, wanted, actor, *, reference, reason, expires_at=None, keeping=frozenset()):
    """Make the draft's holds equal `wanted` ({(variant, location): qty}), key by key in a stable order.

    Returns the keys that could not be held in full (someone took the units meanwhile)."""
    current = {(h.variant_id, h.location_id): h for h in holds}
    short = set()
    for key in sorted(set(current) | set(wanted), key=lambda k: (k[1], k[0])):
        hold, target = current.get(key), wanted.get(key, 0)
        have = hold.quantity if hold is not None else 0
        if target < have:
            ledger.release(ledger.StockChange(key[0], key[1], have - target, reason, reference), actor)
        elif target > have:
            try:
                ledger.allocate(ledger.StockChange(key[0], key[1], target - have, reason, reference), actor,
                               keep_safety_stock=key[1] in keeping)
            except InsufficientStock:
                short.add(key)
                target = have
        if target == 0 and hold is not None:
            session.delete(hold)
        elif target:
            if hold is None:
                hold = DraftHold(draft_id=draft.id, variant_id=key[0], location_id=key[1], quantity=target,
                                 expires_at=expires_at)
                session.add(hold)
            hold.quantity = target
            hold.expires_at = expires_at
    session.flush()
    return short


def _rehold(session, draft, staff):
    """Re-source the draft and hold what the plan needs (up to 3 rounds when units go away meanwhile)."""
    expires_at = utcnow() + timedelta(minutes=hold_minutes())
    for _round in range(_PLACE_ATTEMPTS):
        holds = _claim_holds(session, draft)
        state = _state(draft, holds)
        wanted = state.proposal.allocations() if state.proposal is not None else {}
        keeping = state.proposal.keeping_safety_stock() if state.proposal is not None else frozenset()
        short = _apply(session, draft, holds, wanted, staff, reference=_hold_reference(draft),
                       reason=_("Held for an order draft"), expires_at=expires_at, keeping=keeping)
        if not short:
            break
    holds = session.scalars(select(DraftHold).where(DraftHold.draft_id == draft.id)).all()
    draft.holds_expire_at = expires_at if holds else None
    return _state(draft, holds)


def release_expired_holds(now=None, *, batch=500) -> int:
    """Release holds whose time is up; the number of units released. Safe to run from several processes."""
    now = now or utcnow()
    if db.session.scalar(select(DraftHold.id).where(DraftHold.expires_at < now).limit(1)) is None:
        return 0  # the common case: one indexed probe, no write transaction
    released = 0
    with transaction() as session:
        ids = select(DraftHold.id).where(DraftHold.expires_at < now).order_by(DraftHold.id).limit(batch)
        claimed = session.execute(
            delete(DraftHold).where(DraftHold.expires_at < now, DraftHold.id.in_(ids.scalar_subquery()))
            .returning(DraftHold.draft_id, DraftHold.variant_id, DraftHold.location_id, DraftHold.quantity)
            .execution_options(synchronize_session=False)
        ).all()
        tokens = dict(session.execute(
            select(OrderDraft.id, OrderDraft.token).where(OrderDraft.id.in_({row.draft_id for row in claimed}))
        ).all())
        for row in sorted(claimed, key=lambda r: (r.location_id, r.variant_id, r.draft_id)):
            ledger.release(ledger.StockChange(row.variant_id, row.location_id, row.quantity, _("Hold expired"),
                                            f"DRAFT-{tokens.get(row.draft_id, '')}"), None)
            released += row.quantity
    db.session.expire_all()
    return released


# --- placing --------------------------------------------------------------------------------------------

def _scoped_key(idempotency_key, *, staff=None, api_client=None):
    if idempotency_key in (None, ""):
        return None
    if not isinstance(idempotency_key, str) or len(idempotency_key) > IDEMPOTENCY_KEY_MAX or not \
            _KEY_CHARS.fullmatch(idempotency_key):
        raise ValidationFailed(_("The idempotency key is not valid."), {
            "idempotency_key": _("Use 1 to %(max)d visible ASCII characters.", max=IDEMPOTENCY_KEY_MAX)})
    if api_client is not None:
        scoped = f"api:{api_client.id}:{idempotency_key}"
    elif staff is not None:
        scoped = f"staff:{staff.id}:{idempotency_key}"
    else:
        scoped = f"any:{idempotency_key}"
    return hash_key(scoped)


def hash_key(scoped_key):
    """What is stored of an idempotency key: its SHA-256 (a client may put anything in a key, an email address
    too; the hash still finds the order again, and erasing a customer leaves nothing readable behind)."""
    return hashlib.sha256(scoped_key.encode()).hexdigest()


def order_by_key(scoped_key):
    return db.session.scalar(select(Order).where(Order.idempotency_key == scoped_key)) if scoped_key else None


def _fingerprint_of(order):
    detail = db.session.scalar(
        select(OrderEvent.detail).where(OrderEvent.order_id == order.id, OrderEvent.kind == "placed").limit(1))
    return (detail or {}).get("request_fingerprint", "")


@dataclass(frozen=True)
class Placed:
    """The result of place(): the order, and whether this call made it (False: an earlier call did)."""

    order: Order
    created: bool


def place(source, *, idempotency_key=None, staff=None, api_client=None) -> Order:
    """Place a draft (OrderDraft) or an API order (PlaceOrder); see the module docstring. Returns the Order."""
    return place_order(source, idempotency_key=idempotency_key, staff=staff, api_client=api_client).order


def place_order(source, *, idempotency_key=None, staff=None, api_client=None) -> Placed:
    """Like place(), also telling whether the order was created now or found (a replayed key or draft)."""
    if staff is None and api_client is None:
        raise Forbidden(_("Sign in to take orders."))
    key = _scoped_key(idempotency_key, staff=staff, api_client=api_client)
    release_expired_holds()
    is_draft = isinstance(source, OrderDraft)
    if is_draft:
        _editable_or_placed(source, staff)
    fingerprint = getattr(source, "request_fingerprint", "")
    last_error = None
    for _attempt in range(1 if is_draft else _PLACE_ATTEMPTS):
        existing = _existing(source, key, fingerprint)
        if existing is not None:
            return Placed(existing, False)
        try:
            with transaction() as session:
                order = _place_once(session, source, key, staff=staff, api_client=api_client)
            return Placed(order, True)
        except InsufficientStock as error:
            last_error = error
        except DomainError as error:
            if error.code != "duplicate_customer":
                raise
            last_error = None  # the customer was created a moment ago by a concurrent order: match it now
        except (IntegrityError, _AlreadyPlaced):  # the same key or draft placed a moment ago by a concurrent call
            db.session.rollback()
            existing = _existing(source, key, fingerprint)
            if existing is None:
                if is_draft:  # dropped meanwhile (the customer erased, or the clerk dropped it)
                    _editable_or_placed(db.session.get(OrderDraft, source.id, populate_existing=True), staff)
                    raise InvalidTransition(_("This order draft changed a moment ago. Check it and place again.")) \
                        from None
                raise
            return Placed(existing, False)
    raise _no_longer_available(source, last_error, staff)


def _editable_or_placed(draft, staff):
    _check_actor(staff)
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    if _customer_erased(draft) and draft.order_id is None:
        _refuse_erased_customer()
    if draft.status == "abandoned":
        raise NotFound(_("That order draft does not exist (any more)."))


def _existing(source, key, fingerprint):
    if isinstance(source, OrderDraft):
        order_id = db.session.scalar(select(OrderDraft.order_id).where(OrderDraft.id == source.id))
        if order_id is not None:
            return db.session.get(Order, order_id)
    order = order_by_key(key)
    if order is not None and fingerprint and _fingerprint_of(order) != fingerprint:
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different order."),
                                  order=order.number)
    return order


def _no_longer_available(source, error, staff):
    if isinstance(source, OrderDraft):
        with transaction() as session:
            state = _rehold(session, source, staff)
        proposal = state.proposal
    else:
        try:
            proposal = sourcing.propose(_api_request(source))
        except (ValidationFailed, NotFound):
            proposal = None
    message = _("Some items are no longer available as planned: someone else ordered them meanwhile. "
                "Check the new proposal.")
    if proposal is not None and not proposal.complete:
        message = _("Some items are no longer available: someone else ordered them meanwhile.")
        held_back = [line.reason for line in proposal.unavailable if line.reason_code not in ("short", "nowhere")]
        if held_back:  # the network has the goods, a rule holds them back: say which
            message = _("Some items cannot be sent now: %(reason)s", reason=held_back[0])
    error = InsufficientStock(message, lines=[
        {"variant_id": line.variant_id, "quantity": line.quantity, "reason": line.reason}
        for line in (proposal.unavailable if proposal else ())])
    error.proposal = proposal  # the fresh plan (for a draft: already held again); not part of the JSON
    return error


def _api_request(place_order_):
    return SourcingRequest(
        lines=tuple(place_order_.lines), fulfilment=place_order_.fulfilment,
        pickup_location_id=place_order_.pickup_location_id,
        delivery_country=place_order_.delivery_address.country if place_order_.delivery_address else None,
        selling_location_id=place_order_.origin_location_id,
    )


def _place_once(session, source, key, *, staff, api_client):
    now = utcnow()
    actor = api_client if api_client is not None else staff
    if isinstance(source, OrderDraft):
        # The customer first (the lock an erase or a merge takes before it touches the drafts), then the draft,
        # claimed only if it still belongs to that customer: an erased customer's draft is never placed.
        customer_id = session.scalar(select(OrderDraft.customer_id).where(OrderDraft.id == source.id))
        if customer_id is not None:
            customer = lock_customer(session, customer_id, share=True)
            if customer is None or customer.erased_at is not None:
                _refuse_erased_customer()
            if customer.merged_into_id is not None:
                raise InvalidTransition(_("This customer's profile was merged into another one a moment ago. "
                                          "Choose the customer again."))
        claimed = session.execute(
            update(OrderDraft).where(OrderDraft.id == source.id, OrderDraft.status == "open",
                                     OrderDraft.customer_id == customer_id if customer_id is not None
                                     else OrderDraft.customer_id.is_(None))
            .values(status="placed", updated_at=now).execution_options(synchronize_session=False)
        ).rowcount
        session.refresh(source)
        if claimed != 1:
            raise _AlreadyPlaced()
        if source.customer_id is None:
            raise ValidationFailed(_("Please choose the customer."), {"customer": _("Choose or add the customer.")})
        if source.fulfilment == "delivery" and not source.delivery_address:
            raise ValidationFailed(_("Enter the delivery address."), {"address": _("Enter the delivery address.")})
        holds = _claim_holds(session, source)
        request = _request(source, holds, now)
        channel, customer_id = "store", source.customer_id
        fulfilment, payment_state = source.fulfilment, source.payment_state
        address = source.delivery_address if source.fulfilment == "delivery" else {}
        origin_id = source.location_id
        fingerprint = ""
    else:
        holds = ()
        request = dataclasses.replace(_api_request(source), now=now)
        channel, customer_id = source.channel, source.customer_id
        if source.contact is not None:
            customer_id = _customer_for(session, source.contact, channel)
        fulfilment, payment_state = source.fulfilment, source.payment_state
        address = source.delivery_address.as_dict() if source.delivery_address else {}
        origin_id = source.origin_location_id
        fingerprint = source.request_fingerprint
    proposal = sourcing.propose(request)
    if not proposal.complete:
        raise InsufficientStock(_("Some items are not available."))
    # Every source but the pickup store sends a transfer: its daily capacity is checked under its lock.
    sourcing.claim_transfer_capacity(session, [
        loc for loc in proposal.sources if fulfilment == "delivery" or loc.id != request.pickup_location_id], now)

    order = Order(
        channel=channel, customer_id=customer_id, fulfilment=fulfilment, status="placed",
        payment_state=payment_state, pickup_location_id=request.pickup_location_id if fulfilment == "pickup" else None,
        origin_location_id=origin_id, delivery_address=address,
        currency=current_app.config["OMNISTORE_CURRENCY"], total_minor=proposal.total_minor,
        idempotency_key=key, placed_by_staff_id=staff.id if staff is not None else None,
        placed_by_api_client_id=api_client.id if api_client is not None else None,
        promised_at=_promised_at(proposal), placed_at=now, updated_at=now,
    )
    session.add(order)
    session.flush()
    order.number = orders.order_number(order.id, now)
    session.flush()

    # Final allocations under the order number: per (variant, location), in a stable order, first giving
    # back what the draft held there, then allocating what the order needs (a conditional UPDATE).
    needed = proposal.allocations()
    keeping = proposal.keeping_safety_stock()
    held = {(h.variant_id, h.location_id): h.quantity for h in holds}
    reference = _hold_reference(source) if isinstance(source, OrderDraft) else ""
    for variant_id, location_id in sorted(set(needed) | set(held), key=lambda k: (k[1], k[0])):
        if held.get((variant_id, location_id)):
            ledger.release(ledger.StockChange(variant_id, location_id, held[(variant_id, location_id)],
                                            _("Hold converted into order %(number)s", number=order.number),
                                            reference), actor)
        if needed.get((variant_id, location_id)):
            ledger.allocate(ledger.StockChange(variant_id, location_id, needed[(variant_id, location_id)],
                                             _("Order %(number)s", number=order.number), order.number), actor,
                           keep_safety_stock=location_id in keeping)
    for hold in holds:
        session.delete(hold)

    transfers = {}
    for planned in proposal.lines:
        line = OrderLine(variant_id=planned.variant_id, quantity=planned.quantity,
                         unit_price_minor=planned.unit_price_minor, source_location_id=planned.source.id,
                         status="allocated", status_reason="",
                         source_reason={"code": planned.reason_code, "params": planned.reason_params})
        if fulfilment == "delivery" or planned.source.id != request.pickup_location_id:
            transfer = transfers.get(planned.source.id)
            if transfer is None:
                transfer = transfers[planned.source.id] = Transfer(
                    order_id=order.id, source_location_id=planned.source.id,
                    destination_location_id=request.pickup_location_id if fulfilment == "pickup" else None,
                    status="requested", created_at=now)
                session.add(transfer)
                session.flush()
            line.transfer_id = transfer.id
        order.lines.append(line)
    session.flush()

    who = {"staff": staff, "api_client": api_client, "location_id": origin_id}
    orders.record_event(order, "placed", to_status="placed", channel=channel,
                        request_fingerprint=fingerprint, **who)
    orders.record_event(order, "sourced", split=proposal.split, split_reason=proposal.split_reason,
                        shipping_fee_minor=proposal.shipping_fee_minor,
                        promised_date=proposal.promised_date.isoformat() if proposal.promised_date else None,
                        lines=[{"variant_id": p.variant_id, "quantity": p.quantity, "source": p.source.code,
                                "reason": p.reason, "reason_code": p.reason_code, "reason_params": p.reason_params,
                                "promised_date": p.promised_date.isoformat()}
                               for p in proposal.lines], **who)
    if fulfilment == "pickup":
        pickup_codes.open_pickup(order)
    if isinstance(source, OrderDraft):
        source.order_id = order.id
    session.flush()
    notifications.order_confirmation(order)
    audit.record("order.placed", entity=order, staff=staff, api_client=api_client, location_id=origin_id,
                 number=order.number, channel=channel, total_minor=order.total_minor)
    return order


def _customer_for(session, contact, channel):
    """The id of the profile with the contact's email or phone, or of a new one (in the caller's transaction)."""
    for _attempt in range(2):
        existing = finding.find_by_contact(email=contact.email, phone=contact.phone)
        if existing is None:
            break
        # Held until the order commits, so an erase or merge of this profile waits for it (or went first).
        locked = lock_customer(session, existing.id, share=True)
        if locked is not None and locked.active:
            return locked.id
    else:
        raise InvalidTransition(_("The customer's profile changed a moment ago. Please try again."))
    return customers.create_customer(customers.NewCustomer(
        first_name=contact.first_name, last_name=contact.last_name, email=contact.email, phone=contact.phone,
        locale=contact.locale), channel=channel).id


def _promised_at(proposal):
    """The promised date as the start of that day, in UTC (shown in the location's zone)."""
    if proposal.promised_date is None:
        return None
    return datetime(proposal.promised_date.year, proposal.promised_date.month, proposal.promised_date.day,
                    tzinfo=UTC)


def shipping_fee_minor(order) -> int:
    """What the customer pays beyond the goods (a delivery's shipping fee)."""
    return max(order.total_minor - sum(line.quantity * line.unit_price_minor for line in order.lines), 0)


# --- cancelling -------------------------------------------------------------------------------------------

def can_cancel(order):
    return orders.can_transition(order, "cancelled")


def cancel(order, *, staff=None, api_client=None, by_customer=False, reason="") -> Order:
    """The one way an order is cancelled, from the order page (staff), the customer's status page
    (`by_customer`, after services/customer_pickups checked the page's own rule) or the API.

    Staff: only the selling or the pickup store's staff, or an admin (services/order_desk.may_manage), and
    only with a reason (shown in the history and told to the customer). Then, while the status machine allows
    it: allocations released where the goods are, open transfers cancelled, the customer (and webhooks)
    told. Forbidden / ValidationFailed / InvalidTransition / AlreadyCollected otherwise."""
    if staff is None and api_client is None and not by_customer:
        raise Forbidden(_("Sign in to cancel orders."))
    if staff is not None and api_client is None:
        order_desk.require_manage(order, staff)
        reason = order_desk.cancel_reason(reason)
        if not orders.can_transition(order, "cancelled"):
            raise InvalidTransition(_("Order %(number)s can no longer be cancelled: it is %(status)s.",
                                      number=order.number,
                                      status=order_word(order.status)))
    reason = " ".join(str(reason or "").split())[:300]
    actor = api_client if api_client is not None else staff
    with transaction() as session:
        orders.transition(order, "cancelled", staff=staff, api_client=api_client, reason=reason,
                          by_customer=by_customer)
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                .execution_options(populate_existing=True)).all()
        transfers = {t.id: t for t in session.scalars(select(Transfer).where(Transfer.order_id == order.id))}
        to_release = {}
        for line in lines:
            if line.status not in RESERVED_LINE_STATUSES:
                continue
            transfer = transfers.get(line.transfer_id)
            if transfer is None or transfer.status in OPEN_TRANSFER_STATUSES:
                where = line.source_location_id
            elif transfer.status == "received" and transfer.destination_location_id is not None:
                where = transfer.destination_location_id
            else:
                continue  # on the road: the receiving store gives it back when it arrives
            key = (line.variant_id, where)
            to_release[key] = to_release.get(key, 0) + line.quantity
            line_reasons.mark(line, "released", "cancelled_by_customer" if by_customer else "order_cancelled")
        for (variant_id, location_id) in sorted(to_release, key=lambda k: (k[1], k[0])):
            ledger.release(ledger.StockChange(variant_id, location_id, to_release[(variant_id, location_id)],
                                            _("Order %(number)s cancelled", number=order.number), order.number),
                          actor)
        for transfer in transfers.values():
            if transfer.status in OPEN_TRANSFER_STATUSES:
                transfer.status = TransferStatus.CANCELLED
        session.flush()
        notifications.order_cancelled(order, reason=reason)
        audit.record("order.cancelled", entity=order, staff=staff, api_client=api_client,
                     number=order.number, reason=reason, by_customer=by_customer)
    return order


def order_for_api(number, api_client) -> Order:
    """An order by number for an integration, within its scope (stores/staff.py); NotFound otherwise,
    the same answer as for a number that does not exist, so numbers cannot be probed."""
    number = number.strip().upper() if isinstance(number, str) else ""
    order = db.session.scalar(
        select(Order).where(Order.number == number)
        .options(selectinload(Order.lines).selectinload(OrderLine.variant),
                 selectinload(Order.lines).selectinload(OrderLine.source_location),
                 selectinload(Order.pickup), selectinload(Order.pickup_location),
                 selectinload(Order.origin_location))
    ) if 0 < len(number) <= 20 else None
    if order is None or not staff_service.api_order_in_scope(api_client, order):
        raise NotFound(_("No order with that number."))
    return order



# --- web orders: the API's intake ------------------------------------------------------------------------

WEB_ORDER_KEYS = {"customer", "lines", "fulfilment", "pickup_location", "delivery_address", "payment_state",
                  "channel"}
CUSTOMER_KEYS = {"email", "phone", "first_name", "last_name", "locale"}
LINE_KEYS = {"sku", "quantity"}
API_CHANNELS = ("web", "app", "phone")
NAME_MAX = 100


@dataclass(frozen=True)
class CustomerContact:
    """Who ordered, as the web shop sent it: matched to a profile by email or phone, else created."""

    email: str | None = None
    phone: str | None = None
    first_name: str = ""
    last_name: str = ""
    locale: str | None = None


def fingerprint(body) -> str:
    """A stable hash of a JSON document (key order and spacing do not matter)."""
    import hashlib
    import json

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _json_text(value, name, errors, *, required=False, max_length=NAME_MAX):
    if value == "":
        value = None
    return validation.text(value, field=name, errors=errors, max_length=max_length, required=required)


def web_order_from_json(body) -> tuple:
    """(PlaceOrder without customer, CustomerContact) from the API's JSON body; ValidationFailed with a
    message per field (paths like "lines[0].sku") when anything is wrong. Reads only."""
    if not isinstance(body, dict):
        raise ValidationFailed(_("Send the order as a JSON object."), {"body": _("Must be a JSON object.")})
    errors = {}
    for key in sorted(set(body) - WEB_ORDER_KEYS, key=str):
        errors[str(key)[:40]] = _("Unknown field; allowed: %(allowed)s.", allowed=", ".join(sorted(WEB_ORDER_KEYS)))

    contact = _contact_from_json(body.get("customer"), errors)

    channel = body.get("channel", "web")
    if channel not in API_CHANNELS:
        errors["channel"] = _("Must be one of %(allowed)s.", allowed=", ".join(API_CHANNELS))
    fulfilment = body.get("fulfilment")
    if fulfilment not in sourcing.FULFILMENTS:
        errors["fulfilment"] = _("Must be one of %(allowed)s.", allowed=", ".join(sourcing.FULFILMENTS))
    payment_state = body.get("payment_state", "paid")
    if payment_state not in ("paid", "pay_at_pickup"):
        errors["payment_state"] = _("Must be one of %(allowed)s.", allowed="paid, pay_at_pickup")
    elif payment_state == "pay_at_pickup" and fulfilment == "delivery":
        errors["payment_state"] = _("A delivery must be paid when it is ordered.")

    lines = _lines_from_json(body.get("lines"), errors)

    pickup_id, address = None, None
    if fulfilment == "pickup":
        if "delivery_address" in body and body["delivery_address"] is not None:
            errors["delivery_address"] = _("Only for deliveries.")
        code = body.get("pickup_location")
        if not isinstance(code, str) or not code.strip():
            errors["pickup_location"] = _("Required for a pickup: the code of a store with a pickup desk.")
        elif validation.bad_character(code):  # checked before any query: PostgreSQL refuses a NUL outright
            errors["pickup_location"] = validation.BAD_CHARACTER
        else:
            from omnistore.stores.locations import get_location

            location = get_location(code)
            if location is None:
                errors["pickup_location"] = _("No location with the code %(code)s.", code=code.strip()[:16])
            else:
                try:
                    pickup_id = sourcing.pickup_location(location.id).id
                except ValidationFailed as error:
                    errors["pickup_location"] = error.fields.get("pickup_location", error.message)
    elif fulfilment == "delivery":
        if body.get("pickup_location") is not None:
            errors["pickup_location"] = _("Only for pickups.")
        if body.get("delivery_address") is None:
            errors["delivery_address"] = _("Required for a delivery.")
        else:
            try:
                address = sourcing.check_address(body.get("delivery_address"))
            except ValidationFailed as error:
                errors.update({f"delivery_address.{name}" if name != "address" else "delivery_address": message
                               for name, message in error.fields.items()})
    if errors:
        raise ValidationFailed(_("The order was not accepted; nothing was created. See the fields."), errors)
    return PlaceOrder(
        channel=channel, customer_id=0, lines=tuple(lines), fulfilment=fulfilment, payment_state=payment_state,
        pickup_location_id=pickup_id, delivery_address=address, request_fingerprint=fingerprint(body),
    ), contact


def _contact_from_json(data, errors):
    if not isinstance(data, dict):
        errors["customer"] = _("Required: an object with the customer's email and/or phone and name.")
        return None
    for key in sorted(set(data) - CUSTOMER_KEYS, key=str):
        errors[f"customer.{str(key)[:40]}"] = _("Unknown field; allowed: %(allowed)s.",
                                                allowed=", ".join(sorted(CUSTOMER_KEYS)))
    email = _json_text(data.get("email"), "customer.email", errors, max_length=254) or None
    phone = _json_text(data.get("phone"), "customer.phone", errors, max_length=40) or None
    if email is None and phone is None and "customer.email" not in errors and "customer.phone" not in errors:
        errors["customer.email"] = _("Send an email address or a phone number (or both).")
    if email:
        try:
            email = contact_rules.normalize_email(email)
        except ValidationFailed as error:
            errors["customer.email"] = error.fields.get("email", error.message)
    if phone:
        try:
            phone = contact_rules.normalize_phone(phone)
        except ValidationFailed as error:
            errors["customer.phone"] = error.fields.get("phone", error.message)
    locale = data.get("locale")
    if locale is not None and locale not in ("en", "de", "da"):
        errors["customer.locale"] = _("Must be one of %(allowed)s.", allowed="en, de, da")
    first = _json_text(data.get("first_name"), "customer.first_name", errors)
    last = _json_text(data.get("last_name"), "customer.last_name", errors)
    if not first and not last and "customer.first_name" not in errors and "customer.last_name" not in errors:
        errors["customer.last_name"] = _("Send the customer's name (first_name and/or last_name).")
    return CustomerContact(email=email, phone=phone, first_name=first, last_name=last, locale=locale)


def _lines_from_json(items, errors):
    if not isinstance(items, list) or not items:
        errors["lines"] = _("Required: a list of {\"sku\", \"quantity\"} objects.")
        return []
    if len(items) > sourcing.MAX_LINES:
        errors["lines"] = _("At most %(max)d lines per order.", max=sourcing.MAX_LINES)
        return []
    skus = {item.get("sku").strip() for item in items
            if isinstance(item, dict) and isinstance(item.get("sku"), str) and 0 < len(item["sku"].strip()) <= 64
            and not validation.bad_character(item["sku"])}
    variants = dict(db.session.execute(select(Variant.sku, Variant.id).where(Variant.sku.in_(skus))).all()) \
        if skus else {}
    lines = []
    for index, item in enumerate(items):
        where = f"lines[{index}]"
        if not isinstance(item, dict):
            errors[where] = _("Must be an object with sku and quantity.")
            continue
        for key in sorted(set(item) - LINE_KEYS, key=str):
            errors[f"{where}.{str(key)[:40]}"] = _("Unknown field; allowed: sku, quantity.")
        sku, quantity = item.get("sku"), item.get("quantity")
        variant_id = None
        if not isinstance(sku, str) or not sku.strip():
            errors[f"{where}.sku"] = _("Required.")
        elif validation.bad_character(sku):
            errors[f"{where}.sku"] = validation.BAD_CHARACTER
        else:
            variant_id = variants.get(sku.strip())
            if variant_id is None:
                errors[f"{where}.sku"] = _("No variant with SKU %(sku)s.", sku=sku.strip()[:64])
        if type(quantity) is not int:
            errors[f"{where}.quantity"] = _("Must be a whole number (a JSON integer).")
        elif quantity < 1:
            errors[f"{where}.quantity"] = _("The quantity must be at least 1.")
        elif quantity > sourcing.MAX_LINE_QUANTITY:
            errors[f"{where}.quantity"] = _("At most %(max)d per line.", max=sourcing.MAX_LINE_QUANTITY)
        elif variant_id is not None:
            lines.append(LineRequest(variant_id, quantity))
    return lines


def place_web_order(body, *, api_client, idempotency_key=None) -> Placed:
    """An order from the web shop (POST /api/v1/orders): checked in full first (ValidationFailed creates
    nothing), then the customer matched by email or phone (else created) and the order placed, in one
    transaction; the same key with the same body gives back the same order, with another body
    IdempotencyConflict."""
    if not isinstance(api_client, ApiClient):
        raise Forbidden(_("Sign in to take orders."))
    staff_service.require_api_write(api_client)
    key = _scoped_key(idempotency_key, api_client=api_client)
    if key is not None:  # a replay needs no checks (stock or SKUs may have changed since)
        existing = _existing(None, key, fingerprint(body))
        if existing is not None:
            return Placed(existing, False)
    request, contact = web_order_from_json(body)
    pickup = db.session.get(Location, request.pickup_location_id) if request.pickup_location_id else None
    staff_service.require_api_order_scope(api_client, channel=request.channel, fulfilment=request.fulfilment,
                                          pickup_location_code=pickup.code if pickup is not None else None)
    return place_order(dataclasses.replace(request, contact=contact),
                       idempotency_key=idempotency_key, api_client=api_client)
