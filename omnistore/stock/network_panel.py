"""The network panel: every location's stock of one variant as seen from a store, refreshed live on the tablet.

- `network_panel(variant_id, here, ...)`: every location that has the variant available (nearest first),
  this store, the warehouses, totals, what is in transit to which store, and the panel's fingerprint.
- `fingerprint(variant_id)`: the sum of the versions of the variant's stock levels and their number, read
  from its summary row (models.VariantStock, kept by the stock verbs in the same transaction as every
  change, see summaries.py): one key lookup. Every change to a stock level bumps its `version`, so the
  fingerprint changes with any change anywhere; an open panel sends it back and gets 204 (nothing new).
  `poll(staff, variant)` answers that question and the sign-in check in one statement. No figure is kept
  in process memory, so any number of app processes behind one database agree.

Available means on_hand − allocated, at active locations only. The panel reads the order lines of transfers
in transit (the one import of a higher domain that the layer contract allows, see pyproject.toml), to show
what is on its way to each store. The hot statements are built once, at import, and read plain rows, not
ORM objects: at a few dozen requests per second per core, building a statement or an object costs more than
the database's work.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache

from sqlalchemy import Text, and_, bindparam, cast, func, or_, select

from omnistore.catalog.models import Product, Variant
from omnistore.catalog.prices import price_here_column
from omnistore.core.extensions import db
from omnistore.core.statuses import INACTIVE_LINE_STATUSES, UNRECEIVED_TRANSFER_STATUSES
from omnistore.orders.models import OrderLine, Transfer
from omnistore.stock import summaries
from omnistore.stock.models import StockLevel, VariantStock
from omnistore.stores.locations import OpeningStatus, distances_from, opening_status
from omnistore.stores.models import Location, Staff, StaffSession

FINGERPRINT_PERIOD_SECONDS = 900  # "open now" may change at any quarter hour: re-render then
_AVAILABLE = StockLevel.on_hand - StockLevel.allocated


# --- the fingerprint ---------------------------------------------------------------------------------------

# Built once: the idle refresh runs this and nothing else, so even building the statement would show.
_FINGERPRINT = select(VariantStock.versions, VariantStock.levels).where(VariantStock.variant_id == bindparam("v"))


def fingerprint(variant_id, now=None):
    """ "<sum of versions>-<rows>-<quarter hour>" of the variant's stock rows: changes whenever any of them
    changes (or is added or removed), and every quarter hour so that "open now" stays true. The sums are
    kept in the variant's summary row (models.VariantStock), so this is one key lookup."""
    _pending_first()
    row = db.session.execute(_FINGERPRINT, {"v": variant_id}).first()
    return stamp(*(row or (0, 0)), now=now)


def stamp(versions, levels, now=None):
    quarter = int((now or datetime.now(UTC)).timestamp()) // FINGERPRINT_PERIOD_SECONDS
    return f"{versions}-{levels}-{quarter}"


# The idle poll's one statement: the signed-in staff member's session fields (the staff row's generation and
# active flag, the server-side session with the cookie's key) and the variant's fingerprint.
_POLL = (
    select(
        Staff.session_generation,
        Staff.active,
        StaffSession.ended_at,
        StaffSession.started_at,
        StaffSession.last_seen_at,
        VariantStock.versions,
        VariantStock.levels,
    )
    .select_from(Staff)
    .outerjoin(StaffSession, and_(StaffSession.staff_id == Staff.id, StaffSession.key_hash == bindparam("key")))
    .outerjoin(VariantStock, VariantStock.variant_id == bindparam("v"))
    .where(Staff.id == bindparam("staff"))
)


@dataclass(frozen=True)
class PollAnswer:
    session_generation: int
    active: bool
    session_open: bool  # the server-side session with this key exists and has not ended
    started_at: datetime | None
    last_seen_at: datetime | None
    fingerprint: str


def poll(staff_id, key_hash, variant_id):
    """For a panel asking "anything new?": the staff member's session generation and active flag, their
    server-side session with this key (to check the sign-in and its idle time) and the variant's fingerprint,
    in one statement; None if there is no such staff member.

    On PostgreSQL it runs on a connection in autocommit: one round trip, no BEGIN and ROLLBACK around it
    (a single statement sees one snapshot either way)."""
    params = {"staff": staff_id, "key": key_hash, "v": variant_id}
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            row = connection.execute(_POLL, params).first()
    else:
        row = db.session.execute(_POLL, params).first()
    if row is None:
        return None
    generation, active, ended_at, started_at, last_seen_at, versions, levels = row
    return PollAnswer(
        generation,
        bool(active),
        started_at is not None and ended_at is None,
        started_at,
        last_seen_at,
        stamp(versions or 0, levels or 0),
    )


def _pending_first():
    """Read this transaction's own stock changes too (they reach the summary rows at commit)."""
    if summaries.has_pending_summaries(db.session):
        summaries.write_pending_summaries(db.session())


# --- the network panel -----------------------------------------------------------------------------------


@dataclass
class Place:
    """The columns of a Location the panel shows: lighter than a mapped Location for 200+ rows, and the
    opening hours stay JSON text until a row is shown."""

    id: int
    code: str
    name: str
    kind: str
    phone: str
    latitude: float
    longitude: float
    timezone: str
    opening_hours_json: str | None

    @property
    def is_store(self):
        return self.kind == "store"

    @property
    def opening_hours(self):
        return _opening_hours(self.opening_hours_json)


@lru_cache(maxsize=4096)
def _opening_hours(text):
    """The opening hours stored as JSON text, parsed (once per text: a network has a few distinct ones).
    Read only: the parsed value is shared."""
    try:
        return json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}


_PLACE_COLUMNS = (
    Location.id,
    Location.code,
    Location.name,
    Location.kind,
    Location.phone,
    Location.latitude,
    Location.longitude,
    Location.timezone,
    cast(Location.opening_hours, Text).label("opening_hours"),
)


@dataclass
class PanelRow:
    location: Place
    available: int
    distance_km: float
    now: datetime
    is_here: bool = False
    low: bool = False  # available, but at or below the low-stock threshold
    arriving: int = 0  # in transit to this location

    @cached_property
    def opening(self) -> OpeningStatus:
        """Open now? Worked out when first shown: a long panel shows only its nearest rows."""
        return opening_status(self.location, self.now)


@dataclass
class InTransit:
    destination: Place
    quantity: int


@dataclass(frozen=True)
class PanelVariant:
    """The variant a panel is about, with its product's name and its fingerprint's sums."""

    id: int
    product_id: int
    product_name: str
    sku: str
    ean: str
    size: str
    colour: str
    price_minor: int | None  # in the market of the store looking; None: not sold there
    versions: int = 0  # of its stock levels (see fingerprint)
    levels: int = 0

    label = property(Variant.label.fget)  # "Navy / XL", as the model says


@dataclass
class NetworkPanel:
    variant: PanelVariant
    here: PanelRow | None  # this store (always shown, even when it has none)
    warehouses: list[PanelRow]  # warehouses with it available, nearest first
    in_transit: list[InTransit]  # per destination, nearest first
    fingerprint: str
    total_network: int = 0  # available at every active location, this one included
    low_threshold: int = 2
    # Other stores with the variant available, nearest first: (distance, name, row data), made into PanelRows
    # only as far as they are shown (a panel shows the nearest few of 200); all of them, or the `nearest` the
    # caller asked for, of `other_stores` in all.
    ranked_stores: list = field(default_factory=list, repr=False)
    now: datetime | None = None
    other_stores: int = 0
    nearest: int | None = None

    @property
    def total_here(self):
        return self.here.available if self.here is not None else 0

    @property
    def total_in_transit(self):
        return sum(item.quantity for item in self.in_transit)

    @property
    def store_count(self):
        """How many other stores have the variant available."""
        return self.other_stores

    def nearest_stores(self, count=None):
        """The `count` nearest other stores with the variant available (as many as were read without one)."""
        ranked = self.ranked_stores if count is None else self.ranked_stores[:count]
        return [self._row(distance, columns) for distance, _name, columns in ranked]

    @cached_property
    def stores(self):
        """The other stores with the variant available, nearest first (the `nearest` ones, if so read)."""
        return self.nearest_stores()

    @property
    def locations(self):
        """Every row, this store first: for tests and for anyone who wants one list."""
        return ([self.here] if self.here is not None else []) + self.stores + self.warehouses

    def _row(self, distance, row, is_here=False):
        """A PanelRow from a row of the stock statement (the location's columns, available, arriving)."""
        available = max(row[-2], 0)
        return PanelRow(
            Place(*row[:-2]),
            available,
            distance,
            self.now,
            is_here=is_here,
            low=0 < available <= self.low_threshold,
            arriving=max(row[-1] or 0, 0),
        )


_PANEL_VARIANT = (
    select(
        Variant.id,
        Variant.product_id,
        Product.name,
        Variant.sku,
        Variant.ean,
        Variant.size,
        Variant.colour,
        price_here_column(Variant.id),
        func.coalesce(VariantStock.versions, 0),
        func.coalesce(VariantStock.levels, 0),
    )
    .join(Product, Product.id == Variant.product_id)
    .outerjoin(VariantStock, VariantStock.variant_id == Variant.id)
    .where(Variant.id == bindparam("v"))
)


def panel_variant(variant_id, here_id=None):
    """The PanelVariant of `variant_id` priced in `here_id`'s market (one statement), or None if there is no such
    variant."""
    _pending_first()
    row = db.session.execute(_PANEL_VARIANT, {"v": variant_id, "here": here_id}).first()
    return PanelVariant(*row) if row is not None else None


def _panel_stock_statement():
    """The active locations that have the variant available, or expect some, or are here; with the quantity
    on its way to each (transfers not yet received)."""
    variant_id = bindparam("v")
    arriving = (
        select(Transfer.destination_location_id.label("location_id"), func.sum(OrderLine.quantity).label("quantity"))
        .join(Transfer, Transfer.id == OrderLine.transfer_id)
        .where(
            OrderLine.variant_id == variant_id,
            OrderLine.status.not_in(INACTIVE_LINE_STATUSES),
            Transfer.status.in_(UNRECEIVED_TRANSFER_STATUSES),
            Transfer.destination_location_id.is_not(None),
        )
        .group_by(Transfer.destination_location_id)
        .subquery()
    )
    available = func.coalesce(_AVAILABLE, 0)
    return (
        select(*_PLACE_COLUMNS, available.label("available"), arriving.c.quantity.label("arriving"))
        .outerjoin(StockLevel, and_(StockLevel.location_id == Location.id, StockLevel.variant_id == variant_id))
        .outerjoin(arriving, arriving.c.location_id == Location.id)
        .where(Location.active.is_(True), or_(available > 0, Location.id == bindparam("here"), arriving.c.quantity > 0))
    )


_PANEL_STOCK = _panel_stock_statement()


# Positions in a row of _PANEL_STOCK: the location's columns (_PLACE_COLUMNS), then available and arriving.
_ID, _NAME, _KIND, _LAT, _LON, _AVAIL, _ARRIVING = 0, 2, 3, 5, 6, 9, 10


def network_panel(variant, here, *, low_threshold=2, now=None, nearest=None):
    """The panel for one variant (its id, or the PanelVariant the caller read already) as seen from `here`
    (the staff member's location, or its id), or None if the variant is unknown. `nearest`: how many of the
    other stores that have it are wanted, nearest first (all of them by default; store_count says how many
    there are).

    Two statements whatever the size of the network: the variant with its product and fingerprint (first,
    so a change that lands while the panel is being built makes the next poll re-render), then the active
    locations that have it available, or are here, or expect some, with what is on its way to them. They
    are ranked by distance in Python (measured: ranking them in PostgreSQL cost it more than it saved here),
    and only the rows shown become objects.
    """
    now = now or datetime.now(UTC)
    here_id = getattr(here, "id", here)
    if not isinstance(variant, PanelVariant):
        variant = panel_variant(variant, here_id)
        if variant is None:
            return None
    panel = NetworkPanel(
        variant,
        None,
        [],
        [],
        stamp(variant.versions, variant.levels, now),
        low_threshold=low_threshold,
        now=now,
        nearest=nearest,
    )
    rows = db.session.execute(_PANEL_STOCK, {"v": variant.id, "here": here_id}).all()
    distance = _distances_from(here, here_id, rows)
    ranked = [
        (distance(row), row[_NAME], row, row[_KIND] == "store" and row[_ID] != here_id and row[_AVAIL] > 0)
        for row in rows
    ]
    ranked.sort(key=_by_distance)
    for km, name, row, other_store in ranked:
        if row[_AVAIL] > 0:
            panel.total_network += row[_AVAIL]
        panel.other_stores += other_store
        if row[_ID] == here_id:
            panel.here = panel._row(0.0, row, is_here=True)
        elif other_store:
            if nearest is None or len(panel.ranked_stores) < nearest:
                panel.ranked_stores.append((km, name, row))
        elif row[_AVAIL] > 0:
            panel.warehouses.append(panel._row(km, row))
        if row[_ARRIVING] and row[_ARRIVING] > 0:
            panel.in_transit.append(InTransit(Place(*row[:_AVAIL]), int(row[_ARRIVING])))
    return panel


def _by_distance(entry):
    return entry[0], entry[1]


class _Point:
    """Latitude and longitude for locations.distances_from, refilled for each row (no object per row)."""

    __slots__ = ("latitude", "longitude")


def _distances_from(here, here_id, rows):
    """A function: stock row → great-circle km from here; 0 for every row when there is no here."""
    origin = here if hasattr(here, "latitude") else None
    if origin is None and here_id is not None:
        origin = next((_at(row[_LAT], row[_LON]) for row in rows if row[_ID] == here_id), None)
        if origin is None:  # here is closed, so not among the rows
            origin = db.session.execute(
                select(Location.latitude, Location.longitude).where(Location.id == here_id)
            ).first()
    if origin is None:
        return lambda _row: 0.0
    km, point = distances_from(origin), _Point()

    def distance(row):
        point.latitude, point.longitude = row[_LAT], row[_LON]
        return km(point)

    return distance


def _at(latitude, longitude):
    point = _Point()
    point.latitude, point.longitude = latitude, longitude
    return point
