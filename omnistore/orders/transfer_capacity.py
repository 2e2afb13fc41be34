"""A source's daily transfer capacity (`Location.transfer_capacity`): how many outgoing transfers it created
today, its own local day, cancelled ones not counted (`transfers_today`, read by the sourcing engine's rule 1),
and claiming that capacity inside the placing transaction (`claim_transfer_capacity`)."""

from flask_babel import gettext as _
from sqlalchemy import func, select

from omnistore.core.errors import InsufficientStock
from omnistore.core.extensions import db
from omnistore.orders.models import Transfer
from omnistore.stores.locations import start_of_local_day
from omnistore.stores.models import Location


def transfers_today(locations, now, *, counted=None):
    """{location_id: outgoing transfers created today (local day), cancelled ones not counted}.

    One grouped count per local midnight among `locations` (a network in one time zone: one statement), not an
    IN list of every store's id: the sourcing engine asks this on every proposal, for the whole network.
    `counted` (a dict the caller keeps: sourcing.Reading's) keeps each midnight's counts for the next call."""
    if not locations:
        return {}
    by_zone = {}
    for loc in locations:
        by_zone.setdefault(loc.timezone, []).append(loc)
    by_start = {}
    for same_zone in by_zone.values():
        start = start_of_local_day(same_zone[0], now)
        by_start.setdefault(start, set()).update(loc.id for loc in same_zone)
    counts = {}
    for start, ids in by_start.items():
        day = counted.get(start) if counted is not None else None
        if day is None:
            day = dict(
                db.session.execute(
                    select(Transfer.source_location_id, func.count())
                    .where(Transfer.status != "cancelled", Transfer.created_at >= start)
                    .group_by(Transfer.source_location_id)
                ).all()
            )
            if counted is not None:
                counted[start] = day
        counts.update((location_id, count) for location_id, count in day.items() if location_id in ids)
    return counts


class TransferCapacityReached(InsufficientStock):
    """A source reached its outgoing transfers for today while this order was being placed."""

    code = "transfer_capacity_reached"


def claim_transfer_capacity(session, sources, now) -> None:
    """Inside the placing transaction, before its transfers are written: lock each source's location row
    (in id order; FOR NO KEY UPDATE, so orders and movements referencing the location do not wait) and
    count its transfers today again. Concurrent placements from one source queue on that lock, so the
    capacity is never exceeded; TransferCapacityReached when a source is full (the caller re-sources).
    SQLite's write transaction holds the whole database already."""
    ids = sorted({loc.id for loc in sources})
    if not ids:
        return
    query = select(Location.id).where(Location.id.in_(ids)).order_by(Location.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    session.execute(query).all()
    used = transfers_today(sources, now)
    for loc in sorted(sources, key=lambda loc: loc.id):
        if used.get(loc.id, 0) >= loc.transfer_capacity:
            raise TransferCapacityReached(
                _(
                    "%(store)s has reached its transfers for today (%(capacity)d).",
                    store=loc.name,
                    capacity=loc.transfer_capacity,
                ),
                location=loc.code,
            )
