"""The order builder at the counter (endless aisle): one screen per order draft.

GET /orders/new[?variant_id=&customer_id=] starts a draft for the clerk's store (from a product page, the
network panel, a scan or a customer profile) and goes to its page, /orders/drafts/<token>. On that page the
clerk chooses the customer (the customers picker), adds items (scan or search, + and −), chooses how the
customer gets them, sees the sourcing proposal and the held units' countdown, and places the order. Every
form posts with htmx and gets the builder component (`orders/_draft.html`, self-replacing) back — with the
problem at the field when the input is refused; without JavaScript the forms post normally and come back
to the page. The rules (quantities, addresses, pickup desks, holds, placing) are orders/drafts.py's and
orders/placing.py's.
"""

import uuid

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.catalog import lookups as catalog
from omnistore.core.errors import DomainError, InsufficientStock, NotFound, ValidationFailed
from omnistore.offers import services as offers
from omnistore.orders import counter, order_rules, sourcing
from omnistore.orders import discounts as order_discounts
from omnistore.orders import drafts as order_drafts
from omnistore.orders import placing as ordering
from omnistore.orders.forms import (
    ActionForm,
    AddItemForm,
    CustomerForm,
    FulfilmentForm,
    LineForm,
    OfferForm,
    PlaceForm,
    StartArgs,
)
from omnistore.orders.views.orders import bp
from omnistore.web.forms import field_errors, refusal
from omnistore.web.rendering import login_required, render_page_or_partial, wants_fragment

ADDRESS_FIELDS = ("name", "street", "postcode", "city", "country")


@bp.get("/new")
@login_required
def new():
    """Start an order for the clerk's store, with the customer and/or the variant it was started from."""
    args = StartArgs(request.args)
    args.validate()
    problems = [field.errors[0] for field in args if field.errors]  # shown on the draft's page
    customer_id = None if args.customer_id.errors else args.customer_id.data
    variant_id = None if args.variant_id.errors else args.variant_id.data
    # Tapping "New order" twice gives one empty draft, not a pile of them.
    draft = next(
        (
            d
            for d in order_drafts.open_drafts(current_user, limit=10)
            if d.staff_id == current_user.id and not d.lines and d.customer_id is None
        ),
        None,
    )
    if draft is None and customer_id is not None:
        try:  # the customer chosen as the draft is made: one transaction rather than two
            draft = order_drafts.start_draft(current_user, customer_id=customer_id)
        except DomainError as refused:
            problems.append(refused.message)
        customer_id = None  # chosen with the draft, or refused
    draft = draft or order_drafts.start_draft(current_user)
    if customer_id is not None:
        try:
            order_drafts.set_customer(draft, customer_id, staff=current_user)
        except DomainError as refused:
            problems.append(refused.message)
    if variant_id is not None:
        try:
            order_drafts.set_line(draft, variant_id, 1, staff=current_user)
        except DomainError as refused:
            problems.append(refused.message)
    for problem in problems:
        flash(str(problem), "error")
    return redirect(url_for("orders.draft", token=draft.token), 303)


def _draft(token):
    return order_drafts.draft_for(token[:64], current_user)


def _context(
    draft,
    state=None,
    *,
    errors=None,
    message=None,
    notice=None,
    typed=None,
    choice=None,
    results=None,
    query="",
    focus=None,
):
    state = state or order_drafts.draft_state(draft)
    planned = {}
    if state.proposal is not None:
        planned = {line.variant_id: line for line in state.proposal.lines}
    if choice is None:
        choice = counter.current_choice(draft)
    address = dict(draft.delivery_address or {})
    if not address.get("name") and draft.customer is not None:
        address["name"] = draft.customer.display_name
    address.setdefault("country", draft.location.country)
    address.update(typed or {})
    market = draft.location.market
    stores = counter.pickup_stores(draft.location)
    discount = order_discounts.draft_discount(draft, state.proposal)
    reading = state.reading or sourcing.Reading()  # the prices and the other ways, read together
    return {
        "discount": discount,
        "payable_minor": (state.proposal.total_minor - discount.total_minor) if state.proposal else 0,
        "customer_offers": order_discounts.customer_offers_for_draft(draft),
        "loyalty": offers.loyalty_terms(),
        "draft": draft,
        "market": market,
        "prices": reading.prices([line.variant_id for line in draft.lines], market.code),
        "state": state,
        "planned": planned,
        "choice": choice,
        "address": address,
        "pickup_stores": stores,
        "errors": errors or {},
        "message": message,
        "notice": notice,
        "options": counter.option_summaries(draft, state, stores, reading=reading),
        "results": results,
        "query": query,
        "idempotency_key": uuid.uuid4().hex,
        "focus": focus,
        "delivery_countries": order_rules.rules().delivery_countries,
        "seconds_left": state.seconds_left(),
        "hold_minutes": order_drafts.hold_minutes(),
        "action_form": ActionForm(),
        "country_names": {"DE": _("Germany"), "DK": _("Denmark")},
    }


def _render(draft, status=200, **extra):
    return render_page_or_partial("orders/builder.html", "orders/_draft.html", status, **_context(draft, **extra))


def _after(draft, state, notice=None, focus=None):
    if wants_fragment():
        return _render(draft, state=state, notice=notice, focus=focus)
    if notice:
        flash(notice, "success")
    return redirect(url_for("orders.draft", token=draft.token), 303)


def _refused(draft, failure, **extra):
    fields = getattr(failure, "fields", None) or {}
    if not fields and failure.detail.get("field"):
        fields = {failure.detail["field"]: failure.message}
    return _render(
        draft,
        422 if isinstance(failure, ValidationFailed | NotFound) else 409,
        errors={key: str(value) for key, value in fields.items()},
        message=failure.message,
        **extra,
    )


def _invalid(draft, form, keys=None, **extra):
    """The builder again with the form's errors at their fields (422); nothing was changed."""
    keys = keys if keys is not None else getattr(form, "error_keys", None)
    return _render(draft, 422, errors=field_errors(form, keys), message=refusal(form), **extra)


@bp.get("/drafts/<token>")
@login_required
def draft(token):
    draft = _draft(token)
    if draft.status == "placed" and draft.order is not None:
        return redirect(url_for("orders.detail", number=draft.order.number), 303)
    # The next step has the focus: the customer first, then the items (a wedge scan types into the field).
    return _render(draft, focus="customer" if draft.customer_id is None else ("add" if not draft.lines else None))


@bp.post("/drafts/<token>/customer")
@login_required
def draft_customer(token):
    draft, form = _draft(token), CustomerForm()
    if not form.validate_on_submit():
        return _invalid(draft, form)
    try:
        state = order_drafts.set_customer(draft, form.customer_id.data, staff=current_user)
    except DomainError as refused:
        return _refused(draft, refused)
    return _after(draft, state, focus="add")  # the customer is chosen: on to the items


@bp.post("/drafts/<token>/lines")
@login_required
def draft_line(token):
    """Set a line's quantity: a + / − / Remove button sends `quantity`, the field sends `typed`."""
    draft, form = _draft(token), LineForm()
    if not form.validate_on_submit():
        return _invalid(draft, form, form.error_keys())
    variant_id = form.variant_id.data
    try:
        state = order_drafts.set_line(draft, variant_id, form.amount(), staff=current_user)
    except ValidationFailed as failure:
        fields = {
            (f"quantity-{variant_id}" if key == "quantity" else key): value for key, value in failure.fields.items()
        }
        return _render(draft, 422, errors={k: str(v) for k, v in fields.items()}, message=failure.message)
    except DomainError as refused:
        return _refused(draft, refused)
    variant = catalog.get_variant(variant_id)
    line = next((line for line in draft.lines if line.variant_id == variant_id), None)
    notice = (
        _(
            "%(product)s %(variant)s: %(quantity)d.",
            product=variant.product.name,
            variant=variant.label,
            quantity=line.quantity,
        )
        if line
        else _("%(product)s %(variant)s removed.", product=variant.product.name, variant=variant.label)
    )
    return _after(draft, state, notice)


@bp.post("/drafts/<token>/add")
@login_required
def draft_add(token):
    """A scanned or typed code adds its variant at once; words search the catalogue (pick a size)."""
    draft, form = _draft(token), AddItemForm()
    if not form.validate_on_submit():
        return _invalid(draft, form)
    typed = form.code.data[:200]
    variant = catalog.find_variant_by_code(typed)
    if variant is None:
        try:
            results = counter.find_variants(typed, here_id=current_user.location_id)
        except ValidationFailed as failure:
            return _render(
                draft,
                422,
                errors={"add": " ".join(str(v) for v in failure.fields.values()) or str(failure.message)},
                query=typed,
            )
        if not results:
            return _render(draft, 422, errors={"add": _("Nothing matches “%(typed)s”.", typed=typed[:60])}, query=typed)
        return _render(draft, results=results, query=typed)
    current = next((line.quantity for line in draft.lines if line.variant_id == variant.id), 0)
    try:
        state = order_drafts.set_line(draft, variant.id, current + 1, staff=current_user)
    except ValidationFailed as failure:
        return _render(
            draft, 422, errors={"add": " ".join(str(v) for v in failure.fields.values())}, message=failure.message
        )
    except DomainError as refused:
        return _refused(draft, refused)
    return _after(
        draft, state, _("Added %(product)s %(variant)s.", product=variant.product.name, variant=variant.label)
    )


@bp.post("/drafts/<token>/fulfilment")
@login_required
def draft_fulfilment(token):
    """Collect here, collect in another store, or deliver. A delivery with nothing typed yet only opens the
    address form; the address is checked when the clerk confirms it."""
    draft, form = _draft(token), FulfilmentForm()
    choice = form.chosen()
    typed = {name: (getattr(form, name).data or "")[:300] for name in ADDRESS_FIELDS}
    payment = form.payment_state.data or None
    if not form.validate_on_submit():
        return _invalid(draft, form, choice=choice, typed=typed if choice == "delivery" else None)
    try:
        if choice == "delivery":
            if not form.confirm_address.data and not any(typed[name] for name in ("street", "postcode", "city")):
                return _render(draft, choice="delivery", typed={k: v for k, v in typed.items() if v})
            state = order_drafts.choose_fulfilment(
                draft, "delivery", staff=current_user, address=typed, payment_state="paid"
            )
        else:
            location_id = draft.location_id if choice == "here" else form.pickup_location_id.data
            if choice == "store" and location_id is None:  # just tapped: the nearest other store to start with
                location_id = next(
                    (s.id for s in counter.pickup_stores(draft.location) if s.id != draft.location_id), None
                )
            if choice == "here" and not (draft.location.is_store and draft.location.pickup_enabled):
                location_id = None
            state = order_drafts.choose_fulfilment(
                draft,
                "pickup",
                staff=current_user,
                pickup_location_id=location_id,
                payment_state=payment if payment in ("paid", "pay_at_pickup") else None,
            )
    except ValidationFailed as failure:
        return _render(
            draft,
            422,
            errors={k: str(v) for k, v in failure.fields.items()},
            message=failure.message,
            choice=choice,
            typed=typed if choice == "delivery" else None,
        )
    except DomainError as refused:
        return _refused(draft, refused, choice=choice)
    return _after(draft, state)


@bp.post("/drafts/<token>/offer")
@login_required
def draft_offer(token):
    """The customer's offer: scanned or typed by its code, or tapped in the list of their offers."""
    draft, form = _draft(token), OfferForm()
    if not form.validate_on_submit():
        return _invalid(draft, form)
    try:
        issued = order_discounts.apply_offer(
            draft, (form.code.data or "")[:100], staff=current_user, issued_offer_id=form.issued_offer_id.data
        )
    except DomainError as refused:
        return _refused(draft, refused)
    return _after(draft, order_drafts.draft_state(draft), _("Offer “%(name)s” applied.", name=issued.offer.name))


@bp.post("/drafts/<token>/offer/remove")
@login_required
def draft_offer_remove(token):
    draft = _draft(token)  # an ActionForm: CSRFProtect has checked its token
    try:
        order_discounts.remove_offer(draft, staff=current_user)
    except DomainError as refused:
        return _refused(draft, refused)
    return _after(draft, order_drafts.draft_state(draft), _("The offer was taken off this order."))


@bp.post("/drafts/<token>/place")
@login_required
def draft_place(token):
    """Place the order (one order however often the button is tapped: the form's key and the draft)."""
    return place_draft(token, lambda draft, key: ordering.place_order(draft, idempotency_key=key, staff=current_user))


def place_draft(token, place):
    """The place button's request: check the form, `place(draft, idempotency key)` (a Placed), then the order's
    page — or the builder with the problem. An exchange's draft is placed by returns/views.py through here."""
    draft, form = _draft(token), PlaceForm()
    if not form.validate_on_submit():
        return _invalid(draft, form)
    try:
        placed = place(draft, form.idempotency_key.data or None)
    except InsufficientStock as gone:
        db_draft = _draft(token)
        return _render(db_draft, 409, message=gone.message)
    except DomainError as refused:
        return _refused(_draft(token), refused)
    order = placed.order
    email = order.customer.email if order.customer is not None else ""
    if email:
        flash(
            _("Order %(number)s placed. The confirmation goes to %(email)s.", number=order.number, email=email),
            "success",
        )
    else:
        flash(_("Order %(number)s placed.", number=order.number), "success")
    return redirect(url_for("orders.detail", number=order.number), 303)


@bp.post("/drafts/<token>/drop")
@login_required
def draft_drop(token):
    draft = _draft(token)  # an ActionForm: CSRFProtect has checked its token
    try:
        order_drafts.abandon(draft, staff=current_user)
    except DomainError as refused:
        flash(str(refused.message), "error")
        return redirect(url_for("orders.draft", token=draft.token), 303)
    flash(_("The order draft was dropped; its held units are free again."), "success")
    return redirect(url_for("orders.index"), 303)


@bp.app_context_processor
def _order_entry():
    """For the product page / network panel: where "order this" goes, and the clerk's store's open drafts."""

    def open_order_drafts():
        if not current_user.is_authenticated:
            return []
        drafts = order_drafts.open_drafts(current_user, limit=6)
        return [d for d in drafts if d.customer_id is not None or d.lines][:3]

    return {"open_order_drafts": open_order_drafts, "has_order_entry": True}
