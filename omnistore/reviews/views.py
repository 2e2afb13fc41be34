"""The manager's pickup review: dashboard, the orders behind each figure, handover log, an order's full
timeline, CSV exports and the store's pickup settings. Managers see their store; admins any store or the
network."""

from functools import lru_cache
from urllib.parse import urlencode

from babel.dates import format_date
from babel.numbers import get_decimal_symbol
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from omnistore.core.csvfile import Money, Number
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.statuses import order_label
from omnistore.orders import services as order_service
from omnistore.orders.models import VERIFICATIONS
from omnistore.reviews import charts, dashboard, figures
from omnistore.reviews import handovers as handover_log
from omnistore.reviews import scope as review_scope
from omnistore.reviews import timeline as order_timeline
from omnistore.stores import locations as location_service
from omnistore.stores.models import WEEKDAYS
from omnistore.web.forms import WholeNumberField, id_arg, page_arg
from omnistore.web.i18n import formatting_locale, local_datetime
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required

bp = Blueprint("manager", __name__, url_prefix="/manager")

PERIOD_LABELS = {"today": _l("Today"), "7d": _l("7 days"), "30d": _l("30 days"), "custom": _l("Custom")}
VERIFICATION_LABELS = {"qr": _l("QR code"), "code_name": _l("Short code and name"), "id": _l("ID document")}
EXCEPTION_LABELS = {
    "expired": _l("Expired"),
    "cancelled_after_ready": _l("Cancelled after ready"),
    "partial": _l("Partial handover"),
    "code_failed": _l("Failed code attempt"),
}
WEEKDAY_LABELS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
SHORT_WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))


# --- scope from the query -------------------------------------------------------------------------------------


def _scope():
    """The scope the query asks for; a bad custom period falls back to 7 days with the message kept."""
    args = request.args
    store = args.get("store", "")[:20]
    try:
        return review_scope.scope_for(
            current_user,
            store=store,
            period=args.get("period", "7d"),
            first=args.get("from", "")[:20],
            last=args.get("to", "")[:20],
        ), None
    except ValidationFailed as failure:
        return review_scope.scope_for(current_user, store=store, period="7d"), failure


def _page_arg():
    return min(page_arg(), 100_000)


def _stores():
    if not current_user.is_admin:
        return []
    return [loc for loc in location_service.list_locations() if loc.is_store]


# --- formatting helpers for templates and CSV ---------------------------------------------------------------


@lru_cache(maxsize=8)
def _decimal_symbol(locale):
    return get_decimal_symbol(locale)


def _one_decimal(value):
    """1.5 → "1.5" / "1,5" for the current locale (a plain format: this runs for every cell of the league)."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", _decimal_symbol(formatting_locale()))


def duration(seconds):
    """Seconds → "35 min" / "4.5 h" / "2.3 d" (locale decimals); "—" when there is none."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("%(n)s min", n=str(round(seconds / 60)))
    if seconds < 48 * 3600:
        return _("%(n)s h", n=_one_decimal(seconds / 3600))
    return _("%(n)s d", n=_one_decimal(seconds / 86400))


def percent(rate):
    if rate is None:
        return "—"
    return _one_decimal(rate * 100) + " %"


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


@bp.app_template_filter("duration")
def _duration_filter(seconds):
    return duration(seconds)


@bp.app_template_filter("review_day")
def _review_day_filter(day):
    return format_date(day, "EEE d MMM y", locale=formatting_locale())


@bp.app_template_filter("percent")
def _percent_filter(rate):
    return percent(rate)


# --- the dashboard ----------------------------------------------------------------------------------------------


@bp.get("/")
@role_required("manager")
def index():
    scope, failure = _scope()
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
        stores=_stores(),
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
    scope, failure = _scope()
    figure = request.args.get("figure", "placed")[:40]
    source = request.args.get("source", "")[:20]
    if figure not in figures.FIGURE_LABELS:
        raise NotFound(_l("No such figure."))
    result = figures.orders_for_figure(scope, figure, source=source or None, page=_page_arg())
    return render_page_or_partial(
        "manager/orders.html",
        "manager/_orders.html",
        scope=scope,
        failure=failure,
        figure=figure,
        source=source,
        result=result,
        label=figures.FIGURE_LABELS[figure],
        stores=_stores(),
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


@bp.get("/handovers")
@role_required("manager")
def handovers():
    scope, failure = _scope()
    method = request.args.get("method", "")
    method = method if method in VERIFICATIONS else ""
    staff_id = id_arg("staff")
    result = handover_log.handovers(scope, staff_id=staff_id, method=method or None, page=_page_arg())
    return render_page_or_partial(
        "manager/handovers.html",
        "manager/_handovers.html",
        scope=scope,
        failure=failure,
        result=result,
        method=method,
        staff_id=staff_id,
        staff=handover_log.handover_staff(scope),
        exceptions=handover_log.exceptions(scope),
        stores=_stores(),
        periods=PERIOD_LABELS,
        verification_labels=VERIFICATION_LABELS,
        exception_labels=EXCEPTION_LABELS,
    )


# --- CSV exports (the format is csvfile's: BOM, semicolons, the language's decimals, formulas neutralised) -------


def _scope_name(scope):
    return scope.location.code if scope.location else "network"


def _file_name(kind, scope):
    return f"{kind}-{_scope_name(scope)}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"


def _number(value):
    return None if value is None else Number(value)


@bp.get("/figures.csv")
@role_required("manager")
def figures_csv():
    scope, _failure = _scope()
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
        (_("Sales saved by the endless aisle"), Money(result.saved_minor)),
    ]
    rows += [(_("Endless-aisle orders from %(store)s", store=s.name), s.orders) for s in result.sources]
    where = scope.location.name if scope.location else _("Network")
    header = (_("Figure"), f"{where} {scope.first_day.isoformat()} – {scope.last_day.isoformat()}")
    return csv_download(_file_name("figures", scope), header, rows)


def _hours(seconds):
    return _number(None if seconds is None else seconds / 3600)


@bp.get("/orders.csv")
@role_required("manager")
def orders_csv():
    scope, _failure = _scope()
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
    )
    return csv_download(_file_name(figure.replace("_", "-"), scope), header, rows)


def scope_zone(scope):
    """Whose clock the times are shown in: the store's, or for the network the admin's own store's."""
    return scope.location or current_user.location


@bp.get("/handovers.csv")
@role_required("manager")
def handovers_csv():
    scope, _failure = _scope()
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
    scope, _failure = _scope()
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


# --- pickup settings ----------------------------------------------------------------------------------------------


class PickupSettingsForm(FlaskForm):
    hold_days = WholeNumberField(_l("Hold days"), validators=[InputRequired(), NumberRange(1, 60)])
    reminder_day = WholeNumberField(_l("Reminder on day"), validators=[InputRequired(), NumberRange(0, 59)])
    pickup_enabled = BooleanField(_l("Pickup desk open for orders"))
    use_store_hours = BooleanField(_l("Pickup whenever the store is open"))
    mon = StringField(WEEKDAY_LABELS["mon"], validators=[Optional()])
    tue = StringField(WEEKDAY_LABELS["tue"], validators=[Optional()])
    wed = StringField(WEEKDAY_LABELS["wed"], validators=[Optional()])
    thu = StringField(WEEKDAY_LABELS["thu"], validators=[Optional()])
    fri = StringField(WEEKDAY_LABELS["fri"], validators=[Optional()])
    sat = StringField(WEEKDAY_LABELS["sat"], validators=[Optional()])
    sun = StringField(WEEKDAY_LABELS["sun"], validators=[Optional()])
    transfer_capacity = WholeNumberField(
        _l("Outgoing transfers per day"), validators=[InputRequired(), NumberRange(0, 10_000)]
    )
    safety_stock = WholeNumberField(
        _l("Safety stock (units kept for this store)"), validators=[InputRequired(), NumberRange(0, 10_000)]
    )
    sourcing_enabled = BooleanField(_l("Supplies other stores' orders"))


def _settings_location():
    code = request.args.get("store", "")[:20]
    if current_user.is_admin and code and code.upper() != "NETWORK":
        found = location_service.get_location(code, include_inactive=True)
        if found is None:
            raise NotFound(_l("No store with that code."))
        return found
    return current_user.location


@bp.route("/settings", methods=["GET", "POST"])
@role_required("manager")
def settings():
    location = _settings_location()
    form = PickupSettingsForm()
    if request.method == "GET":
        form.hold_days.data, form.reminder_day.data = location.hold_days, location.reminder_day
        form.pickup_enabled.data, form.sourcing_enabled.data = location.pickup_enabled, location.sourcing_enabled
        form.transfer_capacity.data, form.safety_stock.data = location.transfer_capacity, location.safety_stock
        form.use_store_hours.data = not location.pickup_hours
        for day in WEEKDAYS:
            source = location.pickup_hours or location.opening_hours or {}
            getattr(form, day).data = location_service.format_hours(source.get(day, []))
    elif form.validate_on_submit():
        hours, bad = {}, False
        if not form.use_store_hours.data:
            for day in WEEKDAYS:
                field = getattr(form, day)
                parsed = location_service.parse_hours((field.data or "")[:200])
                if parsed is None:
                    field.errors = [_("Give the hours as 09:30-20:00, several separated by commas.")]
                    bad = True
                hours[day] = parsed or []
        if not bad:
            try:
                _location, changes = location_service.update_pickup_settings(
                    location,
                    location_service.PickupSettings(
                        hold_days=form.hold_days.data,
                        reminder_day=form.reminder_day.data,
                        pickup_enabled=form.pickup_enabled.data,
                        sourcing_enabled=form.sourcing_enabled.data,
                        transfer_capacity=form.transfer_capacity.data,
                        safety_stock=form.safety_stock.data,
                        pickup_hours=hours,
                    ),
                    staff=current_user,
                )
            except ValidationFailed as failure:
                for name, message in failure.fields.items():
                    if hasattr(form, name):
                        getattr(form, name).errors = [str(message)]
            else:
                flash(_("Pickup settings saved.") if changes else _("Nothing changed."), "info")
                return redirect(
                    url_for("manager.settings", store=location.code if current_user.is_admin else None), 303
                )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "manager/settings.html", form=form, location=location, weekdays=WEEKDAYS, stores=_stores()
    ), status
