"""Offers on the customer's side of the counter: the profile's offers card (`customers/_offers.html`,
self-replacing) where a clerk issues one of the market's running offers to this customer or turns loyalty
points into a reward; and, on the manager's offers page (offers/views.py), issuing an offer to a lifecycle
segment — composed here because the stages (clienteling/lifecycle.py) sit above the offers."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.clienteling import lifecycle
from omnistore.core.errors import DomainError, NotFound, ValidationFailed
from omnistore.core.extensions import htmx
from omnistore.core.types import utcnow
from omnistore.customers import finding
from omnistore.customers.forms import ConfirmForm
from omnistore.customers.views import bp as customers_bp
from omnistore.offers import services as offers
from omnistore.offers import views as offer_views
from omnistore.web.rendering import login_required, role_required


def offers_context(customer, error=None, notice=None):
    return dict(
        customer=customer,
        consent_form=ConfirmForm(),
        customer_offers=offers.customer_offers(customer),
        issuable=offers.offers_for(current_user),
        loyalty=offers.loyalty_terms(),
        offer_error=error,
        offer_notice=notice,
        today=utcnow().date(),
    )


def _offers_response(customer, error=None, notice=None, status=200):
    if not htmx:
        flash(error or notice, "error" if error else "success")
        return redirect(url_for("customers.profile", customer_id=customer.id) + "#customer-offers", 303)
    return render_template("customers/_offers.html", **offers_context(customer, error, notice)), status


def _customer(customer_id):
    """The profile to act on: 404 for an unknown or erased one."""
    return finding.get_active_customer(customer_id)


@customers_bp.post("/<int:customer_id>/offers")
@login_required
def issue_offer(customer_id):
    """A clerk gives the customer one of the market's running offers."""
    customer = _customer(customer_id)  # ConfirmForm's token: CSRFProtect has checked it
    raw = request.form.get("offer_id", "").strip()
    try:
        offer = offers.offer_for(int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0, current_user)
        issued = offers.issue_to_customer(offer, customer, staff=current_user)
    except (NotFound, ValidationFailed) as refused:
        return _offers_response(customer, error=str(refused.message) or _("Choose an offer."), status=422)
    return _offers_response(
        customer, notice=_("“%(name)s” is on the profile: code %(code)s.", name=offer.name, code=issued.code)
    )


@customers_bp.post("/<int:customer_id>/loyalty-reward")
@login_required
def loyalty_reward(customer_id):
    customer = _customer(customer_id)
    try:
        issued = offers.loyalty_reward(customer, staff=current_user)
    except DomainError as refused:
        return _offers_response(customer, error=str(refused.message), status=422 if refused.status < 500 else 409)
    return _offers_response(customer, notice=_("Reward issued: code %(code)s.", code=issued.code))


@offer_views.bp.post("/<int:offer_id>/segment")
@role_required("manager")
def issue_to_segment(offer_id):
    """Issue the offer to every customer in a lifecycle stage: the manager's store's customers (an admin: the
    network); one set-based insert, and issuing again adds nobody twice."""
    try:
        offer = offers.offer_for(offer_id, current_user)
        stage = lifecycle.check_stage(request.form.get("stage", "")[:32])
        now = utcnow()
        segment = lifecycle.customer_ids_in_segment_select(
            stage, now=now, location_id=None if current_user.is_admin else current_user.location_id
        )
        added = offers.issue_to_customers(
            offer, segment, staff=current_user, via="segment", segment=stage.value, now=now
        )
    except ValidationFailed as failure:
        return offer_views.render_offers(
            status=422, message=failure.message, segment_error={"offer_id": offer_id, "message": failure.message}
        )
    flash(
        _(
            "%(count)d customers in “%(stage)s” got “%(name)s” (those who had it already keep theirs).",
            count=added,
            stage=lifecycle.stage_label(stage),
            name=offer.name,
        ),
        "success",
    )
    return redirect(url_for("offers.index") + f"#offer-{offer.id}", 303)


def _segment_choices():
    return {
        "template": "offers/_segment_issue.html",
        "stages": [(stage.value, lifecycle.stage_label(stage)) for stage in lifecycle.STAGES],
    }


offer_views.SEGMENT_HOOKS.append(_segment_choices)
