"""Orders of this store: the list, one order's page, and what happens after placing — the store's
"to pick & send" list (source side) and its "arriving" list (pickup side).

Each transfer on a list is a self-replacing card (`orders/_transfer.html`): its buttons post with htmx and
get the card back in its new state (or with the problem at the field); without JavaScript they post
normally and are redirected back to the list with a message.
"""

from babel.dates import format_date
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.core.errors import DomainError, ValidationFailed
from omnistore.core.statuses import ORDER_STATUSES
from omnistore.offers import services as offers
from omnistore.orders import cancelling, line_reasons, pick_deadlines, rejecting
from omnistore.orders import desk as order_desk
from omnistore.orders import services as order_service
from omnistore.orders import transfers as transfer_service
from omnistore.orders.forms import ActionForm, CancelForm, RejectForm, ShipForm
from omnistore.stores import locations as location_service
from omnistore.web import i18n
from omnistore.web.forms import field_errors, page_arg
from omnistore.web.rendering import login_required, render_page_or_partial, wants_fragment

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.app_template_filter("order_date")
def order_date(value):
    """A calendar date (a promise) in the staff member's language: "Tue, 24 Nov"."""
    if value is None:
        return ""
    return format_date(value, "EEE d MMM", locale=i18n.formatting_locale())


@bp.app_context_processor
def _line_reason():
    """line_reason(line): an order line's reason in the viewer's language (orders.line_reasons)."""
    from omnistore.orders.line_reasons import line_reason

    return {"line_reason": line_reason}


@bp.app_context_processor
def _rejecting():
    """rejection_reasons (code, label) for the reject forms; rejectable(order, lines): the lines the signed-in
    staff member can reject units of now (orders/rejecting.may_reject)."""

    def rejectable(order, lines):
        if not current_user.is_authenticated:
            return []
        return [line for line in lines if rejecting.may_reject(order, line, current_user)]

    return {
        "rejection_reasons": list(line_reasons.REJECTION_LABELS.items()),
        "rejectable": rejectable,
        "pick_due": pick_deadlines.transfer_due,
        "late_pick": pick_deadlines.is_late,
    }


@bp.app_context_processor
def _order_tabs():
    """Counts for the orders section's tabs (to send, arriving), computed only when a template asks."""

    def tab_counts():
        if not current_user.is_authenticated:
            return 0, 0
        return transfer_service.counts(current_user.location_id)

    return {"order_tab_counts": tab_counts}


@bp.get("/")
@login_required
def index():
    status = request.args.get("status", "")
    page = page_arg()
    result = order_service.list_orders_for_staff(
        current_user, status=status if status in ORDER_STATUSES else None, page=page
    )
    return render_page_or_partial(
        "orders/index.html", "orders/_list.html", result=result, status=status, statuses=ORDER_STATUSES
    )


def _detail(order, status=200, **extra):
    context = {
        "order": order,
        "transfers": transfer_service.transfers_of(order),
        "action_form": ActionForm(),
        "cancel_form": CancelForm(),
        "may_manage": order_desk.may_manage(order, current_user),
        "can_cancel": order_service.can_transition(order, "cancelled"),
        "can_resend": order_desk.can_resend(order),
        "cancel_errors": {},
        "redemption": offers.redemption_of(order.id),
        "location_names": location_service.names_of(event.location_id for event in order.events),
    }
    context.update(extra)
    return render_template("orders/detail.html", **context), status


@bp.get("/<number>")
@login_required
def detail(number):
    return _detail(order_service.get_order_for_staff(number[:40], current_user))


@bp.post("/<number>/cancel")
@login_required
def cancel(number):
    order = order_service.get_order_for_staff(number[:40], current_user)
    form = CancelForm()
    if not form.validate_on_submit():
        return _detail(
            order, 422, cancel_errors=field_errors(form), cancel_open=True, typed_reason=(form.reason.data or "")[:400]
        )
    try:
        cancelling.cancel(order, staff=current_user, reason=form.reason.data or "")
    except ValidationFailed as failure:
        order = order_service.get_order_for_staff(number[:40], current_user)
        return _detail(
            order,
            422,
            cancel_errors={k: str(v) for k, v in failure.fields.items()},
            cancel_open=True,
            typed_reason=(form.reason.data or "")[:400],
        )
    except DomainError as refused:
        flash(str(refused.message), "error")
        return redirect(url_for("orders.detail", number=order.number), 303)
    flash(
        _(
            "Order %(number)s is cancelled. Its reserved units are free again and the customer is told.",
            number=order.number,
        ),
        "success",
    )
    return redirect(url_for("orders.detail", number=order.number), 303)


@bp.post("/<number>/resend")
@login_required
def resend(number):
    order = order_service.get_order_for_staff(number[:40], current_user)  # an ActionForm: CSRF checked
    try:
        order_desk.resend_confirmation(order, staff=current_user)
    except DomainError as refused:
        flash(str(refused.message), "error")
    else:
        flash(_("The confirmation was sent again to %(email)s.", email=order.customer.email), "success")
    return redirect(url_for("orders.detail", number=order.number), 303)


# --- to pick & send, arriving ------------------------------------------------------------------------------


@bp.get("/send")
@login_required
def send():
    listing = transfer_service.to_send(current_user.location_id)
    return render_page_or_partial(
        "orders/send.html", "orders/_send_list.html", listing=listing, action_form=ActionForm()
    )


@bp.get("/arriving")
@login_required
def arriving():
    listing = transfer_service.arriving(current_user.location_id)
    return render_page_or_partial(
        "orders/arriving.html", "orders/_arriving_list.html", listing=listing, action_form=ActionForm()
    )


def _card(transfer, side, status=200, **extra):
    return render_template(
        "orders/_transfer.html", transfer=transfer, side=side, action_form=ActionForm(), **extra
    ), status


@bp.app_template_test("last_parcel")
def _last_parcel(transfer):
    """{% if transfer is last_parcel %}: receiving it makes the order ready (the card asks for the shelf)."""
    return transfer_service.completes_order(transfer)


def transfer_step(transfer_id, side, verb, done_message, form=None, **kwargs):
    """Run one step on a transfer of this store; the card again (htmx) or back to the list (303). With a
    `form`, its input is checked first: refused, the card comes back with the errors and nothing changes."""
    transfer = transfer_service.get_transfer_for_staff(transfer_id, current_user, side)
    back = url_for("orders.send" if side == "source" else "orders.arriving")
    if form is not None and not form.validate_on_submit():
        return _invalid_step(transfer, side, field_errors(form), kwargs, back)
    try:
        verb(transfer, staff=current_user, **kwargs)
    except ValidationFailed as failure:
        return _invalid_step(transfer, side, failure.fields, kwargs, back)
    except DomainError as refused:
        transfer = transfer_service.get_transfer_for_staff(transfer_id, current_user, side)
        if wants_fragment():
            return _card(transfer, side, 409, problem=refused.message)
        flash(str(refused.message), "error")
        return redirect(back, 303)
    transfer = transfer_service.get_transfer_for_staff(transfer_id, current_user, side)
    notice = done_message(transfer)
    if wants_fragment():
        return _card(transfer, side, notice=notice)
    flash(notice, "success")
    return redirect(back, 303)


def _invalid_step(transfer, side, errors, typed, back):
    if wants_fragment():
        return _card(transfer, side, 422, errors=errors, typed=typed)
    flash(" ".join(str(message) for message in errors.values()), "error")
    return redirect(back, 303)


@bp.post("/transfers/<int:transfer_id>/pick")
@login_required
def pick(transfer_id):  # an ActionForm: CSRFProtect has checked its token
    return transfer_step(
        transfer_id,
        "source",
        transfer_service.pick,
        lambda t: (
            _("Picked for order %(number)s. Pack it and enter the tracking reference.", number=t.order.number)
            if t.order is not None
            else _("Picked. Pack it and enter the tracking reference.")
        ),
    )


@bp.post("/transfers/<int:transfer_id>/ship")
@login_required
def ship(transfer_id):
    form = ShipForm()
    return transfer_step(
        transfer_id,
        "source",
        transfer_service.ship,
        lambda t: (
            _("Shipped: order %(number)s, tracking %(tracking)s.", number=t.order.number, tracking=t.tracking_reference)
            if t.order is not None
            else _(
                "Shipped to %(store)s, tracking %(tracking)s.",
                store=t.destination_location.name,
                tracking=t.tracking_reference,
            )
        ),
        form,
        tracking=form.tracking.data or "",
    )


def rejected_notice(rejection):
    """What the clerk is told after a rejection: where the units come from now, or what the customer is asked."""
    product = rejection.variant.product.name
    if rejection.outcome == "resourced":
        return _(
            "Rejected %(quantity)d × %(product)s. It now comes from %(store)s.",
            quantity=rejection.quantity,
            product=product,
            store=rejection.replacement_line.source_location.name,
        )
    if rejection.outcome == "pending":
        return _(
            "Rejected %(quantity)d × %(product)s. The customer is asked by e-mail what they want instead.",
            quantity=rejection.quantity,
            product=product,
        )
    return _(
        "Rejected %(quantity)d × %(product)s. No other store can send it: it is left out and the customer is told.",
        quantity=rejection.quantity,
        product=product,
    )


@bp.post("/transfers/<int:transfer_id>/reject")
@login_required
def reject(transfer_id):
    """Units of a line on the "to pick & send" list that this store cannot supply (orders/rejecting.reject)."""
    form = RejectForm()
    typed = {"line_id": form.line.data, "quantity": form.quantity.data or "", "reason": form.reason.data or ""}
    transfer = transfer_service.get_transfer_for_staff(transfer_id, current_user, "source")
    back = url_for("orders.send")
    if not form.validate_on_submit():
        return _rejection_refused(transfer, field_errors(form), typed, back)
    if transfer.order is None:
        return _rejection_refused(transfer, {"line": _("A stock transfer has no order lines to reject.")}, typed, back)
    try:
        rejection = rejecting.reject(
            transfer.order,
            line_id=form.line.data,
            quantity=form.quantity.data or "",
            reason=form.reason.data or "",
            staff=current_user,
        )
    except ValidationFailed as failure:
        return _rejection_refused(transfer, failure.fields, typed, back)
    except DomainError as refused:
        transfer = transfer_service.get_transfer_for_staff(transfer_id, current_user, "source")
        if wants_fragment():
            return _card(transfer, "source", 409, problem=refused.message)
        flash(str(refused.message), "error")
        return redirect(back, 303)
    notice = rejected_notice(rejection)
    if wants_fragment():
        return _card(
            transfer_service.get_transfer_for_staff(transfer_id, current_user, "source"), "source", notice=notice
        )
    flash(notice, "success")
    return redirect(back, 303)


def _rejection_refused(transfer, errors, typed, back):
    if wants_fragment():
        return _card(transfer, "source", 422, reject_errors=errors, reject_typed=typed)
    flash(" ".join(str(message) for message in errors.values()), "error")
    return redirect(back, 303)


@bp.post("/<number>/delivered")
@login_required
def delivered(number):  # an ActionForm: CSRFProtect has checked its token
    order = order_service.get_order_for_staff(number[:40], current_user)
    try:
        transfer_service.mark_delivered(order, staff=current_user)
    except DomainError as refused:
        flash(str(refused.message), "error")
    else:
        flash(_("Order %(number)s is marked delivered.", number=order.number), "success")
    target = request.form.get("next", "")
    return redirect(url_for("orders.send") if target == "send" else url_for("orders.detail", number=order.number), 303)
