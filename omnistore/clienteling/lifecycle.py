"""Where a customer is in their journey: the lifecycle stage, derived from orders and visits on every channel.

One definition, written once as SQL (`stages_select`), serves both a single profile (`stage_of`) and a whole
segment (`customer_ids_in_stage`): one query over every customer, grouped per customer, never a loop.

The stages, first match wins:

- `acquisition` — known, but no order that became a sale (cancelled and expired orders never did: history.NOT_SOLD)
  on any channel;
- `lapsed` — a buyer silent (no order, no visit) for longer than OMNISTORE_LAPSED_DAYS;
- `at_risk` — a buyer silent for longer than OMNISTORE_AT_RISK_DAYS, or, with two orders or more, longer than
  their usual rhythm (the mean gap between their first and last order) × OMNISTORE_AT_RISK_RHYTHM_FACTOR, but
  never before OMNISTORE_AT_RISK_FLOOR_DAYS;
- `loyal` — at least OMNISTORE_LOYAL_ORDERS orders within OMNISTORE_LOYAL_MONTHS months, or a loyalty tier
  above basic;
- `first_purchase` — bought, neither loyal nor at risk.

"Silent longer than N days" is strict: exactly N days after the last order or visit is not yet silent. Only
orders placed and visits made up to `now` count, so a stage can be asked for any moment. Erased and merged
profiles have no stage.
"""

import calendar
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, case, exists, func, insert, literal, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from omnistore.clienteling.history import NOT_SOLD
from omnistore.clienteling.models import STAGE_NAMES, CustomerStageChange
from omnistore.core import config as settings
from omnistore.core.db import transaction
from omnistore.core.errors import ValidationFailed
from omnistore.core.types import UTCDateTime, utcnow
from omnistore.customers.models import LOYALTY_TIERS, Customer, CustomerVisit
from omnistore.orders.models import Order


class Stage(StrEnum):
    ACQUISITION = "acquisition"
    FIRST_PURCHASE = "first_purchase"
    LOYAL = "loyal"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


STAGES = tuple(Stage)  # in the order of the journey
assert STAGES == STAGE_NAMES, "clienteling/models.py spells the stages for its CHECK constraint"
LOYAL_TIERS = tuple(tier for tier in LOYALTY_TIERS if tier != "basic")  # "basic" is every profile's default

STAGE_LABELS = {
    Stage.ACQUISITION: _l("New"),
    Stage.FIRST_PURCHASE: _l("First purchase"),
    Stage.LOYAL: _l("Loyal"),
    Stage.AT_RISK: _l("At risk"),
    Stage.LAPSED: _l("Lapsed"),
}
# What the clerk can do now, shown beside the chip.
STAGE_ACTIONS = {
    Stage.ACQUISITION: _l("Welcome them and help with a first purchase."),
    Stage.FIRST_PURCHASE: _l("Ask how the first purchase worked out; suggest what goes with it."),
    Stage.LOYAL: _l("Thank them; point out new arrivals in their size."),
    Stage.AT_RISK: _l("Issue a personal offer to bring them back."),
    Stage.LAPSED: _l("Ask what went wrong, and note the answer."),
}


def stage_label(stage):
    return STAGE_LABELS.get(stage, stage)


def stage_action(stage):
    return STAGE_ACTIONS.get(stage, "")


@dataclass(frozen=True)
class Thresholds:
    loyal_orders: int
    loyal_months: int
    at_risk_days: int
    rhythm_factor: float
    floor_days: int
    lapsed_days: int

    @classmethod
    def current(cls):
        """The settings of the running app (their defaults without one)."""

        def value(name):
            return current_app.config[f"OMNISTORE_{name}"] if has_app_context() else settings.default(name)

        return cls(
            loyal_orders=int(value("LOYAL_ORDERS")),
            loyal_months=int(value("LOYAL_MONTHS")),
            at_risk_days=int(value("AT_RISK_DAYS")),
            rhythm_factor=float(value("AT_RISK_RHYTHM_FACTOR")),
            floor_days=int(value("AT_RISK_FLOOR_DAYS")),
            lapsed_days=int(value("LAPSED_DAYS")),
        )


def months_before(moment, months):
    """The same day and time `months` calendar months earlier (the month's last day when it has fewer)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class epoch_days(FunctionElement):  # noqa: N801 — reads like the SQL function it stands for
    """A timestamp as days since 1970-01-01 UTC (fractional), on PostgreSQL and SQLite alike."""

    type = Float()
    inherit_cache = True


@compiles(epoch_days)
def _epoch_days_default(element, compiler, **kw):
    return f"(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 86400.0)"


@compiles(epoch_days, "sqlite")
def _epoch_days_sqlite(element, compiler, **kw):
    return f"(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5)"


def store_customers(location_id):
    """A condition on Customer: the store's customers — its preferred store, or they bought there (sold or
    picked up) or visited it."""
    return or_(
        Customer.preferred_location_id == location_id,
        exists().where(
            Order.customer_id == Customer.id,
            Order.status.not_in(NOT_SOLD),
            or_(Order.origin_location_id == location_id, Order.pickup_location_id == location_id),
        ),
        exists().where(CustomerVisit.customer_id == Customer.id, CustomerVisit.location_id == location_id),
    )


def stages_select(*, now, location_id=None, customer_ids=None, thresholds=None):
    """SELECT customer_id, stage (and the facts it rests on: orders, last_order_at, last_visit_at) for every
    active customer (or those of one store, or the ids given) as of `now`: the one definition of the stages."""
    t = thresholds or Thresholds.current()
    sold = select(
        Order.customer_id.label("customer_id"),
        func.count().label("orders"),
        func.count(case((Order.placed_at >= months_before(now, t.loyal_months), 1))).label("recent"),
        func.min(Order.placed_at).label("first_at"),
        func.max(Order.placed_at).label("last_at"),
    ).where(Order.customer_id.is_not(None), Order.status.not_in(NOT_SOLD), Order.placed_at <= now)
    visits = select(
        CustomerVisit.customer_id.label("customer_id"), func.max(CustomerVisit.created_at).label("last_visit")
    ).where(CustomerVisit.created_at <= now)
    if customer_ids is not None:
        sold = sold.where(Order.customer_id.in_(customer_ids))
        visits = visits.where(CustomerVisit.customer_id.in_(customer_ids))
    sold = sold.group_by(Order.customer_id).subquery("sold")
    visits = visits.group_by(CustomerVisit.customer_id).subquery("visits")

    last_active = case((visits.c.last_visit > sold.c.last_at, visits.c.last_visit), else_=sold.c.last_at)
    silent_days = literal(now.timestamp() / 86400.0, Float()) - epoch_days(last_active)
    rhythm_overdue = and_(
        sold.c.orders >= 2,
        last_active < now - timedelta(days=t.floor_days),
        # silent > factor × (last − first) / (orders − 1), without dividing
        silent_days * (sold.c.orders - 1)
        > literal(t.rhythm_factor, Float()) * (epoch_days(sold.c.last_at) - epoch_days(sold.c.first_at)),
    )
    stage = case(
        (sold.c.customer_id.is_(None), literal(Stage.ACQUISITION.value)),
        (last_active < now - timedelta(days=t.lapsed_days), literal(Stage.LAPSED.value)),
        (or_(last_active < now - timedelta(days=t.at_risk_days), rhythm_overdue), literal(Stage.AT_RISK.value)),
        (
            or_(sold.c.recent >= t.loyal_orders, Customer.loyalty_tier.in_(LOYAL_TIERS)),
            literal(Stage.LOYAL.value),
        ),
        else_=literal(Stage.FIRST_PURCHASE.value),
    ).label("stage")
    query = (
        select(
            Customer.id.label("customer_id"),
            stage,
            func.coalesce(sold.c.orders, 0).label("orders"),
            sold.c.last_at.label("last_order_at"),
            visits.c.last_visit.label("last_visit_at"),
        )
        .outerjoin(sold, sold.c.customer_id == Customer.id)
        .outerjoin(visits, visits.c.customer_id == Customer.id)
        .where(Customer.erased_at.is_(None), Customer.merged_into_id.is_(None))
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    if location_id is not None:
        query = query.where(store_customers(location_id))
    return query


def check_stage(stage):
    """The Stage for a stage's name; ValidationFailed for anything else."""
    try:
        return Stage(str(stage or "").strip())
    except ValueError:
        raise ValidationFailed(_l("Choose one of the stages."), {"stage": _l("Choose one of the stages.")}) from None


def stage_of(session, customer, *, now: datetime, thresholds=None):
    """The customer's stage as of `now` (a Stage), or None for an erased or merged profile."""
    found = session.execute(stages_select(now=now, customer_ids=[customer.id], thresholds=thresholds)).first()
    return Stage(found.stage) if found is not None else None


def stages_of(session, customer_ids, *, now: datetime, thresholds=None):
    """{customer_id: Stage} for the ids given (a page of a list, the picker's hits): one query."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(stages_select(now=now, customer_ids=ids, thresholds=thresholds)).all()
    return {row.customer_id: Stage(row.stage) for row in rows}


def customer_ids_in_segment_select(stage, *, now, location_id=None, thresholds=None):
    """SELECT customer_id of the customers in `stage` (of one store, if given): to use as a subquery."""
    stage = check_stage(stage)
    stages = stages_select(now=now, location_id=location_id, thresholds=thresholds).subquery("stages")
    return select(stages.c.customer_id).where(stages.c.stage == stage.value)


def customer_ids_in_stage(session, stage, *, now: datetime, location_id=None, thresholds=None):
    """The ids of every customer in `stage` as of `now` (of one store, if given), ascending: one query."""
    query = customer_ids_in_segment_select(stage, now=now, location_id=location_id, thresholds=thresholds)
    return list(session.scalars(query.order_by(query.selected_columns.customer_id)))


# --- the stage history: a periodic job records each change --------------------------------------------------


@dataclass(frozen=True)
class StageReport:
    changes: int

    def __str__(self):
        return f"{self.changes} stage changes recorded"


_LOCK_KEY = int.from_bytes(hashlib.blake2b(b"omnistore.lifecycle.history", digest_size=8).digest(), "big", signed=True)


def record_stage_changes(now=None, *, thresholds=None) -> StageReport:
    """Record, as of `now`, every active customer whose stage differs from the newest one recorded for them (or
    who has none yet): one INSERT … SELECT. Idempotent; two processes at once are serialised (PostgreSQL: a
    transaction-scoped advisory lock; SQLite: the write transaction's lock), so the second finds nothing to add."""
    now = now or utcnow()
    with transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        newest = (
            select(func.max(CustomerStageChange.id).label("id"))
            .group_by(CustomerStageChange.customer_id)
            .subquery("newest")
        )
        recorded = (
            select(CustomerStageChange.customer_id, CustomerStageChange.stage)
            .join(newest, newest.c.id == CustomerStageChange.id)
            .subquery("recorded")
        )
        stages = stages_select(now=now, thresholds=thresholds).subquery("stages")
        changed = (
            select(stages.c.customer_id, recorded.c.stage, stages.c.stage, literal(now, UTCDateTime()))
            .outerjoin(recorded, recorded.c.customer_id == stages.c.customer_id)
            .where(or_(recorded.c.stage.is_(None), recorded.c.stage != stages.c.stage))
            .order_by(stages.c.customer_id)  # ids in customer order: a history's same-moment changes sort alike
        )
        added = session.execute(
            insert(CustomerStageChange)
            .from_select(["customer_id", "from_stage", "stage", "since"], changed)
            .returning(CustomerStageChange.id)
        ).all()
    return StageReport(len(added))


def stage_history(session, customer):
    """The customer's recorded stage changes, oldest first."""
    return session.scalars(
        select(CustomerStageChange)
        .where(CustomerStageChange.customer_id == customer.id)
        .order_by(CustomerStageChange.since, CustomerStageChange.id)
    ).all()
