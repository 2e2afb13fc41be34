"""The manager's pickup review: how click-and-collect performs at a store or across the network.

A review is asked for a Scope: a store (or the network, for admins) and a period of whole local days in
that store's time zone (the network uses the admin's own store's zone). Each counted figure is one
predicate over orders (FIGURES), so a number and the list of orders behind it can never disagree:
`figures()` counts them, `orders_for_figure()` lists them.

The moment each figure is dated by:
- placed: Order.placed_at            - ready: Pickup.ready_at            - collected: Pickup.collected_at
- expired / cancelled: the order's "expired" / "cancelled" event (and the order is in that status now)
- checked in: Pickup.checked_in_at   - endless aisle: Order.placed_at of an order sold by the store
- waiting now / overdue now: the state at `now` (ready on the shelf; past the pickup-by date)
On time: ready at or before promised_at (orders without a promise are not judged). No-show rate: expired /
(collected + expired). Durations are percentiles of whole seconds (linear interpolation, like percentile_cont).
Everything is aggregated in SQL; only the hour buckets of the charts are turned into local days in Python
(on SQLite, which has no time zones, per UTC hour).
"""
import base64
import bisect
import dataclasses
import math
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased, selectinload

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Forbidden, NotFound, OutOfScope, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.pagination import Page, paginate
from omnistore.core.types import utcnow
from omnistore.orders.models import VERIFICATIONS, Order, OrderEvent, OrderLine, Pickup
from omnistore.orders.services import PAGE_SIZE
from omnistore.reviews.models import ReviewDay, ReviewDirty, ReviewFact
from omnistore.stores.locations import location_zone
from omnistore.stores.models import Location, Staff

PERIODS = ("today", "7d", "30d", "custom")
PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}
MAX_CUSTOM_DAYS = 366
COUNTED = ("placed", "ready", "collected", "expired", "cancelled", "waiting", "overdue", "on_time", "late",
           "checked_in", "endless_aisle")
FIGURE_LABELS = {
    "placed": _l("Placed for pickup"), "ready": _l("Ready"), "collected": _l("Collected"),
    "expired": _l("Expired"), "cancelled": _l("Cancelled"), "waiting": _l("Waiting now"),
    "overdue": _l("Overdue now"), "on_time": _l("Ready on time"), "late": _l("Ready late"),
    "checked_in": _l("Check-ins"), "endless_aisle": _l("Endless-aisle orders"),
    "cancelled_after_ready": _l("Cancelled after ready"), "partial": _l("Partial handovers"),
}
# Distribution buckets, upper bounds in hours (the last bucket is open).
TO_READY_BUCKETS = (1, 4, 12, 24, 48, 72, 120, 168)
TO_COLLECT_BUCKETS = (1, 4, 24, 48, 72, 120, 168, 240)
LEAGUE_SORTS = {
    # column: (key, worst first means descending?)
    "no_show_rate": ("no_show_rate", True), "on_time_rate": ("on_time_rate", False),
    "overdue": ("overdue", True), "expired": ("expired", True), "cancelled": ("cancelled", True),
    "median_to_ready": ("median_to_ready", True), "median_to_collect": ("median_to_collect", True),
    "placed": ("placed", False), "collected": ("collected", False), "store": ("code", False),
}


# --- scope -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    location: Location | None  # None: the whole network
    zone: ZoneInfo
    period: str
    first_day: date
    last_day: date  # inclusive
    now: datetime

    @property
    def start(self):
        return _local_midnight(self.first_day, self.zone)

    @property
    def end(self):
        return _local_midnight(self.last_day + timedelta(days=1), self.zone)

    @property
    def days(self):
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    @property
    def is_network(self):
        return self.location is None

    def query_args(self, store=None, **extra):
        """The URL query that selects this scope again (for links and exports); `store` picks another store."""
        args = {"period": self.period, "store": store or (self.location.code if self.location else "network")}
        if self.period == "custom":
            args.update({"from": self.first_day.isoformat(), "to": self.last_day.isoformat()})
        args.update({k: v for k, v in extra.items() if v not in (None, "")})
        return args


def _local_midnight(day, zone):
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _parse_day(value, name):
    try:
        return date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        raise ValidationFailed(_l("Give dates as YYYY-MM-DD."), {name: _l("Give a date as YYYY-MM-DD.")}) from None


def scope_for(staff, *, store=None, period="7d", first=None, last=None, now=None):
    """The scope a staff member asks for. Managers see their own store; admins any store or the network
    (store "network" or empty). Another store for a manager is OutOfScope; the network is Forbidden."""
    now = now or utcnow()
    store = (store or "").strip().upper()
    if staff.is_admin:
        if store in ("", "NETWORK"):
            location = None
        else:
            location = db.session.scalar(select(Location).where(Location.code == store[:16]))
            if location is None:
                raise NotFound(_l("No store with that code."))
    elif staff.role == "manager":
        if store == "NETWORK":
            raise Forbidden(_l("Only admins review the whole network."))
        if store and store != staff.location.code:
            raise OutOfScope(_l("No store with that code."))
        location = staff.location
    else:
        raise Forbidden(_l("Only managers review pickups."))
    zone = location_zone(location or staff.location)
    today = now.astimezone(zone).date()
    if period not in PERIODS:
        period = "7d"
    if period == "custom":
        first_day, last_day = _parse_day(first, "from"), _parse_day(last, "to")
        if last_day < first_day:
            message = _l("The period ends before it starts.")
            raise ValidationFailed(message, {"to": message})
        if (last_day - first_day).days + 1 > MAX_CUSTOM_DAYS:
            message = _l("Pick a period of at most a year.")
            raise ValidationFailed(message, {"to": message})
        if first_day.year < 2000 or last_day.year > 2100:
            message = _l("Pick dates between 2000 and 2100.")
            raise ValidationFailed(message, {"from": message})
    else:
        first_day, last_day = today - timedelta(days=PERIOD_DAYS[period] - 1), today
    return Scope(location, zone, period, first_day, last_day, now)


# --- the figures as predicates ------------------------------------------------------------------------------

def _between(column, scope):
    return and_(column >= scope.start, column < scope.end)


def _event_in_period(kind, scope, *extra):
    return exists().where(OrderEvent.order_id == Order.id, OrderEvent.kind == kind,
                          _between(OrderEvent.created_at, scope), *extra)


def _pickup_scope(scope):
    """Pickup orders collected (or to be collected) at the scope's store."""
    conditions = [Order.fulfilment == "pickup"]
    if scope.location is not None:
        conditions.append(Order.pickup_location_id == scope.location.id)
    return conditions


def _sold_elsewhere_line(source_id=None):
    conditions = [OrderLine.order_id == Order.id, OrderLine.source_location_id != Order.origin_location_id]
    if source_id is not None:
        conditions.append(OrderLine.source_location_id == source_id)
    return exists().where(*conditions)


def figure_condition(scope, figure, *, source_id=None):
    """The WHERE clause (over Order outer-joined to Pickup) of the orders a figure counts."""
    ready_in = _between(Pickup.ready_at, scope)
    conditions = {
        "placed": _between(Order.placed_at, scope),
        "ready": ready_in,
        "collected": and_(Order.status == "collected", _between(Pickup.collected_at, scope)),
        "expired": and_(Order.status == "expired", _event_in_period("expired", scope)),
        "cancelled": and_(Order.status == "cancelled", _event_in_period("cancelled", scope)),
        "cancelled_after_ready": and_(Order.status == "cancelled",
                                      _event_in_period("cancelled", scope, OrderEvent.from_status == "ready")),
        "waiting": Order.status == "ready",
        "overdue": and_(Order.status == "ready", Pickup.pickup_by < scope.now),
        "on_time": and_(ready_in, Order.promised_at.is_not(None), Pickup.ready_at <= Order.promised_at),
        "late": and_(ready_in, Order.promised_at.is_not(None), Pickup.ready_at > Order.promised_at),
        "checked_in": _between(Pickup.checked_in_at, scope),
        "partial": and_(Order.status == "collected", _between(Pickup.collected_at, scope), _partial_line()),
    }
    if figure == "endless_aisle":
        where = [_between(Order.placed_at, scope), Order.origin_location_id.is_not(None),
                 _sold_elsewhere_line(source_id)]
        if scope.location is not None:
            where.append(Order.origin_location_id == scope.location.id)
        return and_(*where)
    if figure not in conditions:
        raise NotFound(_l("No such figure."))
    return and_(*_pickup_scope(scope), conditions[figure])


def _partial_line():
    return exists().where(OrderLine.order_id == Order.id, OrderLine.status.in_(("refused", "short")))


def orders_for_figure(scope, figure, *, source=None, page=1) -> Page:
    """The orders behind a figure, newest first, paged like the orders list."""
    source_id = None
    if source:
        source_id = db.session.scalar(select(Location.id).where(Location.code == str(source).strip().upper()[:16]))
        if source_id is None:
            raise NotFound(_l("No store with that code."))
    query = (select(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
             .where(figure_condition(scope, figure, source_id=source_id)))
    return paginate(
        query.options(selectinload(Order.customer), selectinload(Order.pickup_location), selectinload(Order.pickup))
        .order_by(Order.placed_at.desc(), Order.id.desc()), page, PAGE_SIZE)


def all_orders_for_figure(scope, figure, *, source_id=None, limit=50_000):
    """Every order behind a figure (for the CSV export), oldest first."""
    return db.session.scalars(
        select(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure, source_id=source_id))
        .options(selectinload(Order.customer), selectinload(Order.pickup_location), selectinload(Order.pickup))
        .order_by(Order.placed_at, Order.id).limit(limit)
    ).all()


# --- the dashboard (aggregated over review_fact: one narrow row per pickup order, kept by triggers) ----------

@dataclass
class Durations:
    count: int = 0
    median: float | None = None  # seconds
    p90: float | None = None
    buckets: list = field(default_factory=list)  # [(upper hours or None, count)]


@dataclass
class SourceRow:
    location_id: int
    code: str
    name: str
    orders: int
    saved_minor: int


@dataclass
class LeagueRow:
    location_id: int
    code: str
    name: str
    placed: int = 0
    ready: int = 0
    collected: int = 0
    expired: int = 0
    cancelled: int = 0
    overdue: int = 0
    on_time: int = 0
    late: int = 0
    median_to_ready: float | None = None
    median_to_collect: float | None = None

    @property
    def on_time_rate(self):
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None

    @property
    def no_show_rate(self):
        ended = self.collected + self.expired
        return self.expired / ended if ended else None


@dataclass
class Review:
    scope: Scope
    counts: dict
    to_ready: Durations
    to_collect: Durations
    desk_wait: Durations
    sources: list
    saved_minor: int
    daily: list  # [(day, {status: count})]
    heat: list  # 7 rows (Mon..Sun) of 24 counts
    stores: dict = field(default_factory=dict)  # location id → LeagueRow (every store with figures)

    @property
    def on_time_rate(self):
        judged = self.counts["on_time"] + self.counts["late"]
        return self.counts["on_time"] / judged if judged else None

    @property
    def no_show_rate(self):
        ended = self.counts["collected"] + self.counts["expired"]
        return self.counts["expired"] / ended if ended else None

    @property
    def heat_max(self):
        return max((max(row) for row in self.heat), default=0)

    def league(self, sort="no_show_rate"):
        return sort_league(list(self.stores.values()), sort)


F = ReviewFact


def _fact_where(scope):
    return [F.pickup_location_id == scope.location.id] if scope.location is not None else []


def review(scope):
    """Every figure of the dashboard for `scope`, and each store's share of them (the league).

    Built from one summary per local day (_day_summaries): closed days come from the review_day cache on
    PostgreSQL, the rest is computed from review_fact. "Waiting now" and "overdue now" are read live."""
    days = _day_summaries(scope)
    locations = select(Location.id, Location.code, Location.name).order_by(Location.code)
    if scope.location is not None:
        locations = locations.where(Location.id == scope.location.id)
    else:
        locations = locations.where(Location.kind == "store")
    stores = {row.id: LeagueRow(row.id, row.code, row.name) for row in db.session.execute(locations)}
    counts = dict.fromkeys(COUNTED, 0)
    counts.update(cancelled_after_ready=0, partial=0)
    durations = [defaultdict(lambda: array("i")) for _ in range(3)]
    hours = {status: Counter() for status in CHART_STATUSES}
    sources = {}
    per_store = {}
    network_runs = ([], [], [])
    for day in scope.days:
        summary = days.get(day.isoformat(), {})
        packed = _unpack(summary.get("counts", ""))
        width = 1 + len(DAY_FIGURES)
        for start in range(0, len(packed), width):
            location_id = packed[start]
            per_store[location_id] = per_store.get(location_id) or [0] * len(DAY_FIGURES)
            figures = per_store[location_id]
            for index in range(len(DAY_FIGURES)):
                figures[index] += packed[start + 1 + index]
        for location, packed_values in summary.get("durations", {}).items():
            values = _unpack(packed_values)
            lengths, position = values[:3], 3
            for index in range(3):
                durations[index][int(location)].extend(values[position:position + lengths[index]])
                position += lengths[index]
        for index, packed_values in enumerate(summary.get("network", ())):
            run = _unpack(packed_values)
            if run:
                network_runs[index].append(run)
        for status, per_hour in summary.get("hours", {}).items():
            for hour, n in per_hour.items():
                hours[status][(day, int(hour))] += n
        for source, (orders, saved) in summary.get("sources", {}).items():
            found = sources.setdefault(int(source), [0, 0])
            found[0] += orders
            found[1] += saved
        counts["endless_aisle"] += summary.get("endless", 0)
        counts["partial"] += summary.get("partial", 0)
    for location_id, figures in per_store.items():
        row = _league_row(stores, location_id)
        for name, n in zip(DAY_FIGURES, figures, strict=True):
            counts[name] += n
            if name in LEAGUE_COUNTS:
                setattr(row, name, n)
    now_counts = _now_counts(scope)
    counts["waiting"] = sum(n for n, _overdue in now_counts.values())
    counts["overdue"] = sum(overdue for _n, overdue in now_counts.values())
    for location_id, (_n, overdue) in now_counts.items():
        _league_row(stores, location_id).overdue = overdue
    results = []
    for index, bounds in enumerate((TO_READY_BUCKETS, TO_COLLECT_BUCKETS, ())):
        runs = network_runs[index]
        results.append(Durations(sum(len(run) for run in runs), _percentile_of_runs(runs, 0.5),
                                 _percentile_of_runs(runs, 0.9), _buckets(runs, bounds)))
        if index < 2:
            for location_id, values in durations[index].items():
                setattr(_league_row(stores, location_id), ("median_to_ready", "median_to_collect")[index],
                        _percentile(sorted(values), 0.5))
    source_rows = []
    if sources:
        names = {loc_id: (code, name) for loc_id, code, name in db.session.execute(
            select(Location.id, Location.code, Location.name).where(Location.id.in_(list(sources))))}
        source_rows = [SourceRow(source, *names.get(source, ("?", "?")), orders, saved)
                       for source, (orders, saved) in sources.items()]
        source_rows.sort(key=lambda r: (-r.orders, -r.saved_minor, r.code))
    per_day = defaultdict(Counter)
    for status, counter in hours.items():
        for (day, _hour), n in counter.items():
            per_day[day][status] += n
    daily = [(day, {status: per_day[day][status] for status in CHART_STATUSES}) for day in scope.days]
    heat = [[0] * 24 for _ in range(7)]
    for (day, hour), n in hours["collected"].items():
        heat[day.weekday()][hour] += n
    return Review(scope, counts, *results, source_rows, sum(r.saved_minor for r in source_rows), daily, heat,
                  stores=stores)


LEAGUE_COUNTS = ("placed", "ready", "collected", "expired", "cancelled", "on_time", "late")
# The counts a day's summary keeps per store, in this order.
DAY_FIGURES = ("placed", "ready", "collected", "expired", "cancelled", "cancelled_after_ready", "on_time", "late",
               "checked_in")


def _league_row(stores, location_id):
    if location_id not in stores:
        location = db.session.get(Location, location_id)
        stores[location_id] = LeagueRow(location_id, location.code, location.name)
    return stores[location_id]


def _buckets(runs, bounds):
    """[(upper hours or None, how many)] of the values in sorted `runs`."""
    if not bounds:
        return []
    result, previous = [], 0
    for hours in bounds + (None,):
        low = sum(bisect.bisect_left(run, previous * 3600) for run in runs)
        high = sum(len(run) if hours is None else bisect.bisect_left(run, hours * 3600) for run in runs)
        result.append((hours, high - low))
        previous = hours
    return result


def _kth(runs, k):
    """The k-th smallest (from 0) of the values in sorted integer `runs`, by bisecting the value range."""
    low, high = min(run[0] for run in runs), max(run[-1] for run in runs)
    while low < high:
        middle = (low + high) // 2
        if sum(bisect.bisect_right(run, middle) for run in runs) > k:
            high = middle
        else:
            low = middle + 1
    return low


def _percentile_of_runs(runs, fraction):
    """Like _percentile over all values of sorted `runs`, without merging them (a month of the network)."""
    total = sum(len(run) for run in runs)
    if not total:
        return None
    position = (total - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    below = _kth(runs, low)
    above = below if high == low else _kth(runs, high)
    return below + (above - below) * (position - low)


def league(scope, sort="no_show_rate"):
    """Every pickup store's figures side by side for the period, worst first by `sort`."""
    return review(scope).league(sort)


def _now_counts(scope):
    """{location id: (ready on the shelf, of those past pickup-by)} at `now`."""
    query = (select(F.pickup_location_id, func.count(), func.count().filter(F.pickup_by < scope.now))
             .where(*_fact_where(scope), F.status == "ready").group_by(F.pickup_location_id))
    return {location_id: (n, overdue) for location_id, n, overdue in db.session.execute(query)}


# --- one summary per local day, cached for closed days (PostgreSQL) ------------------------------------------

CACHE_AFTER = timedelta(hours=2)  # a day is cached once it ended this long ago (the triggers mark older changes)


def _scope_key(scope):
    return "network" if scope.location is None else str(scope.location.id)


def _day_bounds(day, zone):
    return _local_midnight(day, zone), _local_midnight(day + timedelta(days=1), zone)


def _day_summaries(scope):
    """{iso day: summary} for every day of the scope's period."""
    days = scope.days
    if db.engine.dialect.name != "postgresql":
        return _compute_days(scope, days)
    horizon = min(scope.now, utcnow()) - CACHE_AFTER
    closed = [d for d in days if _day_bounds(d, scope.zone)[1] <= horizon]
    key, zone = _scope_key(scope), scope.zone.key
    cached = {}
    if closed:
        rows = db.session.execute(select(ReviewDay.day, ReviewDay.dirty_id, ReviewDay.data).where(
            ReviewDay.scope_key == key, ReviewDay.zone == zone, ReviewDay.day.in_(closed))).all()
        cached = {day: (dirty_id, data) for day, dirty_id, data in rows}
        if cached:
            oldest = min(dirty_id for dirty_id, _data in cached.values())
            for mark_id, hour in db.session.execute(
                    select(ReviewDirty.id, ReviewDirty.hour).where(ReviewDirty.id > oldest)):
                for day in {hour.astimezone(scope.zone).date(),
                            (hour + timedelta(minutes=59)).astimezone(scope.zone).date()}:
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

    rows = [dict(scope_key=key, zone=zone, day=day, dirty_id=watermark, computed_at=utcnow(), data=data)
            for day, data in summaries.items()]
    statement = pg_insert(ReviewDay).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["scope_key", "zone", "day"],
        set_={"dirty_id": statement.excluded.dirty_id, "computed_at": statement.excluded.computed_at,
              "data": statement.excluded.data})
    with transaction() as session:
        session.execute(statement)


def _compute_days(scope, days):
    """{iso day: summary} for a run of consecutive days, from review_fact (and the lines for the endless aisle).

    summary = {"counts": packed [location, *DAY_FIGURES counts]…, "durations": {location: packed [3 lengths,
    to ready…, to collect…, desk wait…] (whole seconds)}, "hours": {status: {local hour: n}}, "sources":
    {source: [orders, saved]}, "endless": n, "partial": n}; days without activity are missing."""
    start, end = _day_bounds(days[0], scope.zone)[0], _day_bounds(days[-1], scope.zone)[1]
    zone = scope.zone
    summaries = defaultdict(lambda: {"counts": {}, "durations": {}, "hours": {}, "sources": {}, "endless": 0,
                                     "partial": 0})
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

    where = _fact_where(scope)
    for location_id, placed_at in db.session.execute(select(F.pickup_location_id, F.placed_at)
                                                      .where(*where, within(F.placed_at))):
        add_count(placed_at, location_id, "placed")
        add_hour(placed_at, "placed")
    for location_id, ready_at, placed_at, promised_at in db.session.execute(
            select(F.pickup_location_id, F.ready_at, F.placed_at, F.promised_at).where(*where, within(F.ready_at))):
        add_count(ready_at, location_id, "ready")
        add_hour(ready_at, "ready")
        if promised_at is not None:
            add_count(ready_at, location_id, "on_time" if ready_at <= promised_at else "late")
        add_duration(ready_at, location_id, 0, (ready_at - placed_at).total_seconds())
    for location_id, collected_at, ready_at, checked_in_at in db.session.execute(
            select(F.pickup_location_id, F.collected_at, F.ready_at, F.checked_in_at)
            .where(*where, F.status == "collected", within(F.collected_at))):
        add_count(collected_at, location_id, "collected")
        add_hour(collected_at, "collected")
        if ready_at is not None:
            add_duration(collected_at, location_id, 1, (collected_at - ready_at).total_seconds())
        if checked_in_at is not None:
            add_duration(collected_at, location_id, 2, (collected_at - checked_in_at).total_seconds())
    for location_id, checked_in_at in db.session.execute(select(F.pickup_location_id, F.checked_in_at)
                                                         .where(*where, within(F.checked_in_at))):
        add_count(checked_in_at, location_id, "checked_in")
    for location_id, ended_at, status, ended_from in db.session.execute(
            select(F.pickup_location_id, F.ended_at, F.status, F.ended_from)
            .where(*where, F.status.in_(("expired", "cancelled")), within(F.ended_at))):
        add_count(ended_at, location_id, status)
        add_hour(ended_at, status)
        if status == "cancelled" and ended_from == "ready":
            add_count(ended_at, location_id, "cancelled_after_ready")
    # Partial handovers: collected orders with a refused or short line.
    partial = (select(Pickup.collected_at).select_from(Pickup).join(Order, Order.id == Pickup.order_id)
               .where(*_pickup_scope(scope), Order.status == "collected", within(Pickup.collected_at),
                      _partial_line()))
    for (collected_at,) in db.session.execute(partial):
        summaries[local(collected_at)[0]]["partial"] += 1
    # The endless aisle: orders sold here with lines from other locations, by source, dated by placement.
    kept = and_(Order.status.not_in(("cancelled", "expired")),
                OrderLine.status.not_in(("refused", "short", "released")))
    aisle = (select(Order.id, Order.placed_at, OrderLine.source_location_id,
                    case((kept, OrderLine.quantity * OrderLine.unit_price_minor), else_=0))
             .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
             .where(within(Order.placed_at), Order.origin_location_id.is_not(None),
                    OrderLine.source_location_id != Order.origin_location_id))
    if scope.location is not None:
        aisle = aisle.where(Order.origin_location_id == scope.location.id)
    seen_pairs, seen_orders = set(), set()
    for order_id, placed_at, source_id, value in db.session.execute(aisle):
        day = local(placed_at)[0]
        found = summaries[day]["sources"].setdefault(str(source_id), [0, 0])
        if (order_id, source_id) not in seen_pairs:
            found[0] += 1
            seen_pairs.add((order_id, source_id))
        found[1] += int(value or 0)
        if order_id not in seen_orders:
            summaries[day]["endless"] += 1
            seen_orders.add(order_id)
    for summary in summaries.values():
        summary["counts"] = _pack([n for location, figures in summary["counts"].items()
                                   for n in (int(location), *(figures.get(name, 0) for name in DAY_FIGURES))])
        for lists in summary["durations"].values():
            for values in lists:
                values.sort()  # sorted runs: merging a month of them later is mostly linear
        summary["network"] = [_pack(sorted(x for lists in summary["durations"].values() for x in lists[index]))
                              for index in range(3)]
        summary["durations"] = {location: _pack([len(v) for v in lists] + [x for v in lists for x in v])
                                for location, lists in summary["durations"].items()}
    return dict(summaries)


def _pack(seconds):
    """Integers (whole seconds, counts) → a compact string for the day's JSON (base64 of 32-bit integers): a
    month of the network's durations parses in milliseconds this way; as JSON numbers, in a good part of a second."""
    return base64.b64encode(array("i", seconds).tobytes()).decode("ascii")


def _unpack(packed):
    values = array("i")
    values.frombytes(base64.b64decode(packed))
    return values


def _count(scope, figure):
    return db.session.scalar(
        select(func.count()).select_from(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure))
    ) or 0


def _percentile(ordered, fraction):
    """Linear interpolation between the closest ranks (what percentile_cont does)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


CHART_STATUSES = ("placed", "ready", "collected", "expired", "cancelled")


def sort_league(rows, sort):
    """Worst first: highest no-show rate, lowest on-time rate, most overdue… Stores without a figure last."""
    key, descending = LEAGUE_SORTS.get(sort, LEAGUE_SORTS["no_show_rate"])
    with_value = [r for r in rows if getattr(r, key) is not None]
    without = [r for r in rows if getattr(r, key) is None]
    with_value.sort(key=lambda r: r.code)
    with_value.sort(key=lambda r: getattr(r, key), reverse=descending)
    return with_value + sorted(without, key=lambda r: r.code)


# --- the handover log and the exceptions ----------------------------------------------------------------------

@dataclass
class Handover:
    order: Order
    collected_at: datetime
    staff_name: str
    verification: str
    partial: bool


def handover_staff(scope):
    """Staff who handed over in the period (for the filter), by name."""
    query = (select(Staff).join(Pickup, Pickup.collected_by_staff_id == Staff.id)
             .join(Order, Order.id == Pickup.order_id)
             .where(*_pickup_scope(scope), _between(Pickup.collected_at, scope)).distinct())
    return sorted(db.session.scalars(query).all(), key=lambda s: (s.name.lower(), s.id))


def handovers(scope, *, staff_id=None, method=None, limit=None, page=1) -> Page:
    """The handovers in the period, newest first (who, when, how verified, partial or complete): a page of
    them, or with `limit` the first `limit` (the CSV export)."""
    if method and method not in VERIFICATIONS:
        raise ValidationFailed(_l("Unknown verification method."), {"method": _l("Unknown verification method.")})
    partial = _partial_line()
    query = (select(Order, Pickup.collected_at, Staff.name, Pickup.verification, partial.label("partial"))
             .join(Pickup, Pickup.order_id == Order.id)
             .outerjoin(Staff, Staff.id == Pickup.collected_by_staff_id)
             .where(*_pickup_scope(scope), Order.status == "collected", _between(Pickup.collected_at, scope)))
    if staff_id:
        query = query.where(Pickup.collected_by_staff_id == staff_id)
    if method:
        query = query.where(Pickup.verification == method)
    query = query.options(selectinload(Order.customer)).order_by(Pickup.collected_at.desc(), Order.id.desc())
    result = paginate(query, 1 if limit else page, limit or PAGE_SIZE, rows=True)
    return dataclasses.replace(result, items=[Handover(order, at, name or "", verification, bool(is_partial))
                                              for order, at, name, verification, is_partial in result.items])


@dataclass
class ExceptionRow:
    kind: str  # expired | cancelled_after_ready | partial | code_failed
    at: datetime
    order_number: str
    staff_name: str
    detail: str = ""


def exceptions(scope, *, limit=200):
    """What went wrong in the period, newest first: expiries, cancellations after ready, partial handovers,
    failed short-code attempts at the desk (audit action "pickup.code_failed")."""
    rows = []
    actor = aliased(Staff)
    for kind, event_kind, extra in (("expired", "expired", ()),
                                    ("cancelled_after_ready", "cancelled", (OrderEvent.from_status == "ready",))):
        query = (select(Order.number, OrderEvent.created_at, actor.name, OrderEvent.detail)
                 .select_from(OrderEvent).join(Order, Order.id == OrderEvent.order_id)
                 .outerjoin(actor, actor.id == OrderEvent.staff_id)
                 .where(*_pickup_scope(scope), OrderEvent.kind == event_kind, Order.status == event_kind,
                        _between(OrderEvent.created_at, scope), *extra)
                 .order_by(OrderEvent.created_at.desc()).limit(limit))
        for number, at, name, detail in db.session.execute(query):
            reason = (detail or {}).get("reason", "") if isinstance(detail, dict) else ""
            rows.append(ExceptionRow(kind, at, number, name or "", str(reason)[:200]))
    for handover in handovers(scope, limit=limit).items:
        if handover.partial:
            rows.append(ExceptionRow("partial", handover.collected_at, handover.order.number, handover.staff_name))
    failed = (select(AuditEvent.created_at, AuditEvent.entity_type, AuditEvent.entity_id, Staff.name)
              .outerjoin(Staff, Staff.id == AuditEvent.staff_id)
              .where(AuditEvent.action == "pickup.code_failed", _between(AuditEvent.created_at, scope))
              .order_by(AuditEvent.created_at.desc()).limit(limit))
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    numbers = {}
    for at, entity_type, entity_id, name in db.session.execute(failed):
        number = ""
        if entity_type == "orders" and entity_id.isdigit():
            if entity_id not in numbers:
                numbers[entity_id] = db.session.scalar(select(Order.number).where(Order.id == int(entity_id))) or ""
            number = numbers[entity_id]
        rows.append(ExceptionRow("code_failed", at, number, name or ""))
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[:limit]


def exception_counts(scope, counts=None):
    """How many of each exception in the period (failed code attempts counted in the audit)."""
    if counts is None:
        counts = review(scope).counts
    failed = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pickup.code_failed", _between(AuditEvent.created_at, scope))
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    return {"expired": counts["expired"], "cancelled_after_ready": counts["cancelled_after_ready"],
            "partial": counts["partial"], "code_failed": db.session.scalar(failed) or 0}


# --- one order's full story ------------------------------------------------------------------------------------

@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    actor: str
    location: str
    from_status: str = ""
    to_status: str = ""
    detail: dict = field(default_factory=dict)


def timeline(order):
    """The order's events oldest first, each with who did it (staff, integration or the customer) and where."""
    from omnistore.stores.models import ApiClient

    names = dict(db.session.execute(select(Location.id, Location.name)).all())
    rows = db.session.execute(
        select(OrderEvent, Staff.name, ApiClient.name).outerjoin(Staff, Staff.id == OrderEvent.staff_id)
        .outerjoin(ApiClient, ApiClient.id == OrderEvent.api_client_id)
        .where(OrderEvent.order_id == order.id).order_by(OrderEvent.created_at, OrderEvent.id)
    ).all()
    entries = []
    for event, staff_name, client_name in rows:
        actor = staff_name or (f"API · {client_name}" if client_name else "")
        entries.append(TimelineEntry(event.created_at, event.kind, actor, names.get(event.location_id, ""),
                                     event.from_status, event.to_status,
                                     event.detail if isinstance(event.detail, dict) else {}))
    return entries
