"""The customer's order page at /o/<token>: no login, a phone screen, the least personal data.

Every endpoint is rate-limited per address (OMNISTORE_PUBLIC_RATE_LIMIT, POSTs also
OMNISTORE_PUBLIC_ACTION_RATE_LIMIT), every POST carries the CSRF token, and an unknown token is a
friendly 404 that says nothing about whether the order exists.
"""

from babel import Locale
from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from omnistore.core.errors import DomainError, NotFound, ValidationFailed
from omnistore.core.extensions import limiter
from omnistore.core.qr import qr_png
from omnistore.orders import notifications, order_rules, pickup_codes
from omnistore.pickups import customer as customer_pickups
from omnistore.web.errors import error_response
from omnistore.web.rendering import render_page_or_partial, wants_fragment

bp = Blueprint("public", __name__, url_prefix="/o")


def _page_limit():
    return current_app.config["OMNISTORE_PUBLIC_RATE_LIMIT"]


def _action_limit():
    return current_app.config["OMNISTORE_PUBLIC_ACTION_RATE_LIMIT"]


limiter.limit(_page_limit)(bp)

ADDRESS_FIELDS = tuple(order_rules.ADDRESS_FIELDS)  # name, street, postcode, city, country


class CheckInForm(FlaskForm):
    note = StringField(
        _l("Parking spot or note for the store (optional)"),
        validators=[
            Length(
                max=customer_pickups.NOTE_MAX_LENGTH,
                message=_l("Please keep the note to %(max)d characters.", max=customer_pickups.NOTE_MAX_LENGTH),
            )
        ],
    )


class ActionForm(FlaskForm):
    """On my way / cancel: nothing but the CSRF token."""


def _context(customer_view, form=None, error=None, ship=None):
    store = customer_view.store
    locale = str(get_locale() or "en")
    pickup = customer_view.pickup
    countries = order_rules.rules().delivery_countries
    territories = Locale.parse(locale).territories
    return {
        # "Ship home free": the address form of one rejection, with what was typed and the errors at the fields.
        "ship": ship or {"rejection_id": None, "values": {"country": store.country}, "errors": {}},
        "countries": [(code, territories.get(code, code)) for code in countries],
        "v": customer_view,
        "token": pickup.token,
        "form": form or CheckInForm(formdata=None, note=pickup.check_in_note),
        "error": error,
        "hours": notifications.hours_rows(notifications.pickup_hours(store), locale),
        "map_url": notifications.map_url(store),
        "pickup_by": notifications.local_when(pickup.pickup_by, store, locale),
        "collected_at": notifications.local_when(pickup.collected_at, store, locale),
        "note_max": customer_pickups.NOTE_MAX_LENGTH,
        "refresh_seconds": max(1, current_app.config["OMNISTORE_PUBLIC_REFRESH_SECONDS"]),
        "hours_of": lambda location: notifications.hours_rows(notifications.pickup_hours(location), locale),
        "choose_by": lambda rejection: notifications.local_when(rejection.choice_due_at, store, locale),
    }


def _render(customer_view, status_code=200, **extra):
    response = render_page_or_partial(
        "public/status.html", "public/_status.html", status_code, **_context(customer_view, **extra)
    )
    return _private(response)


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/<token>")
def status(token):
    return _render(customer_pickups.view(token))


@bp.get("/<token>/poll")
def poll(token):
    """The open page asks now and then whether the order moved on: 204 if not, else it reloads itself."""
    if customer_pickups.view(token).status == request.args.get("status", "")[:20]:
        return _private(make_response("", 204))
    response = _private(make_response("", 200))
    response.headers["HX-Refresh"] = "true"
    return response


@bp.get("/<token>/qr.png")
def qr(token):
    customer_view = customer_pickups.view(token)
    if not customer_view.show_code:
        raise NotFound(_l("This order has no code to show any more."))
    response = make_response(qr_png(pickup_codes.status_url(customer_view.pickup), box_size=10))
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _act(token, action, form_class=ActionForm, refused=None):
    """Run `action(form)` for a valid form; re-render the card with the problem where the customer looks
    (`refused(form, problem)` gives the page what the form needs to show its fields' errors)."""
    form = form_class()
    check_in_form = form if form_class is CheckInForm else None
    if not form.validate_on_submit():
        return _render(customer_pickups.view(token), 422, form=check_in_form, error=_l("Please check your input."))
    try:
        customer_view = action(form)
    except ValidationFailed as problem:
        if check_in_form is not None and "note" in problem.fields:
            check_in_form.note.errors = [problem.fields["note"]]
        extra = refused(form, problem) if refused is not None else {}
        return _render(customer_pickups.view(token), 422, form=check_in_form, error=problem.message, **extra)
    except NotFound:
        raise
    except DomainError as problem:
        extra = refused(form, problem) if refused is not None else {}
        return _render(customer_pickups.view(token), problem.status, error=problem.message, **extra)
    if wants_fragment():
        return _render(customer_view)
    return redirect(url_for("public.status", token=token), code=303)


@bp.post("/<token>/on-my-way")
@limiter.limit(_action_limit)
def on_my_way(token):
    return _act(token, lambda _form: customer_pickups.on_the_way(token))


@bp.post("/<token>/here")
@limiter.limit(_action_limit)
def here(token):
    return _act(token, lambda form: customer_pickups.check_in(token, form.note.data or ""), CheckInForm)


@bp.post("/<token>/cancel")
@limiter.limit(_action_limit)
def cancel(token):
    return _act(token, lambda _form: customer_pickups.cancel(token))


class ChoiceForm(FlaskForm):
    """Wait / collect at another store / ship home free (with the address) / leave it out, for one rejected item."""

    choice = StringField()
    store = StringField()
    name = StringField()
    street = StringField()
    postcode = StringField()
    city = StringField()
    country = StringField()


def _address_typed(form):
    """The address as typed (cut at a sane length: the address rule says what is too long)."""
    return {name: (getattr(form, name).data or "")[:400] for name in ADDRESS_FIELDS}


@bp.post("/<token>/choose/<int:rejection_id>")
@limiter.limit(_action_limit)
def choose(token, rejection_id):
    def action(form):
        store = (form.store.data or "").strip()
        store_id = int(store) if store.isascii() and store.isdigit() and len(store) < 10 else None
        choice = (form.choice.data or "")[:10]
        address = _address_typed(form) if choice == "ship" else None
        return customer_pickups.choose(token, rejection_id, choice, store_id, address)

    def refused(form, problem):
        if (form.choice.data or "") != "ship":
            return {}
        errors = getattr(problem, "fields", None) or {}
        return {"ship": {"rejection_id": rejection_id, "values": _address_typed(form), "errors": errors}}

    return _act(token, action, ChoiceForm, refused)


@bp.errorhandler(NotFound)
def _not_found(error):
    if wants_fragment():
        return error_response(404, error.message)
    return _private(make_response(render_template("public/not_found.html", message=error.message), 404))


@bp.errorhandler(429)
def _too_many(_error):
    message = _l("Too many requests from your connection. Please wait a minute and try again.")
    if wants_fragment():
        return error_response(429, message)
    return _private(make_response(render_template("public/not_found.html", message=message), 429))
