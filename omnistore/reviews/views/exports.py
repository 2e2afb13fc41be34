"""The manager's CSV exports: the figures, the orders behind a figure, the handovers and the league. The format
is csvfile's: BOM, semicolons, the language's decimals, formulas neutralised."""

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.core.csvfile import Money, Number
from omnistore.core.errors import NotFound
from omnistore.core.statuses import order_label
from omnistore.orders.models import VERIFICATIONS
from omnistore.reviews import dashboard, figures
from omnistore.reviews import handovers as handover_log
from omnistore.reviews import scope as review_scope
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import VERIFICATION_LABELS, scope_from_query, scope_zone
from omnistore.stores import locations as location_service
from omnistore.web.forms import id_arg
from omnistore.web.i18n import local_datetime
from omnistore.web.rendering import csv_download, role_required


def _scope_name(scope):
    return scope.location.code if scope.location else "network"


def _file_name(kind, scope):
    return f"{kind}-{_scope_name(scope)}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"


def _number(value):
    return None if value is None else Number(value)


@bp.get("/figures.csv")
@role_required("manager")
def figures_csv():
    scope, _failure = scope_from_query()
    result = dashboard.review(scope)
    counts, labels = result.counts, figures.FIGURE_LABELS
    rows = [(labels[key], counts[key]) for key in figures.COUNTED]
    rows += [
        (_("On-time rate (%)"), _number(None if result.on_time_rate is None else result.on_time_rate * 100)),
        (_("No-show rate (%)"), _number(None if result.no_show_rate is None else result.no_show_rate * 100)),
        (_("Median order to ready (h)"), _hours(result.to_ready.median)),
        (_("90th percentile order to ready (h)"), _hours(result.to_ready.p90)),
        (_("Median ready to collected (h)"), _hours(result.to_collect.median)),
        (_("90th percentile ready to collected (h)"), _hours(result.to_collect.p90)),
        (
            _("Median wait at the desk (min)"),
            _number(None if result.desk_wait.median is None else result.desk_wait.median / 60),
        ),
    ]
    # One row per currency: the network's kroner and euros are never added up.
    rows += [
        (_("Sales saved by the endless aisle (%(currency)s)", currency=currency), Money(amount))
        for currency, amount in result.saved.items()
    ] or [(_("Sales saved by the endless aisle"), Money(0))]
    rows += [(_("Endless-aisle orders from %(store)s", store=s.name), s.orders) for s in result.sources]
    where = scope.location.name if scope.location else _("Network")
    header = (_("Figure"), f"{where} {scope.first_day.isoformat()} – {scope.last_day.isoformat()}")
    return csv_download(_file_name("figures", scope), header, rows)


def _hours(seconds):
    return _number(None if seconds is None else seconds / 3600)


@bp.get("/orders.csv")
@role_required("manager")
def orders_csv():
    scope, _failure = scope_from_query()
    figure = request.args.get("figure", "placed")[:40]
    if figure not in figures.FIGURE_LABELS:
        raise NotFound(_l("No such figure."))
    source = request.args.get("source", "")[:20]
    source_id = None
    if source:
        found = location_service.get_location(source, include_inactive=True)
        if found is None:
            raise NotFound(_l("No store with that code."))
        source_id = found.id
    rows = []
    zone = scope_zone(scope)
    for o in figures.all_orders_for_figure(scope, figure, source_id=source_id):
        pickup = o.pickup
        rows.append(
            (
                o.number,
                order_label(o.status),
                o.customer.display_name if o.customer else "",
                o.pickup_location.name if o.pickup_location else "",
                local_datetime(o.placed_at, zone),
                local_datetime(pickup.ready_at, zone) if pickup else "",
                local_datetime(pickup.collected_at, zone) if pickup else "",
                Money(o.total_minor),
                o.currency,
            )
        )
    header = (
        _("Order"),
        _("Status"),
        _("Customer"),
        _("Pickup store"),
        _("Placed"),
        _("Ready"),
        _("Collected"),
        _("Total"),
        _("Currency"),
    )
    return csv_download(_file_name(figure.replace("_", "-"), scope), header, rows)


@bp.get("/handovers.csv")
@role_required("manager")
def handovers_csv():
    scope, _failure = scope_from_query()
    method = request.args.get("method", "")
    items = handover_log.handovers(
        scope, staff_id=id_arg("staff"), method=method if method in VERIFICATIONS else None, limit=50_000
    ).items
    rows = [
        (
            h.order.number,
            local_datetime(h.collected_at, scope_zone(scope)),
            h.staff_name,
            VERIFICATION_LABELS.get(h.verification, h.verification),
            _("Partial") if h.partial else _("Complete"),
        )
        for h in items
    ]
    header = (_("Order"), _("Handed over"), _("By"), _("Verification"), _("Handover"))
    return csv_download(_file_name("handovers", scope), header, rows)


@bp.get("/league.csv")
@role_required("admin")
def league_csv():
    scope, _failure = scope_from_query()
    if not scope.is_network:
        scope = review_scope.scope_for(
            current_user,
            store="network",
            period=scope.period,
            first=scope.first_day.isoformat(),
            last=scope.last_day.isoformat(),
        )
    rows = [
        (
            r.code,
            r.name,
            r.placed,
            r.ready,
            r.collected,
            r.expired,
            r.cancelled,
            r.overdue,
            _number(None if r.on_time_rate is None else r.on_time_rate * 100),
            _number(None if r.no_show_rate is None else r.no_show_rate * 100),
            _hours(r.median_to_ready),
            _hours(r.median_to_collect),
        )
        for r in dashboard.league(scope, request.args.get("sort", "no_show_rate"))
    ]
    header = (
        _("Code"),
        _("Store"),
        _("Placed"),
        _("Ready"),
        _("Collected"),
        _("Expired"),
        _("Cancelled"),
        _("Overdue now"),
        _("On-time rate (%)"),
        _("No-show rate (%)"),
        _("Median order to ready (h)"),
        _("Median ready to collected (h)"),
    )
    return csv_download(_file_name("league", scope), header, rows)
