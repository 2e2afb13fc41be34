"""Outreach from the profile: the panel (loaded after the page, it reads the recommendations) and the send."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from omnistore.clienteling import outreach
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import htmx
from omnistore.customers import finding
from omnistore.customers.views import bp
from omnistore.web.form_input import form_input
from omnistore.web.rendering import login_required, render_page_or_partial


class OutreachForm(FlaskForm):
    message = TextAreaField()


def _panel(customer, *, form=None, errors=None, sent=None, status=200, chosen=(), acting=False):
    """The panel; an htmx form sent from it (boosted or not, it targets the panel) gets the panel alone."""
    offered = outreach.offered(customer)
    context = dict(
        customer=customer,
        offered=offered,
        choices=outreach.choices(customer, current_user) if offered else [],
        history=outreach.sent_to(customer),
        form=form or OutreachForm(formdata=None),
        errors=errors or {},
        sent=sent,
        chosen=set(chosen),
        message_max=outreach.MESSAGE_MAX,
        products_max=outreach.PRODUCTS_MAX,
    )
    if acting and htmx:
        return render_template("customers/_outreach.html", **context), status
    return render_page_or_partial("customers/outreach.html", "customers/_outreach.html", status, **context)


@bp.get("/<int:customer_id>/outreach")
@login_required
def outreach_panel(customer_id):
    return _panel(finding.get_active_customer(customer_id))


@bp.post("/<int:customer_id>/outreach")
@login_required
@form_input(lists=("variant_id",))  # the ticked products
def outreach_send(customer_id):
    customer = finding.get_active_customer(customer_id)
    form = OutreachForm()
    chosen = request.form.getlist("variant_id")[: outreach.PRODUCTS_MAX + 1]
    if not form.validate_on_submit():
        message = _("Please reload the page and try again.")
        return _panel(customer, form=form, errors={"form": message}, status=422, acting=True)
    try:
        outreach.send_outreach(customer, staff=current_user, message=form.message.data, variant_ids=chosen)
    except ValidationFailed as problem:
        errors = dict(problem.fields, form=problem.message)
        return _panel(customer, form=form, errors=errors, status=422, chosen=chosen, acting=True)
    except Conflict as problem:
        return _panel(customer, form=form, errors={"form": problem.message}, status=409, chosen=chosen, acting=True)
    if not htmx:
        flash(_("Message sent."), "success")
        return redirect(url_for("customers.profile", customer_id=customer.id) + "#outreach", code=303)
    return _panel(customer, sent=_("Message sent."), acting=True)
