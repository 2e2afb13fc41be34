"""Setting on_hand for many levels at once, from the ERP's file or the API's list (feed.py reads them): each row
checked on its own, the good ones applied set-based (a few statements whatever the number of rows, conditional on
the version each level was read at), the bad ones reported with their line and reasons, and the whole import audited
with its reference. A row may also name the variant's zone at the location (stock/zones.py)."""

import re
import unicodedata
import uuid
from collections import namedtuple
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import String, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, Forbidden
from omnistore.core.types import utcnow
from omnistore.stock import feed, zones
from omnistore.stock.feed import ImportRow, RowProblem, TooManyRows
from omnistore.stock.inputs import LOCATION_CODE_MAX, MAX_QUANTITY, REASON_MAX, SKU_MAX, _bad_character, _whole_number
from omnistore.stock.ledger import _RETRIES, _actor_ids, _audit_actor
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stock.summaries import _IN_CHUNK, _dialect, _note
from omnistore.stores import staff as staff_service
from omnistore.stores.models import ApiClient, Location, Staff

IMPORT_PROBLEMS_KEPT = 10_000  # refused rows kept with the import's audit event (for the download)
IMPORT_REFERENCE = re.compile(r"IMP-[0-9A-F]{12}")
ROW_STATUSES = ("created", "updated", "unchanged", "error", "skipped")

_levels = StockLevel.__table__
_movements = StockMovement.__table__


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
        return {
            "created": counts["created"],
            "updated": counts["updated"],
            "unchanged": counts["unchanged"],
            "errors": counts["error"],
            "skipped": counts["skipped"],
        }

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
    zone: str | None = None  # None: the level's zone stays as it is
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
        row.error(
            field_name, "too_long", _("%(field)s is longer than %(max)d characters.", field=field_name, max=max_length)
        )
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
    if source.zone is not None and "zone" not in flagged:
        problems = {}
        zone = zones.clean_zone(source.zone, problems)
        if problems:
            row.error("zone", "invalid_value", str(problems["zone"]))
        else:
            row.zone = zone
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
            row.error(
                None,
                "duplicate",
                _(
                    "%(sku)s at %(location)s appears more than once (also at %(others)s); "
                    "none of these rows was applied.",
                    sku=sku,
                    location=code,
                    others=others,
                ),
            )


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
        raise TooManyRows(
            _(
                "At most %(max)s rows per import, this one has %(rows)s. Split the file.",
                max=format_decimal(feed.MAX_IMPORT_ROWS),
                rows=format_decimal(len(rows)),
            ),
            limit=feed.MAX_IMPORT_ROWS,
        )
    source = "".join(c for c in " ".join(str(source or "").split()) if unicodedata.category(c) not in ("Cc", "Cs"))
    source = source[:REASON_MAX]
    parsed = [_parse_import_row(row) for row in rows]
    live = [row for row in parsed if not row.source.empty]
    _flag_duplicates(live)
    reference = f"IMP-{uuid.uuid4().hex[:12].upper()}"
    with transaction() as session:
        _resolve(session, live, actor)
        _apply(session, [row for row in live if row.ok], actor, source, reference)
        _set_zones(session, [row for row in live if row.ok and row.zone is not None])
        result = ImportResult(reference, [row.result for row in parsed])
        problems = [
            [bad.line, bad.sku, bad.location, " ".join(problem.message for problem in bad.errors)]
            for bad in result.bad_rows[:IMPORT_PROBLEMS_KEPT]
        ]
        audit.record(
            "stock.imported",
            entity=("stock_import", reference),
            source=source,
            summary=result.summary,
            problems=problems,
            **_audit_actor(actor),
        )
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
            row.error(
                "location",
                "out_of_scope",
                _("You can import stock for your own store only, not for %(code)s.", code=row.code),
            )
        elif isinstance(actor, ApiClient) and not staff_service.api_store_in_scope(actor, location.code):
            row.error("location", "out_of_scope", _("This API token may not set stock at %(code)s.", code=row.code))
        else:
            row.location_id = location.id


def _lookup(session, key_column, id_column, values):
    """{key: id} for the given keys, in one query on PostgreSQL and chunks of IN lists on SQLite."""
    found = {}
    if not values:
        return found
    if _dialect(session) == "postgresql":
        query = select(key_column, id_column).where(
            key_column == any_(bindparam("keys", list(values), type_=postgresql.ARRAY(String)))
        )
        return dict(session.execute(query).all())
    values = list(values)
    for start in range(0, len(values), _IN_CHUNK):
        found.update(
            session.execute(
                select(key_column, id_column).where(key_column.in_(values[start : start + _IN_CHUNK]))
            ).all()
        )
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
                row.error(
                    "on_hand",
                    "below_allocated",
                    _(
                        "Reserved for customer orders here: %(allocated)d, so on_hand cannot be %(on_hand)d.",
                        allocated=level.allocated,
                        on_hand=row.on_hand,
                    ),
                )
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
        _bulk_movements(session, [row for row in pending if row in updated or row in created], actor, source, reference)
        pending = [row for row in pending if row.ok and row.result.status == "error"]
    for row in pending:
        row.error(None, "conflict", _("This stock changed while the import ran; send the row again."))


def _set_zones(session, rows):
    """The zones the rows name, on the levels just written (or found unchanged): one executemany; a zone is not
    a movement, so neither the version nor the ledger changes."""
    if not rows:
        return
    statement = (
        update(_levels)
        .where(
            _levels.c.variant_id == bindparam("b_variant"),
            _levels.c.location_id == bindparam("b_location"),
            _levels.c.zone != bindparam("b_zone"),
        )
        .values(zone=bindparam("b_zone"))
    )
    session.connection().execute(
        statement,
        [{"b_variant": row.variant_id, "b_location": row.location_id, "b_zone": row.zone} for row in rows],
    )


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
    columns = (
        _levels.c.id,
        _levels.c.variant_id,
        _levels.c.location_id,
        _levels.c.on_hand,
        _levels.c.allocated,
        _levels.c.version,
    )
    location_ids = {location_id for _variant_id, location_id in pairs}
    variant_ids = sorted({variant_id for variant_id, _location_id in pairs})
    for start in range(0, len(variant_ids), _IN_CHUNK):
        query = select(*columns).where(
            _levels.c.variant_id.in_(variant_ids[start : start + _IN_CHUNK]), _levels.c.location_id.in_(location_ids)
        )
        levels = map(_Level._make, session.execute(query))
        found.update(
            ((level.variant_id, level.location_id), level)
            for level in levels
            if (level.variant_id, level.location_id) in pairs
        )
    return found


def _bulk_update(session, updates):
    """on_hand = row.on_hand where the level still has the version read; the rows that were written."""
    if not updates:
        return set()
    now = utcnow()
    if _dialect(session) == "postgresql":
        written = (
            session.execute(
                text(
                    "UPDATE stock_level AS s SET on_hand = v.on_hand, version = s.version + 1, updated_at = :now "
                    "FROM unnest(CAST(:ids AS integer[]), CAST(:on_hand AS integer[]), CAST(:versions AS bigint[])) "
                    "AS v(id, on_hand, version) "
                    "WHERE s.id = v.id AND s.version = v.version AND s.allocated <= v.on_hand RETURNING s.id"
                ),
                {
                    "now": now,
                    "ids": [level.id for _row, level in updates],
                    "on_hand": [row.on_hand for row, _level in updates],
                    "versions": [level.version for _row, level in updates],
                },
            )
            .scalars()
            .all()
        )
        written = set(written)
        return {row for row, level in updates if level.id in written}
    statement = (
        update(_levels)
        .where(
            _levels.c.id == bindparam("b_id"),
            _levels.c.version == bindparam("b_version"),
            _levels.c.allocated <= bindparam("b_on_hand"),
        )
        .values(on_hand=bindparam("b_on_hand"), version=_levels.c.version + 1, updated_at=now)
    )
    result = session.connection().execute(
        statement, [{"b_id": level.id, "b_version": level.version, "b_on_hand": row.on_hand} for row, level in updates]
    )
    if result.rowcount != len(updates):  # cannot happen under SQLite's write lock; refuse rather than guess
        raise Conflict(_("The stock changed while the import ran; nothing was saved. Send the file again."))
    return {row for row, _level in updates}


def _bulk_create(session, rows):
    """New levels for rows whose variant was never stocked at the location; the rows that were written."""
    if not rows:
        return set()
    now = utcnow()
    if _dialect(session) == "postgresql":
        written = session.execute(
            text(
                "INSERT INTO stock_level (variant_id, location_id, on_hand, allocated, version, updated_at) "
                "SELECT v, l, o, 0, 1, :now FROM unnest(CAST(:v AS integer[]), CAST(:l AS integer[]), "
                "CAST(:o AS integer[])) AS n(v, l, o) "
                "ON CONFLICT (variant_id, location_id) DO NOTHING RETURNING variant_id, location_id"
            ),
            {
                "now": now,
                "v": [row.variant_id for row in rows],
                "l": [row.location_id for row in rows],
                "o": [row.on_hand for row in rows],
            },
        ).all()
        written = {(variant_id, location_id) for variant_id, location_id in written}
        return {row for row in rows if (row.variant_id, row.location_id) in written}
    result = session.connection().execute(
        sqlite.insert(_levels).on_conflict_do_nothing(index_elements=[_levels.c.variant_id, _levels.c.location_id]),
        [
            {
                "variant_id": row.variant_id,
                "location_id": row.location_id,
                "on_hand": row.on_hand,
                "allocated": 0,
                "version": 1,
                "updated_at": now,
            }
            for row in rows
        ],
    )
    if result.rowcount != len(rows):
        raise Conflict(_("The stock changed while the import ran; nothing was saved. Send the file again."))
    return set(rows)


def _bulk_movements(session, rows, actor, source, reference):
    if not rows:
        return
    ids = _actor_ids(actor)
    now = utcnow()
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                "INSERT INTO stock_movement (variant_id, location_id, kind, on_hand_delta, allocated_delta, reason, "
                "reference, staff_id, api_client_id, created_at) "
                "SELECT v, l, 'import', d, 0, :reason, :reference, :staff_id, :api_client_id, :now "
                "FROM unnest(CAST(:v AS integer[]), CAST(:l AS integer[]), CAST(:d AS integer[])) AS m(v, l, d)"
            ),
            {
                "reason": source,
                "reference": reference,
                "now": now,
                **ids,
                "v": [row.variant_id for row in rows],
                "l": [row.location_id for row in rows],
                "d": [row.on_hand - row.result.previous for row in rows],
            },
        )
        return
    session.connection().execute(
        insert(_movements),
        [
            {
                "variant_id": row.variant_id,
                "location_id": row.location_id,
                "kind": "import",
                "on_hand_delta": row.on_hand - row.result.previous,
                "allocated_delta": 0,
                "reason": source,
                "reference": reference,
                "created_at": now,
                **ids,
            }
            for row in rows
        ],
    )
