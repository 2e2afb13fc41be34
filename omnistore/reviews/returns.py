"""Returns for the manager: the return rate and the reasons by store, by channel and by product, and returns
across stores (bought here, returned there), over a review scope (a store or the network, and a period).
Read from the returns (returns/models.py) and the order lines; writes nothing.

The rules:
- **Returned**: units taken back (every grade but "not ours", which is refused) by returns received in the
  period; their **reasons** count returns (a return has one reason); **refunds** are what those returns owe,
  goods and shipping (by product: the goods only), per currency — amounts in different currencies are never
  added up.
- **Sold**: units of order lines collected or delivered, of orders placed in the period.
- **Return rate**: units returned ÷ units sold (none when nothing was sold).
- **Store**: where the goods were bought — the order's pickup store, else the store that sold it; an online
  order delivered to the customer's home has none ("Delivered online").
- **Store scope**: a store's manager sees what was bought at their store (sold and returned, wherever it came
  back), and across stores also what was bought elsewhere and returned at their store.
"""

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from omnistore.catalog.models import Product, Variant
from omnistore.core.extensions import db
from omnistore.core.statuses import LineStatus
from omnistore.orders.models import Order, OrderLine
from omnistore.returns.models import REASONS, Return, ReturnLine
from omnistore.reviews.figures import between
from omnistore.stores.models import Location

SOLD_STATUSES = (LineStatus.COLLECTED, LineStatus.DELIVERED)


def bought_at():
    """The store an order's goods were bought at (its pickup store, else the selling store; None: delivered)."""
    return func.coalesce(Order.pickup_location_id, Order.origin_location_id)


@dataclass
class Group:
    """Returns of one store, channel or product (`key`; `name` as shown)."""

    key: object
    name: object = None
    sold: int = 0
    returned: int = 0
    returns: set = field(default_factory=set)
    by_reason: Counter = field(default_factory=Counter)  # reason -> returns
    refunds: dict = field(default_factory=dict)  # currency -> minor units

    @property
    def rate(self):
        return self.returned / self.sold if self.sold else None

    @property
    def return_count(self):
        return len(self.returns)

    def refunds_sorted(self):
        return sorted(self.refunds.items())


@dataclass
class Crossing:
    """Returns of goods bought at `bought` (None: delivered online) and taken back at `returned_at`."""

    bought: Location | None
    returned_at: Location
    returned: int = 0
    returns: set = field(default_factory=set)
    refunds: dict = field(default_factory=dict)
    by_reason: Counter = field(default_factory=Counter)

    @property
    def elsewhere(self):
        return self.bought is None or self.bought.id != self.returned_at.id

    @property
    def return_count(self):
        return len(self.returns)

    def refunds_sorted(self):
        return sorted(self.refunds.items())


@dataclass
class ReturnFigures:
    by_store: list
    by_channel: list
    by_product: list
    across: list
    reasons: tuple = REASONS

    @property
    def empty(self):
        return not (self.by_store or self.by_channel or self.by_product)


def _add(refunds, currency, minor):
    if minor:
        refunds[currency] = refunds.get(currency, 0) + minor


def figures(scope) -> ReturnFigures:
    store = bought_at().label("store_id")
    returned = (
        select(
            store,
            Return.location_id,
            Order.channel,
            Variant.product_id,
            Product.name,
            Return.id,
            Return.reason,
            Return.currency,
            Return.shipping_refund_minor,
            ReturnLine.grade,
            ReturnLine.quantity,
            ReturnLine.refund_minor,
        )
        .select_from(ReturnLine)
        .join(Return, Return.id == ReturnLine.return_id)
        .join(Order, Order.id == Return.order_id)
        .join(Variant, Variant.id == ReturnLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(between(Return.created_at, scope))
    )
    sold = (
        select(store, Order.channel, Variant.product_id, Product.name, func.sum(OrderLine.quantity))
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Variant, Variant.id == OrderLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(between(Order.placed_at, scope), OrderLine.status.in_(SOLD_STATUSES))
        .group_by(bought_at(), Order.channel, Variant.product_id, Product.name)
    )
    if scope.location is not None:
        here = scope.location.id
        returned = returned.where(or_(bought_at() == here, Return.location_id == here))
        sold = sold.where(bought_at() == here)

    stores, channels, products, across = {}, {}, {}, {}
    locations = {}

    def location(location_id):
        if location_id is not None and location_id not in locations:
            locations[location_id] = db.session.get(Location, location_id)
        return locations.get(location_id)

    def group(table, key, name):
        if key not in table:
            table[key] = Group(key, name)
        return table[key]

    for store_id, channel, product_id, product_name, units in db.session.execute(sold):
        units = int(units or 0)
        group(stores, store_id, location(store_id)).sold += units
        group(channels, channel, channel).sold += units
        group(products, product_id, product_name).sold += units

    shipping_seen = set()
    for row in db.session.execute(returned):
        (store_id, returned_at, channel, product_id, product_name, return_id, reason, currency, shipping, grade,
         quantity, refund) = row  # fmt: skip
        ours = scope.location is None or store_id == scope.location.id
        units = 0 if grade == "not_ours" else quantity
        first_line = return_id not in shipping_seen
        shipping_seen.add(return_id)
        money = refund + (shipping if first_line else 0)
        if ours:
            targets = (
                (group(stores, store_id, location(store_id)), money),
                (group(channels, channel, channel), money),
                (group(products, product_id, product_name), refund),  # the shipping fee is no product's
            )
            for item, amount in targets:
                item.returned += units
                if return_id not in item.returns:
                    item.returns.add(return_id)
                    item.by_reason[reason] += 1
                _add(item.refunds, currency, amount)
        crossing = across.get((store_id, returned_at))
        if crossing is None:
            crossing = across[store_id, returned_at] = Crossing(location(store_id), location(returned_at))
        crossing.returned += units
        if return_id not in crossing.returns:
            crossing.returns.add(return_id)
            crossing.by_reason[reason] += 1
        _add(crossing.refunds, currency, money)

    def ordered(table):
        return sorted(table.values(), key=lambda g: (-g.returned, -g.sold, str(g.name or "")))

    return ReturnFigures(
        by_store=ordered(stores),
        by_channel=ordered(channels),
        by_product=ordered(products),
        across=sorted(
            across.values(),
            key=lambda c: (not c.elsewhere, -c.returned, c.bought.name if c.bought else "", c.returned_at.name),
        ),
    )
