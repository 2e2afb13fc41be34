"""The outbox for admins: every email and webhook the app queued, with each email shown as it was written
(in development, without SMTP, this is where the emails are read); and whether the worker that delivers them
and runs the periodic jobs is alive, with each job's last run."""

from flask import Blueprint, current_app, make_response, render_template, request

from omnistore.core import outbox as outbox_service
from omnistore.core import outbox_delivery, periodic
from omnistore.core.outbox import OUTBOX_KINDS, OUTBOX_STATUSES
from omnistore.core.worker import JOBS_EXTENSION
from omnistore.web.rendering import render_page_or_partial, role_required

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

# The email's own HTML (inline styles, as emails need) in a sandboxed frame: no scripts, no requests.
PREVIEW_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)


@bp.get("/")
@role_required("admin")
def index():
    kind, status = request.args.get("kind", ""), request.args.get("status", "")
    result = outbox_service.list_messages(kind=kind, status=status, page=request.args.get("page", 1, type=int) or 1)
    return render_page_or_partial(
        "outbox/index.html",
        "outbox/_list.html",
        result=result,
        kind=kind,
        status=status,
        kinds=OUTBOX_KINDS,
        statuses=OUTBOX_STATUSES,
        smtp=outbox_delivery.smtp_configured(),
        worker=periodic.status(current_app.extensions[JOBS_EXTENSION], current_app.config),
    )


@bp.get("/<int:message_id>")
@role_required("admin")
def detail(message_id):
    message = outbox_service.get_message(message_id)
    return render_template("outbox/detail.html", message=message)


@bp.get("/<int:message_id>/preview")
@role_required("admin")
def preview(message_id):
    message = outbox_service.get_message(message_id)
    response = make_response(outbox_service.html_for_preview(message) if message.kind == "email" else "")
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response
