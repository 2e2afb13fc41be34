"""Change stock at this store through the ledger: receive, correct, history, CSV import; and the variant's zone
here (stock/zones.py, not a movement).

The here-page (`stock.here`) shows one variant at the staff member's store (an admin may pick another with
?location=CODE): the figures, a "Receive goods" and a "Correct count" form, its zone, and the ledger. Both forms
post with htmx and get the page's component back (`stock/_here_main.html`, which replaces itself); without
JavaScript they post normally and are redirected back with a flash. Bad input comes back at the field with
422, a count made on figures that changed meanwhile with 409 and the new figures.
"""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from omnistore.catalog.models import Variant
from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock import bulk_import, feed, ledger, reads, zones
from omnistore.stock.views import bp
from omnistore.stores import locations as location_service
from omnistore.stores.staff import can_act_at
from omnistore.web.form_input import form_input
from omnistore.web.forms import page_arg
from omnistore.web.rendering import csv_download, login_required, render_page_or_partial, role_required, wants_fragment
from omnistore.web.replay import replay_safe

KIND_LABELS = {
    "receipt": _l("Received"),
    "adjustment": _l("Count corrected"),
    "allocation": _l("Reserved for an order"),
    "release": _l("Reservation released"),
    "transfer_out": _l("Sent to another location"),
    "transfer_in": _l("Arrived from another location"),
    "handover": _l("Handed to the customer"),
    "import": _l("Imported"),
    "count": _l("Counted (count session)"),
    "return": _l("Returned by a customer"),
    "write_off": _l("Booked out"),
}
RECEIVE_REASONS = (
    _l("Delivery from the warehouse"),
    _l("Delivery from the supplier"),
    _l("Customer return"),
    _l("Transfer from another store"),
)
CORRECT_REASONS = (
    _l("Stocktake"),
    _l("Damaged"),
    _l("Missing or stolen"),
    _l("Found in the store"),
    _l("Miscounted earlier"),
)
PROBLEMS_SHOWN = 500  # bad rows listed on the results page; all of them (up to what was kept) in the download


# --- the variant at a store -------------------------------------------------------------------------------


def _place(variant_id):
    """The variant and the location the staff member acts at: their own, or for an admin ?location=CODE."""
    variant = db.session.get(Variant, variant_id)
    if variant is None:
        raise NotFound(_("We could not find that product variant."))
    code = request.args.get("location", "").strip()
    location = current_user.location
    if code and code.upper() != location.code:
        location = location_service.get_location(code)
        if location is None:
            raise NotFound(_("We could not find that location."))
    if not can_act_at(current_user, location.id):
        raise Forbidden(_("You can change stock at your own store only (%(store)s).", store=current_user.location.name))
    return variant, location


def _here_url(endpoint, variant, location, **params):
    """URL of a here-page endpoint; keeps ?location= when an admin looks at another store."""
    if location.id != current_user.location_id:
        params["location"] = location.code
    return url_for(endpoint, variant_id=variant.id, **params)


def _here_context(variant, location, **extra):
    context = {
        "variant": variant,
        "product": variant.product,
        "location": location,
        "level": reads.level_at(variant.id, location.id),
        "zone": zones.zone_of(variant.id, location.id),
        "zone_max": zones.ZONE_MAX,
        "history": reads.history(variant.id, location.id, page_arg()),
        "kind_labels": KIND_LABELS,
        "receive_reasons": RECEIVE_REASONS,
        "correct_reasons": CORRECT_REASONS,
        "product_url": (
            url_for("stock.product", product_id=variant.product_id, variant=variant.id)
            if "stock.product" in current_app.view_functions
            else None
        ),
        "here_url": lambda endpoint="stock.here", **params: _here_url(endpoint, variant, location, **params),
        "form": None,  # which form the errors and values belong to
        "errors": {},
        "values": {},
        "notice": None,
    }
    context.update(extra)
    return context


def _render_here(variant, location, status=200, **extra):
    return render_page_or_partial(
        "stock/here.html", "stock/_here_main.html", status, **_here_context(variant, location, **extra)
    )


@bp.get("/variants/<int:variant_id>/here")
@login_required
def here(variant_id):
    variant, location = _place(variant_id)
    return _render_here(variant, location)


def _after_change(variant, location, notice):
    """htmx: the updated component with the notice; without JavaScript: back to the page (303) with a flash."""
    if wants_fragment():
        return _render_here(variant, location, notice=notice)
    flash(notice, "success")
    return redirect(_here_url("stock.here", variant, location), 303)


def _refused(variant, location, form, errors, status, keep_version=False):
    """The component again, with what was typed and the errors at their fields (a conflict's on top)."""
    keys = ("quantity", "reason", "reference", "version") if keep_version else ("quantity", "reason", "reference")
    keys += ("zone",) if form == "zone" else ()
    values = {key: request.form.get(key, "")[:600] for key in keys}
    return _render_here(variant, location, status, form=form, errors=errors, values=values)


@bp.post("/variants/<int:variant_id>/receive")
@login_required
@replay_safe  # a tablet sends it again after a lost connection: applied once
def receive(variant_id):
    variant, location = _place(variant_id)
    change = ledger.StockChange(
        variant.id,
        location.id,
        request.form.get("quantity", ""),
        request.form.get("reason", ""),
        request.form.get("reference", ""),
    )
    try:
        state = ledger.receive(change, current_user)
    except ValidationFailed as failure:
        return _refused(variant, location, "receive", failure.fields, 422)
    return _after_change(
        variant,
        location,
        _("Received %(quantity)d. On hand now: %(on_hand)d.", quantity=state.delta, on_hand=state.on_hand),
    )


@bp.post("/variants/<int:variant_id>/correct")
@login_required
@replay_safe  # a tablet sends it again after a lost connection: applied once
def correct(variant_id):
    variant, location = _place(variant_id)
    change = ledger.StockChange(
        variant.id,
        location.id,
        request.form.get("quantity", ""),
        request.form.get("reason", ""),
        request.form.get("reference", ""),
        seen_version=request.form.get("version", ""),
    )
    try:
        state = ledger.correct(change, current_user)
    except ValidationFailed as failure:
        return _refused(variant, location, "correct", failure.fields, 422, keep_version=True)
    except Conflict as conflict:
        return _refused(variant, location, "correct", {"message": conflict.message}, 409)
    if state.delta == 0:
        notice = _("The count matches: %(on_hand)d on hand. Nothing was changed.", on_hand=state.on_hand)
    else:
        notice = _("Count saved: %(on_hand)d on hand (%(delta)s).", on_hand=state.on_hand, delta=f"{state.delta:+d}")
    return _after_change(variant, location, notice)


@bp.post("/variants/<int:variant_id>/zone")
@login_required
@replay_safe  # setting the same zone twice changes nothing
def set_zone(variant_id):
    variant, location = _place(variant_id)
    try:
        zone = zones.set_zone(variant.id, location.id, request.form.get("zone", "")[:200], current_user)
    except ValidationFailed as failure:
        return _refused(variant, location, "zone", failure.fields, 422)
    notice = _("Zone: %(zone)s.", zone=zone) if zone else _("No zone any more.")
    return _after_change(variant, location, notice)


# --- the ERP's CSV file -----------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@form_input(files=("file",))
@role_required("manager")
def import_csv():
    """Managers upload the ERP's stock file (sku, location, on_hand) for their store; an admin for any."""
    if request.method == "GET":
        return render_template("stock/import.html", scope=_import_scope())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_refused({"file": _("Choose a CSV file to upload.")}, 422)
    name = " ".join(upload.filename.replace("\\", "/").rsplit("/", 1)[-1].split())[:200]
    try:
        rows = feed.read_csv(upload.read(feed.MAX_IMPORT_BYTES + 1))
        result = bulk_import.import_on_hand(rows, current_user, _("CSV upload: %(file)s", file=name))
    except ValidationFailed as failure:
        return _import_refused({"message": failure.message, "file": failure.fields.get("file")}, 422)
    except feed.TooManyRows as failure:
        return _import_refused({"file": failure.message}, 413)
    return render_template(
        "stock/import.html", scope=_import_scope(), result=result, file_name=name, problems_shown=PROBLEMS_SHOWN
    )


def _import_scope():
    return None if current_user.is_admin else current_user.location


def _import_refused(errors, status):
    return render_template("stock/import.html", scope=_import_scope(), errors=errors), status


@bp.get("/import/<reference>/problems.csv")
@role_required("manager")
def import_problems(reference):
    """The refused rows of an import as a CSV file, for whoever ran it (and admins)."""
    event = None
    if bulk_import.IMPORT_REFERENCE.fullmatch(reference):
        event = db.session.scalar(
            db.select(AuditEvent).where(
                AuditEvent.action == "stock.imported",
                AuditEvent.entity_type == "stock_import",
                AuditEvent.entity_id == reference,
            )
        )
    if event is None or (not current_user.is_admin and event.staff_id != current_user.id):
        raise NotFound(_("We could not find that import."))
    problems = event.detail.get("problems", [])
    return csv_download(f"{reference}-problems.csv", ["line", "sku", "location", "problem"], problems)
