"""The returns counter, at any store:

- `/returns/` find the order (scan the receipt's QR, type the order number) and this store's latest returns,
  the ones still owing a till refund first;
- `/returns/orders/<number>` what may still come back of that order, with a grade per unit, the reason, and
  (outside the return window, for a manager) the override; posting it takes the goods back;
- `/returns/<id>` the return: lines, grades, where the goods went, the refund owed and its state; for a till
  refund, the till's refund reference.
Every change goes through the returns verbs (receiving.py, refunds.py), which check the scope and the limits.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.core.errors import DomainError, ValidationFailed
from omnistore.orders.views.builder import place_draft
from omnistore.returns import access, exchanges, labels, receiving, refunds, sending
from omnistore.returns.models import GRADES, REASONS
from omnistore.returns.window import window_of
from omnistore.web.rendering import login_required

bp = Blueprint("returns", __name__, url_prefix="/returns")
CODE_MAX = 300


@bp.app_template_filter("return_status_label")
def _status_label(value):
    return labels.label(labels.STATUS_LABELS, value)


@bp.app_template_filter("grade_label")
def _grade_label(value):
    return labels.label(labels.GRADE_LABELS, value)


@bp.app_template_filter("return_reason_label")
def _reason_label(value):
    return labels.label(labels.REASON_LABELS, value)


@bp.app_template_filter("disposition_label")
def _disposition_label(value):
    return labels.label(labels.DISPOSITION_LABELS, value)


@bp.app_template_filter("refund_method_label")
def _method_label(value):
    return labels.label(labels.METHOD_LABELS, value)


@bp.app_context_processor
def _exchange_credit():
    """exchange_credit(draft): the returned goods' credit an exchange's counter draft carries (the order
    builder shows it with the price difference), or None; order_returns(order): an order's returns (the
    customer's order page shows them)."""
    return {"exchange_credit": exchanges.credit_for_draft, "order_returns": receiving.returns_of}


def _index(status=200, *, code="", code_error=None):
    return render_template(
        "returns/index.html",
        code=code,
        code_error=code_error,
        recent=receiving.recent_returns(current_user.location_id),
    ), status


@bp.get("/")
@login_required
def index():
    return _index()


@bp.get("/find")
@login_required
def find():
    """A scanned QR or a typed order number → that order's return screen."""
    code = request.args.get("code", "")[:CODE_MAX]
    try:
        order = receiving.find_order(code)
    except DomainError as refused:
        return _index(refused.status, code=code if len(code) <= 40 else "", code_error=refused.message)
    return redirect(url_for(".new", number=order.number), 303)


def _new_page(order, status=200, *, errors=None, values=None):
    return render_template(
        "returns/new.html",
        order=order,
        window=window_of(order),
        lines=[(line, receiving.returnable(line)) for line in order.lines],
        previous=receiving.returns_of(order),
        grades=GRADES,
        reasons=[(key, labels.REASON_LABELS[key]) for key in REASONS],
        errors=errors or {},
        values=values or {},
        refund_method=refunds.refund_method(order),
    ), status


@bp.get("/orders/<number>")
@login_required
def new(number):
    return _new_page(receiving.get_order(number))


@bp.post("/orders/<number>")
@login_required
def create(number):
    order = receiving.get_order(number)
    form = request.form
    quantities = {}
    for line in order.lines:
        for grade in GRADES:
            typed = form.get(f"qty-{line.id}-{grade}", "")[:12]
            if typed.strip():
                quantities[line.id, grade] = typed
    wanted = receiving.ReturnRequest(
        quantities=quantities,
        reason=form.get("reason", "")[:40],
        note=form.get("note", "")[: receiving.NOTE_MAX + 1],
        override_window=form.get("override_window") == "yes",
        override_reason=form.get("override_reason", "")[: receiving.OVERRIDE_REASON_MAX + 1],
    )
    try:
        ret = receiving.receive_return(order, wanted, staff=current_user)
    except ValidationFailed as failure:
        return _new_page(order, 422, errors=failure.fields, values=form)
    except DomainError as refused:
        return _new_page(order, refused.status, errors={"form": refused.message}, values=form)
    if ret.status == "refused":
        flash(_("Return %(id)d recorded: nothing is refunded.", id=ret.id), "info")
    else:
        flash(_("Return %(id)d recorded. Refund owed: see below.", id=ret.id), "info")
    return redirect(url_for(".detail", return_id=ret.id), 303)


def _detail(ret, status=200, *, errors=None, typed="", send_typed=None):
    may_act = current_user.is_admin or current_user.location_id == ret.location_id
    exchanging = ret.exchange_draft is not None and ret.exchange_draft.status != "abandoned"
    return render_template(
        "returns/detail.html",
        ret=ret,
        order=ret.order,
        may_act=may_act,
        exchanging=exchanging,
        destinations=sending.destinations(ret) if may_act and any(line.sendable for line in ret.lines) else [],
        send_typed=send_typed or {},
        options=exchanges.exchange_options(ret, current_user.location_id)
        if may_act and not exchanging and ret.total_refund_minor and ret.order.customer_id
        else [],
        errors=errors or {},
        typed=typed,
    ), status


@bp.get("/<int:return_id>")
@login_required
def detail(return_id):
    return _detail(access.get_return_for_staff(return_id, current_user))


@bp.post("/<int:return_id>/refunded")
@login_required
def till_refund(return_id):
    ret = access.get_return_for_staff(return_id, current_user)
    typed = request.form.get("reference", "")[: refunds.REFERENCE_MAX + 1]
    try:
        refunds.record_till_refund(ret, typed, staff=current_user)
    except ValidationFailed as failure:
        return _detail(ret, 422, errors=failure.fields, typed=typed)
    except DomainError as refused:
        return _detail(
            access.get_return_for_staff(return_id, current_user), refused.status, errors={"form": refused.message}
        )
    flash(_("Refund recorded."), "info")
    return redirect(url_for(".detail", return_id=ret.id), 303)


@bp.post("/<int:return_id>/exchange")
@login_required
def exchange(return_id):
    """Exchange: a counter draft for the customer with the chosen variant, linked to the return → the builder."""
    ret = access.get_return_for_staff(return_id, current_user)
    typed = request.form.get("variant_id", "")[:12]
    try:
        draft = exchanges.start_exchange(ret, int(typed) if typed.isdigit() else None, staff=current_user)
    except DomainError as refused:
        return _detail(
            access.get_return_for_staff(return_id, current_user), refused.status, errors={"form": refused.message}
        )
    return redirect(url_for("orders.draft", token=draft.token), 303)


@bp.post("/<int:return_id>/send")
@login_required
def send_on(return_id):
    """Send restocked units of a line on to the warehouse or another store (a stock transfer)."""
    ret = access.get_return_for_staff(return_id, current_user)
    form = request.form
    typed = {key: form.get(key, "")[:12] for key in ("line_id", "destination", "quantity")}
    line_id = int(typed["line_id"]) if typed["line_id"].isdigit() else None
    destination = int(typed["destination"]) if typed["destination"].isdigit() else None
    try:
        sent = sending.send_on(ret, line_id, destination, typed["quantity"], staff=current_user)
    except ValidationFailed as failure:
        errors = {f"send-{key}": message for key, message in failure.fields.items()}
        if "line" in failure.fields:  # no form of this page may be that line's: say it at the top
            errors["form"] = failure.fields["line"]
        return _detail(ret, 422, errors=errors, send_typed=typed)
    except DomainError as refused:
        return _detail(
            access.get_return_for_staff(return_id, current_user), refused.status, errors={"form": refused.message}
        )
    flash(
        _(
            "%(units)d sent on to %(store)s: it is on this store's list to pick and send.",
            units=sent.quantity,
            store=sent.transfer.destination_location.name,
        ),
        "info",
    )
    return redirect(url_for(".detail", return_id=ret.id), 303)


@bp.post("/<int:return_id>/exchange/place")
@login_required
def exchange_place(return_id):
    """Place the exchange order from the builder: the return's credit is set against its payment."""
    ret = access.get_return_for_staff(return_id, current_user)
    draft = ret.exchange_draft
    if draft is None:
        return _detail(ret, 409, errors={"form": _("This return has no exchange order to place.")})
    return place_draft(
        draft.token,
        lambda draft, key: exchanges.place_exchange(ret, draft, idempotency_key=key, staff=current_user),
    )
