"""Find a customer: search, scan a loyalty card, quick-create at the counter, and the embeddable picker."""

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from omnistore.core.errors import DuplicateCustomer, ValidationFailed
from omnistore.core.extensions import db, htmx
from omnistore.customers import finding
from omnistore.customers import services as customer_service
from omnistore.customers.contact import phone_candidates
from omnistore.customers.forms import NewCustomerForm
from omnistore.customers.views import bp
from omnistore.stores.models import Location
from omnistore.web.forms import id_arg
from omnistore.web.rendering import login_required, render_page_or_partial

_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CONSENT = {"yes": True, "no": False}


def store_choices():
    stores = db.session.scalars(
        select(Location).where(Location.kind == "store", Location.active).order_by(Location.name)
    ).all()
    return [SelectChoice("", _("No preferred store"))] + [SelectChoice(store.id, store.name) for store in stores]


def _go(url):
    """303 to `url`; an htmx request (the as-you-type search) gets a full page load of it instead."""
    if htmx:
        response = current_app.response_class(status=200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


# --- search and scan ---------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    """The search page; an htmx request gets the results only. A loyalty number or card opens the profile."""
    q = request.args.get("q", "")
    status, error, results = 200, None, None
    if q.strip() and (customer := finding.find_by_loyalty_code(q)) is not None:
        return _go(url_for(".profile", customer_id=customer.id))
    try:
        results = finding.search_customers(q)
    except ValidationFailed as failure:
        status, error = 422, failure.message
    response = render_page_or_partial(
        "customers/search.html", "customers/_results.html", status, q=q.strip()[:200], results=results, error=error
    )
    if htmx and not htmx.boosted:
        response.headers["HX-Push-Url"] = url_for(".index", q=q.strip() or None)
    return response


@bp.get("/scan")
@login_required
def scan():
    """A scanned loyalty QR code or card barcode: the profile, else the search for what was scanned."""
    code = request.args.get("code", "")[:200]
    customer = finding.find_by_loyalty_code(code)
    if customer is not None:
        return redirect(url_for(".profile", customer_id=customer.id), 303)
    return redirect(url_for(".index", q=" ".join(code.split()) or None), 303)


# --- quick-create ------------------------------------------------------------------------------------------


def prefill_values(q) -> dict:
    """What the clerk searched for, as the start of a new profile: an email, a phone number or a name."""
    q = " ".join((q or "").split())[:200]
    if not q:
        return {}
    if "@" in q:
        return {"email": q}
    if phone_candidates(q):
        return {"phone": q}
    if not any(ch.isdigit() for ch in q):
        first, _, last = q.rpartition(" ")
        return {"first_name": first, "last_name": last}
    return {}


def _prefill(form, q):
    for name, value in prefill_values(q).items():
        getattr(form, name).data = value


def _new_customer(form):
    return customer_service.NewCustomer(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        email=form.email.data or None,
        phone=form.phone.data or None,
        preferred_location_id=form.preferred_location_id.data,
        consents={"email": _CONSENT.get(form.consent_email.data), "sms": _CONSENT.get(form.consent_sms.data)},
    )


def _apply_errors(form, fields):
    for name, message in fields.items():
        target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors or []), str(message)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = NewCustomerForm()
    form.preferred_location_id.choices = store_choices()
    if request.method == "GET":
        form.preferred_location_id.data = current_user.location_id if current_user.location.is_store else None
        _prefill(form, request.args.get("q"))
        return render_template("customers/new.html", form=form, duplicate=None, error=None)
    status, duplicate, error = 422, None, None
    if form.validate_on_submit():
        try:
            customer = customer_service.create_customer(_new_customer(form), staff=current_user)
        except DuplicateCustomer as found:
            status, duplicate, error = 409, found.existing, found.message
            _apply_errors(form, {found.field: found.message} if found.field else {})
        except ValidationFailed as failure:
            error = failure.message
            _apply_errors(form, failure.fields)
        else:
            flash(_("Profile created for %(name)s.", name=customer.display_name), "success")
            return redirect(url_for(".profile", customer_id=customer.id), 303)
    else:
        error = _("Please check the highlighted fields.")
    return render_template("customers/new.html", form=form, duplicate=duplicate, error=error), status


# --- the picker other pages embed ------------------------------------------------------------------------


def picker_context(
    field="customer_id",
    customer=None,
    *,
    allow_create=True,
    q="",
    results=None,
    errors=None,
    typed=None,
    duplicate=None,
    message=None,
    autofocus=False,
):
    """Everything templates/customers/_picker.html needs. Pages include it with
    `{% set picker = customer_picker("customer_id") %}{% include "customers/_picker.html" %}`.
    `autofocus`: the search box takes the focus (the page's first step is choosing the customer)."""
    return dict(
        field=field,
        customer=customer,
        allow_create=allow_create,
        q=q,
        results=results,
        errors=errors or {},
        typed=typed or {},
        duplicate=duplicate,
        message=message,
        autofocus=autofocus,
    )


@bp.app_context_processor
def _picker_helper():
    return {"customer_picker": picker_context}


def _picker_field():
    field = request.values.get("field", "customer_id")
    if not _FIELD_RE.match(field):
        abort(400)
    return field


def _allow_create():
    return request.values.get("create", "1") != "0"


@bp.get("/picker/search")
@login_required
def picker_search():
    field, q = _picker_field(), request.args.get("picker_q", "")
    try:
        results, message = finding.search_customers(q, limit=8), None
    except ValidationFailed as failure:
        results, message = [], failure.message
    picker = picker_context(field, allow_create=_allow_create(), q=q.strip()[:200], results=results, message=message)
    return render_template("customers/_picker_results.html", picker=picker)


@bp.get("/picker")
@login_required
def picker_choose():
    """The picker with `customer` chosen (its id in the hidden input), or empty again without it (its search
    box focused: the clerk is about to type). With `new` (what was typed in the search): the quick-create form
    open and started with it, as the customers page's "Create a profile" does."""
    field, customer = _picker_field(), None
    if (customer_id := id_arg("customer")) is not None:
        customer = finding.get_customer(customer_id)
        if not customer.active:
            abort(404)
    typed = prefill_values(request.args.get("new", "")) if customer is None else {}
    picker = picker_context(
        field,
        customer,
        allow_create=_allow_create(),
        typed=typed,
        q=" ".join(request.args.get("new", "").split())[:200] if typed else "",
        autofocus=customer is None and not typed,
    )
    return render_template("customers/_picker.html", picker=picker)


@bp.post("/picker/create")
@login_required
def picker_create():
    field = _picker_field()
    values = {
        name: request.form.get(f"{field}_{name}", "")[:300]
        for name in ("first_name", "last_name", "email", "phone", "consent_email", "consent_sms")
    }
    data = customer_service.NewCustomer(
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"] or None,
        phone=values["phone"] or None,
        preferred_location_id=current_user.location_id if current_user.location.is_store else None,
        consents={"email": _CONSENT.get(values["consent_email"]), "sms": _CONSENT.get(values["consent_sms"])},
    )
    try:
        customer = customer_service.create_customer(data, staff=current_user)
    except DuplicateCustomer as found:
        picker = picker_context(field, typed=values, duplicate=found.existing, message=found.message)
        return render_template("customers/_picker.html", picker=picker), 409
    except ValidationFailed as failure:
        picker = picker_context(
            field, typed=values, errors={k: str(v) for k, v in failure.fields.items()}, message=failure.message
        )
        return render_template("customers/_picker.html", picker=picker), 422
    return render_template("customers/_picker.html", picker=picker_context(field, customer))
