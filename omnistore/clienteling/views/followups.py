"""After the purchase: the customer's rating page (public, /m/r/<token>/<rating>, on the marketing pages'
blueprint, in the customer's language) and the manager's list to call back (/customers/callbacks)."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from omnistore.clienteling import followups
from omnistore.core.errors import Conflict, NotFound, ValidationFailed
from omnistore.core.extensions import htmx, limiter
from omnistore.customers import marketing
from omnistore.customers.views import bp
from omnistore.customers.views.marketing import bp as public_bp
from omnistore.customers.views.marketing import render_in
from omnistore.web.forms import id_arg
from omnistore.web.rendering import render_page_or_partial, role_required


class CommentForm(FlaskForm):
    comment = TextAreaField()


class CalledForm(FlaskForm):
    note = TextAreaField()


def _action_limit():
    return current_app.config["OMNISTORE_PUBLIC_ACTION_RATE_LIMIT"]


def _rating_page(row, form=None, error=None, status=200, saved=False):
    return render_in(
        marketing.customer_locale(row.customer),
        "marketing/rated.html",
        status,
        row=row,
        form=form or CommentForm(formdata=None),
        error=error,
        saved=saved,
        comment_max=followups.COMMENT_MAX,
    )


@public_bp.get("/r/<token>/<int:rating>")
def rate(token, rating):
    """One tap from the e-mail: the rating is kept (the first one stands), and a comment can follow."""
    try:
        row = followups.rate(token, rating)
    except ValidationFailed:
        raise NotFound(_("This link is no longer valid.")) from None
    return _rating_page(row)


@public_bp.post("/r/<token>/comment")
@limiter.limit(_action_limit)
def comment(token):
    row = followups.find(token)
    form = CommentForm()
    if not form.validate_on_submit():
        return _rating_page(row, form, _("Please reload the page and try again."), 422)
    try:
        row = followups.add_comment(token, form.comment.data)
    except ValidationFailed as problem:
        form.comment.errors = [problem.fields.get("comment", problem.message)]
        return _rating_page(row, form, problem.message, 422)
    except Conflict as problem:
        return _rating_page(row, form, problem.message, 409)
    # Post/redirect/get: a reload shows the page again instead of sending the form twice.
    return redirect(url_for("marketing.rate", token=token, rating=row.rating or 1), code=303)


# --- the manager's list ---------------------------------------------------------------------------------------


def _context(store_id=None):
    to_call, done = followups.callbacks(current_user, location_id=store_id)
    return {
        "to_call": to_call,
        "done": done,
        "stores": followups.stores_for(current_user),
        "store_id": store_id,
        "form": CalledForm(formdata=None),
        "low_rating": followups.low_rating(),
    }


@bp.get("/callbacks")
@role_required("manager")
def callbacks():
    store_id = id_arg("store") if current_user.is_admin else None
    return render_page_or_partial("customers/callbacks.html", "customers/_callbacks.html", **_context(store_id))


@bp.post("/callbacks/<int:followup_id>/called")
@role_required("manager")
def called(followup_id):
    form = CalledForm()
    store_id = id_arg("store") if current_user.is_admin else None
    errors = {}
    if not form.validate_on_submit():
        errors[followup_id] = _("Please reload the page and try again.")
    else:
        try:
            followups.mark_called(followup_id, staff=current_user, note=form.note.data)
        except ValidationFailed as problem:
            errors[followup_id] = problem.fields.get("note", problem.message)
        except (Conflict, NotFound) as problem:
            errors[followup_id] = problem.message
    status = 422 if errors else 200
    if htmx:  # the list's own form (boosted or not): the list alone
        return render_template("customers/_callbacks.html", errors=errors, **_context(store_id)), status
    if errors:
        return render_template("customers/callbacks.html", errors=errors, **_context(store_id)), status
    flash(_("Marked as called."), "success")
    return redirect(url_for("customers.callbacks", store=store_id), code=303)
