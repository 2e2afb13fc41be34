"""One customer's profile and what the clerk does on it: notes, visits, consents, wishlist, edits; the
timeline and the recommendations (loaded after the page, they are the slow part)."""

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.catalog import lookups as catalog
from omnistore.clienteling import access_log as customer_access
from omnistore.clienteling import history as customer_history
from omnistore.clienteling import lifecycle
from omnistore.clienteling.views.offers import offers_context
from omnistore.core.channels import CHANNELS
from omnistore.core.errors import DuplicateCustomer, ValidationFailed
from omnistore.core.extensions import db, htmx
from omnistore.core.types import utcnow
from omnistore.customers import finding
from omnistore.customers import services as customer_service
from omnistore.customers.contact import format_phone
from omnistore.customers.forms import ConfirmForm, EditCustomerForm, NoteForm, VisitForm
from omnistore.customers.views import bp
from omnistore.customers.views.find import _apply_errors, store_choices
from omnistore.web.forms import page_arg
from omnistore.web.rendering import login_required, render_page_or_partial
from omnistore.web.replay import replay_safe

TIER_LABELS = {"basic": _l("Member"), "silver": _l("Silver"), "gold": _l("Gold")}
VISIT_LABELS = {"visit": _l("Visit"), "check_in": _l("Check-in"), "appointment": _l("Appointment")}
# The endless-aisle order builder (another section) starts an order from here when it exists: it is called
# with ?customer_id=…&variant_id=… and the recommendation shows an "Order" link only then.
ORDER_START_ENDPOINT = "orders.new"


@bp.app_template_filter("phone")
def phone(value):
    return format_phone(value)


@bp.app_template_filter("tier_label")
def tier_label(value):
    return TIER_LABELS.get(value, value)


ACCESS_LABELS = {"view": _l("Viewed"), "export": _l("Exported"), "erase": _l("Erased"), "merge": _l("Merged")}


@bp.app_template_filter("access_label")
def access_label(value):
    return ACCESS_LABELS.get(value, value)


@bp.app_template_filter("visit_label")
def visit_label(value):
    return VISIT_LABELS.get(value, value)


@bp.app_context_processor
def _order_hook():
    def order_start_url(customer, variant=None):
        if ORDER_START_ENDPOINT not in current_app.view_functions:
            return None
        return url_for(ORDER_START_ENDPOINT, customer_id=customer.id, variant_id=variant.id if variant else None)

    return {"order_start_url": order_start_url}


@bp.app_template_filter("stage_label")
def stage_label(value):
    return lifecycle.stage_label(value)


@bp.app_template_filter("stage_action")
def stage_action(value):
    return lifecycle.stage_action(value)


@bp.app_context_processor
def _stage_hook():
    """`customer_stages(customers)` → {id: stage}, for the lists and the picker (in the customers section, below
    this one: its templates ask `customer_stages is defined`)."""

    def customer_stages(customers):
        ids = [customer.id for customer in customers or () if customer is not None]
        return lifecycle.stages_of(db.session, ids, now=utcnow())

    return {"customer_stages": customer_stages}


def load_customer(customer_id):
    """The profile to act on: 404 for an unknown or erased one."""
    return finding.get_active_customer(customer_id)


def _channel():
    channel = request.args.get("channel", "")
    return channel if channel in CHANNELS else ""


def _page():
    return min(page_arg(), 100_000)


def timeline_context(customer, *, note_form=None, note_error=None, status_code=200):
    return dict(
        customer=customer,
        timeline=customer_history.timeline(customer, channel=_channel() or None, page=_page()),
        channels=CHANNELS,
        note_form=note_form or NoteForm(),
        note_error=note_error,
        visit_form=VisitForm(),
    )


def profile_context(customer):
    offers = {k: v for k, v in offers_context(customer).items() if k not in ("customer", "consent_form")}
    return dict(
        timeline_context(customer),
        **offers,
        consents=customer_service.current_consents(customer),
        can_manage=customer_service.can_manage(current_user, customer),
        consent_form=ConfirmForm(),
        figures=customer_history.figures(customer),
        open_orders=customer_history.open_orders(customer),
        wishlist=customer_service.wishlist(customer),
        sizes=customer_history.customer_sizes(customer),
        stage=lifecycle.stage_of(db.session, customer, now=utcnow()),
        wish_error=None,
    )


@bp.get("/<int:customer_id>")
@login_required
def profile(customer_id):
    customer = load_customer(customer_id)
    if customer.merged_into_id is not None:
        flash(_("The profile you opened was merged into this one."), "info")
        return redirect(url_for(".profile", customer_id=customer.merged_into_id), 303)
    customer_access.record_access(customer, staff=current_user)
    return render_template("customers/profile.html", **profile_context(customer))


@bp.get("/<int:customer_id>/timeline")
@login_required
def timeline(customer_id):
    customer = load_customer(customer_id)
    if not htmx or htmx.boosted:
        return redirect(
            url_for(
                ".profile", customer_id=customer.id, channel=_channel() or None, page=_page() if _page() > 1 else None
            )
            + "#timeline",
            303,
        )
    return render_template("customers/_timeline.html", **timeline_context(customer))


def _back_to_profile(customer, anchor=""):
    return redirect(url_for(".profile", customer_id=customer.id) + anchor, 303)


@bp.post("/<int:customer_id>/notes")
@login_required
@replay_safe  # a tablet sends it again after a lost connection: added once
def add_note(customer_id):
    customer = load_customer(customer_id)
    form = NoteForm()
    error, status = None, 200
    try:
        customer_service.add_note(customer, form.body.data, staff=current_user)
    except ValidationFailed as failure:
        error, status = failure.message, 422
    else:
        form = NoteForm(formdata=None)
    if not htmx:
        if error:
            flash(error, "error")
        return _back_to_profile(customer, "#timeline")
    response = render_template(
        "customers/_timeline.html", **timeline_context(customer, note_form=form, note_error=error)
    )
    return response, status


@bp.post("/<int:customer_id>/visits")
@login_required
def add_visit(customer_id):
    customer = load_customer(customer_id)
    form = VisitForm()
    try:
        customer_service.record_visit(
            customer, staff=current_user, kind=form.kind.data or "visit", note=form.note.data or ""
        )
    except ValidationFailed as failure:  # shown at the form's text field, nothing recorded
        if not htmx:
            flash(failure.message, "error")
            return _back_to_profile(customer, "#timeline")
        return render_template(
            "customers/_timeline.html", **timeline_context(customer, note_error=failure.message)
        ), 422
    if not htmx:
        flash(_("Visit recorded."), "success")
        return _back_to_profile(customer, "#timeline")
    return render_template("customers/_timeline.html", **timeline_context(customer))


@bp.post("/<int:customer_id>/consents/<channel>/<answer>")
@login_required
def consent(customer_id, channel, answer):
    customer = load_customer(customer_id)
    if answer not in ("give", "withdraw"):
        raise ValidationFailed(_("Unknown consent."))
    customer_service.record_consent(customer, channel, answer == "give", staff=current_user)
    customer = finding.get_customer(customer.id)
    if not htmx:
        return _back_to_profile(customer, "#consents")
    response = make_response(
        render_template(
            "customers/_consents.html",
            customer=customer,
            consent_form=ConfirmForm(),
            consents=customer_service.current_consents(customer),
        )
    )
    response.headers["HX-Trigger"] = "consents-changed"  # the outreach panel is offered by consent: it reloads
    return response


# --- wishlist ----------------------------------------------------------------------------------------------


def _wishlist_response(customer, error=None, status=200):
    if not htmx:
        if error:
            flash(error, "error")
        return _back_to_profile(customer, "#wishlist")
    return render_template(
        "customers/_wishlist.html",
        customer=customer,
        consent_form=ConfirmForm(),
        wishlist=customer_service.wishlist(customer),
        wish_error=error,
    ), status


@bp.post("/<int:customer_id>/wishlist")
@login_required
def wishlist_add(customer_id):
    customer = load_customer(customer_id)
    variant_id = request.form.get("variant_id", type=int)
    code = request.form.get("code", "").strip()
    if variant_id is None and code:
        variant = catalog.find_variant_by_code(code)
        if variant is None:
            return _wishlist_response(
                customer,
                _(
                    "No product has the code “%(code)s”. Scan the EAN or type the SKU of the size the customer wants.",
                    code=code[:64],
                ),
                422,
            )
        variant_id = variant.id
    try:
        customer_service.add_to_wishlist(customer, variant_id, staff=current_user)
    except ValidationFailed as failure:
        return _wishlist_response(customer, failure.message, 422)
    return _wishlist_response(customer)


@bp.post("/<int:customer_id>/wishlist/<int:item_id>/remove")
@login_required
def wishlist_remove(customer_id, item_id):
    customer = load_customer(customer_id)
    customer_service.remove_from_wishlist(customer, item_id, staff=current_user)
    return _wishlist_response(customer)


# --- recommendations ---------------------------------------------------------------------------------------


@bp.get("/<int:customer_id>/recommendations")
@login_required
def recommendations(customer_id):
    customer = load_customer(customer_id)
    items = customer_history.recommendations(customer, current_user.location_id)
    return render_page_or_partial(
        "customers/recommendations.html",
        "customers/_recommendations.html",
        customer=customer,
        recommendations=items,
        consent_form=ConfirmForm(),
    )


# --- edit --------------------------------------------------------------------------------------------------


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@login_required
def edit(customer_id):
    customer = load_customer(customer_id)
    form = EditCustomerForm(obj=None if request.method == "POST" else customer)
    form.preferred_location_id.choices = store_choices()
    if request.method == "GET":
        form.phone.data = format_phone(customer.phone)
        for group in customer_service.SIZE_GROUPS:
            getattr(form, f"size_{group}").data = (customer.sizes or {}).get(group, "")
        form.locale.data = customer.locale
        return render_template("customers/edit.html", customer=customer, form=form, error=None)
    error, status = _("Please check the highlighted fields."), 422
    if form.validate_on_submit():
        changes = customer_service.ProfileChanges(
            first_name=form.first_name.data or "",
            last_name=form.last_name.data or "",
            email=form.email.data or None,
            phone=form.phone.data or None,
            preferred_location_id=form.preferred_location_id.data,
            sizes=form.sizes(),
            locale=form.locale.data,
        )
        try:
            customer_service.update_profile(customer, changes, staff=current_user)
        except DuplicateCustomer as found:
            error, status = found.message, 409
            _apply_errors(form, {found.field: found.message})
        except ValidationFailed as failure:
            error = failure.message
            _apply_errors(form, failure.fields)
        else:
            flash(_("Profile saved."), "success")
            return _back_to_profile(customer)
    return render_template("customers/edit.html", customer=customer, form=form, error=error), status
