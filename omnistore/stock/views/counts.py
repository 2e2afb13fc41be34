"""Counts at this store: start one (a zone, a category, a list of codes, the open count tasks), scan item by item with
the wedge scanner or the camera, check what was not scanned, submit. The count's component
(`stock/_count.html`, id "count") replaces itself after each scan or typed figure; without JavaScript the forms
post normally and come back with a redirect. The manager's decisions on variances are in reviews/views/counts.py.
"""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock import counts, zones
from omnistore.stock.models import StockLevel
from omnistore.stock.views import bp
from omnistore.web.rendering import login_required, render_page_or_partial, wants_fragment

SCOPE_LABELS = {
    "zone": _l("Zone"),
    "category": _l("Category"),
    "variants": _l("List of items"),
    "tasks": _l("Open count tasks"),
}
COUNT_STATUS_LABELS = {
    "counting": _l("Counting"),
    "review": _l("Waiting for the manager"),
    "posted": _l("Posted"),
    "cancelled": _l("Cancelled"),
}
LINE_STATUS_LABELS = {
    "counting": _l("Counting"),
    "review": _l("Variance: waiting for the manager"),
    "blocked": _l("Below what orders reserve: waiting for the manager"),
    "posted": _l("Posted"),
    "kept": _l("System figure kept"),
}
TASK_REASON_LABELS = {
    "not_found": _l("Not found when picking"),
    "wrong_item": _l("Wrong item or label when picking"),
    "damaged": _l("Damaged when picking"),
}


def _labels():
    return {
        "scope_labels": SCOPE_LABELS,
        "count_status_labels": COUNT_STATUS_LABELS,
        "line_status_labels": LINE_STATUS_LABELS,
        "task_reason_labels": TASK_REASON_LABELS,
    }


# --- the list and starting a count --------------------------------------------------------------------------


def _render_counts(status=200, **extra):
    location = current_user.location
    context = {
        "location": location,
        "counts": counts.counts_at(location.id),
        "tasks": counts.open_tasks(location.id),
        "categories": counts.categories_here(location.id),
        "zones": zones.zones_here(location.id),
        "errors": {},
        "values": {"scope": "category", "blind": "1"},
        **_labels(),
    }
    context.update(extra)
    return render_page_or_partial("stock/counts.html", "stock/_count_start.html", status, **context)


@bp.get("/counts")
@login_required
def counts_index():
    return _render_counts()


@bp.post("/counts")
@login_required
def count_start():
    form = request.form
    scope = counts.CountScope(
        kind=form.get("scope", "")[:20],
        category=form.get("category", "")[:200],
        codes=form.get("codes", "")[:20_000],
        zone=form.get("zone", "")[:200],
    )
    try:
        count = counts.start_count(current_user.location_id, scope, current_user, blind=form.get("blind") == "1")
    except ValidationFailed as failure:
        values = {key: form.get(key, "")[:20_000] for key in ("scope", "zone", "category", "codes", "blind")}
        return _render_counts(422, errors=failure.fields or {"message": failure.message}, values=values)
    return redirect(url_for("stock.count_page", count_id=count.id), 303)


# --- one count ---------------------------------------------------------------------------------------------


def _expected(count):
    """On hand per variant now, for a count that is not blind (and for the figures after submitting)."""
    ids = [line.variant_id for line in count.lines]
    if not ids:
        return {}
    rows = db.session.execute(
        select(StockLevel.variant_id, StockLevel.on_hand).where(
            StockLevel.location_id == count.location_id, StockLevel.variant_id.in_(ids)
        )
    )
    return dict(rows.all())


def _count_context(count, **extra):
    lines = sorted(count.lines, key=lambda line: (-line.updated_at.timestamp(), line.id))
    context = {
        "count": count,
        "scanned": [line for line in lines if line.scans > 0 and line.status == "counting"],
        "unscanned": sorted(
            (line for line in count.lines if line.scans == 0 and line.status == "counting"),
            key=lambda line: (line.variant.product.name, line.variant.sku),
        ),
        "decided": sorted(  # what waits for the manager first
            (line for line in count.lines if line.status != "counting"),
            key=lambda line: (line.status not in counts.WAITING_LINE_STATUSES, line.id),
        ),
        "expected": {} if count.blind and count.status == "counting" else _expected(count),
        "notice": None,
        "errors": {},
        "last": None,
        "checking": False,
        **_labels(),
    }
    context.update(extra)
    return context


def _render_count(count, status=200, **extra):
    return render_page_or_partial("stock/count.html", "stock/_count.html", status, **_count_context(count, **extra))


@bp.get("/counts/<int:count_id>")
@login_required
def count_page(count_id):
    return _render_count(counts.get_count(count_id, current_user))


@bp.get("/counts/<int:count_id>/check")
@login_required
def count_check(count_id):
    """Before submitting: what was not scanned is listed, and counts as zero."""
    return _render_count(counts.get_count(count_id, current_user), checking=True)


def _after(count, notice, **extra):
    if wants_fragment():
        db.session.expire_all()
        return _render_count(counts.get_count(count.id, current_user), notice=notice, **extra)
    flash(notice, "success")
    return redirect(url_for("stock.count_page", count_id=count.id), 303)


def _refused(count_id, errors, status):
    db.session.expire_all()
    return _render_count(counts.get_count(count_id, current_user), status, errors=errors)


@bp.post("/counts/<int:count_id>/scan")
@login_required
def count_scan(count_id):
    count = counts.get_count(count_id, current_user)
    code = request.form.get("code", "")[:200]
    try:
        line = counts.scan(count.id, code, current_user, request.form.get("quantity", "1")[:20] or "1")
    except ValidationFailed as failure:
        return _refused(count.id, failure.fields or {"code": failure.message}, 422)
    except Conflict as conflict:
        return _refused(count.id, {"message": conflict.message}, 409)
    variant = line.variant
    notice = _(
        "%(product)s %(variant)s: %(counted)d counted.",
        product=variant.product.name,
        variant=variant.label or variant.sku,
        counted=line.counted,
    )
    return _after(count, notice, last=line.id)


@bp.post("/counts/<int:count_id>/lines/<int:line_id>")
@login_required
def count_set(count_id, line_id):
    count = counts.get_count(count_id, current_user)
    try:
        line = counts.set_counted(count.id, line_id, request.form.get("quantity", "")[:20], current_user)
    except ValidationFailed as failure:
        return _refused(count.id, {f"line-{line_id}": failure.fields.get("quantity", failure.message)}, 422)
    except Conflict as conflict:
        return _refused(count.id, {"message": conflict.message}, 409)
    notice = _("%(sku)s: %(counted)d counted.", sku=line.variant.sku, counted=line.counted)
    return _after(count, notice, last=line.id)


@bp.post("/counts/<int:count_id>/submit")
@login_required
def count_submit(count_id):
    count = counts.get_count(count_id, current_user)
    try:
        count = counts.submit(count.id, current_user)
    except Conflict as conflict:
        return _refused(count_id, {"message": conflict.message}, 409)
    waiting = sum(1 for line in count.lines if line.status in counts.WAITING_LINE_STATUSES)
    if waiting:
        notice = _(
            "Count submitted. %(waiting)d items wait for the manager's review; the rest are posted.", waiting=waiting
        )
    else:
        notice = _("Count submitted and posted.")
    flash(notice, "success")
    return redirect(url_for("stock.count_page", count_id=count.id), 303)


@bp.post("/counts/<int:count_id>/cancel")
@login_required
def count_cancel(count_id):
    count = counts.get_count(count_id, current_user)
    try:
        counts.cancel_count(count.id, current_user)
    except Conflict as conflict:
        return _refused(count_id, {"message": conflict.message}, 409)
    flash(_("Count stopped. Nothing more posts from it."), "success")
    return redirect(url_for("stock.counts_index"), 303)
