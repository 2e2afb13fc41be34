"""The manager's dashboard: how click-and-collect performs at a store or across the network in a Scope.

`review()` gives every figure of the period (the figures are defined in figures.py), the durations, the endless
aisle by source, the daily chart and the heat map of collections, and each store's share of them: the league,
worst first. It adds up one summary per local day (day_summaries.py); "waiting now" and "overdue now" are read
live. No-show rate: expired / (collected + expired). Durations are percentiles of whole seconds (linear
interpolation, like percentile_cont).
"""

import bisect
import math
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.reviews.day_summaries import DAY_FIGURES, F, fact_where, summaries_by_day, unpack
from omnistore.reviews.figures import COUNTED
from omnistore.reviews.scope import Scope
from omnistore.stores.models import Location

# Distribution buckets, upper bounds in hours (the last bucket is open).
TO_READY_BUCKETS = (1, 4, 12, 24, 48, 72, 120, 168)
TO_COLLECT_BUCKETS = (1, 4, 24, 48, 72, 120, 168, 240)
LEAGUE_SORTS = {
    # column: (key, worst first means descending?)
    "no_show_rate": ("no_show_rate", True),
    "on_time_rate": ("on_time_rate", False),
    "overdue": ("overdue", True),
    "expired": ("expired", True),
    "cancelled": ("cancelled", True),
    "median_to_ready": ("median_to_ready", True),
    "median_to_collect": ("median_to_collect", True),
    "placed": ("placed", False),
    "collected": ("collected", False),
    "store": ("code", False),
}


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
    saved: dict  # {currency: minor units}: amounts in different currencies are never added up


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
    saved: dict  # {currency: minor units}, summed per currency only
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


def review(scope):
    """Every figure of the dashboard for `scope`, and each store's share of them (the league).

    Built from one summary per local day (summaries_by_day): closed days come from the review_day cache on
    PostgreSQL, the rest is computed from review_fact. "Waiting now" and "overdue now" are read live."""
    days = summaries_by_day(scope)
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
        packed = unpack(summary.get("counts", ""))
        width = 1 + len(DAY_FIGURES)
        for start in range(0, len(packed), width):
            location_id = packed[start]
            per_store[location_id] = per_store.get(location_id) or [0] * len(DAY_FIGURES)
            figures = per_store[location_id]
            for index in range(len(DAY_FIGURES)):
                figures[index] += packed[start + 1 + index]
        for location, packed_values in summary.get("durations", {}).items():
            values = unpack(packed_values)
            lengths, position = values[:3], 3
            for index in range(3):
                durations[index][int(location)].extend(values[position : position + lengths[index]])
                position += lengths[index]
        for index, packed_values in enumerate(summary.get("network", ())):
            run = unpack(packed_values)
            if run:
                network_runs[index].append(run)
        for status, per_hour in summary.get("hours", {}).items():
            for hour, n in per_hour.items():
                hours[status][(day, int(hour))] += n
        for source, (orders, saved) in summary.get("sources", {}).items():
            found = sources.setdefault(int(source), [0, {}])
            found[0] += orders
            if isinstance(saved, int):  # a day summarised before markets: all in the currency of then
                saved = {current_app.config["OMNISTORE_CURRENCY"]: saved}
            for currency, amount in saved.items():
                found[1][currency] = found[1].get(currency, 0) + amount
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
        results.append(
            Durations(
                sum(len(run) for run in runs),
                _percentile_of_runs(runs, 0.5),
                _percentile_of_runs(runs, 0.9),
                _buckets(runs, bounds),
            )
        )
        if index < 2:
            for location_id, values in durations[index].items():
                setattr(
                    _league_row(stores, location_id),
                    ("median_to_ready", "median_to_collect")[index],
                    _percentile(sorted(values), 0.5),
                )
    source_rows = []
    if sources:
        names = {
            loc_id: (code, name)
            for loc_id, code, name in db.session.execute(
                select(Location.id, Location.code, Location.name).where(Location.id.in_(list(sources)))
            )
        }
        source_rows = [
            SourceRow(source, *names.get(source, ("?", "?")), orders, dict(sorted(saved.items())))
            for source, (orders, saved) in sources.items()
        ]
        source_rows.sort(key=lambda r: (-r.orders, r.code))
    per_day = defaultdict(Counter)
    for status, counter in hours.items():
        for (day, _hour), n in counter.items():
            per_day[day][status] += n
    daily = [(day, {status: per_day[day][status] for status in CHART_STATUSES}) for day in scope.days]
    heat = [[0] * 24 for _ in range(7)]
    for (day, hour), n in hours["collected"].items():
        heat[day.weekday()][hour] += n
    return Review(
        scope, counts, *results, source_rows, _per_currency(r.saved for r in source_rows), daily, heat, stores=stores
    )


LEAGUE_COUNTS = ("placed", "ready", "collected", "expired", "cancelled", "on_time", "late")


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
    query = (
        select(F.pickup_location_id, func.count(), func.count().filter(F.pickup_by < scope.now))
        .where(*fact_where(scope), F.status == "ready")
        .group_by(F.pickup_location_id)
    )
    return {location_id: (n, overdue) for location_id, n, overdue in db.session.execute(query)}


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


def _per_currency(amounts):
    """{currency: total} of several {currency: amount}: each currency summed on its own."""
    totals = {}
    for found in amounts:
        for currency, amount in found.items():
            totals[currency] = totals.get(currency, 0) + amount
    return dict(sorted(totals.items()))
