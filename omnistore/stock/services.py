"""Stock at a location and the ledger that explains it. Every change to a StockLevel goes through here.

What this module guarantees (the live stock panels and the order flows rely on it):
- every change bumps the level's `version` by 1 and writes a StockMovement in the same transaction;
- `on_hand` equals the sum of its movements' `on_hand_delta`, `allocated` the sum of `allocated_delta`;
- 0 <= allocated <= on_hand <= MAX_ON_HAND (the database's CHECK constraints hold the first part too);
- a level is created by its first receipt (or by a correction or import to a positive count).

No change is a blind read-modify-write: a receipt adds in the UPDATE itself, an allocation is
`SET allocated = allocated + :q … WHERE on_hand - allocated >= :q` (checked by the row it returns), a
correction locks the level's row and is refused if it no longer has the version the counter saw, an import
locks its rows (in id order) and writes only where the version is still the one it computed from. So two
tablets, two app processes or an import running at once never lose an update, on SQLite (where the write
transaction starts with BEGIN IMMEDIATE) and PostgreSQL alike. Code that changes several levels in one
transaction should also go in id order.

The per-variant summary (models.VariantStock: on_hand, allocated, versions and levels summed over the
variant's levels) changes with its levels: each verb notes what it changed, and the notes are added to the
summary rows just before the transaction commits, in variant order, in one statement (see "the summary"
below). So an order allocating several variants and a tablet correcting one of them never wait on each
other's summary rows in a circle, and a refused or rolled-back change leaves the summary as it was.

Verbs: receive, correct, allocate, release, dispatch, arrive, hand_over (one level, a StockChange each;
the last three move reserved goods for an order: out of a source, into a pickup store, to the customer),
import_on_hand (many levels, from the ERP's CSV or the API); reads: level_at, history, network_stock. Bad input raises
ValidationFailed with a message per field; the rules raise InsufficientStock, InvalidTransition or
Conflict (see core/errors.py). Messages are translated (Flask-Babel), so they can be shown as they are.
"""
import re
import unicodedata
import uuid
from collections import namedtuple
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import String, and_, any_, bindparam, event, exists, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from omnistore.catalog.models import Variant
from omnistore.core import audit, pagination, validation
from omnistore.core.db import transaction
from omnistore.core.errors import (
    Conflict,
    Forbidden,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from omnistore.core.extensions import db
from omnistore.core.pagination import Page
from omnistore.core.types import utcnow
from omnistore.stock import feed
from omnistore.stock.feed import ImportRow, RowProblem, TooManyRows
from omnistore.stock.models import StockLevel, StockMovement, VariantStock
from omnistore.stores import staff as staff_service
from omnistore.stores.models import ApiClient, Location, Staff

MAX_QUANTITY = 1_000_000  # one receipt, allocation, count or imported figure
MAX_ON_HAND = 100_000_000  # a level, whatever the receipts add up to (the column is a 32-bit integer)
REASON_MAX = 500
REFERENCE_MAX = 100
SKU_MAX = 64
LOCATION_CODE_MAX = 16
HISTORY_PER_PAGE = 20
IMPORT_PROBLEMS_KEPT = 10_000  # refused rows kept with the import's audit event (for the download)
IMPORT_REFERENCE = re.compile(r"IMP-[0-9A-F]{12}")
_RETRIES = 3  # a conditional write that lost a race is recomputed this often before giving up
_IN_CHUNK = 500  # values per IN (...) list on SQLite

_levels = StockLevel.__table__
_movements = StockMovement.__table__
_summary = VariantStock.__table__
_DECIMAL = re.compile(r"[+-]?[0-9]*[.,][0-9]+|[+-]?[0-9]+[.,][0-9]*|[+-]?[0-9.]+[eE][+-]?[0-9]+")




# --- inputs and results ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StockChange:
    """One change at one level. `quantity` as typed (a form's string or an int) is checked by the verb:
    for receive/allocate/release the amount, for correct the counted on_hand. `seen_version` (correct only)
    is the level's version the counter was looking at: a change in between is refused, not overwritten."""

    variant_id: int
    location_id: int
    quantity: object
    reason: str = ""
    reference: str = ""
    seen_version: object = None


@dataclass(frozen=True)
class LevelState:
    """A level's figures after a change (or now). `delta` is the change to on_hand this call made."""

    variant_id: int
    location_id: int
    on_hand: int = 0
    allocated: int = 0
    version: int = 0  # 0: no level exists (nothing was ever received here)
    delta: int = 0

    @property
    def available(self):
        return max(self.on_hand - self.allocated, 0)

    @property
    def exists(self):
        return self.version > 0


def _actor_ids(actor):
    if isinstance(actor, Staff):
        return {"staff_id": actor.id, "api_client_id": None}
    if isinstance(actor, ApiClient):
        return {"staff_id": None, "api_client_id": actor.id}
    return {"staff_id": None, "api_client_id": None}


def _audit_actor(actor):
    return {"staff": actor if isinstance(actor, Staff) else None,
            "api_client": actor if isinstance(actor, ApiClient) else None}


# --- validation (no database) ---------------------------------------------------------------------

def _bad_character(value):
    """services.validation's rule, strict: a CSV cell or one-line value takes no tab or line break either."""
    return validation.bad_character(value, whitespace=False)


def _whole_number(value, low, high):
    """(number, None) or (None, (code, message)). Strings as typed in a form or a CSV cell; ints from code."""
    number = validation.whole_number(value)  # the one rule for whole numbers; here only the words differ
    if number is None and isinstance(value, str):
        typed = value.strip().replace("\u2212", "-")
        if not typed:
            return None, ("required", _("Enter a number."))
        if typed.isascii() and _DECIMAL.fullmatch(typed):
            return None, ("not_a_whole_number", _("Enter a whole number (no decimals), like 3."))
        return None, ("not_a_number", _("“%(value)s” is not a number.", value=typed[:20]))
    if number is None:
        return None, ("not_a_number", _("Enter a whole number."))
    if number < 0:
        return None, ("negative", _("The number cannot be negative."))
    if number < low:
        return None, ("too_small", _("Enter %(low)d or more.", low=low))
    if number > high:
        return None, ("too_large", _("Enter at most %(high)s.", high=format_decimal(high)))
    return number, None


def _text(value, *, max_length, required, errors, name, missing_message=None):
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = _("Must be text.")
        return ""
    if validation.bad_character(value) is not None:
        errors[name] = _("Contains a character that cannot be stored.")
        return ""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if required and not value:
        errors[name] = missing_message or _("Required.")
    elif len(value) > max_length:
        errors[name] = _("At most %(max)d characters (now %(length)d).", max=max_length, length=len(value))
    return value


@dataclass(frozen=True)
class _Checked:
    quantity: int
    reason: str
    reference: str
    seen_version: int | None


def _check(change, *, low, reason_required, reason_message=None):
    errors = {}
    quantity, problem = _whole_number(change.quantity, low, MAX_QUANTITY)
    if problem is not None:
        errors["quantity"] = problem[1]
        if problem[0] == "negative" and low > 0:
            errors["quantity"] = _("A receipt cannot be negative. To lower the figure, correct the count.")
    reason = _text(change.reason, max_length=REASON_MAX, required=reason_required, errors=errors, name="reason",
                   missing_message=reason_message)
    reference = _text(change.reference, max_length=REFERENCE_MAX, required=False, errors=errors, name="reference")
    seen = None
    if change.seen_version not in (None, ""):
        seen, problem = _whole_number(change.seen_version, 0, 2**62)
        if problem is not None:
            errors["version"] = _("Reload the page and count again.")
    if errors:
        raise ValidationFailed(_("Please check the highlighted fields."), errors)
    return _Checked(quantity, reason, reference, seen)


# --- single-level verbs ---------------------------------------------------------------------------

def _dialect(session):
    return session.get_bind().dialect.name


def _require_place(session, variant_id, location_id):
    if not isinstance(variant_id, int) or session.get(Variant, variant_id) is None:
        raise NotFound(_("We could not find that product variant."))
    if not isinstance(location_id, int) or session.get(Location, location_id) is None:
        raise NotFound(_("We could not find that location."))


def _read(session, variant_id, location_id, *, lock=False):
    """The level's row; with lock=True it stays locked until the transaction ends (PostgreSQL; SQLite's
    write transaction holds the whole database already)."""
    query = (select(_levels.c.id, _levels.c.on_hand, _levels.c.allocated, _levels.c.version)
             .where(_levels.c.variant_id == variant_id, _levels.c.location_id == location_id))
    return session.execute(query.with_for_update() if lock else query).one_or_none()


def _state(variant_id, location_id, row, delta=0):
    if row is None:
        return LevelState(variant_id, location_id)
    return LevelState(variant_id, location_id, row.on_hand, row.allocated, row.version, delta)


def _write_movement(session, change, kind, actor, *, on_hand_delta=0, allocated_delta=0, reason="", reference=""):
    session.execute(insert(_movements).values(
        variant_id=change.variant_id, location_id=change.location_id, kind=kind, on_hand_delta=on_hand_delta,
        allocated_delta=allocated_delta, reason=reason, reference=reference, created_at=utcnow(),
        **_actor_ids(actor),
    ))


def receive(change: StockChange, actor) -> LevelState:
    """Goods arrived: add `quantity` to on_hand (creating the level on the first receipt). Reason required."""
    checked = _check(change, low=1, reason_required=True,
                     reason_message=_("Say where the goods came from, e.g. the delivery note."))
    now = utcnow()
    with transaction() as session:
        _require_place(session, change.variant_id, change.location_id)
        upsert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels).values(
            variant_id=change.variant_id, location_id=change.location_id, on_hand=checked.quantity, allocated=0,
            version=1, updated_at=now,
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[_levels.c.variant_id, _levels.c.location_id],
            set_={"on_hand": _levels.c.on_hand + upsert.excluded.on_hand, "version": _levels.c.version + 1,
                  "updated_at": now},
            where=_levels.c.on_hand + upsert.excluded.on_hand <= MAX_ON_HAND,
        ).returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        row = session.execute(upsert).one_or_none()
        if row is None:
            raise ValidationFailed(_("Please check the highlighted fields."), {
                "quantity": _("That would make more than %(max)s on hand.", max=format_decimal(MAX_ON_HAND))})
        _note(session, change.variant_id, on_hand=checked.quantity, created=row.version == 1)
        _write_movement(session, change, "receipt", actor, on_hand_delta=checked.quantity, reason=checked.reason,
                        reference=checked.reference)
        audit.record("stock.received", entity=("variant", change.variant_id), location_id=change.location_id,
                     quantity=checked.quantity, on_hand=row.on_hand, reference=checked.reference,
                     **_audit_actor(actor))
        return _state(change.variant_id, change.location_id, row, checked.quantity)


def correct(change: StockChange, actor) -> LevelState:
    """A count: set on_hand to the counted `quantity`, the difference recorded as an adjustment.

    Refused (ValidationFailed on `quantity`) below what is allocated to orders; refused (Conflict, with the
    current figures in `detail`) when the level changed since the counter saw `seen_version`. A count that
    matches the figure changes nothing (delta 0, no movement, no new version).
    """
    checked = _check(change, low=0, reason_required=True,
                     reason_message=_("Say why the count differs, e.g. damaged, found, stocktake."))
    with transaction() as session:
        _require_place(session, change.variant_id, change.location_id)
        for _attempt in range(_RETRIES):
            # Locked: the difference written to the ledger is exactly counted minus what was there.
            row = _read(session, change.variant_id, change.location_id, lock=True)
            current = _state(change.variant_id, change.location_id, row)
            if checked.seen_version is not None and current.version != checked.seen_version:
                raise _changed_meanwhile(current)
            counted = checked.quantity
            if counted == current.on_hand:
                return current
            if counted < current.allocated:
                raise ValidationFailed(_("That count is below what is reserved for orders."), {
                    "quantity": _("Reserved for customer orders: %(allocated)d. The count cannot be lower than "
                                  "that; if the goods are really gone, the orders must be changed first.",
                                  allocated=current.allocated)})
            written = _set_on_hand(session, change, row, counted)
            if written is None:
                if checked.seen_version is not None:
                    raise _changed_meanwhile(_state(change.variant_id, change.location_id,
                                                    _read(session, change.variant_id, change.location_id)))
                continue  # another change won the race: recompute from the new figure
            delta = counted - current.on_hand
            _note(session, change.variant_id, on_hand=delta, created=row is None)
            _write_movement(session, change, "adjustment", actor, on_hand_delta=delta, reason=checked.reason,
                            reference=checked.reference)
            audit.record("stock.corrected", entity=("variant", change.variant_id), location_id=change.location_id,
                         before=current.on_hand, after=counted, reason=checked.reason, **_audit_actor(actor))
            return _state(change.variant_id, change.location_id, written, delta)
        raise Conflict(_("The stock here is changing right now. Please try again."))


def _changed_meanwhile(current):
    return Conflict(
        _("Someone changed this stock meanwhile: on hand is now %(on_hand)d (%(allocated)d reserved). "
          "Check the figure and count again if needed.", on_hand=current.on_hand, allocated=current.allocated),
        on_hand=current.on_hand, allocated=current.allocated, version=current.version,
    )


def _set_on_hand(session, change, row, counted):
    """Write on_hand = counted if the level is still as read; the new row, or None when it was not."""
    now = utcnow()
    if row is None:
        statement = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels).values(
            variant_id=change.variant_id, location_id=change.location_id, on_hand=counted, allocated=0, version=1,
            updated_at=now,
        ).on_conflict_do_nothing(index_elements=[_levels.c.variant_id, _levels.c.location_id])
    else:
        statement = (update(_levels)
                     .where(_levels.c.id == row.id, _levels.c.version == row.version, _levels.c.allocated <= counted)
                     .values(on_hand=counted, version=_levels.c.version + 1, updated_at=now))
    return session.execute(
        statement.returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
    ).one_or_none()


def allocate(change: StockChange, actor=None, *, keep_safety_stock=False) -> LevelState:
    """Reserve `quantity` for an order: one conditional UPDATE; InsufficientStock when fewer are available.

    With keep_safety_stock (the location supplies another location's order, see orders/sourcing.py) the
    location's safety stock is read inside the same UPDATE and stays: `on_hand - allocated - safety_stock
    >= quantity`, so concurrent orders never take the units it keeps. Runs inside the caller's transaction
    when there is one (an order and its allocations commit together).
    """
    room = _levels.c.on_hand - _levels.c.allocated
    if keep_safety_stock:
        room = room - (select(Location.safety_stock).where(Location.id == _levels.c.location_id)
                       .scalar_subquery())

    def refuse(current, quantity):
        if keep_safety_stock:
            location = db.session.get(Location, change.location_id)
            kept = location.safety_stock if location is not None else 0
            can = max(current.available - kept, 0)
            return InsufficientStock(
                _("Only %(available)d of %(store)s's units can be sent (it keeps %(kept)d as safety stock), "
                  "%(wanted)d asked for.", available=can, store=location.name if location else "", kept=kept,
                  wanted=quantity),
                available=can, requested=quantity,
            )
        return InsufficientStock(
            _("Only %(available)d available here, %(wanted)d asked for.", available=current.available, wanted=quantity),
            available=current.available, requested=quantity,
        )

    return _shift(change, actor, "allocation", +1, room, refuse)


def release(change: StockChange, actor=None) -> LevelState:
    """Give back `quantity` of an allocation (order cancelled, line refused); never more than is allocated."""
    def refuse(current, quantity):
        return InvalidTransition(
            _("Cannot release %(wanted)d: only %(allocated)d reserved here.",
              wanted=quantity, allocated=current.allocated),
            allocated=current.allocated, requested=quantity,
        )

    return _shift(change, actor, "release", -1, _levels.c.allocated, refuse)


def _refuse_consume(current, quantity):
    return InvalidTransition(
        _("Cannot take %(wanted)d: only %(allocated)d reserved here.", wanted=quantity, allocated=current.allocated),
        allocated=current.allocated, requested=quantity,
    )


def dispatch(change: StockChange, actor=None) -> LevelState:
    """Reserved goods leave this location for an order (a transfer or a delivery shipped): on_hand and
    allocated both fall by `quantity` (a transfer_out movement)."""
    return _shift(change, actor, "transfer_out", -1, _levels.c.allocated, _refuse_consume, on_hand_too=True)


def hand_over(change: StockChange, actor=None) -> LevelState:
    """Reserved goods leave with the customer at the desk: on_hand and allocated both fall (a handover)."""
    return _shift(change, actor, "handover", -1, _levels.c.allocated, _refuse_consume, on_hand_too=True)


def arrive(change: StockChange, actor=None) -> LevelState:
    """Goods sent for an order arrive here and stay reserved for it: on_hand and allocated both rise by
    `quantity` (a transfer_in movement), creating the level if this location never had the variant."""
    checked = _check(change, low=1, reason_required=False)
    now = utcnow()
    with transaction() as session:
        _require_place(session, change.variant_id, change.location_id)
        upsert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels).values(
            variant_id=change.variant_id, location_id=change.location_id, on_hand=checked.quantity,
            allocated=checked.quantity, version=1, updated_at=now,
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[_levels.c.variant_id, _levels.c.location_id],
            set_={"on_hand": _levels.c.on_hand + upsert.excluded.on_hand,
                  "allocated": _levels.c.allocated + upsert.excluded.allocated,
                  "version": _levels.c.version + 1, "updated_at": now},
            where=_levels.c.on_hand + upsert.excluded.on_hand <= MAX_ON_HAND,
        ).returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        row = session.execute(upsert).one_or_none()
        if row is None:
            raise ValidationFailed(_("Please check the highlighted fields."), {
                "quantity": _("That would make more than %(max)s on hand.", max=format_decimal(MAX_ON_HAND))})
        _note(session, change.variant_id, on_hand=checked.quantity, allocated=checked.quantity,
              created=row.version == 1)
        _write_movement(session, change, "transfer_in", actor, on_hand_delta=checked.quantity,
                        allocated_delta=checked.quantity, reason=checked.reason, reference=checked.reference)
        return _state(change.variant_id, change.location_id, row, checked.quantity)


def _shift(change, actor, kind, sign, room, refuse, *, on_hand_too=False):
    """Move `allocated` (and with on_hand_too also `on_hand`) by sign × quantity in one conditional UPDATE,
    guarded by `room` >= quantity; when the guard fails nothing changes and `refuse(current, quantity)` is
    raised."""
    checked = _check(change, low=1, reason_required=False)
    delta = sign * checked.quantity
    values = {"allocated": _levels.c.allocated + delta, "version": _levels.c.version + 1, "updated_at": utcnow()}
    if on_hand_too:
        values["on_hand"] = _levels.c.on_hand + delta
    with transaction() as session:
        row = session.execute(
            update(_levels)
            .where(_levels.c.variant_id == change.variant_id, _levels.c.location_id == change.location_id,
                   room >= checked.quantity)
            .values(**values)
            .returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        ).one_or_none()
        if row is None:
            current = _state(change.variant_id, change.location_id,
                             _read(session, change.variant_id, change.location_id))
            raise refuse(current, checked.quantity)
        _note(session, change.variant_id, on_hand=delta if on_hand_too else 0, allocated=delta)
        _write_movement(session, change, kind, actor, on_hand_delta=delta if on_hand_too else 0,
                        allocated_delta=delta, reason=checked.reason, reference=checked.reference)
        return _state(change.variant_id, change.location_id, row, delta if on_hand_too else 0)


# --- the summary (models.VariantStock) -------------------------------------------------------------
#
# A verb notes what it changed (_note); just before the session commits, the notes go into variant_stock in
# one statement, added to what is there (so concurrent transactions never overwrite each other) and in
# variant order (so two transactions never wait on each other's summary rows in a circle). When the
# transaction rolls back instead, the notes are dropped with it.

_PENDING = "omnistore.stock.summary"  # session.info: {variant_id: [on_hand, allocated, versions, levels]}


def _note(session, variant_id, *, on_hand=0, allocated=0, created=False):
    """One changed level of `variant_id`: its version went up by one (or it was created, with version 1)."""
    deltas = session.info.setdefault(_PENDING, {}).setdefault(variant_id, [0, 0, 0, 0])
    deltas[0] += on_hand
    deltas[1] += allocated
    deltas[2] += 1
    deltas[3] += 1 if created else 0


def has_pending_summaries(session):
    return bool(session.info.get(_PENDING))


def write_pending_summaries(session):
    """Add the changes noted in this transaction to the summary rows now (normally done before commit)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = sorted((variant_id, *deltas) for variant_id, deltas in pending.items())
    if _dialect(session) == "postgresql":
        session.execute(text(
            "INSERT INTO variant_stock (variant_id, on_hand, allocated, versions, levels) "
            "SELECT * FROM unnest(CAST(:v AS integer[]), CAST(:o AS bigint[]), CAST(:a AS bigint[]), "
            "CAST(:n AS bigint[]), CAST(:l AS integer[])) ORDER BY 1 "
            "ON CONFLICT (variant_id) DO UPDATE SET on_hand = variant_stock.on_hand + excluded.on_hand, "
            "allocated = variant_stock.allocated + excluded.allocated, "
            "versions = variant_stock.versions + excluded.versions, levels = variant_stock.levels + excluded.levels"
        ), dict(zip("voanl", map(list, zip(*rows, strict=True)), strict=True)))
        return
    upsert = sqlite.insert(_summary)
    upsert = upsert.on_conflict_do_update(index_elements=[_summary.c.variant_id], set_={
        name: _summary.c[name] + upsert.excluded[name] for name in ("on_hand", "allocated", "versions", "levels")})
    session.connection().execute(upsert, [dict(zip(("variant_id", "on_hand", "allocated", "versions", "levels"), row,
                                               strict=True)) for row in rows])


@event.listens_for(Session, "before_commit")
def _before_commit(session):
    write_pending_summaries(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is None:  # the outermost transaction: committed (notes written) or rolled back
        session.info.pop(_PENDING, None)


def rebuild_summaries(variant_ids=None):
    """Set the summary rows of `variant_ids` (default: every variant) from their levels, for rows written
    without the verbs (the seed's and the demo's bulk loads, test factories). Inside the caller's transaction
    when there is one. Not for use while the verbs change the same variants: it overwrites, it does not add."""
    with transaction() as session:
        if variant_ids is None:
            _rebuild(session, True, True)
            return
        ids = sorted(set(variant_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            _rebuild(session, _levels.c.variant_id.in_(chunk), _summary.c.variant_id.in_(chunk))


def _rebuild(session, levels_where, summary_where):
    statement = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_summary)
    totals = (select(_levels.c.variant_id, func.sum(_levels.c.on_hand), func.sum(_levels.c.allocated),
                     func.sum(_levels.c.version), func.count())
              .where(levels_where).group_by(_levels.c.variant_id))
    statement = statement.from_select(["variant_id", "on_hand", "allocated", "versions", "levels"], totals)
    session.execute(statement.on_conflict_do_update(index_elements=[_summary.c.variant_id], set_={
        name: statement.excluded[name] for name in ("on_hand", "allocated", "versions", "levels")}))
    orphans = ~exists().where(_levels.c.variant_id == _summary.c.variant_id)
    session.execute(_summary.delete().where(orphans, summary_where))


# --- reads ----------------------------------------------------------------------------------------

def level_at(variant_id, location_id) -> LevelState:
    """The figures of a variant at a location now (zeros when nothing was ever received there)."""
    return _state(variant_id, location_id, _read(db.session, variant_id, location_id))


@dataclass(frozen=True)
class HistoryEntry:
    movement: StockMovement
    actor_name: str
    on_hand_after: int


def history(variant_id, location_id, page=1, per_page=HISTORY_PER_PAGE) -> Page:
    """The ledger of one level, newest first, a page at a time, with the on-hand figure after each entry."""
    where = and_(StockMovement.variant_id == variant_id, StockMovement.location_id == location_id)
    total, on_hand_sum = db.session.execute(
        select(func.count(), func.coalesce(func.sum(StockMovement.on_hand_delta), 0)).where(where)
    ).one()
    page = pagination.clamp(page, total, per_page)  # counted with the on-hand sum, so not by paginate()
    offset = (page - 1) * per_page
    newest_first = (StockMovement.created_at.desc(), StockMovement.id.desc())
    newer_sum = 0
    if offset:
        newer = select(StockMovement.on_hand_delta).where(where).order_by(*newest_first).limit(offset).subquery()
        newer_sum = db.session.scalar(select(func.coalesce(func.sum(newer.c.on_hand_delta), 0)))
    movements = db.session.scalars(
        select(StockMovement).where(where).order_by(*newest_first).limit(per_page).offset(offset)
        .options(selectinload(StockMovement.staff))
    ).all()
    client_ids = {m.api_client_id for m in movements if m.api_client_id}
    clients = dict(db.session.execute(select(ApiClient.id, ApiClient.name).where(ApiClient.id.in_(client_ids)))
                   .all()) if client_ids else {}
    entries, after = [], on_hand_sum - newer_sum
    for movement in movements:
        if movement.staff is not None:
            name = movement.staff.name or movement.staff.email
        elif movement.api_client_id:
            name = _("Integration %(name)s", name=clients.get(movement.api_client_id, "?"))
        else:
            name = _("System")
        entries.append(HistoryEntry(movement, name, after))
        after -= movement.on_hand_delta
    return Page(entries, page, per_page, total)


@dataclass(frozen=True)
class LocationStock:
    location: Location
    on_hand: int
    allocated: int

    @property
    def available(self):
        return max(self.on_hand - self.allocated, 0)


def network_stock(sku):
    """(variant, [LocationStock for every active location, by code]) for an SKU; NotFound if unknown."""
    if not isinstance(sku, str) or not sku.strip() or len(sku) > SKU_MAX:
        raise NotFound(_("No variant with that SKU."))
    variant = db.session.scalar(select(Variant).where(Variant.sku == sku.strip()))
    if variant is None:
        raise NotFound(_("No variant with SKU %(sku)s.", sku=sku.strip()))
    levels = {row.location_id: row for row in db.session.execute(
        select(_levels.c.location_id, _levels.c.on_hand, _levels.c.allocated).where(_levels.c.variant_id == variant.id)
    )}
    result = []
    for location in db.session.scalars(select(Location).where(Location.active.is_(True)).order_by(Location.code)):
        level = levels.get(location.id)
        result.append(LocationStock(location, level.on_hand if level else 0, level.allocated if level else 0))
    return variant, result


# --- import: set on_hand for many levels ------------------------------------------------------------





ROW_STATUSES = ("created", "updated", "unchanged", "error", "skipped")


@dataclass(eq=False)
class ImportRowResult:
    line: int
    sku: str | None
    location: str | None
    status: str = "error"  # one of ROW_STATUSES
    on_hand: int | None = None  # the figure after the import (None for error/skipped rows)
    previous: int | None = None
    errors: list = field(default_factory=list)


@dataclass
class ImportResult:
    reference: str
    results: list

    @property
    def summary(self):
        counts = dict.fromkeys(ROW_STATUSES, 0)
        for result in self.results:
            counts[result.status] += 1
        return {"created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"],
                "errors": counts["error"], "skipped": counts["skipped"]}

    @property
    def bad_rows(self):
        return [result for result in self.results if result.status == "error"]


@dataclass(eq=False)
class _Row:
    source: ImportRow
    result: ImportRowResult
    sku: str | None = None
    code: str | None = None
    on_hand: int | None = None
    variant_id: int | None = None
    location_id: int | None = None

    def error(self, field_name, code, message):
        self.result.errors.append(RowProblem(field_name, code, message))

    @property
    def ok(self):
        return not self.result.errors


def _cell_text(row, value, field_name, max_length, upper=False):
    if value is None or (isinstance(value, str) and not value.strip()):
        row.error(field_name, "required", _("%(field)s is missing.", field=field_name))
        return None
    if not isinstance(value, str):
        row.error(field_name, "invalid_type", _("%(field)s must be text.", field=field_name))
        return None
    value = unicodedata.normalize("NFC", value.strip())
    if _bad_character(value) is not None:
        row.error(field_name, "invalid_value", _("%(field)s contains a control character.", field=field_name))
        return None
    if len(value) > max_length:
        row.error(field_name, "too_long", _("%(field)s is longer than %(max)d characters.", field=field_name,
                                            max=max_length))
        return None
    return value.upper() if upper else value


def _parse_import_row(source):
    result = ImportRowResult(source.line, None, None)
    row = _Row(source, result)
    if source.empty:
        result.status = "skipped"
        return row
    result.sku = source.sku.strip()[:SKU_MAX] if isinstance(source.sku, str) else None
    result.location = source.location.strip()[:LOCATION_CODE_MAX] if isinstance(source.location, str) else None
    result.errors.extend(source.problems)
    flagged = {problem.field for problem in source.problems}
    if None in flagged:
        return row  # the row as a whole is unusable (not an object, missing columns)
    if "sku" not in flagged:
        row.sku = _cell_text(row, source.sku, "sku", SKU_MAX)
    if "location" not in flagged:
        row.code = _cell_text(row, source.location, "location", LOCATION_CODE_MAX, upper=True)
    if "on_hand" in flagged:
        pass
    elif source.on_hand is None or (isinstance(source.on_hand, str) and not source.on_hand.strip()):
        row.error("on_hand", "required", _("on_hand is missing."))
    else:
        row.on_hand, problem = _whole_number(source.on_hand, 0, MAX_QUANTITY)
        if problem is not None:
            code, message = problem
            if code == "negative":
                message = _("on_hand cannot be negative (%(value)s).", value=str(source.on_hand).strip()[:20])
            row.error("on_hand", code, message)
    return row


def _flag_duplicates(rows):
    """The same SKU at the same location twice in one file: every line involved is refused, naming the others."""
    seen = {}
    for row in rows:
        if row.sku is not None and row.code is not None:
            seen.setdefault((row.sku, row.code), []).append(row)
    for (sku, code), group in seen.items():
        if len(group) < 2:
            continue
        for row in group:
            others = ", ".join(str(other.source.line) for other in group if other is not row)
            row.error(None, "duplicate", _("%(sku)s at %(location)s appears more than once (also at %(others)s); "
                                           "none of these rows was applied.", sku=sku, location=code, others=others))


def import_on_hand(rows, actor, source) -> ImportResult:
    """Set on_hand for many (sku, location, on_hand) rows: the ERP's file or the API's list.

    `rows`: ImportRow items (or (sku, location, on_hand) tuples, numbered from 1). `actor`: the Staff member
    (a manager imports for their own store, an admin for any) or the ApiClient (any location). `source`: a
    short note stored as every movement's reason, e.g. the file name.

    Each row is checked on its own; good rows are applied, bad ones reported with their line and reasons.
    A row whose figure is already stored is "unchanged" (no movement, no new version), so sending the same
    file again changes nothing. Set-based: a few queries and statements whatever the number of rows.
    """
    if isinstance(actor, Staff) and not actor.is_manager:
        raise Forbidden(_("Only managers can import stock."))
    rows = [row if isinstance(row, ImportRow) else ImportRow(number, *row) for number, row in enumerate(rows, 1)]
    if len(rows) > feed.MAX_IMPORT_ROWS:  # read from feed, where the readers of files and lists read it too
        raise TooManyRows(_("At most %(max)s rows per import, this one has %(rows)s. Split the file.",
                            max=format_decimal(feed.MAX_IMPORT_ROWS), rows=format_decimal(len(rows))),
                          limit=feed.MAX_IMPORT_ROWS)
    source = "".join(c for c in " ".join(str(source or "").split()) if unicodedata.category(c) not in ("Cc", "Cs"))
    source = source[:REASON_MAX]
    parsed = [_parse_import_row(row) for row in rows]
    live = [row for row in parsed if not row.source.empty]
    _flag_duplicates(live)
    reference = f"IMP-{uuid.uuid4().hex[:12].upper()}"
    with transaction() as session:
        _resolve(session, live, actor)
        _apply(session, [row for row in live if row.ok], actor, source, reference)
        result = ImportResult(reference, [row.result for row in parsed])
        problems = [[bad.line, bad.sku, bad.location, " ".join(problem.message for problem in bad.errors)]
                    for bad in result.bad_rows[:IMPORT_PROBLEMS_KEPT]]
        audit.record("stock.imported", entity=("stock_import", reference), source=source, summary=result.summary,
                     problems=problems, **_audit_actor(actor))
    return result


def _resolve(session, rows, actor):
    """SKUs and location codes to ids (a few queries), with the row errors for unknown ones and for scope."""
    skus = _lookup(session, Variant.sku, Variant.id, {row.sku for row in rows if row.ok and row.sku})
    locations = {loc.code: loc for loc in session.scalars(select(Location).where(Location.active.is_(True)))}
    own = actor.location_id if isinstance(actor, Staff) and not actor.is_admin else None
    for row in rows:
        if not row.ok:
            continue
        row.variant_id = skus.get(row.sku)
        if row.variant_id is None:
            row.error("sku", "unknown_sku", _("Unknown SKU %(sku)s.", sku=row.sku))
        location = locations.get(row.code)
        if location is None:
            row.error("location", "unknown_location", _("Unknown location %(code)s.", code=row.code))
        elif own is not None and location.id != own:
            row.error("location", "out_of_scope", _("You can import stock for your own store only, not for "
                                                    "%(code)s.", code=row.code))
        elif isinstance(actor, ApiClient) and not staff_service.api_store_in_scope(actor, location.code):
            row.error("location", "out_of_scope", _("This API token may not set stock at %(code)s.",
                                                    code=row.code))
        else:
            row.location_id = location.id


def _lookup(session, key_column, id_column, values):
    """{key: id} for the given keys, in one query on PostgreSQL and chunks of IN lists on SQLite."""
    found = {}
    if not values:
        return found
    if _dialect(session) == "postgresql":
        query = select(key_column, id_column).where(
            key_column == any_(bindparam("keys", list(values), type_=postgresql.ARRAY(String))))
        return dict(session.execute(query).all())
    values = list(values)
    for start in range(0, len(values), _IN_CHUNK):
        found.update(session.execute(
            select(key_column, id_column).where(key_column.in_(values[start:start + _IN_CHUNK]))).all())
    return found


def _apply(session, rows, actor, source, reference):
    """Write the good rows: conditional bulk UPDATEs and INSERTs, then the ledger, retrying rows that lost a race."""
    pending = rows
    for _attempt in range(_RETRIES):
        if not pending:
            return
        levels = _load_levels(session, pending)
        updates, creates = [], []
        for row in pending:
            level = levels.get((row.variant_id, row.location_id))
            previous = level.on_hand if level is not None else 0
            row.result.previous = previous
            if row.on_hand == previous:
                row.result.status, row.result.on_hand = "unchanged", previous
            elif level is not None and row.on_hand < level.allocated:
                row.error("on_hand", "below_allocated", _(
                    "Reserved for customer orders here: %(allocated)d, so on_hand cannot be %(on_hand)d.",
                    allocated=level.allocated, on_hand=row.on_hand))
            elif level is not None:
                updates.append((row, level))
            else:
                creates.append(row)
        # New levels in a stable order, so two imports creating the same ones cannot wait on each other in a circle.
        creates.sort(key=lambda row: (row.variant_id, row.location_id))
        updated, created = _bulk_update(session, updates), _bulk_create(session, creates)
        for rows_written, status in ((updated, "updated"), (created, "created")):
            for row in rows_written:
                row.result.status, row.result.on_hand = status, row.on_hand
                _note(session, row.variant_id, on_hand=row.on_hand - row.result.previous, created=status == "created")
        _bulk_movements(session, [row for row in pending if row in updated or row in created], actor, source,
                        reference)
        pending = [row for row in pending if row.ok and row.result.status == "error"]
    for row in pending:
        row.error(None, "conflict", _("This stock changed while the import ran; send the row again."))


_Level = namedtuple("_Level", "id variant_id location_id on_hand allocated version")


def _load_levels(session, rows):
    """{(variant_id, location_id): level row} for the rows, locked in id order on PostgreSQL."""
    pairs = {(row.variant_id, row.location_id) for row in rows}
    if _dialect(session) == "postgresql":
        variant_ids, location_ids = zip(*pairs, strict=True)
        query = text(
            "SELECT s.id, s.variant_id, s.location_id, s.on_hand, s.allocated, s.version FROM stock_level AS s "
            "JOIN unnest(CAST(:v AS integer[]), CAST(:l AS integer[])) AS p(v, l) "
            "ON s.variant_id = p.v AND s.location_id = p.l ORDER BY s.id FOR UPDATE OF s"
        )
        levels = map(_Level._make, session.execute(query, {"v": list(variant_ids), "l": list(location_ids)}))
        return {(level.variant_id, level.location_id): level for level in levels}
    found = {}
    columns = (_levels.c.id, _levels.c.variant_id, _levels.c.location_id, _levels.c.on_hand, _levels.c.allocated,
               _levels.c.version)
    location_ids = {location_id for _variant_id, location_id in pairs}
    variant_ids = sorted({variant_id for variant_id, _location_id in pairs})
    for start in range(0, len(variant_ids), _IN_CHUNK):
        query = select(*columns).where(_levels.c.variant_id.in_(variant_ids[start:start + _IN_CHUNK]),
                                       _levels.c.location_id.in_(location_ids))
        levels = map(_Level._make, session.execute(query))
        found.update(((level.variant_id, level.location_id), level) for level in levels
                     if (level.variant_id, level.location_id) in pairs)
    return found


def _bulk_update(session, updates):
    """on_hand = row.on_hand where the level still has the version read; the rows that were written."""
    if not updates:
        return set()
    now = utcnow()
    if _dialect(session) == "postgresql":
        written = session.execute(text(
            "UPDATE stock_level AS s SET on_hand = v.on_hand, version = s.version + 1, updated_at = :now "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:on_hand AS integer[]), CAST(:versions AS bigint[])) "
            "AS v(id, on_hand, version) "
            "WHERE s.id = v.id AND s.version = v.version AND s.allocated <= v.on_hand RETURNING s.id"
        ), {"now": now, "ids": [level.id for _row, level in updates],
            "on_hand": [row.on_hand for row, _level in updates],
            "versions": [level.version for _row, level in updates]}).scalars().all()
        written = set(written)
        return {row for row, level in updates if level.id in written}
    statement = (update(_levels)
                 .where(_levels.c.id == bindparam("b_id"), _levels.c.version == bindparam("b_version"),
                        _levels.c.allocated <= bindparam("b_on_hand"))
                 .values(on_hand=bindparam("b_on_hand"), version=_levels.c.version + 1, updated_at=now))
    result = session.connection().execute(statement, [
        {"b_id": level.id, "b_version": level.version, "b_on_hand": row.on_hand} for row, level in updates])
    if result.rowcount != len(updates):  # cannot happen under SQLite's write lock; refuse rather than guess
        raise Conflict(_("The stock changed while the import ran; nothing was saved. Send the file again."))
    return {row for row, _level in updates}


def _bulk_create(session, rows):
    """New levels for rows whose variant was never stocked at the location; the rows that were written."""
    if not rows:
        return set()
    now = utcnow()
    if _dialect(session) == "postgresql":
        written = session.execute(text(
            "INSERT INTO stock_level (variant_id, location_id, on_hand, allocated, version, updated_at) "
            "SELECT v, l, o, 0, 1, :now FROM unnest(CAST(:v AS integer[]), CAST(:l AS integer[]), "
            "CAST(:o AS integer[])) AS n(v, l, o) "
            "ON CONFLICT (variant_id, location_id) DO NOTHING RETURNING variant_id, location_id"
        ), {"now": now, "v": [row.variant_id for row in rows], "l": [row.location_id for row in rows],
            "o": [row.on_hand for row in rows]}).all()
        written = {(variant_id, location_id) for variant_id, location_id in written}
        return {row for row in rows if (row.variant_id, row.location_id) in written}
    result = session.connection().execute(
        sqlite.insert(_levels).on_conflict_do_nothing(index_elements=[_levels.c.variant_id, _levels.c.location_id]),
        [{"variant_id": row.variant_id, "location_id": row.location_id, "on_hand": row.on_hand, "allocated": 0,
          "version": 1, "updated_at": now} for row in rows])
    if result.rowcount != len(rows):
        raise Conflict(_("The stock changed while the import ran; nothing was saved. Send the file again."))
    return set(rows)


def _bulk_movements(session, rows, actor, source, reference):
    if not rows:
        return
    ids = _actor_ids(actor)
    now = utcnow()
    if _dialect(session) == "postgresql":
        session.execute(text(
            "INSERT INTO stock_movement (variant_id, location_id, kind, on_hand_delta, allocated_delta, reason, "
            "reference, staff_id, api_client_id, created_at) "
            "SELECT v, l, 'import', d, 0, :reason, :reference, :staff_id, :api_client_id, :now "
            "FROM unnest(CAST(:v AS integer[]), CAST(:l AS integer[]), CAST(:d AS integer[])) AS m(v, l, d)"
        ), {"reason": source, "reference": reference, "now": now, **ids,
            "v": [row.variant_id for row in rows], "l": [row.location_id for row in rows],
            "d": [row.on_hand - row.result.previous for row in rows]})
        return
    session.connection().execute(insert(_movements), [
        {"variant_id": row.variant_id, "location_id": row.location_id, "kind": "import",
         "on_hand_delta": row.on_hand - row.result.previous, "allocated_delta": 0, "reason": source,
         "reference": reference, "created_at": now, **ids} for row in rows])
