"""The manager's customer figures for a scope (a store or the network, a period): what customers are worth, how
many are new and through which channel, how many come back, where they are in their journey and how they
moved, what winning one cost, and the endless-aisle orders each clerk placed.

Amounts are per currency, never added across currencies. A store's customers are the ones who bought there
(sold by it or picked up there) — for the stages, lifecycle.store_customers. The definitions:

- lifetime value (net of returns): of the customers who bought in the period, every sale of theirs up to the
  period's end on any channel (orders that became sales: not cancelled, not expired), less what their returns
  up to then refund (not refused ones); per currency, the total and the average per customer;
- new customers: customers whose first sale ever was placed in the period, by that order's channel;
- returning buyers: buyers in the period who had bought before it; repeat visitors: visitors in the period
  (at the store) who had visited before it or visit more than once in it;
- customers per stage: as of the period's end (or now, if sooner); movements: the stage changes the periodic
  job recorded in the period (lifecycle.record_stage_changes) — a first recording is an entry "from —";
- acquisition cost: per month and channel, the spend entered (AcquisitionSpend; the network: its own and
  every store's) divided by the new customers of that month and channel;
- clerk orders: the endless-aisle orders (reviews/figures.py) each clerk placed;
- offers: per currency, the offers issued and redeemed and the sales they brought (reviews/offers.py, whose
  Offers tab has them per offer);
- outreach: per clerk, the orders placed within OMNISTORE_OUTREACH_ATTRIBUTION_DAYS of their outreach to the
  customer (clienteling/outreach.py; outreach sent from the store, for a store).
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from omnistore.clienteling import lifecycle, outreach
from omnistore.clienteling.history import NOT_SOLD
from omnistore.clienteling.models import CustomerStageChange
from omnistore.core import audit
from omnistore.core.channels import CHANNELS
from omnistore.core.db import transaction
from omnistore.core.errors import Forbidden, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.models import Customer, CustomerVisit
from omnistore.orders.models import Order
from omnistore.returns.models import Return
from omnistore.reviews import offers, segments
from omnistore.reviews.figures import figure_condition
from omnistore.reviews.models import AcquisitionSpend
from omnistore.reviews.scope import local_midnight
from omnistore.stores.markets import list_markets
from omnistore.stores.models import Staff

MAX_MONTHS = 13  # a period of up to 366 days touches at most 13 months
MAX_AMOUNT_MINOR = 2_000_000_000  # fits the column on every database


@dataclass(frozen=True)
class ValueRow:
    currency: str
    customers: int
    net_minor: int

    @property
    def average_minor(self):
        return round(self.net_minor / self.customers) if self.customers else None


@dataclass(frozen=True)
class SpendRow:
    month: date
    channel: str
    currency: str
    spend_minor: int
    new_customers: int

    @property
    def cost_minor(self):
        return round(self.spend_minor / self.new_customers) if self.new_customers else None


@dataclass(frozen=True)
class ClerkRow:
    staff_id: int
    name: str
    orders: int
    sales: dict  # {currency: minor units}


@dataclass(frozen=True)
class Figures:
    lifetime_value: list  # [ValueRow], one per currency
    new_customers: dict  # {channel: customers}, every channel
    buyers: int
    returning_buyers: int
    visitors: int
    repeat_visitors: int
    visits: int
    stages_at: datetime
    stages: dict  # {Stage: customers}
    movements: list  # [(from_stage or None, stage, customers)]
    acquisition: list  # [SpendRow]
    clerks: list  # [ClerkRow]
    offers: list = field(default_factory=list)  # [offers.OfferTotal], one per currency
    outreach: list = field(default_factory=list)  # [ClerkRow], orders attributed to each clerk's outreach

    @property
    def returning_share(self):
        return self.returning_buyers / self.buyers if self.buyers else None

    @property
    def repeat_visit_share(self):
        return self.repeat_visitors / self.visitors if self.visitors else None


def _sold():
    return Order.status.not_in(NOT_SOLD)


def _at_store(scope):
    if scope.location is None:
        return True
    return or_(Order.origin_location_id == scope.location.id, Order.pickup_location_id == scope.location.id)


def _in_period(column, scope):
    return and_(column >= scope.start, column < scope.end)


def _buyers(scope):
    """SELECT DISTINCT customer_id of the customers who bought in the period (at the store)."""
    return (
        select(Order.customer_id)
        .where(Order.customer_id.is_not(None), _sold(), _in_period(Order.placed_at, scope), _at_store(scope))
        .distinct()
    )


def lifetime_value(scope) -> list[ValueRow]:
    buyers = _buyers(scope).subquery("buyers")
    refunds = (
        select(
            Return.order_id.label("order_id"),
            func.sum(Return.refund_minor + Return.shipping_refund_minor).label("refunded"),
        )
        .where(Return.status != "refused", Return.created_at < scope.end)
        .group_by(Return.order_id)
        .subquery("refunds")
    )
    rows = db.session.execute(
        select(
            Order.currency,
            func.count(func.distinct(Order.customer_id)),
            func.sum(Order.total_minor - func.coalesce(refunds.c.refunded, 0)),
        )
        .join(buyers, buyers.c.customer_id == Order.customer_id)
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(_sold(), Order.placed_at < scope.end)
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    return [ValueRow(currency, int(customers), int(net or 0)) for currency, customers, net in rows]


def _first_sales(first, end, scope):
    """(channel, placed_at) of every customer's first sale placed in [first, end), at the store."""
    ranked = (
        select(
            Order.customer_id,
            Order.channel,
            Order.placed_at,
            Order.origin_location_id,
            Order.pickup_location_id,
            func.row_number().over(partition_by=Order.customer_id, order_by=(Order.placed_at, Order.id)).label("n"),
        )
        .where(Order.customer_id.is_not(None), _sold(), Order.placed_at < end)
        .subquery("ranked")
    )
    where = [ranked.c.n == 1, ranked.c.placed_at >= first]
    if scope.location is not None:
        where.append(
            or_(ranked.c.origin_location_id == scope.location.id, ranked.c.pickup_location_id == scope.location.id)
        )
    return db.session.execute(select(ranked.c.channel, ranked.c.placed_at).where(*where)).all()


def _months(scope):
    first = scope.first_day.replace(day=1)
    months = [first]
    while len(months) < MAX_MONTHS:
        following = _next_month(months[-1])
        if following > scope.last_day:
            break
        months.append(following)
    return months


def _next_month(month):
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _month_of(moment, zone):
    local = moment.astimezone(zone)
    return date(local.year, local.month, 1)


def _returning(scope):
    buyers = _buyers(scope).subquery("buyers")
    earlier = (
        select(Order.id)
        .where(Order.customer_id == buyers.c.customer_id, _sold(), Order.placed_at < scope.start)
        .exists()
    )
    total, returning = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((earlier, 1), else_=0)), 0)).select_from(buyers)
    ).one()
    return int(total), int(returning)


def _visits(scope):
    here = [CustomerVisit.customer_id.is_not(None)]
    if scope.location is not None:
        here.append(CustomerVisit.location_id == scope.location.id)
    per_visitor = (
        select(CustomerVisit.customer_id.label("customer_id"), func.count().label("visits"))
        .where(*here, _in_period(CustomerVisit.created_at, scope))
        .group_by(CustomerVisit.customer_id)
        .subquery("per_visitor")
    )
    Earlier = aliased(CustomerVisit)  # noqa: N806 — a table alias
    before = exists().where(
        Earlier.customer_id == per_visitor.c.customer_id,
        Earlier.created_at < scope.start,
        *([Earlier.location_id == scope.location.id] if scope.location is not None else []),
    )
    visitors, visits, repeat = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(per_visitor.c.visits), 0),
            func.coalesce(func.sum(case((or_(per_visitor.c.visits > 1, before), 1), else_=0)), 0),
        ).select_from(per_visitor)
    ).one()
    return int(visitors), int(visits), int(repeat)


def movements(scope) -> list:
    query = select(CustomerStageChange.from_stage, CustomerStageChange.stage, func.count()).where(
        _in_period(CustomerStageChange.since, scope)
    )
    if scope.location is not None:
        query = query.join(Customer, Customer.id == CustomerStageChange.customer_id).where(
            lifecycle.store_customers(scope.location.id)
        )
    order = {stage: n for n, stage in enumerate(lifecycle.STAGES)}
    rows = db.session.execute(query.group_by(CustomerStageChange.from_stage, CustomerStageChange.stage)).all()
    return sorted(
        ((origin, stage, int(n)) for origin, stage, n in rows),
        key=lambda row: (-1 if row[0] is None else order.get(row[0], 99), order.get(row[1], 99)),
    )


def _spend(scope, months):
    query = select(
        AcquisitionSpend.month,
        AcquisitionSpend.channel,
        AcquisitionSpend.currency,
        func.sum(AcquisitionSpend.amount_minor),
    ).where(AcquisitionSpend.month.in_(months))
    if scope.location is not None:
        query = query.where(AcquisitionSpend.location_id == scope.location.id)
    rows = db.session.execute(
        query.group_by(AcquisitionSpend.month, AcquisitionSpend.channel, AcquisitionSpend.currency)
    ).all()
    return {(month, channel, currency): int(amount) for month, channel, currency, amount in rows}


def acquisition(scope, first_sales, months) -> list[SpendRow]:
    new = defaultdict(int)
    for channel, placed_at in first_sales:
        new[_month_of(placed_at, scope.zone), channel] += 1
    spend = _spend(scope, months)
    return [
        SpendRow(month, channel, currency, amount, new.get((month, channel), 0))
        for (month, channel, currency), amount in sorted(spend.items())
    ]


def clerk_orders(scope) -> list[ClerkRow]:
    rows = db.session.execute(
        select(
            Order.placed_by_staff_id,
            Staff.name,
            Order.currency,
            func.count(),
            func.coalesce(func.sum(case((_sold(), Order.total_minor), else_=0)), 0),
        )
        .join(Staff, Staff.id == Order.placed_by_staff_id)
        .where(figure_condition(scope, "endless_aisle"))
        .group_by(Order.placed_by_staff_id, Staff.name, Order.currency)
    ).all()
    clerks = {}
    for staff_id, name, currency, orders, sales in rows:
        row = clerks.setdefault(staff_id, [name, 0, {}])
        row[1] += int(orders)
        row[2][currency] = int(sales)
    return sorted(
        (
            ClerkRow(staff_id, name, orders, dict(sorted(sales.items())))
            for staff_id, (name, orders, sales) in clerks.items()
        ),
        key=lambda row: (-row.orders, row.name),
    )


def outreach_orders(scope) -> list[ClerkRow]:
    attributed = outreach.orders_attributed_to_outreach(
        scope.start, scope.end, location_id=scope.location.id if scope.location else None
    )
    if not attributed:
        return []
    names = dict(db.session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(attributed))).all())
    return sorted(
        (
            ClerkRow(staff_id, names.get(staff_id, ""), row.orders, dict(sorted(row.sales.items())))
            for staff_id, row in attributed.items()
        ),
        key=lambda row: (-row.orders, row.name),
    )


def customer_figures(scope) -> Figures:
    months = _months(scope)
    month_start = local_midnight(months[0], scope.zone)
    month_end = local_midnight(_next_month(months[-1]), scope.zone)
    first_sales = _first_sales(month_start, max(month_end, scope.end), scope)
    new = dict.fromkeys(CHANNELS, 0)
    for channel, placed_at in first_sales:
        if scope.start <= placed_at < scope.end:
            new[channel] = new.get(channel, 0) + 1
    buyers, returning = _returning(scope)
    visitors, visits, repeat = _visits(scope)
    at = min(scope.end, scope.now)
    return Figures(
        lifetime_value=lifetime_value(scope),
        new_customers=new,
        buyers=buyers,
        returning_buyers=returning,
        visitors=visitors,
        repeat_visitors=repeat,
        visits=visits,
        stages_at=at,
        stages=segments.stage_counts(scope, at=at),
        movements=movements(scope),
        acquisition=acquisition(scope, first_sales, months),
        clerks=clerk_orders(scope),
        offers=offers.totals(offers.per_offer(scope)),
        outreach=outreach_orders(scope),
    )


# --- the acquisition spend a manager enters ---------------------------------------------------------------------

_AMOUNT = re.compile(r"^([0-9]{1,8})(?:[.,]([0-9]{1,2}))?$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def currencies():
    """The currencies of the chain's markets (the spend is entered in one of them)."""
    return sorted({market.currency for market in list_markets()})


@dataclass(frozen=True)
class SpendEntry:
    month: str  # YYYY-MM
    channel: str
    currency: str
    amount: str  # as typed: 1200 or 1200,50 or 1200.50


def check_spend(entry: SpendEntry):
    """(month, channel, currency, amount_minor) from what the manager typed; ValidationFailed names each field."""
    errors = {}
    month = None
    found = _MONTH.match((entry.month or "").strip())
    if found and 2000 <= int(found[1]) <= 2999 and 1 <= int(found[2]) <= 12:
        month = date(int(found[1]), int(found[2]), 1)
    else:
        errors["month"] = _l("Give the month as YYYY-MM.")
    channel = (entry.channel or "").strip()
    if channel not in CHANNELS:
        errors["channel"] = _l("Choose a channel.")
    currency = (entry.currency or "").strip().upper()
    if currency not in currencies():
        errors["currency"] = _l("Choose one of the chain's currencies.")
    amount = _AMOUNT.match((entry.amount or "").strip().replace(" ", ""))
    minor = int(amount[1]) * 100 + int((amount[2] or "0").ljust(2, "0")) if amount else None
    if minor is None or minor > MAX_AMOUNT_MINOR:
        errors["amount"] = _l("Give an amount such as 1200 or 1200.50 (no minus sign).")
    if errors:
        raise ValidationFailed(_l("Check the marked fields."), errors)
    return month, channel, currency, minor


def set_spend(scope, entry: SpendEntry, *, staff) -> AcquisitionSpend:
    """Set the spend of the scope's store (the network for an admin's network scope) for one month, channel and
    currency: entering it again replaces it (one row, whoever enters at the same time). Audited."""
    month, channel, currency, minor = check_spend(entry)
    if scope.location is None and not staff.is_admin:
        raise Forbidden(_l("Only an admin enters the network's spend."))
    location_id = scope.location.id if scope.location is not None else None
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    values = dict(
        location_id=location_id,
        channel=channel,
        month=month,
        currency=currency,
        amount_minor=minor,
        staff_id=staff.id,
        updated_at=scope.now,
    )
    keys = (
        ["location_id", "channel", "month", "currency"] if location_id is not None else ["channel", "month", "currency"]
    )
    where = (
        AcquisitionSpend.location_id.is_not(None) if location_id is not None else AcquisitionSpend.location_id.is_(None)
    )
    statement = (
        dialect.insert(AcquisitionSpend)
        .values(**values)
        .on_conflict_do_update(
            index_elements=keys,
            index_where=where,
            set_={"amount_minor": minor, "staff_id": staff.id, "updated_at": scope.now},
        )
    )
    with transaction() as session:
        session.execute(statement)
        audit.record(
            "acquisition_spend.set",
            staff=staff,
            location_id=location_id,
            month=month.isoformat(),
            channel=channel,
            currency=currency,
            amount_minor=minor,
        )
    return db.session.scalar(
        select(AcquisitionSpend).where(
            AcquisitionSpend.channel == channel,
            AcquisitionSpend.month == month,
            AcquisitionSpend.currency == currency,
            AcquisitionSpend.location_id == location_id
            if location_id is not None
            else AcquisitionSpend.location_id.is_(None),
        )
    )


def spend_rows(scope, *, limit=60):
    """The spend entered for the scope (the network's own for the network), newest month first."""
    where = (
        AcquisitionSpend.location_id == scope.location.id
        if scope.location is not None
        else AcquisitionSpend.location_id.is_(None)
    )
    return db.session.scalars(
        select(AcquisitionSpend)
        .where(where)
        .order_by(AcquisitionSpend.month.desc(), AcquisitionSpend.channel, AcquisitionSpend.currency)
        .limit(limit)
    ).all()
