"""The read side of stock: where a variant is available, how far away, whether that place is open now.

- `network_panel(variant_id, here, ...)`: every location that has the variant available (nearest first),
  this store, the warehouses, totals, what is in transit to which store, and the panel's fingerprint.
- `fingerprint(variant_id)`: one indexed aggregate over the variant's stock rows. Every change to a stock
  level bumps its `version`, so the fingerprint changes with any change anywhere; an open panel sends it
  back and gets 204 (nothing new) for the price of this one query. No figure is kept in process memory,
  so any number of app processes behind one database agree.
- `product_view(product_id, here_id)`: the product page's size × colour matrix with available-here figures.
- `search(query)`: the clerk's catalogue search (services.catalog) with here / network totals per result.

Available means on_hand − allocated, at active locations only.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Location, OrderLine, Product, StockLevel, Transfer, Variant
from . import catalog
from .locations import OpeningStatus, distance_km, opening_status

IN_TRANSIT_STATUSES = ("requested", "picked", "shipped")  # a transfer not yet received (nor cancelled)
INACTIVE_LINE_STATUSES = ("short", "released", "refused")  # lines whose goods are not on their way
FINGERPRINT_PERIOD_SECONDS = 900  # "open now" may change at any quarter hour: re-render then
_AVAILABLE = StockLevel.on_hand - StockLevel.allocated


# --- the fingerprint ---------------------------------------------------------------------------------------

def fingerprint(variant_id, now=None):
    """ "<sum of versions>-<rows>-<quarter hour>" of the variant's stock rows: changes whenever any of them
    changes (or is added or removed), and every quarter hour so that "open now" stays true."""
    total, rows = db.session.execute(
        select(func.coalesce(func.sum(StockLevel.version), 0), func.count())
        .where(StockLevel.variant_id == variant_id)
    ).one()
    quarter = int((now or datetime.now(UTC)).timestamp()) // FINGERPRINT_PERIOD_SECONDS
    return f"{total}-{rows}-{quarter}"


# --- the network panel -----------------------------------------------------------------------------------

@dataclass
class PanelRow:
    location: Location
    available: int
    distance_km: float
    opening: OpeningStatus
    is_here: bool = False
    low: bool = False  # available, but at or below the low-stock threshold
    arriving: int = 0  # in transit to this location


@dataclass
class InTransit:
    destination: Location
    quantity: int


@dataclass
class NetworkPanel:
    variant: Variant
    here: PanelRow | None  # this store (always shown, even when it has none)
    stores: list[PanelRow]  # other stores with the variant available, nearest first
    warehouses: list[PanelRow]  # warehouses with it available, nearest first
    in_transit: list[InTransit]  # per destination, nearest first
    fingerprint: str
    total_network: int = 0  # available at every active location, this one included
    low_threshold: int = 2

    @property
    def total_here(self):
        return self.here.available if self.here is not None else 0

    @property
    def total_in_transit(self):
        return sum(item.quantity for item in self.in_transit)

    @property
    def locations(self):
        """Every row shown, this store first: for tests and for anyone who wants one list."""
        return ([self.here] if self.here is not None else []) + self.stores + self.warehouses


def network_panel(variant_id, here, *, low_threshold=2, now=None):
    """The panel for one variant as seen from `here` (the staff member's location), or None if unknown.

    Four queries whatever the size of the network: the fingerprint (first, so a change that lands while
    the panel is being built makes the next poll re-render), the variant with its product, every active
    location with its stock of the variant, and the transfers on their way.
    """
    now = now or datetime.now(UTC)
    stamp = fingerprint(variant_id, now)
    variant = db.session.scalar(
        select(Variant).where(Variant.id == variant_id).options(joinedload(Variant.product)))
    if variant is None:
        return None
    stock = db.session.execute(
        select(Location, func.coalesce(_AVAILABLE, 0))
        .outerjoin(StockLevel, and_(StockLevel.location_id == Location.id, StockLevel.variant_id == variant_id))
        .where(Location.active.is_(True))
    ).all()
    arriving = _in_transit(variant_id)
    panel = NetworkPanel(variant, None, [], [], [], stamp, low_threshold=low_threshold)
    here_id = here.id if here is not None else None
    for location, available in stock:
        available = max(available, 0)
        panel.total_network += available
        is_here = location.id == here_id
        if not available and not is_here:
            continue
        row = PanelRow(
            location, available, distance_km(here, location) if here is not None else 0.0,
            opening_status(location, now), is_here=is_here, low=0 < available <= low_threshold,
            arriving=arriving.get(location.id, 0),
        )
        if is_here:
            panel.here = row
        elif location.is_store:
            panel.stores.append(row)
        else:
            panel.warehouses.append(row)
    panel.stores.sort(key=lambda row: (row.distance_km, row.location.name))
    panel.warehouses.sort(key=lambda row: (row.distance_km, row.location.name))
    by_id = {location.id: location for location, _available in stock}
    panel.in_transit = sorted(  # nearest destination (this store) first, like the rows
        (InTransit(by_id[location_id], quantity) for location_id, quantity in arriving.items() if location_id in by_id),
        key=lambda item: (distance_km(here, item.destination) if here is not None else 0, item.destination.name))
    return panel


def _in_transit(variant_id):
    """{destination location id: quantity} of the variant in transfers not yet received."""
    rows = db.session.execute(
        select(Transfer.destination_location_id, func.sum(OrderLine.quantity))
        .join(Transfer, Transfer.id == OrderLine.transfer_id)
        .where(OrderLine.variant_id == variant_id, OrderLine.status.not_in(INACTIVE_LINE_STATUSES),
               Transfer.status.in_(IN_TRANSIT_STATUSES), Transfer.destination_location_id.is_not(None))
        .group_by(Transfer.destination_location_id)
    )
    return {location_id: int(quantity) for location_id, quantity in rows if quantity}


# --- figures per variant and per product ----------------------------------------------------------------

@dataclass(frozen=True)
class Totals:
    here: int = 0
    network: int = 0


def _totals(key, variant_ids, here_id):
    """{key value: Totals} over the given variants' stock at active locations; `key` a Variant column."""
    if not variant_ids:
        return {}
    here = func.sum(case((StockLevel.location_id == here_id, _AVAILABLE), else_=0))
    rows = db.session.execute(
        select(key, here, func.sum(_AVAILABLE))
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .join(Location, and_(Location.id == StockLevel.location_id, Location.active.is_(True)))
        .where(Variant.id.in_(variant_ids))
        .group_by(key)
    )
    return {value: Totals(int(here_total or 0), int(total or 0)) for value, here_total, total in rows}


def variant_totals(variant_ids, here_id):
    return _totals(Variant.id, list(variant_ids), here_id)


@dataclass
class MatrixCell:
    variant: Variant
    totals: Totals


@dataclass
class ProductView:
    product: Product
    sizes: list[str]
    colours: list[str]
    cells: dict[tuple[str, str], list[MatrixCell]]  # (colour, size) → usually one variant
    totals: Totals = field(default_factory=Totals)

    def cell(self, colour, size):
        return self.cells.get((colour, size), [])

    @property
    def price_range(self):
        prices = [variant.price_minor for variant in self.product.variants]
        return (min(prices), max(prices)) if prices else (None, None)


def product_view(product_id, here_id):
    """The product page: the product, its sizes in size order, colours as listed, available per variant."""
    product = db.session.scalar(
        select(Product).where(Product.id == product_id).options(selectinload(Product.variants)))
    if product is None:
        return None
    figures = variant_totals([variant.id for variant in product.variants], here_id)
    sizes = sorted({variant.size for variant in product.variants}, key=catalog.size_sort_key)
    colours = list(dict.fromkeys(variant.colour for variant in product.variants))
    cells = defaultdict(list)
    for variant in product.variants:
        cells[(variant.colour, variant.size)].append(MatrixCell(variant, figures.get(variant.id, Totals())))
    totals = Totals(sum(t.here for t in figures.values()), sum(t.network for t in figures.values()))
    return ProductView(product, sizes, colours, dict(cells), totals)


# --- the search with stock figures --------------------------------------------------------------------

@dataclass
class SearchHit:
    product: Product
    variants: list[Variant]  # those matching the size / colour filters
    totals: Totals

    @property
    def price_range(self):
        prices = [variant.price_minor for variant in self.variants]
        return (min(prices), max(prices)) if prices else (None, None)

    @property
    def variant(self):
        """The variant to open when the filters name one (the first available here, else the first)."""
        return None if not self.variants else self.variants[0]


@dataclass
class SearchPage:
    result: catalog.CatalogueResult
    hits: list[SearchHit]

    @property
    def query(self):
        return self.result.query


def search(query):
    """The catalogue search (see services.catalog.search_catalogue) with here / network totals per product,
    counted over the variants that match the size and colour filters. Two or three queries a page."""
    result = catalog.search_catalogue(query)
    chosen = {product.id: result.variants_of(product) for product in result.products}
    per_variant = variant_totals([v.id for variants in chosen.values() for v in variants], query.here_id)
    hits = []
    for product in result.products:
        variants = chosen[product.id]
        figures = [per_variant.get(variant.id, Totals()) for variant in variants]
        totals = Totals(sum(f.here for f in figures), sum(f.network for f in figures))
        if query.variant_filtered:  # open the matching variant that is here, else the first match
            variants = sorted(variants, key=lambda v: per_variant.get(v.id, Totals()).here <= 0)
        hits.append(SearchHit(product, variants, totals))
    return SearchPage(result, hits)
