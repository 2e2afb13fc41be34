"""The manager's customers per lifecycle stage (a segment): the stage chips with their counts, the list a page at
a time, and its CSV file — of the manager's store, or for an admin any store or the network."""

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from omnistore.clienteling.lifecycle import STAGES, Stage, stage_label
from omnistore.core.errors import ValidationFailed
from omnistore.reviews import segments
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, page_from_query, scope_from_query, scope_zone, store_choices
from omnistore.web.i18n import local_datetime
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required

DEFAULT_STAGE = Stage.AT_RISK  # the segment a manager acts on first


def _stage_arg():
    return request.args.get("stage", DEFAULT_STAGE.value)[:40]


@bp.get("/customers")
@role_required("manager")
def customers():
    scope, failure = scope_from_query()
    stage, error, result, status = _stage_arg(), None, None, 200
    try:
        result = segments.members(scope, stage, page=page_from_query())
    except ValidationFailed as refused:
        error, status = refused.message, 422
    return render_page_or_partial(
        "manager/customers.html",
        "manager/_customers.html",
        status_code=status,
        scope=scope,
        failure=failure,
        stores=store_choices(),
        periods=PERIOD_LABELS,
        no_period=True,
        stage=stage if error is None else "",
        stage_error=error,
        stages=STAGES,
        counts=segments.stage_counts(scope),
        result=result,
    )


@bp.get("/customers.csv")
@role_required("manager")
def customers_csv():
    scope, _failure = scope_from_query()
    stage = _stage_arg()
    members = segments.all_members(scope, stage, staff=current_user)
    zone = scope_zone(scope)
    rows = [
        (
            m.customer.id,
            m.customer.display_name,
            m.customer.loyalty_number or "",
            stage_label(m.stage),
            m.orders,
            local_datetime(m.last_order_at, zone) if m.last_order_at else "",
            local_datetime(m.last_visit_at, zone) if m.last_visit_at else "",
            m.customer.preferred_location.name if m.customer.preferred_location else "",
        )
        for m in members
    ]
    header = (
        _("Customer number"),
        _("Name"),
        _("Loyalty number"),
        _("Stage"),
        _("Orders"),
        _("Last purchase"),
        _("Last visit"),
        _("Preferred store"),
    )
    where = scope.location.code if scope.location else "network"
    return csv_download(f"customers-{stage}-{where}-{scope.now.date().isoformat()}.csv", header, rows)
