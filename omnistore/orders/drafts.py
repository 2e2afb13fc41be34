"""Drafts at the counter and the units they hold.

`start_draft` opens one for a staff member at their store; `set_line`, `remove_line`,
`set_customer` and `choose_fulfilment` change it. After every change the draft is re-sourced
(orders/sourcing.py) and the units of the plan are HELD: real allocations (ledger.allocate, reference
"DRAFT-<token>") recorded as DraftHold rows that expire OMNISTORE_HOLD_MINUTES (default 15) after the last
change. Each verb returns a DraftState: the draft, its current proposal, and when the holds expire (the
UI's countdown). Expired holds are released by `release_expired_holds(now)`: called cheaply at the start of
every draft and placement verb, and every minute by the worker's job holds.release (omnistore/jobs.py; once
by hand: `flask --app app holds release`). Holds are claimed by a conditional DELETE … WHERE expires_at < now,
so of several processes exactly one releases each hold.

Placing a draft is orders/placing.py's; it uses the helpers here that are public for it (`check_actor`,
`customer_erased`, `refuse_erased_customer`, `claim_holds`, `hold_reference`, `sourcing_request`, `rehold`).
"""

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from omnistore.catalog.models import Variant
from omnistore.core import config as settings
from omnistore.core.db import transaction
from omnistore.core.errors import (
    Forbidden,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    OutOfScope,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.orders import order_rules, sourcing
from omnistore.orders.models import DraftHold, DraftLine, OrderDraft
from omnistore.orders.order_rules import LineRequest
from omnistore.orders.sourcing import SourcingRequest
from omnistore.stock import ledger
from omnistore.stores.models import Location, Staff

_REHOLD_ROUNDS = 3


def hold_minutes():
    minutes = current_app.config["OMNISTORE_HOLD_MINUTES"] if has_app_context() else settings.default("HOLD_MINUTES")
    return max(1, int(minutes))


def hold_reference(draft):
    return f"DRAFT-{draft.token}"


@dataclass(frozen=True)
class DraftState:
    draft: OrderDraft
    proposal: sourcing.Proposal | None  # None: no lines yet, or the fulfilment is not complete
    holds_expire_at: datetime | None
    held_units: int
    problem: str = ""  # why there is no proposal (e.g. "Enter the delivery address.")
    problem_fields: dict = field(default_factory=dict)
    own_holds: tuple = ()  # (variant, location, quantity) of the draft's holds, as its proposal counted them back
    # What the proposal read, own_holds counted back: the other ways of getting the goods
    # (counter.option_summaries) are proposed from it instead of reading it all again. draft_state only reads;
    # rehold's writes since then moved the allocations by just the units of own_holds and the new holds.
    reading: sourcing.Reading | None = None

    def seconds_left(self, now=None):
        if self.holds_expire_at is None or not self.held_units:
            return 0
        return max(0, int((self.holds_expire_at - (now or utcnow())).total_seconds()))

    @property
    def can_place(self):
        return (
            self.proposal is not None
            and self.proposal.complete
            and self.draft.customer_id is not None
            and self.draft.status == "open"
            and (self.draft.fulfilment != "delivery" or bool(self.draft.delivery_address))
        )


def check_actor(staff):
    if not isinstance(staff, Staff):
        raise Forbidden(_("Sign in to take orders."))


def start_draft(staff, *, customer_id=None, location=None) -> OrderDraft:
    """A new, empty draft at the staff member's store (admin: any store), collect here by default."""
    check_actor(staff)
    location = location or staff.location
    if location.id != staff.location_id and not staff.is_admin:
        raise OutOfScope(_("You can only take orders for your own store."))
    with transaction() as session:
        draft = OrderDraft(
            token=secrets.token_hex(16),
            status="open",
            staff_id=staff.id,
            location_id=location.id,
            fulfilment="pickup" if location.is_store and location.pickup_enabled else "delivery",
            pickup_location_id=location.id if location.is_store and location.pickup_enabled else None,
            delivery_address={},
            payment_state="pay_at_pickup",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        if customer_id is not None:
            draft.customer_id = _customer(session, customer_id).id
        session.add(draft)
    return draft


# A draft's lines with what each is, in one statement after the draft's own.
_LINES = selectinload(OrderDraft.lines).joinedload(DraftLine.variant).joinedload(Variant.product)


def draft_for(token, staff) -> OrderDraft:
    """The open or placed draft with `token`, if it belongs to the staff member's store (admin: any)."""
    check_actor(staff)
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
        raise NotFound(_("That order draft does not exist (any more)."))
    draft = db.session.scalar(select(OrderDraft).where(OrderDraft.token == token).options(_LINES))
    if draft is None or (draft.status == "abandoned" and not customer_erased(draft)):
        raise NotFound(_("That order draft does not exist (any more)."))
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    if draft.status == "abandoned":
        refuse_erased_customer()
    return draft


def customer_erased(draft):
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
    variant = (
        session.get(Variant, variant_id) if isinstance(variant_id, int) and not isinstance(variant_id, bool) else None
    )
    if variant is None:
        raise NotFound(_("We could not find that product variant."))
    return variant


def _editable(draft, staff):
    check_actor(staff)
    if not staff.is_admin and draft.location_id != staff.location_id:
        raise OutOfScope(_("That order draft does not exist (any more)."))
    if draft.status != "open":
        raise InvalidTransition(_("This order has already been placed."))


def set_customer(draft, customer_id, *, staff) -> DraftState:
    release_expired_holds()
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        chosen = _customer(session, customer_id).id
        if chosen != draft.customer_id:
            draft.issued_offer_id = None  # an offer is the customer's own
        draft.customer_id = chosen
        draft.updated_at = utcnow()
        return rehold(session, draft, staff)


def set_line(draft, variant_id, quantity, *, staff) -> DraftState:
    """Set the quantity of a variant in the draft (adds the line; 0 removes it) and re-hold."""
    release_expired_holds()
    if quantity in (0, "0"):
        return remove_line(draft, variant_id, staff=staff)
    quantity = order_rules.check_quantity(quantity)
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        variant = _variant(session, variant_id)
        line = next((line for line in draft.lines if line.variant_id == variant.id), None)
        if line is None:
            if len(draft.lines) >= order_rules.MAX_LINES:
                raise ValidationFailed(
                    _("Too many lines."), {"lines": _("At most %(max)d lines per order.", max=order_rules.MAX_LINES)}
                )
            draft.lines.append(DraftLine(variant_id=variant.id, quantity=quantity))
        else:
            line.quantity = quantity
        draft.updated_at = utcnow()
        session.flush()
        return rehold(session, draft, staff)


def remove_line(draft, variant_id, *, staff) -> DraftState:
    release_expired_holds()
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        line = next((line for line in draft.lines if line.variant_id == variant_id), None)
        if line is not None:
            draft.lines.remove(line)
        draft.updated_at = utcnow()
        session.flush()
        return rehold(session, draft, staff)


def choose_fulfilment(
    draft, fulfilment, *, staff, pickup_location_id=None, address=None, payment_state=None
) -> DraftState:
    """Collect at a pickup store, or deliver to `address` (a dict, checked); re-source and re-hold."""
    release_expired_holds()
    if fulfilment not in order_rules.FULFILMENTS:
        raise ValidationFailed(_("Choose pickup or delivery."), {"fulfilment": _("Choose pickup or delivery.")})
    if payment_state is not None and payment_state not in ("paid", "pay_at_pickup"):
        raise ValidationFailed(_("Choose how the customer pays."), {"payment_state": _("Unknown payment state.")})
    if fulfilment == "delivery" and payment_state == "pay_at_pickup":
        raise ValidationFailed(
            _("A delivery must be paid when it is ordered."),
            {"payment_state": _("A delivery must be paid when it is ordered.")},
        )
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        if fulfilment == "pickup":
            draft.pickup_location_id = order_rules.pickup_location(pickup_location_id).id
        else:
            draft.delivery_address = order_rules.check_address(address).as_dict()
            draft.pickup_location_id = None
        draft.fulfilment = fulfilment
        if payment_state is not None:
            draft.payment_state = payment_state
        elif fulfilment == "delivery":
            draft.payment_state = "paid"
        draft.updated_at = utcnow()
        session.flush()
        return rehold(session, draft, staff)


def abandon(draft, *, staff) -> None:
    """Drop the draft and release its holds now."""
    with transaction() as session:
        _lock_open_draft(session, draft, staff)
        _drop(session, draft, staff, _("Order draft dropped"))


def _drop(session, draft, actor, reason):
    holds = claim_holds(session, draft)
    _apply(session, draft, holds, {}, actor, reference=hold_reference(draft), reason=reason)
    draft.status = "abandoned"
    draft.holds_expire_at = None


def forget_customer_drafts(session, customer_ids, *, staff) -> int:
    """In the caller's transaction (an erase, which holds the customers' locks): every open draft of these
    customers is dropped with its holds released, and every draft of theirs forgets its delivery address.
    Returns how many open drafts were dropped."""
    if not customer_ids:
        return 0
    drafts = session.scalars(
        select(OrderDraft)
        .where(OrderDraft.customer_id.in_(customer_ids))
        .order_by(OrderDraft.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    dropped = 0
    for draft in drafts:
        if draft.status == "open":
            _drop(session, draft, staff, _("Order draft cancelled: the customer's data was erased"))
            dropped += 1
        draft.delivery_address = {}
    session.flush()
    return dropped


def refuse_erased_customer():
    raise InvalidTransition(
        _(
            "This customer's personal data was erased, so this order draft was cancelled. "
            "Start a new order with the customer's consent."
        )
    )


def draft_state(draft, *, now=None) -> DraftState:
    """The draft as it stands: its proposal (counting its own holds) and the holds' expiry. Reads only."""
    holds = db.session.scalars(select(DraftHold).where(DraftHold.draft_id == draft.id)).all()
    return _state(draft, holds, now=now, reading=sourcing.Reading())


def _lock_open_draft(session, draft, staff):
    _editable(draft, staff)
    # Read again under the lock, lines and all: another tablet may have changed them since the request read them.
    query = (
        select(OrderDraft).where(OrderDraft.id == draft.id).options(_LINES).execution_options(populate_existing=True)
    )
    locked = session.scalar(query.with_for_update())
    if locked is None or locked.status != "open":
        raise InvalidTransition(_("This order has already been placed."))


def sourcing_request(draft, holds, now=None):
    lines = tuple(LineRequest(line.variant_id, line.quantity) for line in draft.lines)
    address = draft.delivery_address or {}
    country = address.get("country") if draft.fulfilment == "delivery" else None
    if draft.fulfilment == "delivery" and not country:
        country = draft.location.country if draft.location is not None else None
    return SourcingRequest(
        lines=lines,
        fulfilment=draft.fulfilment,
        pickup_location_id=draft.pickup_location_id,
        delivery_country=country,
        selling_location_id=draft.location_id,
        own_holds=tuple((h.variant_id, h.location_id, h.quantity) for h in holds),
        now=now,
    )


def _state(draft, holds, *, now=None, proposal=None, reading=None):
    """The draft's state with `holds`; `proposal`, when given, is the plan those holds were made for; `reading`,
    when given, is kept for proposals made from the same moment (see DraftState.reading)."""
    expires, held = _expiry_and_units(holds)
    own = tuple((h.variant_id, h.location_id, h.quantity) for h in holds)
    if not draft.lines:
        return DraftState(draft, None, expires, held, _("Add an item to start the order."), own_holds=own)
    if proposal is not None:
        return DraftState(draft, proposal, expires, held, own_holds=own)
    try:
        proposal = sourcing.propose(sourcing_request(draft, holds, now), reading=reading)
    except (ValidationFailed, NotFound) as error:
        fields = getattr(error, "fields", {}) or {}
        return DraftState(draft, None, expires, held, error.message, fields, own_holds=own, reading=reading)
    return DraftState(draft, proposal, expires, held, own_holds=own, reading=reading)


def claim_holds(session, draft):
    """The draft's holds, locked (PostgreSQL) so an expiry run waits for this transaction."""
    return session.scalars(
        select(DraftHold)
        .where(DraftHold.draft_id == draft.id)
        .order_by(DraftHold.location_id, DraftHold.variant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def _apply(session, draft, holds, wanted, actor, *, reference, reason, expires_at=None, keeping=frozenset()):
    """Make the draft's holds equal `wanted` ({(variant, location): qty}), key by key in a stable order.

    Returns the keys that could not be held in full (someone took the units meanwhile), and the draft's holds
    now: `holds` were claimed under their lock, so nothing else changed them meanwhile."""
    current = {(h.variant_id, h.location_id): h for h in holds}
    short, kept = set(), []
    for key in sorted(set(current) | set(wanted), key=lambda k: (k[1], k[0])):
        hold, target = current.get(key), wanted.get(key, 0)
        have = hold.quantity if hold is not None else 0
        if target < have:
            ledger.release(ledger.StockChange(key[0], key[1], have - target, reason, reference), actor)
        elif target > have:
            try:
                ledger.allocate(
                    ledger.StockChange(key[0], key[1], target - have, reason, reference),
                    actor,
                    keep_safety_stock=key[1] in keeping,
                )
            except InsufficientStock:
                short.add(key)
                target = have
        if target == 0 and hold is not None:
            session.delete(hold)
        elif target:
            if hold is None:
                hold = DraftHold(
                    draft_id=draft.id, variant_id=key[0], location_id=key[1], quantity=target, expires_at=expires_at
                )
                session.add(hold)
            hold.quantity = target
            hold.expires_at = expires_at
            kept.append(hold)
    session.flush()
    return short, kept


def rehold(session, draft, staff):
    """Re-source the draft and hold what the plan needs (up to 3 rounds when units go away meanwhile)."""
    expires_at = utcnow() + timedelta(minutes=hold_minutes())
    for _round in range(_REHOLD_ROUNDS):
        holds = claim_holds(session, draft)
        state = _state(draft, holds, reading=sourcing.Reading())
        wanted = state.proposal.allocations() if state.proposal is not None else {}
        keeping = state.proposal.keeping_safety_stock() if state.proposal is not None else frozenset()
        short, holds = _apply(
            session,
            draft,
            holds,
            wanted,
            staff,
            reference=hold_reference(draft),
            reason=_("Held for an order draft"),
            expires_at=expires_at,
            keeping=keeping,
        )
        if not short:
            break
    draft.holds_expire_at = expires_at if holds else None
    if short:
        return _state(draft, holds)
    # Held in full: the plan stands as proposed, and what it read stands with the holds it counted back (our
    # holds moved the allocations by just those units), so the other ways are proposed from the same reading.
    expires, held = _expiry_and_units(holds)
    return replace(state, holds_expire_at=expires, held_units=held)


def _expiry_and_units(holds):
    """When the first of the holds runs out, and how many units they hold."""
    return min((h.expires_at for h in holds), default=None), sum(h.quantity for h in holds)


def hold_for_customer(customer_id, variant_id, location_id, *, until, reason) -> OrderDraft:
    """One unit of `variant_id` held at the store `location_id` for the customer until `until`: an open draft at
    that store (no clerk yet: the customer asked, e.g. from an "available near you" e-mail) for collection
    there, with its hold — the same DraftHold and ledger allocation as the counter's, keeping the store's safety
    stock, released by holds.release when the time is up. The clerk finds it among the store's open drafts.
    InsufficientStock when the unit went meanwhile (nothing is written); NotFound for an erased customer."""
    with transaction() as session:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None or customer.merged_into_id is not None:
            raise NotFound(_("We could not find that customer."))
        variant = _variant(session, variant_id)
        location = session.get(Location, location_id)
        if location is None or not location.active or not location.is_store:
            raise NotFound(_("That store does not exist (any more)."))
        draft = OrderDraft(
            token=secrets.token_hex(16),
            status="open",
            staff_id=None,
            location_id=location.id,
            customer_id=customer.id,
            fulfilment="pickup",
            pickup_location_id=location.id,
            delivery_address={},
            payment_state="pay_at_pickup",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        draft.lines.append(DraftLine(variant_id=variant.id, quantity=1))
        session.add(draft)
        session.flush()
        key = (variant.id, location.id)
        short, _held = _apply(
            session,
            draft,
            [],
            {key: 1},
            None,
            reference=hold_reference(draft),
            reason=reason,
            expires_at=until,
            keeping=frozenset({location.id}),
        )
        if short:
            raise InsufficientStock(_("Sorry, the last one has just gone."), available=0, requested=1)
        draft.holds_expire_at = until
    return draft


@dataclass(frozen=True)
class HoldsReleased:
    units: int

    def __str__(self):
        return f"{self.units} held unit(s) released"


def release_all_expired_holds(now=None) -> HoldsReleased:
    """Release every hold whose time is up, batch after batch: the periodic job, and `flask holds release`."""
    total = 0
    while released := release_expired_holds(now):
        total += released
    return HoldsReleased(total)


def release_expired_holds(now=None, *, batch=500) -> int:
    """Release holds whose time is up; the number of units released. Safe to run from several processes."""
    now = now or utcnow()
    if db.session.scalar(select(DraftHold.id).where(DraftHold.expires_at < now).limit(1)) is None:
        return 0  # the common case: one indexed probe, no write transaction
    released = 0
    with transaction() as session:
        ids = select(DraftHold.id).where(DraftHold.expires_at < now).order_by(DraftHold.id).limit(batch)
        claimed = session.execute(
            delete(DraftHold)
            .where(DraftHold.expires_at < now, DraftHold.id.in_(ids.scalar_subquery()))
            .returning(DraftHold.draft_id, DraftHold.variant_id, DraftHold.location_id, DraftHold.quantity)
            .execution_options(synchronize_session=False)
        ).all()
        tokens = dict(
            session.execute(
                select(OrderDraft.id, OrderDraft.token).where(OrderDraft.id.in_({row.draft_id for row in claimed}))
            ).all()
        )
        for row in sorted(claimed, key=lambda r: (r.location_id, r.variant_id, r.draft_id)):
            ledger.release(
                ledger.StockChange(
                    row.variant_id,
                    row.location_id,
                    row.quantity,
                    _("Hold expired"),
                    f"DRAFT-{tokens.get(row.draft_id, '')}",
                ),
                None,
            )
            released += row.quantity
    db.session.expire_all()
    return released
