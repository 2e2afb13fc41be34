"""One summary per local day of a review's scope: the day's counts per store, durations, hour buckets and endless
aisle, computed from review_fact (one narrow row per pickup order, kept up to date by triggers) and the order
lines, and cached in review_day for closed days on PostgreSQL (the triggers mark later changes in review_dirty).

Only the hour buckets are turned into local days in Python (on SQLite, which has no time zones, per UTC hour).
"""

import base64
from array import array
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import and_, case, func, select

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders.models import Order, OrderLine, Pickup
from omnistore.reviews.figures import partial_line, pickup_scope
from omnistore.reviews.models import ReviewDay, ReviewDirty, ReviewFact
from omnistore.reviews.scope import local_midnight

F = ReviewFact


def fact_where(scope):
    return [F.pickup_location_id == scope.location.id] if scope.location is not None else []


# The counts a day's summary keeps per store, in this order.
DAY_FIGURES = (
    "placed",
    "ready",
    "collected",
    "expired",
    "cancelled",
    "cancelled_after_ready",
    "on_time",
    "late",
    "checked_in",
)
CACHE_AFTER = timedelta(hours=2)  # a day is cached once it ended this long ago (the triggers mark older changes)


def _scope_key(scope):
    return "network" if scope.location is None else str(scope.location.id)


def _day_bounds(day, zone):
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def summaries_by_day(scope):
    """{iso day: summary} for every day of the scope's period."""
    days = scope.days
    if db.engine.dialect.name != "postgresql":
        return _compute_days(scope, days)
    horizon = min(scope.now, utcnow()) - CACHE_AFTER
    closed = [d for d in days if _day_bounds(d, scope.zone)[1] <= horizon]
    key, zone = _scope_key(scope), scope.zone.key
    cached = {}
    if closed:
        rows = db.session.execute(
            select(ReviewDay.day, ReviewDay.dirty_id, ReviewDay.data).where(
                ReviewDay.scope_key == key, ReviewDay.zone == zone, ReviewDay.day.in_(closed)
            )
        ).all()
        cached = {day: (dirty_id, data) for day, dirty_id, data in rows}
        if cached:
            oldest = min(dirty_id for dirty_id, _data in cached.values())
            for mark_id, hour in db.session.execute(
                select(ReviewDirty.id, ReviewDirty.hour).where(ReviewDirty.id > oldest)
            ):
                for day in {
                    hour.astimezone(scope.zone).date(),
                    (hour + timedelta(minutes=59)).astimezone(scope.zone).date(),
                }:
                    if day in cached and cached[day][0] < mark_id:
                        del cached[day]
    missing = [d for d in days if d not in cached]
    result = {d.isoformat(): data for d, (_dirty, data) in cached.items()}
    if missing:
        watermark = db.session.scalar(select(func.coalesce(func.max(ReviewDirty.id), 0)))
        computed = {}
        for run in _runs(missing):
            computed.update(_compute_days(scope, run))
        result.update(computed)
        to_store = [d for d in missing if d in set(closed)]
        if to_store:
            _store_days(key, zone, {d: computed.get(d.isoformat(), {}) for d in to_store}, watermark)
    return result


def _runs(days):
    """Consecutive runs of days: [[d1, d2, d3], [d7], …]."""
    runs = []
    for day in sorted(days):
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _store_days(key, zone, summaries, watermark):
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    from omnistore.core.db import transaction

    rows = [
        dict(scope_key=key, zone=zone, day=day, dirty_id=watermark, computed_at=utcnow(), data=data)
        for day, data in summaries.items()
    ]
    statement = pg_insert(ReviewDay).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["scope_key", "zone", "day"],
        set_={
            "dirty_id": statement.excluded.dirty_id,
            "computed_at": statement.excluded.computed_at,
            "data": statement.excluded.data,
        },
    )
    with transaction() as session:
        session.execute(statement)


def _compute_days(scope, days):
    """{iso day: summary} for a run of consecutive days, from review_fact (and the lines for the endless aisle).

    summary = {"counts": packed [location, *DAY_FIGURES counts]…, "durations": {location: packed [3 lengths,
    to ready…, to collect…, desk wait…] (whole seconds)}, "hours": {status: {local hour: n}}, "sources":
    {source: [orders, {currency: saved}]}, "endless": n, "partial": n}; days without activity are missing."""
    start, end = _day_bounds(days[0], scope.zone)[0], _day_bounds(days[-1], scope.zone)[1]
    zone = scope.zone
    summaries = defaultdict(
        lambda: {"counts": {}, "durations": {}, "hours": {}, "sources": {}, "endless": 0, "partial": 0}
    )
    local_days = {}

    def local(moment):
        hour = moment.replace(minute=0, second=0, microsecond=0)
        if hour not in local_days:
            local_time = hour.astimezone(zone)
            local_days[hour] = (local_time.date().isoformat(), local_time.hour)
        return local_days[hour]

    def within(column):
        return and_(column >= start, column < end)

    def add_count(moment, location_id, name):
        figures = summaries[local(moment)[0]]["counts"].setdefault(str(location_id), {})
        figures[name] = figures.get(name, 0) + 1

    def add_hour(moment, status):
        day, hour = local(moment)
        per_hour = summaries[day]["hours"].setdefault(status, {})
        per_hour[str(hour)] = per_hour.get(str(hour), 0) + 1

    def add_duration(moment, location_id, index, seconds):
        lists = summaries[local(moment)[0]]["durations"].setdefault(str(location_id), [[], [], []])
        lists[index].append(max(0, round(seconds)))

    where = fact_where(scope)
    for location_id, placed_at in db.session.execute(
        select(F.pickup_location_id, F.placed_at).where(*where, within(F.placed_at))
    ):
        add_count(placed_at, location_id, "placed")
        add_hour(placed_at, "placed")
    for location_id, ready_at, placed_at, promised_at in db.session.execute(
        select(F.pickup_location_id, F.ready_at, F.placed_at, F.promised_at).where(*where, within(F.ready_at))
    ):
        add_count(ready_at, location_id, "ready")
        add_hour(ready_at, "ready")
        if promised_at is not None:
            add_count(ready_at, location_id, "on_time" if ready_at <= promised_at else "late")
        add_duration(ready_at, location_id, 0, (ready_at - placed_at).total_seconds())
    for location_id, collected_at, ready_at, checked_in_at in db.session.execute(
        select(F.pickup_location_id, F.collected_at, F.ready_at, F.checked_in_at).where(
            *where, F.status == "collected", within(F.collected_at)
        )
    ):
        add_count(collected_at, location_id, "collected")
        add_hour(collected_at, "collected")
        if ready_at is not None:
            add_duration(collected_at, location_id, 1, (collected_at - ready_at).total_seconds())
        if checked_in_at is not None:
            add_duration(collected_at, location_id, 2, (collected_at - checked_in_at).total_seconds())
    for location_id, checked_in_at in db.session.execute(
        select(F.pickup_location_id, F.checked_in_at).where(*where, within(F.checked_in_at))
    ):
        add_count(checked_in_at, location_id, "checked_in")
    for location_id, ended_at, status, ended_from in db.session.execute(
        select(F.pickup_location_id, F.ended_at, F.status, F.ended_from).where(
            *where, F.status.in_(("expired", "cancelled")), within(F.ended_at)
        )
    ):
        add_count(ended_at, location_id, status)
        add_hour(ended_at, status)
        if status == "cancelled" and ended_from == "ready":
            add_count(ended_at, location_id, "cancelled_after_ready")
    # Partial handovers: collected orders with a refused or short line.
    partial = (
        select(Pickup.collected_at)
        .select_from(Pickup)
        .join(Order, Order.id == Pickup.order_id)
        .where(*pickup_scope(scope), Order.status == "collected", within(Pickup.collected_at), partial_line())
    )
    for (collected_at,) in db.session.execute(partial):
        summaries[local(collected_at)[0]]["partial"] += 1
    # The endless aisle: orders sold here with lines from other locations, by source, dated by placement.
    kept = and_(
        Order.status.not_in(("cancelled", "expired")), OrderLine.status.not_in(("refused", "short", "released"))
    )
    aisle = (
        select(
            Order.id,
            Order.placed_at,
            OrderLine.source_location_id,
            case((kept, OrderLine.quantity * OrderLine.unit_price_minor - OrderLine.discount_minor), else_=0),
            Order.currency,
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            within(Order.placed_at),
            Order.origin_location_id.is_not(None),
            OrderLine.source_location_id != Order.origin_location_id,
        )
    )
    if scope.location is not None:
        aisle = aisle.where(Order.origin_location_id == scope.location.id)
    seen_pairs, seen_orders = set(), set()
    for order_id, placed_at, source_id, value, currency in db.session.execute(aisle):
        day = local(placed_at)[0]
        found = summaries[day]["sources"].setdefault(str(source_id), [0, {}])
        if (order_id, source_id) not in seen_pairs:
            found[0] += 1
            seen_pairs.add((order_id, source_id))
        found[1][currency] = found[1].get(currency, 0) + int(value or 0)  # per currency: never kroner + euros
        if order_id not in seen_orders:
            summaries[day]["endless"] += 1
            seen_orders.add(order_id)
    for summary in summaries.values():
        summary["counts"] = _pack(
            [
                n
                for location, figures in summary["counts"].items()
                for n in (int(location), *(figures.get(name, 0) for name in DAY_FIGURES))
            ]
        )
        for lists in summary["durations"].values():
            for values in lists:
                values.sort()  # sorted runs: merging a month of them later is mostly linear
        summary["network"] = [
            _pack(sorted(x for lists in summary["durations"].values() for x in lists[index])) for index in range(3)
        ]
        summary["durations"] = {
            location: _pack([len(v) for v in lists] + [x for v in lists for x in v])
            for location, lists in summary["durations"].items()
        }
    return dict(summaries)


def _pack(seconds):
    """Integers (whole seconds, counts) → a compact string for the day's JSON (base64 of 32-bit integers): a
    month of the network's durations parses in milliseconds this way; as JSON numbers, in a good part of a second."""
    return base64.b64encode(array("i", seconds).tobytes()).decode("ascii")


def unpack(packed):
    values = array("i")
    values.frombytes(base64.b64decode(packed))
    return values
