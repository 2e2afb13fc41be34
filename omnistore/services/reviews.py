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
(collected + expired). Durations are percentiles with linear interpolation (PostgreSQL's percentile_cont).
Everything is aggregated in SQL; only the hour buckets of the charts are turned into local days in Python
(on SQLite, which has no time zones, per UTC hour).
"""
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, or_, select, tuple_
from sqlalchemy.orm import aliased, selectinload

from ..extensions import db
from ..models import AuditEvent, Location, Order, OrderEvent, OrderLine, Pickup, ReviewFact, Staff
from ..models._types import utcnow
from ..models.orders import VERIFICATIONS
from .errors import Forbidden, NotFound, OutOfScope, ValidationFailed
from .locations import location_zone
from .orders import PAGE_SIZE, OrderPage

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


def orders_for_figure(scope, figure, *, source=None, page=1):
    """The orders behind a figure, newest first, paged like the orders list."""
    source_id = None
    if source:
        source_id = db.session.scalar(select(Location.id).where(Location.code == str(source).strip().upper()[:16]))
        if source_id is None:
            raise NotFound(_l("No store with that code."))
    query = (select(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
             .where(figure_condition(scope, figure, source_id=source_id)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    orders = db.session.scalars(
        query.options(selectinload(Order.customer), selectinload(Order.pickup_location), selectinload(Order.pickup))
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return OrderPage(orders=orders, page=page, pages=pages, total=total)


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


def _fact_conditions(scope):
    """Each counted figure as a condition on review_fact (the same figure as figure_condition on the orders)."""
    ready_in = _between(F.ready_at, scope)
    ended_in = _between(F.ended_at, scope)
    promised = F.promised_at.is_not(None)
    return {
        "placed": _between(F.placed_at, scope),
        "ready": ready_in,
        "collected": and_(F.status == "collected", _between(F.collected_at, scope)),
        "expired": and_(F.status == "expired", ended_in),
        "cancelled": and_(F.status == "cancelled", ended_in),
        "cancelled_after_ready": and_(F.status == "cancelled", F.ended_from == "ready", ended_in),
        "waiting": F.status == "ready",
        "overdue": and_(F.status == "ready", F.pickup_by < scope.now),
        "on_time": and_(ready_in, promised, F.ready_at <= F.promised_at),
        "late": and_(ready_in, promised, F.ready_at > F.promised_at),
        "checked_in": _between(F.checked_in_at, scope),
    }


FACT_FIGURES = ("placed", "ready", "collected", "expired", "cancelled", "cancelled_after_ready", "waiting",
                "overdue", "on_time", "late", "checked_in")


def review(scope):
    """Every figure of the dashboard for `scope`, and each store's share of them (the league)."""
    stores, counts = _store_counts(scope)
    durations = _durations(scope, stores)
    counts["endless_aisle"] = _count(scope, "endless_aisle")
    sources, saved = _endless_aisle(scope)
    daily, heat = _charts(scope)
    return Review(scope, counts, *durations, sources, saved, daily, heat, stores=stores)


def league(scope, sort="no_show_rate"):
    """Every pickup store's figures side by side for the period, worst first by `sort`."""
    stores, _counts_ = _store_counts(scope)
    _durations(scope, stores)
    return sort_league(list(stores.values()), sort)


def _store_counts(scope):
    """({location id: LeagueRow}, totals) in one grouped pass over the period's facts."""
    conditions = _fact_conditions(scope)
    touched = or_(*(conditions[name] for name in ("placed", "ready", "collected", "checked_in")),
                  _between(F.ended_at, scope), F.status == "ready")
    query = (select(F.pickup_location_id, *(func.count().filter(conditions[name]) for name in FACT_FIGURES))
             .where(*_fact_where(scope), touched).group_by(F.pickup_location_id))
    locations = select(Location).order_by(Location.code)
    if scope.location is not None:
        locations = locations.where(Location.id == scope.location.id)
    else:
        locations = locations.where(Location.kind == "store")
    stores = {loc.id: LeagueRow(loc.id, loc.code, loc.name) for loc in db.session.scalars(locations)}
    totals = dict.fromkeys(COUNTED, 0)
    totals["cancelled_after_ready"] = 0
    for location_id, *values in db.session.execute(query):
        row = stores.get(location_id)
        if row is None:
            location = db.session.get(Location, location_id)
            row = stores[location_id] = LeagueRow(location_id, location.code, location.name)
        for name, value in zip(FACT_FIGURES, values, strict=True):
            totals[name] += int(value or 0)
            if hasattr(row, name):
                setattr(row, name, int(value or 0))
    return stores, totals


def _count(scope, figure):
    return db.session.scalar(
        select(func.count()).select_from(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure))
    ) or 0


def _seconds(start, end):
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)  # julianday is a double


def _percentile(ordered, fraction):
    """Linear interpolation between the closest ranks (what percentile_cont does)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _duration_specs(scope):
    """(seconds, which facts, buckets) for order → ready, ready → collected, check-in → collected."""
    collected = and_(F.status == "collected", _between(F.collected_at, scope))
    return (
        (_seconds(F.placed_at, F.ready_at), _between(F.ready_at, scope), TO_READY_BUCKETS),
        (_seconds(F.ready_at, F.collected_at), and_(collected, F.ready_at.is_not(None)), TO_COLLECT_BUCKETS),
        (_seconds(F.checked_in_at, F.collected_at), and_(collected, F.checked_in_at.is_not(None)), ()),
    )


def _durations(scope, stores):
    """Totals of the three durations (count, median, p90, buckets), and each store's medians into `stores`."""
    specs = _duration_specs(scope)
    touched = or_(_between(F.ready_at, scope), _between(F.collected_at, scope))
    results = [Durations() for _ in specs]
    per_store = defaultdict(dict)
    if db.engine.dialect.name == "postgresql":
        columns = []
        for seconds, where, bounds in specs:
            columns += [func.count().filter(where), func.percentile_cont(0.5).within_group(seconds).filter(where),
                        func.percentile_cont(0.9).within_group(seconds).filter(where)]
            previous = None
            for hours in bounds + (None,):
                low = seconds >= previous * 3600 if previous is not None else None
                high = seconds < hours * 3600 if hours is not None else None
                columns.append(func.count().filter(and_(where, *(c for c in (low, high) if c is not None))))
                previous = hours
        query = (select(func.grouping(F.pickup_location_id), F.pickup_location_id, *columns)
                 .where(*_fact_where(scope), touched)
                 .group_by(func.grouping_sets(tuple_(F.pickup_location_id), tuple_())))
        for is_total, location_id, *values in db.session.execute(query):
            position = 0
            for index, bounds in enumerate(spec[2] for spec in specs):
                count, median, p90 = values[position:position + 3]
                buckets = values[position + 3:position + 4 + len(bounds)]
                position += 4 + len(bounds)
                if is_total:
                    tally = [(hours, int(n or 0)) for hours, n in zip(bounds + (None,), buckets, strict=True)]
                    results[index] = Durations(int(count or 0), _float(median), _float(p90), tally if bounds else [])
                else:
                    per_store[location_id][index] = _float(median)
    else:
        values = [defaultdict(list) for _ in specs]
        query = select(F.pickup_location_id, *(case((where, seconds), else_=None) for seconds, where, _b in specs))
        for location_id, *found in db.session.execute(query.where(*_fact_where(scope), touched)):
            for index, value in enumerate(found):
                if value is not None:
                    values[index][location_id].append(max(0.0, float(value)))
        for index, bounds in enumerate(spec[2] for spec in specs):
            every = sorted(v for store in values[index].values() for v in store)
            buckets = []
            if bounds:
                previous = 0
                for hours in bounds + (None,):
                    buckets.append((hours, sum(1 for v in every if v >= previous * 3600
                                               and (hours is None or v < hours * 3600))))
                    previous = hours
            results[index] = Durations(len(every), _percentile(every, 0.5), _percentile(every, 0.9), buckets)
            for location_id, found in values[index].items():
                per_store[location_id][index] = _percentile(sorted(found), 0.5)
    for index, bounds in enumerate(spec[2] for spec in specs):
        if bounds and not results[index].buckets:
            results[index].buckets = [(hours, 0) for hours in bounds + (None,)]
    for location_id, medians in per_store.items():
        if location_id in stores:
            stores[location_id].median_to_ready = medians.get(0)
            stores[location_id].median_to_collect = medians.get(1)
    return results


def _float(value):
    return None if value is None else max(0.0, float(value))


def _endless_aisle(scope):
    """Orders sold by the scope's store (network: any store) with lines from other locations: per source,
    how many orders and the value of those lines still sold (not cancelled, expired, refused or short)."""
    kept = and_(Order.status.not_in(("cancelled", "expired")),
                OrderLine.status.not_in(("refused", "short", "released")))
    source = aliased(Location)
    query = (
        select(OrderLine.source_location_id, source.code, source.name, func.count(func.distinct(Order.id)),
               func.coalesce(func.sum(case((kept, OrderLine.quantity * OrderLine.unit_price_minor), else_=0)), 0))
        .select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)
        .join(source, source.id == OrderLine.source_location_id)
        .where(_between(Order.placed_at, scope), Order.origin_location_id.is_not(None),
               OrderLine.source_location_id != Order.origin_location_id)
        .group_by(OrderLine.source_location_id, source.code, source.name)
    )
    if scope.location is not None:
        query = query.where(Order.origin_location_id == scope.location.id)
    rows = [SourceRow(*row) for row in db.session.execute(query)]
    rows.sort(key=lambda r: (-r.orders, -r.saved_minor, r.code))
    return rows, sum(r.saved_minor for r in rows)


def _hour_counts(column, where, scope):
    """{local naive hour: count} of facts whose `column` lies in the period, in the scope's zone."""
    base = select().select_from(F).where(*_fact_where(scope), _between(column, scope), *where)
    if db.engine.dialect.name == "postgresql":
        hour = func.date_trunc("hour", func.timezone(scope.zone.key, column))
        return {value.replace(tzinfo=None): n for value, n in
                db.session.execute(base.add_columns(hour, func.count()).group_by(hour))}
    hour = func.strftime("%Y-%m-%d %H", column)
    result = Counter()
    for value, n in db.session.execute(base.add_columns(hour, func.count()).group_by(hour)):
        utc_hour = datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)
        result[utc_hour.astimezone(scope.zone).replace(tzinfo=None)] += n
    return result


CHART_STATUSES = ("placed", "ready", "collected", "expired", "cancelled")


def _charts(scope):
    """Daily volume by status, and collections by weekday × hour, in the scope's time zone."""
    hours = {
        "placed": _hour_counts(F.placed_at, (), scope),
        "ready": _hour_counts(F.ready_at, (), scope),
        "collected": _hour_counts(F.collected_at, (F.status == "collected",), scope),
        "expired": _hour_counts(F.ended_at, (F.status == "expired",), scope),
        "cancelled": _hour_counts(F.ended_at, (F.status == "cancelled",), scope),
    }
    per_day = defaultdict(Counter)
    for status, counter in hours.items():
        for hour, n in counter.items():
            per_day[hour.date()][status] += n
    daily = [(day, {status: per_day[day][status] for status in CHART_STATUSES}) for day in scope.days]
    heat = [[0] * 24 for _ in range(7)]
    for hour, n in hours["collected"].items():
        heat[hour.weekday()][hour.hour] += n
    return daily, heat


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


def handovers(scope, *, staff_id=None, method=None, limit=None, page=1):
    """Every handover in the period, newest first: who, when, how verified, partial or complete."""
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
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.options(selectinload(Order.customer)).order_by(Pickup.collected_at.desc(), Order.id.desc())
    if limit:
        query = query.limit(limit)
    else:
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, page), pages)
        query = query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    items = [Handover(order, at, name or "", verification, bool(is_partial))
             for order, at, name, verification, is_partial in db.session.execute(query)]
    return items, total


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
    for handover in handovers(scope, limit=limit)[0]:
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
        _stores, counts = _store_counts(scope)
    partial = (select(func.count(func.distinct(OrderLine.order_id))).select_from(OrderLine)
               .join(Order, Order.id == OrderLine.order_id).join(Pickup, Pickup.order_id == Order.id)
               .where(OrderLine.status.in_(("refused", "short")), *_pickup_scope(scope), Order.status == "collected",
                      _between(Pickup.collected_at, scope)))
    failed = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pickup.code_failed", _between(AuditEvent.created_at, scope))
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    return {"expired": counts["expired"], "cancelled_after_ready": counts["cancelled_after_ready"],
            "partial": db.session.scalar(partial) or 0, "code_failed": db.session.scalar(failed) or 0}


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
    from ..models import ApiClient

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
