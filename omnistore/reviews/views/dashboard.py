"""The manager's dashboard: the figures for a store or the network over a period, their charts and the stores'
league; the orders behind each figure, and an order's full timeline."""

from urllib.parse import urlencode

from babel.dates import format_date
from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.core.errors import NotFound
from omnistore.core.statuses import order_label
from omnistore.orders import services as order_service
from omnistore.reviews import charts, dashboard, figures
from omnistore.reviews import handovers as handover_log
from omnistore.reviews import timeline as order_timeline
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import (
    PERIOD_LABELS,
    VERIFICATION_LABELS,
    page_from_query,
    scope_from_query,
    store_choices,
)
from omnistore.web.i18n import formatting_locale
from omnistore.web.rendering import render_page_or_partial, role_required

SHORT_WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))


def _day_label(day):
    return format_date(day, "d MMM", locale=formatting_locale())


def _bucket_label(low, high):
    def hours(h):
        return _("%(n)d h", n=h) if h < 48 else _("%(n)d d", n=h // 24)

    if high is None:
        return "> " + hours(low)
    return "< " + hours(high) if not low else f"{hours(low)}–{hours(high)}"


def _chart_context(result):
    titles = {status: order_label(status) if status != "placed" else _("Placed") for status in dashboard.CHART_STATUSES}
    return {
        "daily_chart": charts.stacked_days(result.daily, dashboard.CHART_STATUSES, titles, _day_label),
        "status_titles": titles,
        "ready_chart": charts.histogram(result.to_ready.buckets, _bucket_label, _("Order to ready")),
        "collect_chart": charts.histogram(result.to_collect.buckets, _bucket_label, _("Ready to collected")),
        "heat": charts.heat_map(result.heat, [str(d) for d in SHORT_WEEKDAYS], _("Collections")),
    }


# --- the dashboard ----------------------------------------------------------------------------------------------


@bp.get("/")
@role_required("manager")
def index():
    scope, failure = scope_from_query()
    result = dashboard.review(scope)
    sort = request.args.get("sort", "no_show_rate")
    league = result.league(sort) if scope.is_network else None

    def league_query(code):  # one query string per store row, instead of a url_for per cell
        return urlencode(scope.query_args(store=code))

    return render_page_or_partial(
        "manager/index.html",
        "manager/_dashboard.html",
        scope=scope,
        result=result,
        failure=failure,
        stores=store_choices(),
        periods=PERIOD_LABELS,
        league=league,
        league_query=league_query,
        sort=sort,
        labels=figures.FIGURE_LABELS,
        exception_counts=handover_log.exception_counts(scope, result.counts),
        **_chart_context(result),
    )


@bp.get("/orders")
@role_required("manager")
def orders():
    scope, failure = scope_from_query()
    figure = request.args.get("figure", "placed")[:40]
    source = request.args.get("source", "")[:20]
    if figure not in figures.FIGURE_LABELS:
        raise NotFound(_l("No such figure."))
    result = figures.orders_for_figure(scope, figure, source=source or None, page=page_from_query())
    return render_page_or_partial(
        "manager/orders.html",
        "manager/_orders.html",
        scope=scope,
        failure=failure,
        figure=figure,
        source=source,
        result=result,
        label=figures.FIGURE_LABELS[figure],
        stores=store_choices(),
        periods=PERIOD_LABELS,
    )


@bp.get("/orders/<number>")
@role_required("manager")
def order(number):
    found = order_service.get_order_for_staff(number[:40], current_user)
    return render_template(
        "manager/order.html",
        order=found,
        timeline=order_timeline.timeline(found),
        verification_labels=VERIFICATION_LABELS,
    )
