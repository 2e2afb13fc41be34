"""The markets screen, for admins (the network's role; a store's manager and clerks get 403): every market with
its terms — name, currency (fixed once it has orders), the customers' default language, the VAT rate documents
show, the delivery fee and free-delivery threshold in its currency, the postcode rule, the return window — and
which market each location sells in. It calls the verbs `flask market save` and `flask market assign` call
(stores/markets.py: save_market, assign_location), which check, audit and save."""

import dataclasses

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.stores import locations, markets
from omnistore.stores.models import LOCALES
from omnistore.web.forms import HundredthsField, WholeNumberField
from omnistore.web.rendering import render_page_or_partial, role_required, wants_fragment

bp = Blueprint("markets", __name__, url_prefix="/markets")

# The form's fields and the names save_market's errors use for them.
FIELDS = {
    "name": "name",
    "currency": "currency",
    "locale": "locale",
    "vat_rate": "vat_rate_bp",
    "shipping_fee": "shipping_fee_minor",
    "free_shipping_from": "free_shipping_from_minor",
    "postcode_rule": "postcode_rule",
    "return_window_days": "return_window_days",
}


class MarketForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=100)])
    currency = StringField(_l("Currency (ISO code)"), validators=[InputRequired(), Length(max=3)])
    locale = SelectField(_l("Customers' default language"), validators=[InputRequired()])
    vat_rate = HundredthsField(_l("VAT rate on documents (%)"), validators=[InputRequired()], maximum=10000)
    shipping_fee = HundredthsField(_l("Delivery fee"), validators=[InputRequired()])
    free_shipping_from = HundredthsField(_l("Free delivery from"), validators=[InputRequired()])
    postcode_rule = SelectField(_l("Postcode rule"))
    return_window_days = WholeNumberField(
        _l("Return window (days)"),
        validators=[Optional(), NumberRange(1, markets.MAX_RETURN_WINDOW_DAYS)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = current_app.config["LANGUAGES"]
        self.locale.choices = [(code, names.get(code, code)) for code in LOCALES]
        self.postcode_rule.choices = [(key, str(rule.label)) for key, rule in markets.POSTCODE_RULES.items()]


class AssignForm(FlaskForm):
    location = StringField(validators=[InputRequired(), Length(max=16)])
    market = StringField(validators=[InputRequired(), Length(max=2)])


def _filled(market) -> MarketForm:
    form = MarketForm(formdata=None, prefix=market.code)
    form.name.data, form.currency.data, form.locale.data = market.name, market.currency, market.locale
    form.vat_rate.data = market.vat_rate_bp
    form.shipping_fee.data, form.free_shipping_from.data = market.shipping_fee_minor, market.free_shipping_from_minor
    form.postcode_rule.data, form.return_window_days.data = market.postcode_rule, market.return_window_days
    return form


def _context(forms=None, messages=None, assign_errors=None, moved=None):
    forms, messages = forms or {}, messages or {}
    found = markets.list_markets()
    return dict(
        markets=found,
        forms={m.code: forms.get(m.code) or _filled(m) for m in found},
        messages=messages,
        network_days=markets.return_window_days(None),
        locations=locations.list_locations(include_inactive=True),
        assign_errors=assign_errors or {},
        moved=moved,
    )


@bp.get("/")
@role_required("admin")
def index():
    return render_page_or_partial("markets/index.html", "markets/_list.html", **_context())


@bp.post("/<code>")
@role_required("admin")
def save(code):
    market = markets.market_for(code[:2])
    form = MarketForm(prefix=market.code)
    if form.validate_on_submit():
        before = markets.terms_of(market)
        terms = dataclasses.replace(
            before,
            name=form.name.data,
            currency=form.currency.data,
            locale=form.locale.data,
            vat_rate_bp=form.vat_rate.data,
            shipping_fee_minor=form.shipping_fee.data,
            free_shipping_from_minor=form.free_shipping_from.data,
            postcode_rule=form.postcode_rule.data,
            return_window_days=form.return_window_days.data,
        )
        try:
            saved = markets.save_market(terms, staff=current_user)
        except ValidationFailed as failure:
            by_verb = {verb: name for name, verb in FIELDS.items()}
            for verb_field, message in failure.fields.items():
                getattr(form, by_verb.get(verb_field, "name")).errors = [str(message)]
        else:
            message = _("%(market)s saved.", market=saved.name) if markets.terms_of(saved) != before else None
            message = message or _("Nothing changed.")
            if not wants_fragment():
                flash(message, "info")
                return redirect(url_for("markets.index"), 303)
            return _card(saved, None, message)
    if not wants_fragment():
        return render_page_or_partial("markets/index.html", "markets/_list.html", 422, **_context({market.code: form}))
    return _card(market, form, None, 422)


def _card(market, form, message, status=200):
    db_market = markets.market_for(market.code)
    return render_page_or_partial(
        "markets/index.html",
        "markets/_market.html",
        status,
        market=db_market,
        form=form or _filled(db_market),
        message=message,
        network_days=markets.return_window_days(None),
    )


@bp.post("/assign")
@role_required("admin")
def assign():
    form = AssignForm()
    errors, moved = {}, None
    if not form.validate_on_submit():
        errors["location"] = _("Choose a location and a market.")
    else:
        try:
            moved = markets.assign_location(form.location.data, form.market.data, staff=current_user)
        except (NotFound, ValidationFailed) as refused:
            errors[refused.detail.get("field") or "location"] = refused.message
    status = 422 if errors else 200
    if not wants_fragment():
        if not errors:
            flash(_("%(location)s now sells in %(market)s.", location=moved.name, market=moved.market_code), "info")
            return redirect(url_for("markets.index"), 303)
        return render_page_or_partial(
            "markets/index.html", "markets/_list.html", status, **_context(assign_errors=errors)
        )
    return render_page_or_partial(
        "markets/index.html",
        "markets/_assignments.html",
        status,
        **_context(assign_errors=errors, moved=moved),
    )
