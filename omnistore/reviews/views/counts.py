"""The manager's counts: the counts waiting for a decision on their variances (post the counted figure, ask for
a second count, or keep the system's), the orders that hold a blocked item, and count accuracy per store with
its CSV export."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.core.csvfile import Number
from omnistore.core.errors import Conflict, NotFound
from omnistore.reviews import counts as count_reads
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, scope_from_query, store_choices
from omnistore.stock import counts
from omnistore.stock.views.counts import LINE_STATUS_LABELS, SCOPE_LABELS
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required


@bp.get("/counts")
@role_required("manager")
def counts_overview():
    scope, failure = scope_from_query()
    return render_page_or_partial(
        "manager/counts.html",
        "manager/_counts.html",
        scope=scope,
        failure=failure,
        stores=store_choices(),
        periods=PERIOD_LABELS,
        waiting=count_reads.waiting_counts(scope),
        accuracy=count_reads.count_accuracy(scope),
        scope_labels=SCOPE_LABELS,
    )


@bp.get("/counts.csv")
@role_required("manager")
def counts_csv():
    scope, _failure = scope_from_query()
    rows = [
        (
            row.location.code,
            row.location.name,
            row.counts,
            row.lines,
            row.exact,
            None if row.rate is None else Number(round(row.rate * 100, 1)),
            row.units_expected,
            row.units_off,
            None if row.unit_rate is None else Number(round(row.unit_rate * 100, 1)),
        )
        for row in count_reads.count_accuracy(scope)
    ]
    header = (
        _("Store code"),
        _("Store"),
        _("Counts"),
        _("Items counted"),
        _("Items as expected"),
        _("Item accuracy (%)"),
        _("Units expected"),
        _("Units off"),
        _("Unit accuracy (%)"),
    )
    where = scope.location.code if scope.location else "network"
    name = f"count-accuracy-{where}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    return csv_download(name, header, rows)


def _review_context(count):
    waiting = [line for line in count.lines if line.status in counts.WAITING_LINE_STATUSES]
    return {
        "count": count,
        "waiting": waiting,
        "others": [line for line in count.lines if line.status not in counts.WAITING_LINE_STATUSES],
        "holding": {
            line.id: count_reads.orders_holding(count.location_id, line.variant_id)
            for line in waiting
            if line.status == "blocked"
        },
        "line_status_labels": LINE_STATUS_LABELS,
        "scope_labels": SCOPE_LABELS,
    }


@bp.get("/counts/<int:count_id>")
@role_required("manager")
def count_review(count_id):
    count = counts.get_count(count_id, current_user)
    return render_page_or_partial("manager/count.html", "manager/_count.html", **_review_context(count))


@bp.post("/counts/<int:count_id>/lines/<int:line_id>")
@role_required("manager")
def count_decide(count_id, line_id):
    count = counts.get_count(count_id, current_user)
    decision = request.form.get("decision", "")
    if decision not in counts.DECISIONS:
        raise NotFound(_("No such decision."))
    try:
        line = counts.decide_line(count.id, line_id, decision, current_user)
    except Conflict as conflict:
        flash(conflict.message, "error")
        return redirect(url_for("manager.count_review", count_id=count.id), 303)
    sku = line.variant.sku
    if line.status == "posted":
        flash(_("%(sku)s: %(counted)d on hand now.", sku=sku, counted=line.counted), "success")
    elif line.status == "blocked":
        flash(_("%(sku)s cannot post yet: orders still reserve more than was counted.", sku=sku), "error")
    elif line.status == "counting":
        flash(_("%(sku)s goes back to the store for a second count.", sku=sku), "success")
    else:
        flash(_("%(sku)s: the system's figure is kept.", sku=sku), "success")
    return redirect(url_for("manager.count_review", count_id=count.id), 303)


@bp.post("/counts/<int:count_id>/all")
@role_required("manager")
def count_decide_all(count_id):
    count = counts.get_count(count_id, current_user)
    decision = request.form.get("decision", "")
    if decision not in counts.DECISIONS:
        raise NotFound(_("No such decision."))
    lines = counts.decide_all(count.id, decision, current_user)
    blocked = sum(1 for line in lines if line.status == "blocked")
    flash(_("%(n)d items decided.", n=len(lines) - blocked), "success")
    if blocked:
        flash(_("%(n)d items cannot post yet: orders still reserve more than was counted.", n=blocked), "error")
    return redirect(url_for("manager.count_review", count_id=count.id), 303)
