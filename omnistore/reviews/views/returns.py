"""The manager's returns: the return rate and the reasons by store, by channel and by product, and returns across
stores (bought here, returned there), over the scope's store and period (reviews/returns.py), on screen and as
CSV. Refunds are per currency, never added across currencies."""

from flask_babel import gettext as _

from omnistore.core.csvfile import Money, Number
from omnistore.returns.labels import REASON_LABELS
from omnistore.reviews import returns as review_returns
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, scope_from_query, store_choices
from omnistore.web.i18n import CHANNEL_LABELS
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required


@bp.get("/returns")
@role_required("manager")
def returns():
    scope, failure = scope_from_query()
    return render_page_or_partial(
        "manager/returns.html",
        "manager/_returns.html",
        scope=scope,
        failure=failure,
        figures=review_returns.figures(scope),
        reasons=REASON_LABELS,
        stores=store_choices(),
        periods=PERIOD_LABELS,
    )


def _store_name(location):
    return location.name if location is not None else _("Delivered online")


def _rows(section, name, group, refunds, *, sold=None, rate=None, reasons=True):
    """One CSV row per currency the group's refunds are in (one row with none when nothing was refunded)."""
    reason_counts = [group.by_reason.get(code, 0) for code in REASON_LABELS] if reasons else [None] * len(REASON_LABELS)
    rate_cell = None if rate is None else Number(round(rate * 100, 1))
    head = (section, name, sold, group.returned, rate_cell, group.return_count, *reason_counts)
    return [(*head, currency, Money(minor)) for currency, minor in refunds] or [(*head, None, None)]


@bp.get("/returns.csv")
@role_required("manager")
def returns_csv():
    scope, _failure = scope_from_query()
    figures = review_returns.figures(scope)
    header = (
        _("Section"),
        _("Name"),
        _("Units sold"),
        _("Units returned"),
        _("Return rate (%)"),
        _("Returns"),
        *(str(label) for label in REASON_LABELS.values()),
        _("Currency"),
        _("Refunds"),
    )
    rows = []
    for group in figures.by_store:
        rows += _rows(
            _("Store"), _store_name(group.name), group, group.refunds_sorted(), sold=group.sold, rate=group.rate
        )
    for group in figures.by_channel:
        name = str(CHANNEL_LABELS.get(group.name, group.name))
        rows += _rows(_("Channel"), name, group, group.refunds_sorted(), sold=group.sold, rate=group.rate)
    for group in figures.by_product:
        rows += _rows(_("Product"), group.name, group, group.refunds_sorted(), sold=group.sold, rate=group.rate)
    for crossing in figures.across:
        name = f"{_store_name(crossing.bought)} → {crossing.returned_at.name}"
        rows += _rows(_("Bought → returned at"), name, crossing, crossing.refunds_sorted(), reasons=False)
    where = scope.location.code if scope.location else "network"
    name = f"returns-{where}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    return csv_download(name, header, rows)
