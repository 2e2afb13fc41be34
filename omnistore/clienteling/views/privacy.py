"""Managers on a profile: the access log, export (one ZIP: JSON and the timeline as CSV), erase, merge.
Clerks get 403 here; managers of another store too, unless the customer has no preferred store."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.clienteling import access_log as customer_access
from omnistore.clienteling import erasure as customer_erasure
from omnistore.clienteling import export as customer_export
from omnistore.clienteling import merging as customer_merging
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.customers import finding
from omnistore.customers import services as customer_service
from omnistore.customers.forms import ConfirmForm, EraseForm
from omnistore.customers.views import bp
from omnistore.customers.views.find import picker_context
from omnistore.web.forms import id_arg
from omnistore.web.rendering import role_required


def _managed(customer_id):
    customer = finding.get_active_customer(customer_id)
    customer_service.require_manage(current_user, customer)
    return customer


@bp.get("/<int:customer_id>/access-log")
@role_required("manager")
def access_log(customer_id):
    customer = _managed(customer_id)
    entries = customer_access.access_log(customer, staff=current_user)
    return render_template(
        "customers/access_log.html", customer=customer, entries=entries, merges=customer_merging.merges_into(customer)
    )


@bp.get("/<int:customer_id>/export")
@role_required("manager")
def export(customer_id):
    customer = _managed(customer_id)
    data = customer_export.export_zip(customer, staff=current_user)
    filename = f"customer-{customer.id}-export.zip"
    return data, 200, {"Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{filename}"'}


@bp.route("/<int:customer_id>/erase", methods=["GET", "POST"])
@role_required("manager")
def erase(customer_id):
    customer = _managed(customer_id)
    form = EraseForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            customer_erasure.erase_customer(customer, staff=current_user, confirmation=form.confirm.data)
        except ValidationFailed as failure:
            form.confirm.errors = [failure.message]
            return render_template("customers/erase.html", customer=customer, form=form), 422
        except Conflict as clash:  # merged or erased by someone else a moment ago
            form.confirm.errors = [clash.message]
            return render_template("customers/erase.html", customer=customer, form=form), 409
        flash(_("The customer's personal data was erased. Orders stay for accounting without it."), "success")
        return redirect(url_for(".index"), 303)
    return render_template("customers/erase.html", customer=customer, form=form)


@bp.route("/<int:customer_id>/merge", methods=["GET", "POST"])
@role_required("manager")
def merge(customer_id):
    customer = _managed(customer_id)
    form = ConfirmForm()
    other, error, status = None, None, 200
    if request.method == "POST":
        other_id = id_arg("other_id", request.form)
        if other_id is None:
            error, status = _("Choose the profile to merge into this one."), 422
        else:
            other = _managed(other_id)
            if request.form.get("confirmed") == "1" and form.validate_on_submit():
                try:
                    customer_merging.merge_customers(customer, other, staff=current_user)
                except ValidationFailed as failure:
                    error, status, other = failure.message, 422, None
                except Conflict as clash:  # one of the two was merged or erased a moment ago
                    error, status, other = clash.message, 409, None
                else:
                    flash(
                        _(
                            "%(merged)s was merged into this profile. Nothing was lost: orders, notes, consents, "
                            "visits, wishlist and points moved here.",
                            merged=other.display_name,
                        ),
                        "success",
                    )
                    return redirect(url_for(".profile", customer_id=customer.id), 303)
    picker = picker_context("other_id", other, allow_create=False)
    return render_template(
        "customers/merge.html", customer=customer, other=other, picker=picker, form=form, error=error
    ), status
