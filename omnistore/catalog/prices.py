"""A variant's price per market: the one owner of "what does this cost here".

A variant has a price in each market it is sold in (catalog.models.VariantPrice), VAT included, in the market's
currency. Without a price in a market it is not sellable there: `prices_in` leaves it out, `price_in` says None,
and the screens and the API say so. An order line keeps the unit price it was sold at (orders/placing.py), so a
later price change never touches an order.
"""

from sqlalchemy import bindparam, select

from omnistore.catalog.models import VariantPrice
from omnistore.core.extensions import db


def prices_in(variant_ids, market_code) -> dict:
    """{variant id: price in minor units} in the market, for the variants sold there (one statement)."""
    ids = list(variant_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(VariantPrice.variant_id, VariantPrice.amount_minor).where(
            VariantPrice.market_code == market_code, VariantPrice.variant_id.in_(ids)
        )
    )
    return dict(rows.all())


def price_in(variant_id, market_code) -> int | None:
    """The variant's price in the market, or None: not sold there."""
    return prices_in([variant_id], market_code).get(variant_id)


def price_column(variant_id_column, market="market"):
    """The price in the market bound as `market`, as a column of a statement over variants (NULL: not sold)."""
    return (
        select(VariantPrice.amount_minor)
        .where(VariantPrice.variant_id == variant_id_column, VariantPrice.market_code == bindparam(market))
        .scalar_subquery()
    )


def price_here_column(variant_id_column, here="here"):
    """The price in the market of the location bound as `here` (the clerk's store), as a column of a statement
    over variants (NULL: not sold there, or no location)."""
    from omnistore.stores.models import Location

    return (
        select(VariantPrice.amount_minor)
        .join(Location, Location.market_code == VariantPrice.market_code)
        .where(VariantPrice.variant_id == variant_id_column, Location.id == bindparam(here))
        .scalar_subquery()
    )


def prices_of(variant) -> dict:
    """{market code: price} of one variant (the API's product output)."""
    return {price.market_code: price.amount_minor for price in variant.prices}
