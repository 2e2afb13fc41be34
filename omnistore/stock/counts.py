"""Counts: what the shelf says, set against the figures.

A **count task** asks a store to count one variant (raised when a picker could not find it or found the wrong
item, see `raise_count_task`); at most one is open per store and variant. A **count** (models.StockCount) is a
session at one store over a category, a list of variants or the store's open count tasks, scanned item by item
on the tablet. Its state is written per scan, so an interrupted count resumes where it was. It is blind by
default: the expected figures stay hidden until it is submitted.
"""

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.models import Variant
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stock.models import CountTask
from omnistore.stores.models import Location, Staff

TASK_REASON_MAX = 200


def raise_count_task(location_id, variant_id, reason, actor, *, reference=""):
    """Ask `location_id` to count `variant_id` (e.g. reason "not_found" when a line was rejected at pick time).

    Deduplicated while open: raising it again returns the open task with `times` + 1 and the latest reason
    and reference. Runs inside the caller's transaction when there is one (a rejection and its task commit
    together). Returns the CountTask.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why this needs counting."), {"reason": _("Say why this needs counting.")})
    reason = reason[:TASK_REASON_MAX]
    reference = (reference or "").strip()[:100]
    staff = actor if isinstance(actor, Staff) else None
    with transaction() as session:
        if not isinstance(variant_id, int) or session.get(Variant, variant_id) is None:
            raise NotFound(_("We could not find that product variant."))
        if not isinstance(location_id, int) or session.get(Location, location_id) is None:
            raise NotFound(_("We could not find that location."))
        for _attempt in range(2):
            # One conditional UPDATE: an open task gains a "times"; none open → insert (the partial unique
            # index turns a racing second insert into an IntegrityError inside a savepoint, then we update).
            task_id = session.execute(
                update(CountTask)
                .where(
                    CountTask.location_id == location_id,
                    CountTask.variant_id == variant_id,
                    CountTask.status == "open",
                )
                .values(times=CountTask.times + 1, reason=reason, reference=reference or CountTask.reference)
                .returning(CountTask.id)
            ).scalar_one_or_none()
            if task_id is not None:
                task = session.get(CountTask, task_id)
                session.refresh(task)
                return task
            try:
                with session.begin_nested():
                    task = CountTask(
                        location_id=location_id,
                        variant_id=variant_id,
                        reason=reason,
                        reference=reference,
                        times=1,
                        status="open",
                        raised_at=utcnow(),
                        raised_by_id=staff.id if staff else None,
                    )
                    session.add(task)
                    session.flush()
            except IntegrityError:
                continue
            audit.record(
                "stock.count_task_raised",
                entity=("variant", variant_id),
                location_id=location_id,
                reason=reason,
                reference=reference,
                staff=staff,
            )
            return task
        raise Conflict(_("The stock here is changing right now. Please try again."))


def open_tasks(location_id):
    """The store's open count tasks, oldest first."""
    return (
        db.session.execute(
            select(CountTask)
            .where(CountTask.location_id == location_id, CountTask.status == "open")
            .order_by(CountTask.raised_at, CountTask.id)
        )
        .scalars()
        .all()
    )
