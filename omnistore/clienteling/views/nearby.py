""" "Available near you" on the screens: the clerk records "notify me" for a customer (from the network panel of
a variant this store cannot offer) and cancels it on the profile; and the public page behind the e-mail's button
(/n/<token>: no login, a phone screen, the customer's language, rate-limited per address), which holds the unit.
"""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.catalog import lookups as catalog
from omnistore.clienteling import nearby
from omnistore.clienteling.views.profile import load_customer
from omnistore.core.errors import DomainError, NotFound, ValidationFailed
from omnistore.core.extensions import htmx, limiter
from omnistore.customers import finding, notify
from omnistore.customers import services as customer_service
from omnistore.customers.forms import ConfirmForm
from omnistore.customers.views import bp
from omnistore.customers.views.find import picker_context
from omnistore.customers.views.marketing import render_in
from omnistore.orders.notifications import hours_rows, local_when, map_url
from omnistore.web.forms import id_arg
from omnistore.web.rendering import login_required

public_bp = Blueprint("nearby", __name__, url_prefix="/n")


def _page_limit():
    return current_app.config["OMNISTORE_PUBLIC_RATE_LIMIT"]


def _action_limit():
    return current_app.config["OMNISTORE_PUBLIC_ACTION_RATE_LIMIT"]


limiter.limit(_page_limit)(public_bp)


# --- "notify me", taken at the counter ---------------------------------------------------------------------


def _notify_page(variant, *, customer=None, error=None, status=200):
    consented = None
    if customer is not None:
        consented = bool(customer_service.current_consents(customer).get("email", {}).get("granted"))
    return (
        render_template(
            "customers/notify.html",
            variant=variant,
            picker=picker_context("customer_id", customer, autofocus=customer is None),
            form=ConfirmForm(),
            error=error,
            consented=consented,
        ),
        status,
    )


@bp.get("/notify")
@login_required
def notify_new():
    """Choose the customer to tell when `variant_id` is available near them."""
    variant = catalog.get_variant(id_arg("variant_id"))
    if variant is None:
        raise NotFound(_("We could not find that product variant."))
    customer = None
    if (customer_id := id_arg("customer_id")) is not None:
        customer = finding.get_active_customer(customer_id)
    return _notify_page(variant, customer=customer)


@bp.post("/notify")
@login_required
def notify_create():
    variant = catalog.get_variant(id_arg("variant_id", request.form))
    if variant is None:
        raise NotFound(_("We could not find that product variant."))
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _notify_page(variant, error=_("Please try again."), status=400)
    customer_id = id_arg("customer_id", request.form)
    if customer_id is None:
        return _notify_page(variant, error=_("Choose the customer first."), status=422)
    customer = finding.get_active_customer(customer_id)
    try:
        notify.request_notification(customer, variant.id, staff=current_user)
    except ValidationFailed as failure:
        return _notify_page(variant, customer=customer, error=failure.message, status=422)
    flash(
        _(
            "We will e-mail %(name)s when %(product)s (%(size)s) is available near them.",
            name=customer.display_name,
            product=variant.product.name,
            size=variant.label or variant.sku,
        ),
        "success",
    )
    return redirect(url_for("customers.profile", customer_id=customer.id, _anchor="notify-requests"), 303)


def notify_requests_context(customer):
    return dict(customer=customer, notify_requests=notify.notification_requests(customer), consent_form=ConfirmForm())


@bp.post("/<int:customer_id>/notify/<int:request_id>/cancel")
@login_required
def notify_cancel(customer_id, request_id):
    customer = load_customer(customer_id)
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed(_("Please try again."))
    notify.cancel_notification(customer, request_id, staff=current_user)
    if htmx and not htmx.boosted:
        return render_template("customers/_notify_requests.html", **notify_requests_context(customer))
    return redirect(url_for("customers.profile", customer_id=customer.id, _anchor="notify-requests"), 303)


@bp.app_context_processor
def _notify_hooks():
    def notify_requests_of(customer):
        return notify.notification_requests(customer)

    return {"notify_requests_of": notify_requests_of, "has_notify_entry": True}


# --- the e-mail's button -------------------------------------------------------------------------------------


def _offer_page(offer, status=200, error=None):
    store = offer.store
    context = dict(
        offer=offer,
        error=error,
        hours=hours_rows(store.opening_hours or {}, offer.locale),
        map_url=map_url(store),
        held_until=local_when(offer.held_until, store, offer.locale) if offer.held_until else "",
        form=ConfirmForm(),
    )
    return render_in(offer.locale, "nearby/offer.html", status, **context)


@public_bp.get("/<token>")
def offer(token):
    return _offer_page(nearby.offer(token))


@public_bp.post("/<token>/hold")
@limiter.limit(_action_limit)
def hold(token):
    current = nearby.offer(token)  # an unknown link: the friendly 404 below
    if not ConfirmForm().validate_on_submit():
        return _offer_page(current, 400, _("Please try again."))
    try:
        nearby.hold(token)
    except NotFound:
        raise
    except DomainError as refused:  # the unit went meanwhile, or the offer has ended: say so, hold nothing
        return _offer_page(nearby.offer(token), refused.status, refused.message)
    return redirect(url_for("nearby.offer", token=token), 303)


@public_bp.errorhandler(NotFound)
def _not_found(error):
    return render_in(None, "marketing/not_found.html", 404, message=error.message)
