"""What a customer did, across every channel: the timeline, open orders, figures and recommendations.

Timeline: orders (with their lines), pickup and delivery milestones (ready, checked in, collected, shipped,
delivered, expired, cancelled), returns and their refunds, staff notes and visits; newest first, a page at a
time, optionally one channel only (notes and visits happen in a store).

Recommendations: products bought together with what this customer bought, counted over every other
customer's orders (distinct customers per pair), offered in the customer's size (the size kept on the
profile for that kind of product, else the size they bought most of that kind), only when available at this
store or somewhere in the network, never a variant they already bought.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.orm import aliased, joinedload, selectinload

from omnistore.catalog.models import Product, Variant
from omnistore.catalog.prices import prices_in
from omnistore.clienteling.models import PurchaseFollowUp
from omnistore.core.channels import CHANNELS
from omnistore.core.extensions import db
from omnistore.core.statuses import OPEN_STATUSES
from omnistore.customers.models import CustomerNote, CustomerVisit, MarketingSend
from omnistore.customers.services import CATEGORY_GROUP, ONE_SIZE
from omnistore.orders.models import Order, OrderEvent, OrderLine
from omnistore.stock.models import StockLevel
from omnistore.stores.markets import market_of
from omnistore.stores.models import Location

TIMELINE_PAGE = 15
MILESTONES = (
    "ready",
    "checked_in",
    "collected",
    "shipped",
    "delivered",
    "expired",
    "cancelled",
    "returned",
    "refunded",
)
NOT_SOLD = ("cancelled", "expired")  # orders that never became a sale
RECOMMENDATIONS = 6
_ANCHORS_MAX = 20  # the customer's most recent products used to look for companions
_CANDIDATES_MAX = 60


# --- figures ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    lifetime_value: dict  # {currency: minor units}: per currency, never summed across currencies
    orders: int
    average_basket: dict  # {currency: minor units}, over the orders in that currency
    last_purchase: object
    favourite_categories: list  # [(category, items)]


def figures(customer) -> Figures:
    sold = and_(Order.customer_id == customer.id, Order.status.not_in(NOT_SOLD))
    per_currency = db.session.execute(
        select(Order.currency, func.count(), func.sum(Order.total_minor), func.max(Order.placed_at))
        .where(sold)
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    count = sum(n for _c, n, _t, _l in per_currency)
    last = max((placed for _c, _n, _t, placed in per_currency), default=None)
    categories = db.session.execute(
        select(Product.category, func.sum(OrderLine.quantity).label("items"))
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Variant, Variant.id == OrderLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(sold, OrderLine.status != "refused", Product.category != "")
        .group_by(Product.category)
        .order_by(func.sum(OrderLine.quantity).desc(), Product.category)
        .limit(3)
    ).all()
    return Figures(
        lifetime_value={currency: int(total) for currency, _n, total, _l in per_currency},
        orders=int(count),
        average_basket={currency: round(total / n) for currency, n, total, _l in per_currency},
        last_purchase=last,
        favourite_categories=[(category, int(items)) for category, items in categories],
    )


def open_orders(customer) -> list[Order]:
    return db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id, Order.status.in_(OPEN_STATUSES))
        .options(joinedload(Order.pickup), joinedload(Order.pickup_location))
        .order_by(Order.placed_at.desc(), Order.id.desc())
    ).all()


# --- timeline ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str  # "order", "event", "note", "visit"
    at: object
    channel: str
    item: object  # Order, OrderEvent (with .order), CustomerNote or CustomerVisit


@dataclass(frozen=True)
class TimelinePage:
    entries: list
    page: int
    has_older: bool
    channel: str | None


def _timeline_sources(customer_id, channel):
    orders = select(
        literal("order").label("kind"),
        Order.id.label("ref"),
        Order.placed_at.label("at"),
        Order.channel.label("channel"),
    ).where(Order.customer_id == customer_id)
    events = (
        select(
            literal("event").label("kind"),
            OrderEvent.id.label("ref"),
            OrderEvent.created_at.label("at"),
            Order.channel.label("channel"),
        )
        .join(Order, Order.id == OrderEvent.order_id)
        .where(Order.customer_id == customer_id, OrderEvent.kind.in_(MILESTONES))
    )
    notes = select(
        literal("note").label("kind"),
        CustomerNote.id.label("ref"),
        CustomerNote.created_at.label("at"),
        literal("store").label("channel"),
    ).where(CustomerNote.customer_id == customer_id)
    visits = select(
        literal("visit").label("kind"),
        CustomerVisit.id.label("ref"),
        CustomerVisit.created_at.label("at"),
        CustomerVisit.channel.label("channel"),
    ).where(CustomerVisit.customer_id == customer_id)
    # What the customer said after a purchase that asks for a call (a low rating, a comment): from their phone.
    feedback = select(
        literal("feedback").label("kind"),
        PurchaseFollowUp.id.label("ref"),
        func.coalesce(PurchaseFollowUp.commented_at, PurchaseFollowUp.rated_at).label("at"),
        literal("web").label("channel"),
    ).where(PurchaseFollowUp.customer_id == customer_id, PurchaseFollowUp.callback.is_(True))
    # A clerk's message from the profile (clienteling/outreach.py): written in a store.
    outreach = select(
        literal("outreach").label("kind"),
        MarketingSend.id.label("ref"),
        MarketingSend.created_at.label("at"),
        literal("store").label("channel"),
    ).where(MarketingSend.customer_id == customer_id, MarketingSend.kind == "outreach")
    if channel:
        orders = orders.where(Order.channel == channel)
        events = events.where(Order.channel == channel)
        visits = visits.where(CustomerVisit.channel == channel)
        parts = [orders, events, visits] + ([notes, outreach] if channel == "store" else [])
        parts += [feedback] if channel == "web" else []
    else:
        parts = [orders, events, notes, visits, feedback, outreach]
    return union_all(*parts).subquery()


def timeline(customer, *, channel=None, page=1, per_page=TIMELINE_PAGE) -> TimelinePage:
    channel = channel if channel in CHANNELS else None
    source = _timeline_sources(customer.id, channel)
    page = max(1, page)
    rows = db.session.execute(
        select(source.c.kind, source.c.ref, source.c.at, source.c.channel)
        .order_by(source.c.at.desc(), source.c.kind, source.c.ref.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)  # one more: is there an older page?
    ).all()
    has_older = len(rows) > per_page
    rows = rows[:per_page]
    ids = defaultdict(list)
    for row in rows:
        ids[row.kind].append(row.ref)
    loaded = {}
    if ids["order"]:
        for order in db.session.scalars(
            select(Order)
            .where(Order.id.in_(ids["order"]))
            .options(
                selectinload(Order.lines).joinedload(OrderLine.variant).joinedload(Variant.product),
                joinedload(Order.pickup_location),
                joinedload(Order.origin_location),
            )
        ).unique():
            loaded["order", order.id] = order
    if ids["event"]:
        for event in db.session.scalars(
            select(OrderEvent).where(OrderEvent.id.in_(ids["event"])).options(joinedload(OrderEvent.staff))
        ):
            loaded["event", event.id] = event
        orders = {
            o.id: o
            for o in db.session.scalars(
                select(Order)
                .where(Order.id.in_({e.order_id for (kind, _i), e in loaded.items() if kind == "event"}))
                .options(joinedload(Order.pickup_location))
            )
        }
        for (kind, _i), event in list(loaded.items()):
            if kind == "event":
                event.timeline_order = orders.get(event.order_id)
    if ids["note"]:
        for note in db.session.scalars(
            select(CustomerNote).where(CustomerNote.id.in_(ids["note"])).options(joinedload(CustomerNote.staff))
        ):
            loaded["note", note.id] = note
    if ids["visit"]:
        for visit in db.session.scalars(
            select(CustomerVisit)
            .where(CustomerVisit.id.in_(ids["visit"]))
            .options(joinedload(CustomerVisit.staff), joinedload(CustomerVisit.location))
        ):
            loaded["visit", visit.id] = visit
    if ids["feedback"]:
        for row in db.session.scalars(
            select(PurchaseFollowUp)
            .where(PurchaseFollowUp.id.in_(ids["feedback"]))
            .options(joinedload(PurchaseFollowUp.order), joinedload(PurchaseFollowUp.called_by))
        ):
            loaded["feedback", row.id] = row
    if ids["outreach"]:
        for send in db.session.scalars(
            select(MarketingSend).where(MarketingSend.id.in_(ids["outreach"])).options(joinedload(MarketingSend.staff))
        ):
            loaded["outreach", send.id] = send
    entries = [
        Entry(row.kind, row.at, row.channel, loaded[row.kind, row.ref]) for row in rows if (row.kind, row.ref) in loaded
    ]
    return TimelinePage(entries=entries, page=page, has_older=has_older, channel=channel)


# --- recommendations --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    product: Product
    variant: Variant
    because_of: Product  # what the customer bought that others bought it with
    customers: int  # how many other customers bought both
    here: int  # available at this store
    network: int  # available anywhere
    price_minor: int | None = None  # in this store's market (None: not sold there)
    currency: str = ""


def _bought(customer):
    """[(variant_id, product_id, size, category)] the customer bought (newest first), refused lines left out."""
    return db.session.execute(
        select(Variant.id, Variant.product_id, Variant.size, Product.category)
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Variant, Variant.id == OrderLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(Order.customer_id == customer.id, Order.status.not_in(NOT_SOLD), OrderLine.status != "refused")
        .order_by(Order.placed_at.desc())
    ).all()


def customer_sizes(customer, bought=None) -> dict:
    """The customer's size per group: from the profile, else the size bought most often in that group."""
    counts = defaultdict(Counter)
    for _variant, _product, size, category in bought if bought is not None else _bought(customer):
        group = CATEGORY_GROUP.get(category)
        if group and size and size != ONE_SIZE:
            counts[group][size] += 1
    sizes = {group: counter.most_common(1)[0][0] for group, counter in counts.items()}
    sizes.update({group: size for group, size in (customer.sizes or {}).items() if size})
    return sizes


def recommendations(customer, location_id, *, limit=RECOMMENDATIONS) -> list[Recommendation]:
    bought = _bought(customer)
    if not bought:
        return []
    bought_variants = {row[0] for row in bought}
    anchors = list(dict.fromkeys(row[1] for row in bought))[:_ANCHORS_MAX]
    sizes = customer_sizes(customer, bought)

    a, b = aliased(OrderLine), aliased(OrderLine)
    va, vb = aliased(Variant), aliased(Variant)
    pairs = db.session.execute(
        select(
            va.product_id.label("anchor"),
            vb.product_id.label("other"),
            func.count(func.distinct(Order.customer_id)).label("customers"),
        )
        .select_from(a)
        .join(va, va.id == a.variant_id)
        .join(Order, Order.id == a.order_id)
        .join(b, and_(b.order_id == a.order_id, b.id != a.id))
        .join(vb, vb.id == b.variant_id)
        .where(
            va.product_id.in_(anchors),
            vb.product_id != va.product_id,
            Order.customer_id.is_not(None),
            Order.customer_id != customer.id,
            Order.status.not_in(NOT_SOLD),
        )
        .group_by(va.product_id, vb.product_id)
        .order_by(func.count(func.distinct(Order.customer_id)).desc(), vb.product_id)
        .limit(_CANDIDATES_MAX)
    ).all()
    best = {}  # other product -> (customers, anchor), the strongest reason
    for anchor, other, count in pairs:
        if other not in best or count > best[other][0]:
            best[other] = (count, anchor)
    if not best:
        return []
    products = {
        p.id: p
        for p in db.session.scalars(
            select(Product).where(Product.id.in_(set(best) | set(anchors))).options(selectinload(Product.variants))
        )
    }
    wanted = []  # (product, [variants in the customer's size])
    for other in sorted(best, key=lambda pid: (-best[pid][0], pid)):
        product = products.get(other)
        if product is None:
            continue
        group = CATEGORY_GROUP.get(product.category)
        size = sizes.get(group) if group else None
        fitting = [
            v
            for v in product.variants
            if v.id not in bought_variants and (v.size == ONE_SIZE or (size is not None and v.size == size))
        ]
        if fitting:
            wanted.append((product, fitting))
    variant_ids = [v.id for _p, variants in wanted for v in variants]
    if not variant_ids:
        return []
    available = defaultdict(lambda: [0, 0])  # variant -> [here, network]
    for variant_id, at, free in db.session.execute(
        select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand - StockLevel.allocated).where(
            StockLevel.variant_id.in_(variant_ids), StockLevel.on_hand > StockLevel.allocated
        )
    ):
        available[variant_id][1] += free
        if at == location_id:
            available[variant_id][0] += free
    store = db.session.get(Location, location_id)
    market = market_of(store) if store is not None else None
    prices = prices_in(variant_ids, market.code) if market is not None else {}
    found = []
    for product, variants in wanted:
        in_stock = [v for v in variants if available[v.id][1] > 0 and v.id in prices]
        if not in_stock:
            continue
        variant = max(in_stock, key=lambda v: (available[v.id][0] > 0, available[v.id][1], -v.id))
        count, anchor = best[product.id]
        found.append(
            Recommendation(
                product, variant, products[anchor], count, *available[variant.id], prices[variant.id], market.currency
            )
        )
        if len(found) == limit:
            break
    return found
