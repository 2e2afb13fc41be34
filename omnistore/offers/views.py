"""The manager's offers (under /manager/offers): the list of the market's offers with what each brought, and the
form that defines a new one (errors at the fields). Issuing an offer to a segment is composed above, with the
lifecycle stages (clienteling/views/offers.py, on this blueprint); issuing to one customer is on the profile."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from omnistore.core.errors import ValidationFailed
from omnistore.core.types import utcnow
from omnistore.offers import labels
from omnistore.offers import services as offers
from omnistore.offers.forms import OfferDefinitionForm
from omnistore.stores import markets
from omnistore.web.rendering import role_required

bp = Blueprint("offers", __name__, url_prefix="/manager/offers")

# Screens above (clienteling) add the segment issuing to the page: a callable (offer) -> dict for the template.
SEGMENT_HOOKS = []


@bp.app_template_global("offer_value")
def offer_value(offer):
    return labels.offer_value(offer)


@bp.app_template_filter("issued_via_label")
def issued_via_label(value):
    return labels.VIA_LABELS.get(value, value)


def _form():
    form = OfferDefinitionForm()
    choices = [
        SelectChoice(m.code, f"{m.name} ({m.currency})")
        for m in markets.list_markets()
        if current_user.is_admin or m.code == current_user.location.market_code
    ]
    form.market.choices = choices
    if request.method == "GET":
        today = utcnow().date()
        form.market.data = current_user.location.market_code
        form.valid_from.data = today.isoformat()
    return form


def render_offers(form=None, status=200, **extra):
    form = form or _form()
    listed = offers.offers_for(current_user, include_past=request.args.get("past") == "1")
    return render_template(
        "offers/index.html",
        form=form,
        listed=listed,
        issued_counts=offers.issued_counts([o.id for o in listed]),
        segments=[hook() for hook in SEGMENT_HOOKS],
        **extra,
    ), status


@bp.route("/", methods=["GET", "POST"])
@role_required("manager")
def index():
    form = _form()
    if request.method == "GET":
        return render_offers(form)
    if not form.validate_on_submit():  # the token, or a choice that is not offered: said at its field
        return render_offers(form, 422)
    try:
        offer = offers.define_offer(
            offers.OfferTerms(
                name=form.name.data or "",
                kind=request.form.get("kind", "")[:10],
                value=(form.value.data or "")[:30],
                scope=request.form.get("scope", "")[:10],
                market=(request.form.get("market") or "")[:5],
                valid_from=(form.valid_from.data or "")[:20],
                valid_until=(form.valid_until.data or "")[:20],
                uses_per_customer=(form.uses_per_customer.data or "")[:10],
                category=(form.category.data or "")[:200],
                product_code=(form.product_code.data or "")[:100],
            ),
            staff=current_user,
        )
    except ValidationFailed as failure:
        for name, message in failure.fields.items():
            if hasattr(form, name):
                getattr(form, name).errors = [str(message)]
        return render_offers(form, 422, message=failure.message)
    flash(
        _("Offer “%(name)s” saved. Issue it to a segment below, or to a customer on their profile.", name=offer.name),
        "success",
    )
    return redirect(url_for("offers.index") + f"#offer-{offer.id}", 303)
