"""One customer's profile and what the clerk does on it: notes, visits, consents, wishlist, edits."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ...services import customer_privacy
from ...services import customers as customer_service
from ...services.contact import format_phone
from ...services.errors import ValidationFailed
from ..rendering import login_required, render_page_or_partial
from . import bp
from .forms import ConfirmForm, NoteForm

TIER_LABELS = {"basic": _l("Member"), "silver": _l("Silver"), "gold": _l("Gold")}


@bp.app_template_filter("phone")
def phone(value):
    return format_phone(value)


@bp.app_template_filter("tier_label")
def tier_label(value):
    return TIER_LABELS.get(value, value)


def load_customer(customer_id):
    """The profile to show: an erased one is gone (404); a merged one leads to the profile it went into."""
    customer = customer_service.get_active_customer(customer_id)
    return customer


def profile_context(customer, *, note_form=None, note_error=None):
    return dict(
        customer=customer, consents=customer_service.current_consents(customer),
        can_manage=customer_service.can_manage(current_user, customer),
        note_form=note_form or NoteForm(), note_error=note_error, consent_form=ConfirmForm(),
    )


@bp.get("/<int:customer_id>")
@login_required
def profile(customer_id):
    customer = load_customer(customer_id)
    if customer.merged_into_id is not None:
        flash(_("This profile was merged into this one."), "info")
        return redirect(url_for(".profile", customer_id=customer.merged_into_id), 303)
    customer_privacy.record_access(customer, staff=current_user)
    return render_template("customers/profile.html", **profile_context(customer))


@bp.post("/<int:customer_id>/notes")
@login_required
def add_note(customer_id):
    customer = load_customer(customer_id)
    form = NoteForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            customer_service.add_note(customer, form.body.data, staff=current_user)
        except ValidationFailed as failure:
            error, status = failure.message, 422
        else:
            form = NoteForm(formdata=None)
    else:
        error, status = _("Your session form expired. Reload the page and try again."), 400
    if not request.headers.get("HX-Request"):
        if error:
            flash(error, "error")
        return redirect(url_for(".profile", customer_id=customer.id) + "#timeline", 303)
    context = profile_context(customer, note_form=form, note_error=error)
    return render_page_or_partial("customers/profile.html", "customers/_notes.html", status, **context)


@bp.post("/<int:customer_id>/consents/<channel>/<answer>")
@login_required
def consent(customer_id, channel, answer):
    customer = load_customer(customer_id)
    if answer not in ("give", "withdraw"):
        raise ValidationFailed(_("Unknown consent."))
    form = ConfirmForm()
    if not form.validate_on_submit():
        raise ValidationFailed(_("Your session form expired. Reload the page and try again."))
    customer_service.record_consent(customer, channel, answer == "give", staff=current_user)
    return render_page_or_partial("customers/profile.html", "customers/_consents.html",
                                  **profile_context(customer_service.get_customer(customer.id)))

