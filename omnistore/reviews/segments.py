"""The manager's segments: the customers of a store (or the network) in one lifecycle stage, as of now, a page at
a time or all of them for the CSV file; and how many are in each stage. The stages are clienteling's
(clienteling/lifecycle.py); a store's customers are lifecycle.store_customers."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from omnistore.clienteling import lifecycle
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.pagination import paginate
from omnistore.customers.models import Customer

PER_PAGE = 50
CSV_LIMIT = 100_000


@dataclass(frozen=True)
class Member:
    customer: Customer
    stage: str
    orders: int
    last_order_at: object
    last_visit_at: object

    @property
    def last_seen_at(self):
        return max((at for at in (self.last_order_at, self.last_visit_at) if at is not None), default=None)


def _location_id(scope):
    return scope.location.id if scope.location is not None else None


def stage_counts(scope, *, at=None) -> dict:
    """{stage: customers} for every stage (zero included), of the scope's store or the network, as of `at`
    (default: now)."""
    at = at or scope.now
    stages = lifecycle.stages_select(now=at, location_id=_location_id(scope)).subquery("stages")
    found = dict(db.session.execute(select(stages.c.stage, func.count()).group_by(stages.c.stage)).all())
    return {stage: int(found.get(stage.value, 0)) for stage in lifecycle.STAGES}


def _members_query(scope, stage):
    stage = lifecycle.check_stage(stage)
    stages = lifecycle.stages_select(now=scope.now, location_id=_location_id(scope)).subquery("stages")
    return (
        select(Customer, stages.c.stage, stages.c.orders, stages.c.last_order_at, stages.c.last_visit_at)
        .join(stages, stages.c.customer_id == Customer.id)
        .where(stages.c.stage == stage.value)
        .options(joinedload(Customer.preferred_location))
        # the most orders first; then the most recently seen buyer
        .order_by(stages.c.orders.desc(), stages.c.last_order_at.desc(), Customer.id)
    )


def _member(row):
    return Member(row[0], row.stage, int(row.orders), row.last_order_at, row.last_visit_at)


def members(scope, stage, *, page=1, per_page=None):
    """One page of the customers in `stage` (a Page of Member); ValidationFailed for an unknown stage."""
    per_page = per_page or PER_PAGE
    result = paginate(_members_query(scope, stage), page, per_page, rows=True)
    return type(result)(
        items=[_member(row) for row in result.items], page=result.page, per_page=per_page, total=result.total
    )


def all_members(scope, stage, *, staff):
    """Every customer in `stage` for the CSV file (at most CSV_LIMIT); the export is audited first."""
    stage = lifecycle.check_stage(stage)
    with transaction():
        audit.record("customers.segment_exported", staff=staff, location_id=_location_id(scope), stage=stage.value)
    rows = db.session.execute(_members_query(scope, stage).limit(CSV_LIMIT)).all()
    return [_member(row) for row in rows]
