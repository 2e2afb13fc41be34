"""Counts: what the shelf says, set against the figures.

A **count task** asks a store to count one variant (raised when a picker could not find it or found the wrong
item, see `raise_count_task`); at most one is open per store and variant. A **count** (models.StockCount) is a
session at one store over a zone (stock/zones.py), a category, a list of variants or the store's open count
tasks, scanned item by item on the tablet. Its state is written per scan, so an interrupted count resumes where
it was. It is blind by default: the expected figures stay hidden until it is submitted.

Verbs: raise_count_task; start_count (a zone, a category, a list of codes, or the open tasks), scan (one unit, or more,
by EAN or SKU), set_counted (a typed figure), submit (what was not scanned counts as zero; a variance above the
threshold — more than COUNT_VARIANCE_UNITS units or COUNT_VARIANCE_PERCENT % of the expected figure — waits for a
manager, the rest posts); the manager's decide_line (approve, recount — a second count — or keep) and decide_all;
cancel_count.

Posting is ledger.post_count: one `count` movement per variant that differs, under the level's lock, never
below what orders reserve there: such a line is `blocked` and names the orders (reviews/counts.py reads
them) until they are changed and the manager posts it again. A posted line closes the store's open count task
for the variant and goes to the ERP as a `stock.counted` webhook (the API's stock read shows the new figure).
"""

import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.lookups import find_variant_by_code
from omnistore.catalog.models import Product, Variant
from omnistore.core import audit, outbox
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.core.webhooks import endpoints_for
from omnistore.stock import ledger, zones
from omnistore.stock.inputs import MAX_QUANTITY, _whole_number
from omnistore.stock.models import CountTask, StockCount, StockCountLine, StockLevel
from omnistore.stores.models import Location, Staff
from omnistore.stores.staff import can_act_at

TASK_REASON_MAX = 200
MAX_LISTED_CODES = 500  # a count of a list of variants
CATEGORY_MAX = 100
OPEN_LINE = "counting"
WAITING_LINE_STATUSES = ("review", "blocked")  # for the manager


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


# --- count sessions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountScope:
    """What a count covers: kind "zone" (with `zone`: every variant whose level here is in it), "category"
    (with `category`), "variants" (with `codes`: SKUs or EANs separated by spaces, commas or lines) or "tasks"
    (the store's open count tasks)."""

    kind: str
    category: str = ""
    codes: str = ""
    zone: str = ""


def _require_staff_at(actor, location_id, *, manager=False):
    if not isinstance(actor, Staff):
        raise Forbidden(_("Only staff count stock."))
    if manager and not actor.is_manager:
        raise Forbidden(_("Only a manager can decide on a count's variances."))
    if not can_act_at(actor, location_id):
        raise Forbidden(_("You can count stock at your own store only."))


def get_count(count_id, actor=None) -> StockCount:
    """The count with this id, if the staff member may see it (their store; an admin any)."""
    count = db.session.get(StockCount, count_id) if isinstance(count_id, int) else None
    if count is None or (actor is not None and not can_act_at(actor, count.location_id)):
        raise NotFound(_("We could not find that count."))
    return count


def _scope_variants(session, location_id, scope):
    """(scope kind, category or zone, variant ids) for a new count; ValidationFailed naming the field."""
    if scope.kind == "zone":
        errors = {}
        zone = zones.clean_zone(scope.zone, errors)
        if errors or not zone:
            raise ValidationFailed(_("Choose a zone."), {"zone": errors.get("zone") or _("Choose a zone.")})
        in_zone = session.scalars(
            select(StockLevel.variant_id).where(StockLevel.location_id == location_id, StockLevel.zone == zone)
        ).all()
        if not in_zone:
            message = _("Nothing here is in the zone “%(zone)s”.", zone=zone)
            raise ValidationFailed(message, {"zone": message})
        # What the system thinks is on the shelves of the zone: its variants with stock or reservations.
        ids = session.scalars(
            select(StockLevel.variant_id)
            .where(
                StockLevel.location_id == location_id,
                StockLevel.zone == zone,
                (StockLevel.on_hand > 0) | (StockLevel.allocated > 0),
            )
            .order_by(StockLevel.variant_id)
        ).all()
        return "zone", zone, ids
    if scope.kind == "category":
        category = (scope.category or "").strip()[:CATEGORY_MAX]
        if not category:
            raise ValidationFailed(_("Choose a category."), {"category": _("Choose a category.")})
        known = session.scalar(select(Product.category).where(Product.category == category).limit(1))
        if known is None:
            raise ValidationFailed(
                _("No product is in that category."), {"category": _("No product is in that category.")}
            )
        # What the system thinks is on the shelf here: every variant of the category with stock or reservations.
        ids = session.scalars(
            select(StockLevel.variant_id)
            .join(Variant, Variant.id == StockLevel.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(
                Product.category == category,
                StockLevel.location_id == location_id,
                (StockLevel.on_hand > 0) | (StockLevel.allocated > 0),
            )
            .order_by(StockLevel.variant_id)
        ).all()
        return "category", category, ids
    if scope.kind == "variants":
        codes = [code for code in re.split(r"[\s,;]+", scope.codes or "") if code]
        if not codes:
            raise ValidationFailed(
                _("Scan or type at least one code."), {"codes": _("Scan or type at least one code.")}
            )
        if len(codes) > MAX_LISTED_CODES:
            message = _("At most %(max)d codes in one count.", max=MAX_LISTED_CODES)
            raise ValidationFailed(message, {"codes": message})
        ids, unknown = [], []
        for code in codes:
            variant = find_variant_by_code(code)
            if variant is None:
                unknown.append(code[:40])
            elif variant.id not in ids:
                ids.append(variant.id)
        if unknown:
            message = _("No product has these codes: %(codes)s", codes=", ".join(unknown[:10]))
            raise ValidationFailed(message, {"codes": message})
        return "variants", "", sorted(ids)
    if scope.kind == "tasks":
        ids = sorted({task.variant_id for task in open_tasks(location_id)})
        if not ids:
            raise ValidationFailed(
                _("There are no open count tasks here."), {"scope": _("There are no open count tasks here.")}
            )
        return "tasks", "", ids
    raise ValidationFailed(_("Choose what to count."), {"scope": _("Choose what to count.")})


def start_count(location_id, scope: CountScope, actor, *, blind=True) -> StockCount:
    """Open a count at `location_id` over `scope`, one line per variant to count (none scanned yet)."""
    with transaction() as session:
        if not isinstance(location_id, int) or session.get(Location, location_id) is None:
            raise NotFound(_("We could not find that location."))
        _require_staff_at(actor, location_id)
        kind, name, variant_ids = _scope_variants(session, location_id, scope)
        count = StockCount(
            location_id=location_id,
            scope=kind,
            category=name if kind == "category" else "",
            zone=name if kind == "zone" else "",
            blind=bool(blind),
            status="counting",
            started_by_id=actor.id,
            started_at=utcnow(),
        )
        session.add(count)
        session.flush()
        for variant_id in variant_ids:
            session.add(StockCountLine(count_id=count.id, variant_id=variant_id, counted=0, scans=0, status=OPEN_LINE))
        session.flush()
        audit.record(
            "stock.count_started",
            entity=count,
            location_id=location_id,
            scope=kind,
            category=count.category,
            zone=count.zone,
            variants=len(variant_ids),
            blind=count.blind,
            staff=actor,
        )
        return count


def _counting(session, count_id, actor):
    count = get_count(count_id, actor)
    _require_staff_at(actor, count.location_id)
    if count.status != "counting":
        raise Conflict(_("This count has been submitted already."))
    return count


def scan(count_id, code, actor, quantity=1) -> StockCountLine:
    """One scan: `quantity` (1 by default) more of the variant with this EAN or SKU. A variant of the count's
    category (or whose level is in the count's zone) that was not expected here gets a line of its own; any
    other code is refused, naming it."""
    typed = (code or "").strip() if isinstance(code, str) else ""
    number, problem = _whole_number(quantity, 1, MAX_QUANTITY)
    if problem is not None:
        raise ValidationFailed(problem[1], {"quantity": problem[1]})
    with transaction() as session:
        count = _counting(session, count_id, actor)
        if not typed:
            raise ValidationFailed(_("Scan a barcode or type a SKU."), {"code": _("Scan a barcode or type a SKU.")})
        variant = find_variant_by_code(typed)
        if variant is None:
            message = _("No product has the code “%(code)s”.", code=typed[:40])
            raise ValidationFailed(message, {"code": message})
        line = _add(session, count, variant, number)
        audit.record(
            "stock.count_scanned",
            entity=count,
            location_id=count.location_id,
            variant_id=variant.id,
            quantity=number,
            staff=actor,
        )
        return line


def _add(session, count, variant, number):
    line = session.scalar(
        select(StockCountLine).where(StockCountLine.count_id == count.id, StockCountLine.variant_id == variant.id)
    )
    if line is None:
        if not _belongs(session, count, variant):
            message = _(
                "%(product)s (%(sku)s) is not part of this count.", product=variant.product.name, sku=variant.sku
            )
            raise ValidationFailed(message, {"code": message})
        line = StockCountLine(count_id=count.id, variant_id=variant.id, counted=0, scans=0, status=OPEN_LINE)
        session.add(line)
        session.flush()
    if line.status != OPEN_LINE:
        message = _("%(sku)s has been counted and submitted already.", sku=variant.sku)
        raise ValidationFailed(message, {"code": message})
    # Added in the UPDATE itself: two tablets scanning into one count never lose a scan.
    row = session.execute(
        update(StockCountLine)
        .where(
            StockCountLine.id == line.id,
            StockCountLine.status == OPEN_LINE,
            StockCountLine.counted + number <= MAX_QUANTITY,
        )
        .values(counted=StockCountLine.counted + number, scans=StockCountLine.scans + 1, updated_at=utcnow())
        .returning(StockCountLine.id)
    ).one_or_none()
    if row is None:
        message = _("That is more than this count can take.")
        raise ValidationFailed(message, {"code": message})
    session.refresh(line)
    return line


def _belongs(session, count, variant):
    """May a variant the count did not expect get a line of its own: one of its category, or in its zone."""
    if count.scope == "category":
        return variant.product.category == count.category
    if count.scope == "zone":
        return zones.in_zone(session, count.location_id, count.zone, variant.id)
    return False


def set_counted(count_id, line_id, quantity, actor) -> StockCountLine:
    """Set a line's figure as typed (e.g. 24 pairs of socks counted by hand, or a scan too many undone)."""
    number, problem = _whole_number(quantity, 0, MAX_QUANTITY)
    if problem is not None:
        raise ValidationFailed(problem[1], {"quantity": problem[1]})
    with transaction() as session:
        count = _counting(session, count_id, actor)
        line = session.get(StockCountLine, line_id) if isinstance(line_id, int) else None
        if line is None or line.count_id != count.id:
            raise NotFound(_("That item is not part of this count."))
        if line.status != OPEN_LINE:
            raise Conflict(_("%(sku)s has been counted and submitted already.", sku=line.variant.sku))
        before = line.counted
        line.counted = number
        line.scans = max(line.scans, 1)
        line.updated_at = utcnow()
        audit.record(
            "stock.count_set",
            entity=count,
            location_id=count.location_id,
            variant_id=line.variant_id,
            before=before,
            after=number,
            staff=actor,
        )
        return line


def variance_limits():
    config = current_app.config
    return config.get("OMNISTORE_COUNT_VARIANCE_UNITS", 2), config.get("OMNISTORE_COUNT_VARIANCE_PERCENT", 10)


def above_threshold(counted, expected, limits=None):
    """A variance that needs a second look: more than `units` units, or more than `percent` % of the expected
    figure (anything found where nothing was expected is 100 %)."""
    units, percent = limits or variance_limits()
    variance = abs(counted - expected)
    if variance == 0:
        return False
    if variance > units:
        return True
    return expected == 0 or variance * 100 > percent * expected


def _on_hand(session, location_id, variant_id):
    """The level's on_hand, locked until the count's transaction ends (PostgreSQL; SQLite holds the database)."""
    query = select(StockLevel.on_hand).where(StockLevel.location_id == location_id, StockLevel.variant_id == variant_id)
    return session.scalar(query.with_for_update()) or 0


def submit(count_id, actor) -> StockCount:
    """The clerk is done: lines not scanned count as zero; each line's expected figure is read now; a variance
    above the threshold waits for a manager, the rest posts (see `_post_line`)."""
    with transaction() as session:
        count = _counting(session, count_id, actor)
        # Claimed by one conditional write, so a double tap or a second tablet cannot submit it twice.
        claimed = session.execute(
            update(StockCount)
            .where(StockCount.id == count.id, StockCount.status == "counting")
            .values(status="review", submitted_at=utcnow())
            .returning(StockCount.id)
        ).one_or_none()
        if claimed is None:
            raise Conflict(_("This count has been submitted already."))
        session.refresh(count)
        limits = variance_limits()
        open_lines = [line for line in count.lines if line.status == OPEN_LINE]
        posted = []
        for line in sorted(open_lines, key=lambda line: line.variant_id):  # the ledger's lock order
            line.expected = _on_hand(session, count.location_id, line.variant_id)
            if above_threshold(line.counted, line.expected, limits):
                line.status = "review"
            elif _post_line(session, count, line, actor):
                posted.append(line)
        audit.record(
            "stock.count_submitted",
            entity=count,
            location_id=count.location_id,
            lines=len(open_lines),
            unscanned=sum(1 for line in open_lines if line.scans == 0),
            posted=len(posted),
            waiting=sum(1 for line in open_lines if line.status in WAITING_LINE_STATUSES),
            staff=actor,
        )
        _finish_if_done(count)
        _tell_the_erp(count, posted)
        return count


def _post_line(session, count, line, actor):
    """Post one line through the ledger; True when posted, False when blocked by reservations."""
    try:
        state = ledger.post_count(
            ledger.StockChange(
                variant_id=line.variant_id,
                location_id=count.location_id,
                quantity=line.counted,
                reason=_("Count #%(number)d", number=count.id),
                reference=f"count-{count.id}",
            ),
            actor,
        )
    except ValidationFailed:
        line.status = "blocked"  # below what orders reserve here: reviews/counts.py names them
        return False
    line.status = "posted"
    line.posted_delta = state.delta
    _close_tasks(session, count, line)
    return True


def _close_tasks(session, count, line):
    """The variant has been counted here (posted, or the system's figure confirmed): its open task is done."""
    session.execute(
        update(CountTask)
        .where(
            CountTask.location_id == count.location_id,
            CountTask.variant_id == line.variant_id,
            CountTask.status == "open",
        )
        .values(status="closed", closed_at=utcnow(), closed_by_count_id=count.id)
    )


def _finish_if_done(count):
    statuses = {line.status for line in count.lines}
    if OPEN_LINE in statuses:
        count.status = "counting"
    elif statuses & set(WAITING_LINE_STATUSES):
        count.status = "review"
    else:
        count.status = "posted"
        count.finished_at = utcnow()


def _tell_the_erp(count, lines):
    """The ERP hears of posted figures as they post (its stock read shows them too)."""
    if not lines:
        return
    endpoints = endpoints_for("stock.counted")
    if not endpoints:
        return
    payload = {
        "event": "stock.counted",
        "occurred_at": utcnow().isoformat().replace("+00:00", "Z"),
        "count": {
            "id": count.id,
            "location": count.location.code,
            "lines": [
                {
                    "sku": line.variant.sku,
                    "counted": line.counted,
                    "expected": line.expected,
                    "delta": line.posted_delta,
                }
                for line in lines
            ],
        },
    }
    for endpoint in endpoints:
        outbox.enqueue_webhook("stock.counted", url=endpoint.url, payload=payload, endpoint=endpoint)


def _waiting_line(session, count_id, line_id, actor):
    count = get_count(count_id, actor)
    _require_staff_at(actor, count.location_id, manager=True)
    line = session.get(StockCountLine, line_id) if isinstance(line_id, int) else None
    if line is None or line.count_id != count.id:
        raise NotFound(_("That item is not part of this count."))
    if line.status not in WAITING_LINE_STATUSES:
        raise Conflict(_("That item has been decided already."))
    return count, line


DECISIONS = ("approve", "recount", "keep")


def decide_line(count_id, line_id, decision, actor) -> StockCountLine:
    """The manager's decision on a line waiting for one ("review" or "blocked"), in one transaction, audited:

    approve   the counted figure posts (or stays blocked while orders still reserve more);
    recount   a second count of the line, from zero (the first figure kept);
    keep      the system's figure stays: nothing posts (the variant's open count task is done).
    """
    if decision not in DECISIONS:
        raise ValidationFailed(_("Choose a decision."), {"decision": _("Choose a decision.")})
    with transaction() as session:
        count, line = _waiting_line(session, count_id, line_id, actor)
        detail = {}
        if decision == "approve":
            expected = _on_hand(session, count.location_id, line.variant_id)
            if not _post_line(session, count, line, actor):
                _finish_if_done(count)
                return line  # still blocked: nothing decided, nothing audited
            detail = {"counted": line.counted, "expected": expected}
            _tell_the_erp(count, [line])
        elif decision == "recount":
            line.first_counted = line.counted
            line.counted, line.scans, line.expected = 0, 0, None
            line.status = OPEN_LINE
            detail = {"first_counted": line.first_counted}
        else:
            line.status = "kept"
            _close_tasks(session, count, line)
            detail = {"counted": line.counted}
        audit.record(
            _DECISION_ACTIONS[decision],
            entity=count,
            location_id=count.location_id,
            variant_id=line.variant_id,
            staff=actor,
            **detail,
        )
        _finish_if_done(count)
        return line


_DECISION_ACTIONS = {"approve": "stock.count_approved", "recount": "stock.count_recount", "keep": "stock.count_kept"}


def decide_all(count_id, decision, actor):
    """One decision ("approve", "recount" or "keep") for every line waiting in the count, in variant order, in
    one transaction. Returns the lines decided."""
    if decision not in DECISIONS:
        raise ValidationFailed(_("Choose a decision."), {"decision": _("Choose a decision.")})
    with transaction():
        count = get_count(count_id, actor)
        _require_staff_at(actor, count.location_id, manager=True)
        waiting = sorted(
            (line for line in count.lines if line.status in WAITING_LINE_STATUSES), key=lambda line: line.variant_id
        )
        return [decide_line(count.id, line.id, decision, actor) for line in waiting]


def cancel_count(count_id, actor) -> StockCount:
    """Stop a count that is still being scanned: its open lines post nothing."""
    with transaction() as session:
        count = _counting(session, count_id, actor)
        for line in count.lines:
            if line.status == OPEN_LINE:
                line.status = "kept"
        posted = any(line.status == "posted" for line in count.lines)
        if any(line.status in WAITING_LINE_STATUSES for line in count.lines):
            count.status = "review"
        else:
            count.status = "posted" if posted else "cancelled"
            count.finished_at = utcnow()
        audit.record("stock.count_cancelled", entity=count, location_id=count.location_id, staff=actor)
        return count


def counts_at(location_id, *, limit=30):
    """The store's counts, open ones first, then the latest."""
    return (
        db.session.execute(
            select(StockCount)
            .where(StockCount.location_id == location_id)
            .order_by((StockCount.status.in_(("counting", "review"))).desc(), StockCount.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def categories_here(location_id):
    """The categories with stock at the store (for choosing what to count)."""
    return db.session.scalars(
        select(Product.category)
        .join(Variant, Variant.product_id == Product.id)
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .where(StockLevel.location_id == location_id, Product.category != "")
        .group_by(Product.category)
        .order_by(Product.category)
    ).all()
