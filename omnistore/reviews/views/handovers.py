"""The manager's handover log: who handed over which order, how it was verified, and the exceptions (expired,
cancelled after ready, partial handovers, failed code attempts)."""

from flask import request
from flask_babel import lazy_gettext as _l

from omnistore.orders.models import VERIFICATIONS
from omnistore.reviews import handovers as handover_log
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import (
    PERIOD_LABELS,
    VERIFICATION_LABELS,
    page_from_query,
    scope_from_query,
    store_choices,
)
from omnistore.web.forms import id_arg
from omnistore.web.rendering import render_page_or_partial, role_required

EXCEPTION_LABELS = {
    "expired": _l("Expired"),
    "cancelled_after_ready": _l("Cancelled after ready"),
    "partial": _l("Partial handover"),
    "code_failed": _l("Failed code attempt"),
}


@bp.get("/handovers")
@role_required("manager")
def handovers():
    scope, failure = scope_from_query()
    method = request.args.get("method", "")
    method = method if method in VERIFICATIONS else ""
    staff_id = id_arg("staff")
    result = handover_log.handovers(scope, staff_id=staff_id, method=method or None, page=page_from_query())
    return render_page_or_partial(
        "manager/handovers.html",
        "manager/_handovers.html",
        scope=scope,
        failure=failure,
        result=result,
        method=method,
        staff_id=staff_id,
        staff=handover_log.handover_staff(scope),
        exceptions=handover_log.exceptions(scope),
        stores=store_choices(),
        periods=PERIOD_LABELS,
        verification_labels=VERIFICATION_LABELS,
        exception_labels=EXCEPTION_LABELS,
    )
