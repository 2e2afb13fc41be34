"""The manager's customers per lifecycle stage (a segment): the stage chips with their counts, the list a page at
a time, and its CSV file — of the manager's store, or for an admin any store or the network."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField

from omnistore.clienteling.lifecycle import STAGES, Stage, stage_label
from omnistore.core.channels import CHANNELS
from omnistore.core.csvfile import Money, Number
from omnistore.core.errors import ValidationFailed
from omnistore.reviews import customer_figures, segments
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, page_from_query, scope_from_query, scope_zone, store_choices
from omnistore.web.i18n import CHANNEL_LABELS, local_datetime
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required

DEFAULT_STAGE = Stage.AT_RISK  # the segment a manager acts on first


def _stage_arg():
    return request.args.get("stage", DEFAULT_STAGE.value)[:40]


@bp.get("/customers")
@role_required("manager")
def customers():
    scope, failure = scope_from_query()
    stage, error, result, status = _stage_arg(), None, None, 200
    try:
        result = segments.members(scope, stage, page=page_from_query())
    except ValidationFailed as refused:
        error, status = refused.message, 422
    return render_page_or_partial(
        "manager/customers.html",
        "manager/_customers.html",
        status_code=status,
        scope=scope,
        failure=failure,
        stores=store_choices(),
        periods=PERIOD_LABELS,
        no_period=True,
        stage=stage if error is None else "",
        stage_error=error,
        stages=STAGES,
        counts=segments.stage_counts(scope),
        result=result,
    )


@bp.get("/customers.csv")
@role_required("manager")
def customers_csv():
    scope, _failure = scope_from_query()
    stage = _stage_arg()
    members = segments.all_members(scope, stage, staff=current_user)
    zone = scope_zone(scope)
    rows = [
        (
            m.customer.id,
            m.customer.display_name,
            m.customer.loyalty_number or "",
            stage_label(m.stage),
            m.orders,
            local_datetime(m.last_order_at, zone) if m.last_order_at else "",
            local_datetime(m.last_visit_at, zone) if m.last_visit_at else "",
            m.customer.preferred_location.name if m.customer.preferred_location else "",
        )
        for m in members
    ]
    header = (
        _("Customer number"),
        _("Name"),
        _("Loyalty number"),
        _("Stage"),
        _("Orders"),
        _("Last purchase"),
        _("Last visit"),
        _("Preferred store"),
    )
    where = scope.location.code if scope.location else "network"
    return csv_download(f"customers-{stage}-{where}-{scope.now.date().isoformat()}.csv", header, rows)


# --- the customer figures, and the acquisition spend a manager enters --------------------------------------------


class SpendForm(FlaskForm):
    month = StringField(_l("Month"))
    channel = SelectField(_l("Channel"), choices=[], validate_choice=False)
    currency = SelectField(_l("Currency"), choices=[], validate_choice=False)
    amount = StringField(_l("Amount spent"))


def _spend_form(scope, form=None):
    form = form or SpendForm()
    form.channel.choices = [(c, channel_label(c)) for c in CHANNELS]
    form.currency.choices = [(c, c) for c in customer_figures.currencies()]
    if not form.is_submitted():
        form.month.data = scope.last_day.strftime("%Y-%m")
        market_currency = scope.location.market.currency if scope.location and scope.location.market else None
        form.currency.data = market_currency
    return form


def _figures_page(scope, failure, form, spend_error=None, status=200):
    return render_page_or_partial(
        "manager/customer_figures.html",
        "manager/_customer_figures.html",
        status_code=status,
        scope=scope,
        failure=failure,
        stores=store_choices(),
        periods=PERIOD_LABELS,
        figures=customer_figures.customer_figures(scope),
        stages=STAGES,
        spend=customer_figures.spend_rows(scope),
        form=form,
        spend_error=spend_error,
        may_enter_spend=scope.location is not None or current_user.is_admin,
    )


@bp.get("/customer-figures")
@role_required("manager")
def customer_figures_page():
    scope, failure = scope_from_query()
    return _figures_page(scope, failure, _spend_form(scope))


@bp.post("/customer-figures/spend")
@role_required("manager")
def acquisition_spend():
    scope, failure = scope_from_query()
    form = _spend_form(scope, SpendForm())
    if not form.validate_on_submit():
        return _figures_page(scope, failure, form, _("The form expired; send it again."), 422)
    entry = customer_figures.SpendEntry(
        month=(form.month.data or "")[:20],
        channel=(form.channel.data or "")[:20],
        currency=(form.currency.data or "")[:10],
        amount=(form.amount.data or "")[:40],
    )
    try:
        customer_figures.set_spend(scope, entry, staff=current_user)
    except ValidationFailed as refused:
        for name, message in refused.fields.items():
            getattr(form, name).errors = [message]
        return _figures_page(scope, failure, form, refused.message, 422)
    flash(_("Spend saved."), "success")
    return redirect(url_for(".customer_figures_page", **scope.query_args()) + "#acquisition", 303)


@bp.get("/customer-figures.csv")
@role_required("manager")
def customer_figures_csv():
    scope, _failure = scope_from_query()
    f = customer_figures.customer_figures(scope)
    rows = []
    for row in f.lifetime_value:
        rows.append((_("Customers who bought (%(currency)s)", currency=row.currency), row.customers))
        rows.append((_("Lifetime value, net of returns (%(currency)s)", currency=row.currency), Money(row.net_minor)))
        rows.append(
            (_("Average lifetime value per customer (%(currency)s)", currency=row.currency), Money(row.average_minor))
        )
    rows += [(_("New customers: %(channel)s", channel=channel_label(c)), n) for c, n in f.new_customers.items()]
    rows += [
        (_("Buyers"), f.buyers),
        (_("Returning buyers"), f.returning_buyers),
        (_("Returning buyers (%)"), _percent(f.returning_share)),
        (_("Visits"), f.visits),
        (_("Visitors"), f.visitors),
        (_("Repeat visitors"), f.repeat_visitors),
        (_("Repeat visitors (%)"), _percent(f.repeat_visit_share)),
    ]
    rows += [(_("Customers at the end: %(stage)s", stage=stage_label(s)), n) for s, n in f.stages.items()]
    rows += [
        (
            _("Moved from %(from)s to %(to)s", **{"from": stage_label(a) if a else "—", "to": stage_label(b)}),
            n,
        )
        for a, b, n in f.movements
    ]
    for r in f.acquisition:
        what = f"{r.month.strftime('%Y-%m')} {channel_label(r.channel)} ({r.currency})"
        rows.append((_("Spend %(what)s", what=what), Money(r.spend_minor)))
        rows.append((_("New customers %(what)s", what=what), r.new_customers))
        rows.append((_("Cost per new customer %(what)s", what=what), Money(r.cost_minor)))
    for clerk in f.clerks:
        rows.append((_("Endless-aisle orders placed by %(name)s", name=clerk.name), clerk.orders))
        rows += [
            (_("Sales of %(name)s's endless-aisle orders (%(currency)s)", name=clerk.name, currency=currency), Money(v))
            for currency, v in clerk.sales.items()
        ]
    for total in f.offers:
        rows += [
            (_("Offers issued (%(currency)s)", currency=total.currency), total.issued),
            (_("Offers redeemed (%(currency)s)", currency=total.currency), total.redeemed),
            (_("Offer discount given (%(currency)s)", currency=total.currency), Money(total.discount_minor)),
            (_("Sales brought by offers (%(currency)s)", currency=total.currency), Money(total.sales_minor)),
        ]
    for clerk in f.outreach:
        rows.append((_("Orders after outreach by %(name)s", name=clerk.name), clerk.orders))
        rows += [
            (_("Sales after outreach by %(name)s (%(currency)s)", name=clerk.name, currency=currency), Money(v))
            for currency, v in clerk.sales.items()
        ]
    where = scope.location.name if scope.location else _("Network")
    header = (_("Figure"), f"{where} {scope.first_day.isoformat()} – {scope.last_day.isoformat()}")
    code = scope.location.code if scope.location else "network"
    name = f"customer-figures-{code}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    return csv_download(name, header, rows)


def channel_label(channel):
    return CHANNEL_LABELS.get(channel, channel)


def _percent(value):
    return None if value is None else Number(round(value * 100, 1))
