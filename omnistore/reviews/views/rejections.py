"""The manager's rejections at pick time: per store, the rejection rate, the reasons and the re-source success
(reviews/rejections.py), on screen and as CSV; and what is late to pick right now (orders/pick_deadlines.py)."""

from flask_babel import gettext as _

from omnistore.core.csvfile import Number
from omnistore.orders import pick_deadlines
from omnistore.orders.line_reasons import REJECTION_LABELS
from omnistore.reviews import rejections as store_rejections
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, scope_from_query, store_choices
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required


@bp.get("/rejections")
@role_required("manager")
def rejections():
    scope, failure = scope_from_query()
    return render_page_or_partial(
        "manager/rejections.html",
        "manager/_rejections.html",
        scope=scope,
        failure=failure,
        rows=store_rejections.per_store(scope),
        late=pick_deadlines.late_picks(scope.location.id if scope.location else None),
        reasons=REJECTION_LABELS,
        stores=store_choices(),
        periods=PERIOD_LABELS,
    )


def _percent(value):
    return None if value is None else Number(round(value * 100, 1))


@bp.get("/rejections.csv")
@role_required("manager")
def rejections_csv():
    scope, _failure = scope_from_query()
    header = (
        _("Store"),
        _("Units asked"),
        _("Units rejected"),
        _("Rejection rate (%)"),
        *(str(label) for label in REJECTION_LABELS.values()),
        _("Sent or collected elsewhere"),
        _("Left out"),
        _("Waiting for the customer"),
        _("Re-source success (%)"),
    )
    rows = [
        (
            row.location.name,
            row.units_asked,
            row.units_rejected,
            _percent(row.rate),
            *(row.by_reason.get(code, 0) for code in REJECTION_LABELS),
            row.found_another_way,
            row.given_up,
            row.pending,
            _percent(row.success),
        )
        for row in store_rejections.per_store(scope)
    ]
    where = scope.location.code if scope.location else "network"
    name = f"rejections-{where}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    return csv_download(name, header, rows)
