"""The store's click-and-collect desk: the live queue, pick lists, mark ready, and the handover.

- `/pickups/` the desk: a box to scan or type the customer's code, and the live queue of this store
  (customers checked in at the top, to pick, arriving, ready on the shelf, overdue). The queue polls with its
  fingerprint; the server answers 204 while nothing changed (static/js/live.js pauses it in a hidden tab).
- `/pickups/orders/<number>` an order's pick list (printable) with "picked" and "ready" (shelf, short lines).
- `/pickups/handover?code=…` what the camera, a wedge scanner or the typed short code leads to; it opens
  `/pickups/orders/<number>/handover`: lines, customer, payment, the verification done, confirm.
Every change goes through the pickups verbs (preparing.py, handover.py), which check the store scope and the
order's state.
"""

from datetime import timedelta

from babel.dates import format_skeleton
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from omnistore.core.errors import AlreadyCollected, DomainError, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import htmx
from omnistore.core.types import utcnow
from omnistore.orders.forms import ReceiveForm, RejectForm
from omnistore.orders.models import VERIFICATIONS
from omnistore.orders.views.orders import bp as orders_bp
from omnistore.orders.views.orders import rejected_notice, transfer_step
from omnistore.pickups import handover as pickup_handover
from omnistore.pickups import preparing
from omnistore.pickups import queue as pickup_queue
from omnistore.stores import locations as location_service
from omnistore.stores import login
from omnistore.stores.staff import can_act_at
from omnistore.web import i18n
from omnistore.web.form_input import form_input
from omnistore.web.forms import IdListField, field_errors
from omnistore.web.rendering import LIVE_PARAM, live_poll, login_required, render_page_or_partial, wants_fragment

bp = Blueprint("pickups", __name__, url_prefix="/pickups")

CODE_MAX = 300
SHORT_REASONS = (_l("Not found in the store"), _l("Damaged"), _l("Wrong item delivered"))
REFUSE_REASONS = (_l("Does not fit"), _l("Damaged"), _l("Not as expected"), _l("Changed their mind"))
VERIFICATION_LABELS = {
    "qr": _l("QR code scanned"),
    "code_name": _l("Short code and name checked"),
    "id": _l("ID shown"),
}


def _desk_location():
    """The store whose desk this is: the staff member's own; an admin may open another with ?location=CODE."""
    location = current_user.location
    code = request.args.get("location", "").strip()[:16]
    if code and code.upper() != location.code:
        location = location_service.get_location(code)
        if location is None:
            raise NotFound(_("We could not find that location."))
        if not can_act_at(current_user, location.id):
            raise Forbidden(
                _("You can work at your own store's desk only (%(store)s).", store=current_user.location.name)
            )
    return location


def _desk_args(location):
    return {"location": location.code} if location.id != current_user.location_id else {}


QUEUE_GROUPS = ("checked_in", "to_pick", "ready", "overdue", "arriving")  # pickup_queue.desk_queue's groups


def _shown_group():
    """?show=<group>: the desk showing one group of the queue (the home screen's tiles link there)."""
    show = request.args.get("show", "")
    return show if show in QUEUE_GROUPS else None


def _desk(location, status=200, *, code="", code_error=None):
    queue = pickup_queue.desk_queue(location)
    return render_template(
        "pickups/desk.html",
        queue=queue,
        location=location,
        code=code,
        code_error=code_error,
        desk_args=_desk_args(location),
        show=_shown_group(),
    ), status


@bp.get("/")
@login_required
def index():
    return _desk(_desk_location())


@bp.get("/queue")
@live_poll
@login_required
def queue():
    """The live queue. Polled with the fingerprint it was rendered with: 204 while nothing changed."""
    location = _desk_location()
    seen = request.args.get(LIVE_PARAM)
    if seen is not None and seen == pickup_queue.queue_fingerprint(location):
        return "", 204
    if not htmx:
        return redirect(url_for(".index", **_desk_args(location)), 303)
    response = current_app.make_response(
        render_template(
            "pickups/_queue.html",
            queue=pickup_queue.desk_queue(location),
            desk_args=_desk_args(location),
            show=_shown_group(),
        )
    )
    response.vary.add("HX-Request")
    return response


@bp.before_app_request
def _unchanged_queue_poll():
    """The desk's own queue polled with the fingerprint it shows, and nothing changed: 204 after three plain
    statements (pickup_queue.poll), without loading the staff member (stores/login.py). A poll that would count
    as desk presence and is due to move the session's clock on, another store's queue or a group of it, and
    anything unusual take the ordinary way."""
    if request.endpoint != "pickups.queue" or request.method != "GET" or list(request.args) != [LIVE_PARAM]:
        return None
    identity = login.poll_identity()
    if identity is None:
        return None
    staff_id, generation, key_hash = identity
    now = utcnow()
    answer = pickup_queue.poll(staff_id, key_hash, now)
    if not login.poll_session_holds(generation, answer, now) or answer.fingerprint != request.args[LIVE_PARAM]:
        return None
    if login.desk_presence_due(answer.role, answer.started_at, answer.last_seen_at, now):
        return None  # the ordinary way notes the presence (login.check_session)
    login.answer_unchanged_poll(staff_id)
    return "", 204


# --- the handover ------------------------------------------------------------------------------------------


@bp.get("/handover")
@login_required
def lookup():
    """A scanned QR (status URL or token) or a typed short code → that order's handover screen."""
    code = request.args.get("code", "")[:CODE_MAX]
    if not code.strip():
        return _desk(current_user.location, 422, code_error=_("Scan the customer's QR code or type the pickup code."))
    try:
        found = pickup_handover.find_for_handover(code, current_user)
    except DomainError as refused:
        return _desk(
            current_user.location, refused.status, code=code if len(code) <= 40 else "", code_error=refused.message
        )
    return redirect(url_for(".handover", number=found.order.number, via=found.found_by), 303)


def _handover_page(found, status=200, *, errors=None, values=None):
    via = request.args.get("via") if request.method == "GET" else request.form.get("via")
    return render_page_or_partial(
        "pickups/handover.html",
        "pickups/_handover.html",
        status,
        found=found,
        via=via if via in ("qr", "code") else "queue",
        errors=errors or {},
        values=values or {},
        verifications=[(key, VERIFICATION_LABELS[key]) for key in VERIFICATIONS],
        refuse_reasons=REFUSE_REASONS,
        refused_checked=set(values.getlist("refuse")) if values else set(),
    )


@bp.get("/orders/<number>/handover")
@login_required
def handover(number):
    return _handover_page(pickup_handover.handover_for(number[:40], current_user))


@bp.post("/orders/<number>/handover")
@form_input(lists=("refuse",))
@login_required
def confirm(number):
    form = request.form
    refused = {line_id: form.get(f"refuse_reason-{line_id}", "") for line_id in form.getlist("refuse")}
    try:
        found = pickup_handover.handover_for(number[:40], current_user)
        pickup_handover.hand_over(
            found.order,
            staff=current_user,
            verification=form.get("verification", ""),
            payment_collected=form.get("payment_collected") == "1",
            refused=refused,
        )
    except ValidationFailed as failure:
        return _handover_page(found, 422, errors=failure.fields, values=form)
    except AlreadyCollected as done:
        # A confirm sent again (its first answer was lost on the way, or a second tablet): the order is
        # handed over, so say that — when and by whom — and go on at the desk, as after a handover.
        flash(done.message, "info")
        return redirect(url_for(".index"), 303)
    order = found.order
    if refused:
        message = _(
            "Order %(number)s handed over; %(count)d line(s) went back to stock.",
            number=order.number,
            count=len(refused),
        )
    else:
        message = _("Order %(number)s handed over.", number=order.number)
    flash(message, "success")
    return redirect(url_for(".index"), 303)


# --- pick lists and ready ----------------------------------------------------------------------------------


def _order_page(order, status=200, *, errors=None, values=None, notice=None, **extra):
    return render_page_or_partial(
        "pickups/order.html",
        "pickups/_prepare.html",
        status,
        order=order,
        errors=errors or {},
        values=values or {},
        notice=notice,
        short_reasons=SHORT_REASONS,
        short_checked=set(values.getlist("short")) if values else set(),
        here={line.id: preparing.line_is_here(order, line) for line in order.lines},
        **extra,
    )


@bp.get("/orders/<number>")
@login_required
def order(number):
    return _order_page(preparing.desk_order(number[:40], current_user))


NOT_A_LINE = _l("That line is not part of this order.")


class PickedForm(FlaskForm):
    line = IdListField(message=NOT_A_LINE)


class ReadyForm(FlaskForm):
    short = IdListField(message=NOT_A_LINE)


@bp.post("/orders/<number>/picked")
@form_input(lists=("line",))
@login_required
def picked(number):
    order, form = preparing.desk_order(number[:40], current_user), PickedForm()
    if not form.validate_on_submit():
        return _order_page(order, 422, errors=field_errors(form, {"line": "lines"}))
    try:
        changed = preparing.mark_picked(order, form.line.data, current_user)
    except ValidationFailed as failure:
        return _order_page(order, 422, errors=failure.fields)
    notice = _("%(count)d line(s) marked as picked.", count=len(changed))
    return _after(order, notice)


@bp.post("/orders/<number>/ready")
@form_input(lists=("short",))
@login_required
def ready(number):
    order, checked = preparing.desk_order(number[:40], current_user), ReadyForm()
    form = request.form
    if not checked.validate_on_submit():
        return _order_page(order, 422, errors=field_errors(checked), values=form)
    short = {line_id: form.get(f"short_reason-{line_id}", "") for line_id in checked.short.data}
    try:
        preparing.mark_ready(order, staff=current_user, shelf_location=form.get("shelf_location", ""), short=short)
    except ValidationFailed as failure:
        return _order_page(order, 422, errors=failure.fields, values=form)
    flash(_("Order %(number)s is ready for pickup; the customer is told.", number=order.number), "success")
    return redirect(url_for(".index"), 303)


@bp.post("/orders/<number>/reject")
@login_required
def reject(number):
    """Units of a line the desk cannot supply (pickups/preparing.reject_at_desk); the pick list comes back."""
    order, form = preparing.desk_order(number[:40], current_user), RejectForm()
    typed = {"line_id": form.line.data, "quantity": form.quantity.data or "", "reason": form.reason.data or ""}
    try:
        if not form.validate_on_submit():
            raise ValidationFailed(_("Please check the highlighted fields."), field_errors(form))
        rejection = preparing.reject_at_desk(
            order,
            staff=current_user,
            line_id=form.line.data,
            quantity=form.quantity.data or "",
            reason=form.reason.data or "",
        )
    except ValidationFailed as failure:
        order = preparing.desk_order(number[:40], current_user)
        return _order_page(order, 422, reject_errors=failure.fields, reject_typed=typed)
    except DomainError as refused:
        order = preparing.desk_order(number[:40], current_user)
        return _order_page(order, 409, problem=refused.message)
    return _after(order, rejected_notice(rejection))


def _after(order, notice):
    if wants_fragment():
        return _order_page(preparing.desk_order(order.number, current_user), notice=notice)
    flash(notice, "success")
    return redirect(url_for(".order", number=order.number), 303)


@bp.get("/picklist")
@login_required
def picklist():
    """Printable pick lists, one page per order: the orders named (?order=…), else every order to pick."""
    location = _desk_location()
    numbers = [number[:40] for number in request.args.getlist("order")][:100]
    to_pick = pickup_queue.orders_to_pick(location, numbers or None)
    return render_template("pickups/picklist.html", orders=to_pick, location=location)


@bp.app_template_filter("desk_time")
def desk_time(value):
    """14:05 in the staff member's store's time zone."""
    return i18n.local_datetime(value, fmt="HH:mm") if value is not None else ""


@bp.app_template_filter("desk_date")
def desk_date(value):
    """ "Sun 29 Nov" / "So., 29. Nov." in the staff member's store's time zone."""
    if value is None:
        return ""
    return format_skeleton("MMMEd", value.astimezone(get_timezone()), locale=i18n.formatting_locale())


@bp.app_template_filter("waited")
def waited(delta):
    """How long something has waited, for people: "3 hours", "2 days"."""
    if delta is None:
        return ""
    return format_timedelta(max(delta, timedelta(minutes=1)), granularity="minute", threshold=1)


@bp.context_processor
def _desk_helpers():
    # A check-in must show within 5 s: the queue polls every 2 s (a poll is one cheap 204 while nothing changed).
    seconds = current_app.config["OMNISTORE_PICKUP_QUEUE_REFRESH_SECONDS"]
    return {"live_refresh_ms": int(seconds * 1000), "verification_labels": VERIFICATION_LABELS}


# On the orders blueprint beside the arriving list: receiving the last parcel makes a pickup order ready.
@orders_bp.post("/transfers/<int:transfer_id>/receive")
@login_required
def receive(transfer_id):
    form = ReceiveForm()

    def done(transfer):
        if transfer.order is None:
            return _(
                "Received from %(store)s: the goods are this store's stock now.", store=transfer.source_location.name
            )
        if transfer.order.status == "ready":
            return _(
                "Received. Order %(number)s is complete and ready for pickup: take it to the pickup desk.",
                number=transfer.order.number,
            )
        if transfer.order.status == "cancelled":
            return _(
                "Received. Order %(number)s was cancelled: the goods are this store's stock now.",
                number=transfer.order.number,
            )
        return _("Received for order %(number)s. More goods for it are still on the way.", number=transfer.order.number)

    return transfer_step(
        transfer_id, "destination", preparing.receive_parcel, done, form, shelf_location=form.shelf_location.data
    )
