"""What is available, per variant, here and in the network: the figures the catalogue screens show.

- `variant_totals(variant_ids, here_id)`: available here and in the network per variant.
- `product_view(product_id, here_id)`: the product page's size × colour matrix with available-here figures.
- `search(query)`: the clerk's catalogue search (search.py) with here / network totals per result.

Available means on_hand − allocated, at active locations only. Network totals come from the variants'
summary rows less what lies at closed locations, so a search page or a product page reads one row per
variant, not one per location. The hot statements are built once (at import, or once per database) and
read plain rows, not ORM objects. Where each location's stock of one variant is shown (the live panel) is
network_panel.py.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Integer, and_, any_, bindparam, exists, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from omnistore.catalog.models import Product, Variant
from omnistore.core.extensions import db
from omnistore.stock import search as catalogue_search
from omnistore.stock.models import StockLevel, VariantStock
from omnistore.stock.network_panel import _AVAILABLE, PanelVariant, _pending_first
from omnistore.stores.models import Location

# --- figures per variant and per product ----------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    here: int = 0
    network: int = 0


def _one_of_ids(column, dialect):
    """`column` is one of the ids in bindparam "ids": `= ANY(array)` on PostgreSQL, so the statement's text is
    the same for any number of ids and stays prepared (its plan reused); `IN (…)` elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


class _PerDialect:
    """A statement built on first use for the database in use (see _one_of_ids)."""

    def __init__(self, build):
        self.build = build
        self.built = {}

    def __call__(self):
        dialect = db.engine.dialect.name
        if dialect not in self.built:
            self.built[dialect] = self.build(dialect)
        return self.built[dialect]


def _figures_statement(*columns, by_product=False, dialect=None, one_product=False):
    """`columns` of the variants (by id, or by their product's id: bindparam "ids"; with one_product, of the
    product bindparam "id", which comes back even without variants) with available here (the one level at
    the active location "here") and in the network: the variant's summary row less what lies at closed
    locations (few or none: the plan walks the closed locations, not the variants' rows), and the summary's
    versions and levels."""
    here, owner = aliased(StockLevel), aliased(Variant)
    closed = (
        select(StockLevel.variant_id, func.sum(_AVAILABLE).label("available"))
        .join(Location, Location.id == StockLevel.location_id)
        .where(Location.active.is_(False))
    )
    if one_product:
        closed = closed.join(owner, owner.id == StockLevel.variant_id).where(owner.product_id == bindparam("id"))
    elif by_product:
        closed = closed.join(owner, owner.id == StockLevel.variant_id).where(_one_of_ids(owner.product_id, dialect))
    else:
        closed = closed.where(_one_of_ids(StockLevel.variant_id, dialect))
    closed = closed.group_by(StockLevel.variant_id).subquery()
    here_open = exists().where(Location.id == bindparam("here"), Location.active.is_(True))
    network = VariantStock.on_hand - VariantStock.allocated - func.coalesce(closed.c.available, 0)
    statement = select(
        *columns,
        func.coalesce(here.on_hand - here.allocated, 0),
        func.coalesce(network, 0),
        func.coalesce(VariantStock.versions, 0),
        func.coalesce(VariantStock.levels, 0),
    )
    if one_product:
        statement = (
            statement.select_from(Product)
            .outerjoin(Variant, Variant.product_id == Product.id)
            .where(Product.id == bindparam("id"))
        )
    else:
        statement = statement.select_from(Variant).where(
            _one_of_ids(Variant.product_id if by_product else Variant.id, dialect)
        )
    return (
        statement.outerjoin(VariantStock, VariantStock.variant_id == Variant.id)
        .outerjoin(here, and_(here.variant_id == Variant.id, here.location_id == bindparam("here"), here_open))
        .outerjoin(closed, closed.c.variant_id == Variant.id)
        .order_by(Variant.id)
    )


_TOTALS = _PerDialect(lambda dialect: _figures_statement(Variant.id, dialect=dialect))
_VARIANTS_WITH_FIGURES = _PerDialect(
    lambda dialect: _figures_statement(*catalogue_search.FOUND_VARIANT_COLUMNS, by_product=True, dialect=dialect)
)


def variant_totals(variant_ids, here_id):
    """{variant id: Totals} at active locations: a key lookup per variant in its summary row."""
    variant_ids = list(variant_ids)
    if not variant_ids:
        return {}
    _pending_first()
    rows = db.session.execute(_TOTALS(), {"ids": variant_ids, "here": here_id})
    return {variant_id: Totals(int(here_total), int(total)) for variant_id, here_total, total, _v, _l in rows}


def offerable_at_stores(pairs) -> dict:
    """{(variant id, location id): units} for the (variant, location) `pairs` at active stores that have units
    beyond their safety stock: available (on_hand − allocated, as everywhere here) less the store's
    `safety_stock`, when that is above zero. It reads what `ledger.allocate(..., keep_safety_stock=True)` would
    let go, the limit that allocation itself checks in its one conditional write ("available near you" asks
    which stores can hold a unit for a customer, clienteling/nearby.py)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    _pending_first()
    offerable = _AVAILABLE - Location.safety_stock
    found = {}
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        rows = db.session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, offerable)
            .join(Location, Location.id == StockLevel.location_id)
            .where(
                Location.active.is_(True),
                Location.kind == "store",
                offerable > 0,
                StockLevel.variant_id.in_({variant_id for variant_id, _l in chunk}),
                StockLevel.location_id.in_({location_id for _v, location_id in chunk}),
            )
        )
        wanted = set(chunk)
        found.update({(v, loc): int(units) for v, loc, units in rows if (v, loc) in wanted})
    return found


@dataclass
class MatrixCell:
    variant: catalogue_search.FoundVariant
    totals: Totals


@dataclass(eq=False)
class ProductDetails:
    """The product page's product: what it shows, and its variants in id order."""

    id: int
    style_code: str
    name: str
    brand: str
    category: str
    description: str
    image_url: str
    variants: list[catalogue_search.FoundVariant] = field(default_factory=list)


@dataclass
class ProductView:
    product: ProductDetails
    sizes: list[str]
    colours: list[str]
    cells: dict[tuple[str, str], list[MatrixCell]]  # (colour, size) → usually one variant
    totals: Totals = field(default_factory=Totals)
    stamps: dict = field(default_factory=dict, repr=False)  # {variant id: (versions, levels)}

    def cell(self, colour, size):
        return self.cells.get((colour, size), [])

    def panel_variant(self, variant_id):
        """The PanelVariant of one of the product's variants (for its network panel, without reading it again)."""
        variant = next((v for v in self.product.variants if v.id == variant_id), None)
        if variant is None:
            return None
        return PanelVariant(
            variant.id,
            self.product.id,
            self.product.name,
            variant.sku,
            variant.ean,
            variant.size,
            variant.colour,
            variant.price_minor,
            *self.stamps.get(variant.id, (0, 0)),
        )

    @property
    def price_range(self):
        """The lowest and highest price here (None, None: not sold in this store's market)."""
        prices = [variant.price_minor for variant in self.product.variants if variant.price_minor is not None]
        return (min(prices), max(prices)) if prices else (None, None)


_PRODUCT_COLUMNS = (
    Product.id,
    Product.style_code,
    Product.name,
    Product.brand,
    Product.category,
    Product.description,
    Product.image_url,
)
_PRODUCT_PAGE = _figures_statement(*_PRODUCT_COLUMNS, *catalogue_search.FOUND_VARIANT_COLUMNS, one_product=True)


def product_view(product_id, here_id):
    """The product page: the product, its sizes in size order, colours as listed, available per variant.
    One statement: the product with its variants and their figures (a row per variant)."""
    _pending_first()
    rows = db.session.execute(_PRODUCT_PAGE, {"id": product_id, "here": here_id}).all()
    if not rows:
        return None
    product = ProductDetails(*rows[0][: len(_PRODUCT_COLUMNS)])
    figures, stamps = {}, {}
    for row in rows:
        *columns, here_total, total, versions, levels = row[len(_PRODUCT_COLUMNS) :]
        if columns[0] is None:  # a product without variants
            continue
        variant = catalogue_search.FoundVariant(*columns)
        product.variants.append(variant)
        figures[variant.id], stamps[variant.id] = Totals(int(here_total), int(total)), (versions, levels)
    sizes = sorted({variant.size for variant in product.variants}, key=catalogue_search.size_sort_key)
    colours = list(dict.fromkeys(variant.colour for variant in product.variants))
    cells = defaultdict(list)
    for variant in product.variants:
        cells[(variant.colour, variant.size)].append(MatrixCell(variant, figures[variant.id]))
    totals = Totals(sum(t.here for t in figures.values()), sum(t.network for t in figures.values()))
    return ProductView(product, sizes, colours, dict(cells), totals, stamps)


# --- the search with stock figures --------------------------------------------------------------------


@dataclass
class SearchHit:
    product: catalogue_search.FoundProduct
    variants: list[catalogue_search.FoundVariant]  # those matching the size / colour filters
    totals: Totals

    @property
    def price_range(self):
        prices = [variant.price_minor for variant in self.variants if variant.price_minor is not None]
        return (min(prices), max(prices)) if prices else (None, None)

    @property
    def variant(self):
        """The variant to open when the filters name one (the first available here, else the first)."""
        return None if not self.variants else self.variants[0]


@dataclass
class SearchPage:
    result: catalogue_search.CatalogueResult
    hits: list[SearchHit]

    @property
    def query(self):
        return self.result.query


def search(query):
    """The catalogue search (see search.search_catalogue) with here / network totals per product,
    counted over the variants that match the size and colour filters. The variants come with their figures
    (one statement), so a page is two statements, or four when a typo is corrected."""
    figures = {}

    def variants_with_figures(product_ids):
        _pending_first()
        found = {}
        for *columns, here_total, total, _versions, _levels in db.session.execute(
            _VARIANTS_WITH_FIGURES(), {"ids": list(product_ids), "here": query.here_id}
        ):
            variant = catalogue_search.FoundVariant(*columns)
            figures[variant.id] = Totals(int(here_total), int(total))
            found.setdefault(variant.product_id, []).append(variant)
        return found

    result = catalogue_search.search_catalogue(query, variants_with_figures)
    hits = []
    for product in result.products:
        variants = result.variants_of(product)
        totals = Totals(sum(figures[v.id].here for v in variants), sum(figures[v.id].network for v in variants))
        if query.variant_filtered:  # open the matching variant that is here, else the first match
            variants = sorted(variants, key=lambda v: figures[v.id].here <= 0)
        hits.append(SearchHit(product, variants, totals))
    return SearchPage(result, hits)
