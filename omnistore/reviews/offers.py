"""The manager's offer figures, per offer, in a store or the network over a period: customers it was issued to,
times it was redeemed (uses given back by a cancelled order do not count), the discount given and the sales the
orders that used it brought (their totals after the discount), in the offer's market's currency."""

from dataclasses import dataclass

from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.offers.models import IssuedOffer, Offer, OfferRedemption
from omnistore.orders.models import Order


@dataclass(frozen=True)
class OfferFigures:
    offer: Offer
    currency: str
    issued: int
    redeemed: int
    discount_minor: int
    sales_minor: int

    @property
    def redemption_rate(self):
        return self.redeemed / self.issued if self.issued else None


def per_offer(scope) -> list:
    """One row per offer issued or redeemed in the scope's period and store (see the module docstring)."""
    issued_where = [IssuedOffer.issued_at >= scope.start, IssuedOffer.issued_at < scope.end]
    selling_store = func.coalesce(Order.origin_location_id, Order.pickup_location_id)
    used_where = [
        OfferRedemption.redeemed_at >= scope.start,
        OfferRedemption.redeemed_at < scope.end,
        OfferRedemption.released_at.is_(None),
    ]
    if scope.location is not None:
        issued_where.append(IssuedOffer.location_id == scope.location.id)
        used_where.append(selling_store == scope.location.id)
    issued = dict(
        db.session.execute(
            select(IssuedOffer.offer_id, func.count()).where(*issued_where).group_by(IssuedOffer.offer_id)
        ).all()
    )
    used = {
        row.offer_id: row
        for row in db.session.execute(
            select(
                IssuedOffer.offer_id,
                func.count().label("redeemed"),
                func.sum(OfferRedemption.discount_minor).label("discount"),
                func.sum(Order.total_minor).label("sales"),
                func.min(Order.currency).label("currency"),
            )
            .join(IssuedOffer, IssuedOffer.id == OfferRedemption.issued_offer_id)
            .join(Order, Order.id == OfferRedemption.order_id)
            .where(*used_where)
            .group_by(IssuedOffer.offer_id)
        )
    }
    ids = set(issued) | set(used)
    if not ids:
        return []
    offers = db.session.scalars(
        select(Offer).where(Offer.id.in_(ids)).order_by(Offer.valid_from.desc(), Offer.id)
    ).all()
    rows = []
    for offer in offers:
        row = used.get(offer.id)
        rows.append(
            OfferFigures(
                offer,
                row.currency if row is not None else offer.market.currency,
                issued.get(offer.id, 0),
                row.redeemed if row is not None else 0,
                int(row.discount or 0) if row is not None else 0,
                int(row.sales or 0) if row is not None else 0,
            )
        )
    return rows


@dataclass(frozen=True)
class OfferTotal:
    currency: str
    issued: int
    redeemed: int
    discount_minor: int
    sales_minor: int


def totals(rows) -> list[OfferTotal]:
    """The rows added up, one total per currency: amounts in different currencies stay apart."""
    found = {}
    for row in rows:
        issued, redeemed, discount, sales = found.get(row.currency, (0, 0, 0, 0))
        found[row.currency] = (
            issued + row.issued,
            redeemed + row.redeemed,
            discount + row.discount_minor,
            sales + row.sales_minor,
        )
    return [OfferTotal(currency, *numbers) for currency, numbers in sorted(found.items())]
