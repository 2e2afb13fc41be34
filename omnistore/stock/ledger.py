"""Stock at a location and the ledger that explains it: the verbs that change one level. Every change to a
StockLevel goes through here, or through bulk_import.py when it sets many levels at once.

What the stock package guarantees (the live stock panels and the order flows rely on it):
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
summary rows just before the transaction commits, in variant order, in one statement (see summaries.py).
So an order allocating several variants and a tablet correcting one of them never wait on each other's
summary rows in a circle, and a refused or rolled-back change leaves the summary as it was.

Verbs: receive, correct, post_count, allocate, release, dispatch, arrive, hand_over, write_off_reserved (one
level, a StockChange each; dispatch, arrive and hand_over move reserved goods for an order: out of a source, into
a pickup store, to the customer; write_off_reserved takes reserved goods that are not there off the books: not
found, damaged at pick time); take_back and write_off for returns: goods a customer brought back go on hand here
(a `return` movement), and a returned unit that cannot be sold is booked out again at once (a `write_off`, never
available).
Elsewhere in the package: import_on_hand (many levels, bulk_import.py, from the rows feed.py reads); the
reads level_at, history, network_stock (reads.py). Bad input raises ValidationFailed with a message per
field (the checks are in inputs.py); the rules raise InsufficientStock, InvalidTransition or Conflict (see
core/errors.py). Messages are translated (Flask-Babel), so they can be shown as they are.
"""

from dataclasses import dataclass

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, InsufficientStock, InvalidTransition, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stock.inputs import _check
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stock.summaries import _dialect, _note
from omnistore.stores.models import ApiClient, Location, Staff

MAX_ON_HAND = 100_000_000  # a level, whatever the receipts add up to (the column is a 32-bit integer)
_RETRIES = 3  # a conditional write that lost a race is recomputed this often before giving up

_levels = StockLevel.__table__
_movements = StockMovement.__table__


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
    return {
        "staff": actor if isinstance(actor, Staff) else None,
        "api_client": actor if isinstance(actor, ApiClient) else None,
    }


# --- single-level verbs ---------------------------------------------------------------------------


def _require_place(session, variant_id, location_id):
    if not isinstance(variant_id, int) or session.get(Variant, variant_id) is None:
        raise NotFound(_("We could not find that product variant."))
    if not isinstance(location_id, int) or session.get(Location, location_id) is None:
        raise NotFound(_("We could not find that location."))


def _read(session, variant_id, location_id, *, lock=False):
    """The level's row; with lock=True it stays locked until the transaction ends (PostgreSQL; SQLite's
    write transaction holds the whole database already)."""
    query = select(_levels.c.id, _levels.c.on_hand, _levels.c.allocated, _levels.c.version).where(
        _levels.c.variant_id == variant_id, _levels.c.location_id == location_id
    )
    return session.execute(query.with_for_update() if lock else query).one_or_none()


def _state(variant_id, location_id, row, delta=0):
    if row is None:
        return LevelState(variant_id, location_id)
    return LevelState(variant_id, location_id, row.on_hand, row.allocated, row.version, delta)


def _write_movement(session, change, kind, actor, *, on_hand_delta=0, allocated_delta=0, reason="", reference=""):
    session.execute(
        insert(_movements).values(
            variant_id=change.variant_id,
            location_id=change.location_id,
            kind=kind,
            on_hand_delta=on_hand_delta,
            allocated_delta=allocated_delta,
            reason=reason,
            reference=reference,
            created_at=utcnow(),
            **_actor_ids(actor),
        )
    )


def receive(change: StockChange, actor) -> LevelState:
    """Goods arrived: add `quantity` to on_hand (creating the level on the first receipt). Reason required."""
    checked = _check(
        change, low=1, reason_required=True, reason_message=_("Say where the goods came from, e.g. the delivery note.")
    )
    return _add_on_hand(change, checked, actor, "receipt", "stock.received")


def take_back(change: StockChange, actor) -> LevelState:
    """Goods a customer brought back (returns/): add `quantity` to on_hand here, wherever they were bought (a
    `return` movement, creating the level if this store never had the variant). Reason required."""
    checked = _check(change, low=1, reason_required=True, reason_message=_("Say why the goods came back."))
    return _add_on_hand(change, checked, actor, "return", "stock.returned")


def write_off(change: StockChange, actor) -> LevelState:
    """Book `quantity` out of on_hand for good (damaged, defective): a `write_off` movement with its reason.
    Only what is not reserved for orders can go: one conditional UPDATE, InsufficientStock otherwise."""
    checked = _check(change, low=1, reason_required=True, reason_message=_("Say why the goods are booked out."))
    with transaction() as session:
        row = session.execute(
            update(_levels)
            .where(
                _levels.c.variant_id == change.variant_id,
                _levels.c.location_id == change.location_id,
                _levels.c.on_hand - _levels.c.allocated >= checked.quantity,
            )
            .values(on_hand=_levels.c.on_hand - checked.quantity, version=_levels.c.version + 1, updated_at=utcnow())
            .returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        ).one_or_none()
        if row is None:
            current = _state(
                change.variant_id, change.location_id, _read(session, change.variant_id, change.location_id)
            )
            raise InsufficientStock(
                _(
                    "Only %(available)d available here, %(wanted)d asked for.",
                    available=current.available,
                    wanted=checked.quantity,
                ),
                available=current.available,
                requested=checked.quantity,
            )
        _note(session, change.variant_id, on_hand=-checked.quantity)
        _write_movement(
            session,
            change,
            "write_off",
            actor,
            on_hand_delta=-checked.quantity,
            reason=checked.reason,
            reference=checked.reference,
        )
        audit.record(
            "stock.written_off",
            entity=("variant", change.variant_id),
            location_id=change.location_id,
            quantity=checked.quantity,
            on_hand=row.on_hand,
            reason=checked.reason,
            reference=checked.reference,
            **_audit_actor(actor),
        )
        return _state(change.variant_id, change.location_id, row, -checked.quantity)


def _add_on_hand(change, checked, actor, kind, action) -> LevelState:
    """Add the checked quantity to on_hand in one upsert (a level is created by its first one): `kind`'s
    movement and the audit `action` in the same transaction."""
    now = utcnow()
    with transaction() as session:
        _require_place(session, change.variant_id, change.location_id)
        upsert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels).values(
            variant_id=change.variant_id,
            location_id=change.location_id,
            on_hand=checked.quantity,
            allocated=0,
            version=1,
            updated_at=now,
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[_levels.c.variant_id, _levels.c.location_id],
            set_={
                "on_hand": _levels.c.on_hand + upsert.excluded.on_hand,
                "version": _levels.c.version + 1,
                "updated_at": now,
            },
            where=_levels.c.on_hand + upsert.excluded.on_hand <= MAX_ON_HAND,
        ).returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        row = session.execute(upsert).one_or_none()
        if row is None:
            raise ValidationFailed(
                _("Please check the highlighted fields."),
                {"quantity": _("That would make more than %(max)s on hand.", max=format_decimal(MAX_ON_HAND))},
            )
        _note(session, change.variant_id, on_hand=checked.quantity, created=row.version == 1)
        _write_movement(
            session,
            change,
            kind,
            actor,
            on_hand_delta=checked.quantity,
            reason=checked.reason,
            reference=checked.reference,
        )
        audit.record(
            action,
            entity=("variant", change.variant_id),
            location_id=change.location_id,
            quantity=checked.quantity,
            on_hand=row.on_hand,
            reference=checked.reference,
            **_audit_actor(actor),
        )
        return _state(change.variant_id, change.location_id, row, checked.quantity)


def correct(change: StockChange, actor) -> LevelState:
    """A count: set on_hand to the counted `quantity`, the difference recorded as an adjustment.

    Refused (ValidationFailed on `quantity`) below what is allocated to orders; refused (Conflict, with the
    current figures in `detail`) when the level changed since the counter saw `seen_version`. A count that
    matches the figure changes nothing (delta 0, no movement, no new version).
    """
    checked = _check(
        change,
        low=0,
        reason_required=True,
        reason_message=_("Say why the count differs, e.g. damaged, found, stocktake."),
    )
    return _set_figure(change, checked, actor, "adjustment", "stock.corrected")


def post_count(change: StockChange, actor) -> LevelState:
    """A count session's figure for one variant (stock/counts.py): on_hand set to the counted `quantity`, the
    difference written as a `count` movement. The same rules as `correct` (refused below what orders reserve,
    ValidationFailed on `quantity`; a matching figure writes nothing), read and written under the level's
    lock, so orders allocating meanwhile wait for it and then see the counted figure."""
    checked = _check(change, low=0, reason_required=True, reason_message=_("Say which count this is."))
    return _set_figure(change, checked, actor, "count", "stock.counted")


def _set_figure(change, checked, actor, kind, action):
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
                raise ValidationFailed(
                    _("That count is below what is reserved for orders."),
                    {
                        "quantity": _(
                            "Reserved for customer orders: %(allocated)d. The count cannot be lower than "
                            "that; if the goods are really gone, the orders must be changed first.",
                            allocated=current.allocated,
                        )
                    },
                )
            written = _set_on_hand(session, change, row, counted)
            if written is None:
                if checked.seen_version is not None:
                    raise _changed_meanwhile(
                        _state(
                            change.variant_id, change.location_id, _read(session, change.variant_id, change.location_id)
                        )
                    )
                continue  # another change won the race: recompute from the new figure
            delta = counted - current.on_hand
            _note(session, change.variant_id, on_hand=delta, created=row is None)
            _write_movement(
                session,
                change,
                kind,
                actor,
                on_hand_delta=delta,
                reason=checked.reason,
                reference=checked.reference,
            )
            audit.record(
                action,
                entity=("variant", change.variant_id),
                location_id=change.location_id,
                before=current.on_hand,
                after=counted,
                reason=checked.reason,
                **_audit_actor(actor),
            )
            return _state(change.variant_id, change.location_id, written, delta)
        raise Conflict(_("The stock here is changing right now. Please try again."))


def _changed_meanwhile(current):
    return Conflict(
        _(
            "Someone changed this stock meanwhile: on hand is now %(on_hand)d (%(allocated)d reserved). "
            "Check the figure and count again if needed.",
            on_hand=current.on_hand,
            allocated=current.allocated,
        ),
        on_hand=current.on_hand,
        allocated=current.allocated,
        version=current.version,
    )


def _set_on_hand(session, change, row, counted):
    """Write on_hand = counted if the level is still as read; the new row, or None when it was not."""
    now = utcnow()
    if row is None:
        statement = (
            (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels)
            .values(
                variant_id=change.variant_id,
                location_id=change.location_id,
                on_hand=counted,
                allocated=0,
                version=1,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[_levels.c.variant_id, _levels.c.location_id])
        )
    else:
        statement = (
            update(_levels)
            .where(_levels.c.id == row.id, _levels.c.version == row.version, _levels.c.allocated <= counted)
            .values(on_hand=counted, version=_levels.c.version + 1, updated_at=now)
        )
    return session.execute(statement.returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)).one_or_none()


def allocate(change: StockChange, actor=None, *, keep_safety_stock=False) -> LevelState:
    """Reserve `quantity` for an order: one conditional UPDATE; InsufficientStock when fewer are available.

    With keep_safety_stock (the location supplies another location's order, see orders/sourcing.py) the
    location's safety stock is read inside the same UPDATE and stays: `on_hand - allocated - safety_stock
    >= quantity`, so concurrent orders never take the units it keeps. Runs inside the caller's transaction
    when there is one (an order and its allocations commit together).
    """
    room = _levels.c.on_hand - _levels.c.allocated
    if keep_safety_stock:
        room = room - (select(Location.safety_stock).where(Location.id == _levels.c.location_id).scalar_subquery())

    def refuse(current, quantity):
        if keep_safety_stock:
            location = db.session.get(Location, change.location_id)
            kept = location.safety_stock if location is not None else 0
            can = max(current.available - kept, 0)
            return InsufficientStock(
                _(
                    "Only %(available)d of %(store)s's units can be sent (it keeps %(kept)d as safety stock), "
                    "%(wanted)d asked for.",
                    available=can,
                    store=location.name if location else "",
                    kept=kept,
                    wanted=quantity,
                ),
                available=can,
                requested=quantity,
            )
        return InsufficientStock(
            _("Only %(available)d available here, %(wanted)d asked for.", available=current.available, wanted=quantity),
            available=current.available,
            requested=quantity,
        )

    return _shift(change, actor, "allocation", +1, room, refuse)


def release(change: StockChange, actor=None) -> LevelState:
    """Give back `quantity` of an allocation (order cancelled, line refused); never more than is allocated."""

    def refuse(current, quantity):
        return InvalidTransition(
            _(
                "Cannot release %(wanted)d: only %(allocated)d reserved here.",
                wanted=quantity,
                allocated=current.allocated,
            ),
            allocated=current.allocated,
            requested=quantity,
        )

    return _shift(change, actor, "release", -1, _levels.c.allocated, refuse)


def _refuse_consume(current, quantity):
    return InvalidTransition(
        _("Cannot take %(wanted)d: only %(allocated)d reserved here.", wanted=quantity, allocated=current.allocated),
        allocated=current.allocated,
        requested=quantity,
    )


def dispatch(change: StockChange, actor=None) -> LevelState:
    """Reserved goods leave this location for an order (a transfer or a delivery shipped): on_hand and
    allocated both fall by `quantity` (a transfer_out movement)."""
    return _shift(change, actor, "transfer_out", -1, _levels.c.allocated, _refuse_consume, on_hand_too=True)


def hand_over(change: StockChange, actor=None) -> LevelState:
    """Reserved goods leave with the customer at the desk: on_hand and allocated both fall (a handover)."""
    return _shift(change, actor, "handover", -1, _levels.c.allocated, _refuse_consume, on_hand_too=True)


def write_off_reserved(change: StockChange, actor=None) -> LevelState:
    """Reserved units that are not there after all (not found on the shelf, damaged at pick time): on_hand and
    allocated both fall by `quantity`, a write_off movement with the reason (which says why). Never more
    than is reserved here, so what other orders reserve stays covered."""
    with transaction():
        state = _shift(change, actor, "write_off", -1, _levels.c.allocated, _refuse_consume, on_hand_too=True)
        audit.record(
            "stock.written_off",
            entity=("variant", change.variant_id),
            location_id=change.location_id,
            quantity=-state.delta,
            on_hand=state.on_hand,
            reason=str(change.reason or ""),
            reference=str(change.reference or ""),
            **_audit_actor(actor),
        )
        return state


def arrive(change: StockChange, actor=None) -> LevelState:
    """Goods sent for an order arrive here and stay reserved for it: on_hand and allocated both rise by
    `quantity` (a transfer_in movement), creating the level if this location never had the variant."""
    checked = _check(change, low=1, reason_required=False)
    now = utcnow()
    with transaction() as session:
        _require_place(session, change.variant_id, change.location_id)
        upsert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_levels).values(
            variant_id=change.variant_id,
            location_id=change.location_id,
            on_hand=checked.quantity,
            allocated=checked.quantity,
            version=1,
            updated_at=now,
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[_levels.c.variant_id, _levels.c.location_id],
            set_={
                "on_hand": _levels.c.on_hand + upsert.excluded.on_hand,
                "allocated": _levels.c.allocated + upsert.excluded.allocated,
                "version": _levels.c.version + 1,
                "updated_at": now,
            },
            where=_levels.c.on_hand + upsert.excluded.on_hand <= MAX_ON_HAND,
        ).returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        row = session.execute(upsert).one_or_none()
        if row is None:
            raise ValidationFailed(
                _("Please check the highlighted fields."),
                {"quantity": _("That would make more than %(max)s on hand.", max=format_decimal(MAX_ON_HAND))},
            )
        _note(
            session, change.variant_id, on_hand=checked.quantity, allocated=checked.quantity, created=row.version == 1
        )
        _write_movement(
            session,
            change,
            "transfer_in",
            actor,
            on_hand_delta=checked.quantity,
            allocated_delta=checked.quantity,
            reason=checked.reason,
            reference=checked.reference,
        )
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
            .where(
                _levels.c.variant_id == change.variant_id,
                _levels.c.location_id == change.location_id,
                room >= checked.quantity,
            )
            .values(**values)
            .returning(_levels.c.on_hand, _levels.c.allocated, _levels.c.version)
        ).one_or_none()
        if row is None:
            current = _state(
                change.variant_id, change.location_id, _read(session, change.variant_id, change.location_id)
            )
            raise refuse(current, checked.quantity)
        _note(session, change.variant_id, on_hand=delta if on_hand_too else 0, allocated=delta)
        _write_movement(
            session,
            change,
            kind,
            actor,
            on_hand_delta=delta if on_hand_too else 0,
            allocated_delta=delta,
            reason=checked.reason,
            reference=checked.reference,
        )
        return _state(change.variant_id, change.location_id, row, delta if on_hand_too else 0)
