"""The manager's offer figures: per offer, issued, redeemed, the discount given and the sales it brought, in the
store or the network over the period (reviews/offers.py), on screen and as CSV."""

from flask_babel import gettext as _

from omnistore.core.csvfile import Money, Number
from omnistore.offers.labels import offer_value
from omnistore.reviews import offers as offer_figures_query
from omnistore.reviews.views import bp
from omnistore.reviews.views.query import PERIOD_LABELS, scope_from_query, store_choices
from omnistore.web.rendering import csv_download, render_page_or_partial, role_required


@bp.get("/offers")
@role_required("manager")
def offer_figures():
    scope, failure = scope_from_query()
    rows = offer_figures_query.per_offer(scope)
    return render_page_or_partial(
        "manager/offers.html",
        "manager/_offers.html",
        scope=scope,
        failure=failure,
        rows=rows,
        totals=offer_figures_query.totals(rows),
        stores=store_choices(),
        periods=PERIOD_LABELS,
    )


@bp.get("/offers.csv")
@role_required("manager")
def offer_figures_csv():
    scope, _failure = scope_from_query()
    header = (
        _("Offer"),
        _("Discount"),
        _("Market"),
        _("First day"),
        _("Last day"),
        _("Issued"),
        _("Redeemed"),
        _("Redemption rate (%)"),
        _("Currency"),
        _("Discount given"),
        _("Sales brought"),
    )
    rows = [
        (
            row.offer.name,
            offer_value(row.offer),
            row.offer.market_code,
            row.offer.valid_from.isoformat(),
            row.offer.valid_until.isoformat(),
            row.issued,
            row.redeemed,
            None if row.redemption_rate is None else Number(round(row.redemption_rate * 100, 1)),
            row.currency,
            Money(row.discount_minor),
            Money(row.sales_minor),
        )
        for row in offer_figures_query.per_offer(scope)
    ]
    where = scope.location.code if scope.location else "network"
    name = f"offers-{where}-{scope.first_day.isoformat()}-{scope.last_day.isoformat()}.csv"
    return csv_download(name, header, rows)
