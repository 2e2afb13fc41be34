"""The per-variant summary (models.VariantStock: on_hand, allocated, versions and levels summed over the variant's
levels), kept with its levels. A verb notes what it changed (_note); just before the session commits, the
notes go into variant_stock in one statement, added to what is there (so concurrent transactions never overwrite
each other) and in variant order (so two transactions never wait on each other's summary rows in a circle). When the
transaction rolls back instead, the notes are dropped with it. rebuild_summaries sets the rows from the levels, for
rows written without the verbs."""

from sqlalchemy import event, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnistore.core import live
from omnistore.core.db import transaction
from omnistore.stock.models import StockLevel, VariantStock

_IN_CHUNK = 500  # values per IN (...) list on SQLite
_PENDING = "omnistore.stock.summary"  # session.info: {variant_id: [on_hand, allocated, versions, levels]}

_levels = StockLevel.__table__
_summary = VariantStock.__table__


def _dialect(session):
    return session.get_bind().dialect.name


def _note(session, variant_id, *, on_hand=0, allocated=0, created=False):
    """One changed level of `variant_id`: its version went up by one (or it was created, with version 1)."""
    deltas = session.info.setdefault(_PENDING, {}).setdefault(variant_id, [0, 0, 0, 0])
    deltas[0] += on_hand
    deltas[1] += allocated
    deltas[2] += 1
    deltas[3] += 1 if created else 0
    live.note(session, variant_topic(variant_id))  # open panels of the variant hear of it at commit (core/live.py)


def variant_topic(variant_id):
    """The live topic of a variant's stock: its network panels listen to it."""
    return f"variant:{variant_id}"


def has_pending_summaries(session):
    return bool(session.info.get(_PENDING))


def write_pending_summaries(session):
    """Add the changes noted in this transaction to the summary rows now (normally done before commit)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    rows = sorted((variant_id, *deltas) for variant_id, deltas in pending.items())
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                "INSERT INTO variant_stock (variant_id, on_hand, allocated, versions, levels) "
                "SELECT * FROM unnest(CAST(:v AS integer[]), CAST(:o AS bigint[]), CAST(:a AS bigint[]), "
                "CAST(:n AS bigint[]), CAST(:l AS integer[])) ORDER BY 1 "
                "ON CONFLICT (variant_id) DO UPDATE SET on_hand = variant_stock.on_hand + excluded.on_hand, "
                "allocated = variant_stock.allocated + excluded.allocated, "
                "versions = variant_stock.versions + excluded.versions, levels = variant_stock.levels + excluded.levels"
            ),
            dict(zip("voanl", map(list, zip(*rows, strict=True)), strict=True)),
        )
        return
    upsert = sqlite.insert(_summary)
    upsert = upsert.on_conflict_do_update(
        index_elements=[_summary.c.variant_id],
        set_={
            name: _summary.c[name] + upsert.excluded[name] for name in ("on_hand", "allocated", "versions", "levels")
        },
    )
    session.connection().execute(
        upsert,
        [dict(zip(("variant_id", "on_hand", "allocated", "versions", "levels"), row, strict=True)) for row in rows],
    )


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
            chunk = ids[start : start + _IN_CHUNK]
            _rebuild(session, _levels.c.variant_id.in_(chunk), _summary.c.variant_id.in_(chunk))


def _rebuild(session, levels_where, summary_where):
    statement = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(_summary)
    totals = (
        select(
            _levels.c.variant_id,
            func.sum(_levels.c.on_hand),
            func.sum(_levels.c.allocated),
            func.sum(_levels.c.version),
            func.count(),
        )
        .where(levels_where)
        .group_by(_levels.c.variant_id)
    )
    statement = statement.from_select(["variant_id", "on_hand", "allocated", "versions", "levels"], totals)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[_summary.c.variant_id],
            set_={name: statement.excluded[name] for name in ("on_hand", "allocated", "versions", "levels")},
        )
    )
    orphans = ~exists().where(_levels.c.variant_id == _summary.c.variant_id)
    session.execute(_summary.delete().where(orphans, summary_where))
