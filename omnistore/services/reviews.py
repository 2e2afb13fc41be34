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
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from ..extensions import db
from ..models import AuditEvent, Location, Order, OrderEvent, OrderLine, Pickup, Staff
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


# --- the dashboard --------------------------------------------------------------------------------------------

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


def review(scope):
    """Every figure of the dashboard for `scope`."""
    counts = _counts(scope)
    sources, saved = _endless_aisle(scope)
    counts["endless_aisle"] = _count(scope, "endless_aisle")
    durations = _durations(scope)
    daily, heat = _charts(scope)
    return Review(scope, counts, *durations, sources, saved, daily, heat)


def _count(scope, figure):
    return db.session.scalar(
        select(func.count()).select_from(Order).outerjoin(Pickup, Pickup.order_id == Order.id)
        .where(figure_condition(scope, figure))
    ) or 0


def _scoped(query, scope):
    query = query.where(Order.fulfilment == "pickup")
    if scope.location is not None:
        query = query.where(Order.pickup_location_id == scope.location.id)
    return query


def _counts(scope):
    """All counted figures in four indexed queries (each the same predicate as figure_condition)."""
    counts = dict.fromkeys(COUNTED, 0)
    counts["placed"] = db.session.scalar(
        _scoped(select(func.count()).select_from(Order), scope).where(_between(Order.placed_at, scope))) or 0
    ready_in, collected_in = _between(Pickup.ready_at, scope), _between(Pickup.collected_at, scope)
    promised = Order.promised_at.is_not(None)
    row = db.session.execute(
        _scoped(select(
            func.count().filter(ready_in),
            func.count().filter(and_(collected_in, Order.status == "collected")),
            func.count().filter(_between(Pickup.checked_in_at, scope)),
            func.count().filter(and_(ready_in, promised, Pickup.ready_at <= Order.promised_at)),
            func.count().filter(and_(ready_in, promised, Pickup.ready_at > Order.promised_at)),
        ).select_from(Pickup).join(Order, Order.id == Pickup.order_id), scope)
        .where(or_(ready_in, collected_in, _between(Pickup.checked_in_at, scope)))
    ).one()
    counts.update(zip(("ready", "collected", "checked_in", "on_time", "late"), (int(v or 0) for v in row),
                      strict=True))
    for kind, number in db.session.execute(
        _scoped(select(OrderEvent.kind, func.count(func.distinct(OrderEvent.order_id)))
                .select_from(OrderEvent).join(Order, Order.id == OrderEvent.order_id), scope)
        .where(OrderEvent.kind.in_(("expired", "cancelled")), _between(OrderEvent.created_at, scope),
               Order.status == OrderEvent.kind)
        .group_by(OrderEvent.kind)
    ):
        counts[kind] = number
    row = db.session.execute(
        _scoped(select(func.count(), func.count().filter(Pickup.pickup_by < scope.now))
                .select_from(Order).outerjoin(Pickup, Pickup.order_id == Order.id), scope)
        .where(Order.status == "ready")
    ).one()
    counts["waiting"], counts["overdue"] = int(row[0] or 0), int(row[1] or 0)
    return counts


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


def _durations(scope):
    """(order → ready, ready → collected, check-in → collected) for orders ready / collected in the period."""
    specs = (
        (_seconds(Order.placed_at, Pickup.ready_at), _between(Pickup.ready_at, scope), TO_READY_BUCKETS),
        (_seconds(Pickup.ready_at, Pickup.collected_at),
         and_(_between(Pickup.collected_at, scope), Order.status == "collected", Pickup.ready_at.is_not(None)),
         TO_COLLECT_BUCKETS),
        (_seconds(Pickup.checked_in_at, Pickup.collected_at),
         and_(_between(Pickup.collected_at, scope), Order.status == "collected", Pickup.checked_in_at.is_not(None)),
         ()),
    )
    postgres = db.engine.dialect.name == "postgresql"
    results = []
    for seconds, where, bounds in specs:
        base = _scoped(select().select_from(Pickup).join(Order, Order.id == Pickup.order_id), scope).where(where)
        if postgres:
            row = db.session.execute(base.add_columns(
                func.count(), func.percentile_cont(0.5).within_group(seconds),
                func.percentile_cont(0.9).within_group(seconds))).one()
            found = Durations(int(row[0] or 0), _float(row[1]), _float(row[2]))
        else:
            values = sorted(max(0.0, float(v)) for v in db.session.scalars(base.add_columns(seconds)))
            found = Durations(len(values), _percentile(values, 0.5), _percentile(values, 0.9))
        if bounds and found.count:
            bucket = case(*((seconds < hours * 3600, index) for index, hours in enumerate(bounds)),
                          else_=len(bounds))
            tally = dict(db.session.execute(base.add_columns(bucket, func.count()).group_by(bucket)).all())
            found.buckets = [(hours, tally.get(i, 0)) for i, hours in enumerate(bounds)] + \
                            [(None, tally.get(len(bounds), 0))]
        elif bounds:
            found.buckets = [(hours, 0) for hours in bounds] + [(None, 0)]
        results.append(found)
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


def _hour_counts(column, where, scope, *, join_pickup):
    """{local naive hour: count} of rows whose `column` lies in the period, in the scope's zone."""
    base = select().select_from(Order)
    if join_pickup:
        base = select().select_from(Pickup).join(Order, Order.id == Pickup.order_id)
    base = _scoped(base, scope).where(_between(column, scope), *where)
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


def _event_hour_counts(kind, scope):
    base = _scoped(select().select_from(OrderEvent).join(Order, Order.id == OrderEvent.order_id), scope).where(
        OrderEvent.kind == kind, Order.status == kind, _between(OrderEvent.created_at, scope))
    column = OrderEvent.created_at
    if db.engine.dialect.name == "postgresql":
        hour = func.date_trunc("hour", func.timezone(scope.zone.key, column))
        rows = db.session.execute(base.add_columns(hour, func.count(func.distinct(OrderEvent.order_id)))
                                  .group_by(hour))
        return {value.replace(tzinfo=None): n for value, n in rows}
    hour = func.strftime("%Y-%m-%d %H", column)
    result = Counter()
    for value, n in db.session.execute(base.add_columns(hour, func.count(func.distinct(OrderEvent.order_id)))
                                       .group_by(hour)):
        result[datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(scope.zone)
               .replace(tzinfo=None)] += n
    return result


CHART_STATUSES = ("placed", "ready", "collected", "expired", "cancelled")


def _charts(scope):
    """Daily volume by status, and collections by weekday × hour, in the scope's time zone."""
    hours = {
        "placed": _hour_counts(Order.placed_at, (), scope, join_pickup=False),
        "ready": _hour_counts(Pickup.ready_at, (), scope, join_pickup=True),
        "collected": _hour_counts(Pickup.collected_at, (Order.status == "collected",), scope, join_pickup=True),
        "expired": _event_hour_counts("expired", scope),
        "cancelled": _event_hour_counts("cancelled", scope),
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


# --- the league table (admins) ----------------------------------------------------------------------------

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


def league(scope, sort="no_show_rate"):
    """Every pickup store's figures side by side for the period, worst first by `sort`."""
    rows = {loc.id: LeagueRow(loc.id, loc.code, loc.name) for loc in db.session.scalars(
        select(Location).where(Location.pickup_enabled.is_(True) | Location.id.in_(
            select(Order.pickup_location_id).where(_between(Order.placed_at, scope)))).order_by(Location.code))}
    where_pickup = [Order.fulfilment == "pickup"]
    loc = Order.pickup_location_id

    def grouped(query):
        for location_id, *values in db.session.execute(query.group_by(loc)):
            yield rows.get(location_id), values

    for row, (n,) in grouped(select(loc, func.count()).where(*where_pickup, _between(Order.placed_at, scope))):
        if row:
            row.placed = n
    ready_in, collected_in = _between(Pickup.ready_at, scope), _between(Pickup.collected_at, scope)
    promised = Order.promised_at.is_not(None)
    postgres = db.engine.dialect.name == "postgresql"
    columns = [
        func.count().filter(ready_in),
        func.count().filter(and_(collected_in, Order.status == "collected")),
        func.count().filter(and_(ready_in, promised, Pickup.ready_at <= Order.promised_at)),
        func.count().filter(and_(ready_in, promised, Pickup.ready_at > Order.promised_at)),
    ]
    if postgres:
        columns += [
            func.percentile_cont(0.5).within_group(_seconds(Order.placed_at, Pickup.ready_at)).filter(ready_in),
            func.percentile_cont(0.5).within_group(_seconds(Pickup.ready_at, Pickup.collected_at))
            .filter(and_(collected_in, Order.status == "collected")),
        ]
    query = (select(loc, *columns).select_from(Pickup).join(Order, Order.id == Pickup.order_id)
             .where(*where_pickup, or_(ready_in, collected_in)))
    for row, values in grouped(query):
        if row:
            row.ready, row.collected, row.on_time, row.late = (int(v or 0) for v in values[:4])
            if postgres:
                row.median_to_ready, row.median_to_collect = _float(values[4]), _float(values[5])
    if not postgres:
        _sqlite_league_medians(rows, scope, ready_in, collected_in)
    for row, (kind, n) in (
        (rows.get(location_id), (kind, n)) for location_id, kind, n in db.session.execute(
            select(loc, OrderEvent.kind, func.count(func.distinct(OrderEvent.order_id)))
            .select_from(OrderEvent).join(Order, Order.id == OrderEvent.order_id)
            .where(*where_pickup, OrderEvent.kind.in_(("expired", "cancelled")), Order.status == OrderEvent.kind,
                   _between(OrderEvent.created_at, scope))
            .group_by(loc, OrderEvent.kind))
    ):
        if row:
            setattr(row, kind, n)
    for row, (n,) in grouped(select(loc, func.count()).select_from(Order).join(Pickup, Pickup.order_id == Order.id)
                             .where(*where_pickup, Order.status == "ready", Pickup.pickup_by < scope.now)):
        if row:
            row.overdue = n
    return sort_league(list(rows.values()), sort)


def _sqlite_league_medians(rows, scope, ready_in, collected_in):
    for attribute, seconds, where in (
        ("median_to_ready", _seconds(Order.placed_at, Pickup.ready_at), ready_in),
        ("median_to_collect", _seconds(Pickup.ready_at, Pickup.collected_at),
         and_(collected_in, Order.status == "collected")),
    ):
        values = defaultdict(list)
        for location_id, value in db.session.execute(
            select(Order.pickup_location_id, seconds).select_from(Pickup).join(Order, Order.id == Pickup.order_id)
            .where(Order.fulfilment == "pickup", where)
        ):
            values[location_id].append(max(0.0, float(value)))
        for location_id, found in values.items():
            if location_id in rows:
                setattr(rows[location_id], attribute, _percentile(sorted(found), 0.5))


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


def exception_counts(scope):
    """How many of each exception in the period (failed code attempts counted in the audit)."""
    counts = {"expired": _count(scope, "expired"), "cancelled_after_ready": _count(scope, "cancelled_after_ready"),
              "partial": _count(scope, "partial")}
    failed = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pickup.code_failed", _between(AuditEvent.created_at, scope))
    if scope.location is not None:
        failed = failed.where(AuditEvent.location_id == scope.location.id)
    counts["code_failed"] = db.session.scalar(failed) or 0
    return counts


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
