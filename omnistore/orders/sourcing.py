"""The sourcing engine: which location supplies each line of an order, why, and by when.

`propose(SourcingRequest) -> Proposal` reads stock and the network and writes nothing. The same inputs
give the same plan (every ranking ends in a stable tie-break: the location's code), and every planned
line carries a translated reason a clerk can read out to the customer.

The rules, in order:

1. Who may supply. A location supplies only if it is active and has stock of the variant. For anybody
   but itself (a pickup at another store, a delivery, a sale at another store) a location must also
   have `sourcing_enabled` (off e.g. during an inventory count), must keep its `safety_stock` (its last N
   units are not sourced away: it offers `available - safety_stock`), and must not have reached its
   `transfer_capacity`: the outgoing transfers created today, the location's own local day, not counting
   cancelled ones (a capacity of 0 pauses sending altogether). The pickup store (or, for a delivery sold in a
   store, that store) offers all of its available units to its own customer. No location is chosen for a
   variant it rejected at pick time within OMNISTORE_REJECTION_EXCLUDE_HOURS (orders/rejecting.py), nor for
   the pairs a request excludes.
2. The order of preference (the rank).
   - Pickup: the pickup store itself; then the other stores, nearest first (great-circle distance from
     the pickup store); then the warehouses (shortest lead time first, then nearest).
   - Delivery sold in a store: that store; then the other stores nearest to it; then the warehouses.
   - Delivery without a selling store (a web order): the warehouses (shortest lead time first), then the
     stores in the delivery address's country, then the rest; each group by code.
3. No split if it can be helped: the first location in rank order that can supply every line in full
   supplies the whole order. Only when no single location can, the order is split by line: each line
   (in the order given) comes whole from the best-ranked location that still has enough after the lines
   before it. A line is never split across locations; a line no location can supply whole is marked
   unavailable (the proposal is then not complete, and placing it is refused).
4. The promised date (counted from today in the pickup store's, or for a delivery the source's, time zone;
   this module is the one owner of the rule, so the builder, the proposal, the API and the emails agree):
   - goods already at the pickup store: ready today while the store is still open today (or opens later
     today), else on its next open day;
   - a transfer from another store: TRANSFER_DAYS by distance between source and pickup store
     (default up to 50 km: 1 day, up to 400 km: 2 days, beyond: 3 days; OMNISTORE_TRANSFER_DAYS);
   - from a warehouse: the warehouse's `lead_time_days` (at least 1: goods leave on another day);
     a transfer's date moves on to the pickup store's next open day (never a day it is closed);
   - a delivery: goods leave on the source's first open day after its lead time and arrive
     OMNISTORE_DELIVERY_DAYS (default 2) later, a Sunday moving to the Monday.
   The order's promise is the latest of its lines'.
5. Price and shipping. The order is sold in one market (`order_market`): the one asked for, else the selling
   store's, else the pickup store's, else the delivery country's, else the default market. Each line costs the
   variant's price in that market (catalog/prices.py), whichever location — in whichever country — supplies it:
   sourcing ignores currency. A variant without a price there is not sellable there: its line is unavailable,
   and says so. A pickup is free; a delivery costs the market's shipping fee unless the goods total reaches
   its free-shipping threshold (`shipping_fee`, the one owner: the order's total is goods plus that fee);
   deliveries go to OMNISTORE_DELIVERY_COUNTRIES (default DE, DK), and a postcode is checked by the rule of its
   country's market (order_rules.check_address → stores.markets.check_postcode).

A draft's own holds (units already allocated to it, see orders/drafts.py) count as available to that
draft: pass them as `own_holds` so re-proposing does not compete with itself.

What a request may hold (lines, fulfilment, address, pickup store) is checked by orders/order_rules.py, which
also reads the configured Rules (days, fees, countries); a source's transfers of the day are counted and, while
placing, claimed by orders/transfer_capacity.py. What is left here is one algorithm, read top to bottom: the
request, the proposal it gives, and the steps above in order (who may supply and in which rank, the single
source or the split, the promised date, the reason of each line in the viewer's language) — kept together
so the five rules and their code stay side by side.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import inspect, select
from sqlalchemy.orm.util import identity_key

from omnistore.catalog.models import Variant
from omnistore.catalog.prices import prices_in
from omnistore.core import formatting
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders.models import LineRejection
from omnistore.orders.order_rules import FULFILMENTS, MAX_LINES, Rules, check_quantity, pickup_location, rules
from omnistore.orders.transfer_capacity import transfers_today
from omnistore.stock.models import StockLevel
from omnistore.stores.locations import distances_from, first_ready_day, location_zone, next_open_day
from omnistore.stores.markets import default_market_code, market_for
from omnistore.stores.models import Location, Market

# --- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcingRequest:
    lines: tuple  # of LineRequest
    fulfilment: str  # "pickup" | "delivery"
    pickup_location_id: int | None = None
    delivery_country: str | None = None
    selling_location_id: int | None = None  # the store the clerk sells from (None: a web order)
    own_holds: tuple = ()  # ((variant_id, location_id, quantity), ...) already allocated to this draft
    now: datetime | None = None
    market_code: str | None = None  # the market it is sold in (None: see order_market)
    exclude: tuple = ()  # ((variant_id, location_id), ...) never to be chosen (besides recent rejections)


# --- output -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedLine:
    variant_id: int
    quantity: int
    unit_price_minor: int
    source: Location | None  # None: nobody can supply it
    reason: str
    promised_date: date | None
    distance_km: float | None = None
    keeps_safety_stock: bool = False  # the source supplies another location: its safety stock stays
    reason_code: str = ""  # with reason_params: the reason as stored, rendered by reason_text in any language
    reason_params: dict = field(default_factory=dict)

    @property
    def available(self):
        return self.source is not None

    @property
    def total_minor(self):
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True)
class Proposal:
    fulfilment: str
    pickup_location: Location | None
    lines: tuple  # of PlannedLine, in the order asked
    split: bool
    split_reason: str
    goods_minor: int
    shipping_fee_minor: int
    promised_date: date | None
    shipping_rule: str
    unavailable: tuple = field(default=())  # PlannedLines nobody can supply
    market_code: str = ""  # the market it is priced in, and that market's currency
    currency: str = ""

    @property
    def complete(self):
        return not self.unavailable

    @property
    def total_minor(self):
        return self.goods_minor + self.shipping_fee_minor

    @property
    def sources(self):
        """The distinct supplying locations, in line order."""
        return list({line.source.id: line.source for line in self.lines if line.source is not None}.values())

    def keeping_safety_stock(self):
        """The ids of the sources that must keep their safety stock while allocating for this plan (all but
        the pickup/selling store itself): stock.allocate(..., keep_safety_stock=True) for them."""
        return frozenset(line.source.id for line in self.lines if line.source is not None and line.keeps_safety_stock)

    def allocations(self):
        """{(variant_id, location_id): quantity} this plan needs."""
        needed = {}
        for line in self.lines:
            if line.source is not None:
                key = (line.variant_id, line.source.id)
                needed[key] = needed.get(key, 0) + line.quantity
        return needed


# --- the engine -------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    site: "_Site"  # the location it would send from (its ORM object loaded only when planned with)
    rank: tuple
    distance_km: float | None
    own: bool  # the pickup/selling store: offers everything it has, safety stock and sourcing flags aside
    offer: dict  # variant_id -> units it can give this order


def _local_today(location, now):
    return now.astimezone(location_zone(location)).date()


def _check_request(request):
    if request.fulfilment not in FULFILMENTS:
        raise ValidationFailed(_("Choose pickup or delivery."), {"fulfilment": _("Choose pickup or delivery.")})
    if not request.lines:
        raise ValidationFailed(_("Add at least one item."), {"lines": _("Add at least one item.")})
    if len(request.lines) > MAX_LINES:
        raise ValidationFailed(_("Too many lines."), {"lines": _("At most %(max)d lines per order.", max=MAX_LINES)})
    for index, line in enumerate(request.lines):
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool):
            raise ValidationFailed(
                _("Please check the quantity."), {f"lines.{index}.quantity": _("Enter a whole number, like 1.")}
            )
        check_quantity(line.quantity, name=f"lines.{index}.quantity")


class Reading:
    """What proposals made together read once. The ways one draft could go (counter.option_summaries) are
    proposed one after another with nothing written between them, so they share the variants, prices, stock,
    recent rejections and today's transfers they read instead of reading each again per way."""

    def __init__(self):
        self.now = utcnow()  # the moment they are proposed at, unless a request names its own
        self._read = {}
        self.transfers = {}  # transfer_capacity.transfers_today's counts per local midnight

    def once(self, key, read):
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]

    def prices(self, variant_ids, market_code) -> dict:
        """prices_in for these variants in that market, read once (the builder shows the lines' prices too)."""
        ids = tuple(sorted(set(variant_ids)))
        return self.once(("prices", ids, market_code), lambda: prices_in(ids, market_code))


def _existing_variants(variant_ids):
    """Which of these variant ids exist. Those the session holds loaded (a draft's lines bring theirs along) need
    no statement; the rest are looked up."""
    session = db.session
    held = {
        variant_id
        for variant_id in variant_ids
        if (variant := session.identity_map.get(identity_key(Variant, variant_id))) is not None
        and not inspect(variant).expired
    }
    missing = [variant_id for variant_id in variant_ids if variant_id not in held]
    return held | set(session.scalars(select(Variant.id).where(Variant.id.in_(missing)))) if missing else held


def propose(request: SourcingRequest, *, rules_: Rules | None = None, reading: Reading | None = None) -> Proposal:
    """The sourcing plan for `request` (see the module docstring for the rules). Reads only; proposals made
    together may share a `Reading`."""
    _check_request(request)
    rule = rules_ or rules()
    reading = reading or Reading()
    now = request.now or reading.now
    variant_ids = tuple(sorted({line.variant_id for line in request.lines}))
    variants = reading.once(("variants", variant_ids), lambda: _existing_variants(variant_ids))
    for index, line in enumerate(request.lines):
        if line.variant_id not in variants:
            raise NotFound(_("We could not find that product variant."), field=f"lines.{index}")

    pickup = None
    market = order_market(request)
    prices = reading.prices(variant_ids, market.code)
    if request.fulfilment == "pickup":
        pickup = pickup_location(request.pickup_location_id)
        anchor = pickup
    else:
        country = (request.delivery_country or "").upper()
        if country not in rule.delivery_countries:
            raise ValidationFailed(
                _("Please check the delivery address."),
                {"country": _("We deliver to %(countries)s only.", countries=", ".join(rule.delivery_countries))},
            )
        anchor = db.session.get(Location, request.selling_location_id) if request.selling_location_id else None
        if anchor is not None and not anchor.active:
            anchor = None

    # Stock of the requested variants wherever there is some (and the draft's own holds back on top).
    held = {}
    for variant_id, location_id, quantity in request.own_holds:
        held[(variant_id, location_id)] = held.get((variant_id, location_id), 0) + quantity
    levels = {}
    stock = reading.once(
        ("stock", variant_ids),
        lambda: db.session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.allocated).where(
                StockLevel.variant_id.in_(variant_ids)
            )
        ).all(),
    )
    for variant_id, location_id, on_hand, allocated in stock:
        levels[(variant_id, location_id)] = max(on_hand - allocated, 0) + held.get((variant_id, location_id), 0)
    excluded = set(request.exclude) | reading.once(
        ("rejected", variant_ids, now), lambda: rejected_recently(variant_ids, now)
    )
    location_ids = {location_id for _v, location_id in levels}
    if anchor is not None:
        location_ids.add(anchor.id)
    sites = [site for site in active_sites() if site.id in location_ids] if location_ids else []

    candidates = _rank(
        sites,
        anchor=anchor,
        pickup=pickup,
        country=request.delivery_country,
        now=now,
        levels=levels,
        variant_ids=variant_ids,
        excluded=excluded,
        reading=reading,
    )

    # 3. one location for everything, else split by line. A variant not sold in the market is no one's to supply.
    for candidate in candidates:
        candidate.offer = {v: units for v, units in candidate.offer.items() if v in prices}
    needed = {}
    for line in request.lines:
        needed[line.variant_id] = needed.get(line.variant_id, 0) + line.quantity
    single = next((c for c in candidates if all(c.offer.get(v, 0) >= q for v, q in needed.items())), None)
    planned, unavailable = [], []
    if single is not None:
        for line in request.lines:
            planned.append(_planned(line, prices, single, pickup, request, rule, now, single.offer[line.variant_id]))
        split, split_reason = False, ""
    else:
        remaining = {id(c): dict(c.offer) for c in candidates}
        for line in request.lines:
            if line.variant_id not in prices:
                item = PlannedLine(
                    line.variant_id,
                    line.quantity,
                    0,
                    None,
                    reason_text("not_sold", {"market": market.name, "currency": market.currency}),
                    None,
                    reason_code="not_sold",
                    reason_params={"market": market.name, "currency": market.currency},
                )
                planned.append(item)
                unavailable.append(item)
                continue
            source = next((c for c in candidates if remaining[id(c)].get(line.variant_id, 0) >= line.quantity), None)
            if source is None:
                total = sum(c.offer.get(line.variant_id, 0) for c in candidates)
                if total:
                    code, reason = (
                        "short",
                        _(
                            "Not available: only %(available)d in the network can be sent, %(wanted)d asked for.",
                            available=total,
                            wanted=line.quantity,
                        ),
                    )
                else:
                    code, reason = _held_back(
                        line.variant_id,
                        sites,
                        levels,
                        anchor=anchor,
                        pickup=pickup,
                        now=now,
                    )
                item = PlannedLine(
                    line.variant_id,
                    line.quantity,
                    prices.get(line.variant_id, 0),
                    None,
                    reason,
                    None,
                    reason_code=code,
                )
                planned.append(item)
                unavailable.append(item)
                continue
            remaining[id(source)][line.variant_id] -= line.quantity
            planned.append(
                _planned(line, prices, source, pickup, request, rule, now, source.offer.get(line.variant_id, 0))
            )
        sources = {line.source.id for line in planned if line.source is not None}
        split = len(sources) > 1
        split_reason = (
            _("No single location has everything, so the order comes from %(count)d locations.", count=len(sources))
            if split
            else ""
        )
    goods = sum(line.total_minor for line in planned)
    dates = [line.promised_date for line in planned if line.promised_date is not None]
    promised = max(dates) if dates and not unavailable else None
    shipping_rule = (
        _(
            "Free shipping from %(threshold)s; below that %(fee)s.",
            threshold=_money(market.free_shipping_from_minor, market.currency),
            fee=_money(market.shipping_fee_minor, market.currency),
        )
        if request.fulfilment == "delivery"
        else _("Collection in store is free.")
    )
    return Proposal(
        fulfilment=request.fulfilment,
        pickup_location=pickup,
        lines=tuple(planned),
        split=split,
        split_reason=split_reason,
        goods_minor=goods,
        shipping_fee_minor=shipping_fee(market, request.fulfilment, goods),
        promised_date=promised,
        shipping_rule=shipping_rule,
        unavailable=tuple(unavailable),
        market_code=market.code,
        currency=market.currency,
    )


_ACTIVE_SITES = "omnistore.sourcing.active_sites"  # session.info: (transaction, sites)


@dataclass(frozen=True, slots=True)
class _Site:
    """What ranking reads of a location (duck-typed like it), read as plain columns once per transaction:
    loading a network's locations as ORM objects, and reading their attributes some 20 times each on every
    proposal, cost more than the ranking. The few locations a plan names are loaded (`location`)."""

    id: int
    code: str
    is_store: bool
    country: str
    timezone: str
    latitude: float
    longitude: float
    sourcing_enabled: bool
    safety_stock: int
    transfer_capacity: int
    lead_time_days: int

    @property
    def location(self) -> Location:
        return db.session.get(Location, self.id)  # the session's own when it has it: the stores at hand


def active_sites() -> list:
    """Every active location as a _Site, without its opening and pickup hours: the engine ranks them all by
    distance, rules and stock, and reads the hours of the one or two it plans with (loaded then). One statement
    per transaction (a counter order proposes several ways in one request), rather than an IN list of a
    network's ids and the hours of hundreds of stores decoded on every proposal."""
    session = db.session()
    cached = session.info.get(_ACTIVE_SITES)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1]
    sites = [
        _Site(*row)
        for row in session.execute(
            select(
                Location.id,
                Location.code,
                Location.is_store,
                Location.country,
                Location.timezone,
                Location.latitude,
                Location.longitude,
                Location.sourcing_enabled,
                Location.safety_stock,
                Location.transfer_capacity,
                Location.lead_time_days,
            ).where(Location.active.is_(True))
        )
    ]
    session.info[_ACTIVE_SITES] = (session.get_transaction(), sites)
    return sites


def order_market(request: SourcingRequest) -> Market:
    """The market an order is sold in: the one asked for; else the selling store's (a counter order); else the
    pickup store's; else the delivery country's, when the chain sells there; else the default market."""
    if request.market_code:
        return market_for(request.market_code)
    for location_id in (request.selling_location_id, request.pickup_location_id):
        location = db.session.get(Location, location_id) if isinstance(location_id, int) else None
        if location is not None and location.market_code:
            return market_for(location.market_code)
    country = (request.delivery_country or "").upper()
    market = db.session.get(Market, country) if country else None
    return market if market is not None else market_for(default_market_code())


def shipping_fee(market, fulfilment, goods_minor) -> int:
    """A pickup is free; a delivery costs the market's fee below its free-shipping threshold."""
    if fulfilment != "delivery" or goods_minor >= market.free_shipping_from_minor:
        return 0
    return market.shipping_fee_minor


def _money(minor, currency):
    return formatting.money(minor, currency)


def rejected_recently(variant_ids, now) -> set:
    """{(variant_id, location_id)} a store rejected at pick time and is not asked for again yet (its
    `exclude_until`, OMNISTORE_REJECTION_EXCLUDE_HOURS after the rejection, lies ahead)."""
    if not variant_ids:
        return set()
    rows = db.session.execute(
        select(LineRejection.variant_id, LineRejection.location_id).where(
            LineRejection.variant_id.in_(list(variant_ids)), LineRejection.exclude_until > now
        )
    ).all()
    return {(variant_id, location_id) for variant_id, location_id in rows}


def _rank(sites, *, anchor, pickup, country, now, levels, variant_ids, excluded=frozenset(), reading=None):
    distance = distances_from(anchor) if anchor is not None else None
    # Today's transfers matter only where rule 1 would let a location send something if it had sent none yet.
    could_send = [
        loc
        for loc in sites
        if (anchor is None or loc.id != anchor.id)
        and any(
            _why_not_eligible(loc, levels.get((variant_id, loc.id), 0), own=False, used={})[0] is None
            for variant_id in variant_ids
        )
    ]
    capacity_used = transfers_today(could_send, now, counted=reading.transfers if reading else None)
    country = (country or "").upper()
    candidates = []
    for loc in sites:
        own = anchor is not None and loc.id == anchor.id and loc.is_store
        offer = {}
        for variant_id in variant_ids:
            if (variant_id, loc.id) in excluded:
                continue  # rejected there at pick time a moment ago: not asked again for a while
            why_not, units = _why_not_eligible(loc, levels.get((variant_id, loc.id), 0), own=own, used=capacity_used)
            if why_not is None:
                offer[variant_id] = units
        if not offer:
            continue
        km = distance(loc) if distance is not None else None
        if own:
            rank = (0,)
        elif anchor is not None:
            rank = (1, km, loc.code) if loc.is_store else (2, loc.lead_time_days, km, loc.code)
        elif not loc.is_store:
            rank = (1, loc.lead_time_days, loc.code)
        else:
            rank = (2, 0 if loc.country == country else 1, loc.code)
        candidates.append(_Candidate(loc, rank, km, own, offer))
    candidates.sort(key=lambda c: c.rank)
    return candidates


def _why_not_eligible(loc, available, *, own, used):
    """The one statement of rule 1 (who may supply): (None, units it offers) when `loc` may supply some of
    the `available` units, else (why not, 0): "sourcing_off", "capacity" (today's transfers `used` up),
    "safety_stock", or "no_stock". A store supplying its own customer offers everything it has."""
    if not own:
        if not loc.sourcing_enabled:
            return "sourcing_off", 0
        if used.get(loc.id, 0) >= loc.transfer_capacity:
            return "capacity", 0
        if available > 0 and available - loc.safety_stock <= 0:
            return "safety_stock", 0
        available -= loc.safety_stock
    if available <= 0:
        return "no_stock", 0
    return None, available


def _held_back(variant_id, sites, levels, *, anchor, pickup, now):
    """Why nobody can send a unit of `variant_id` although the network has some: the rule that holds it
    back at the nearest such location (safety stock, today's transfer capacity, sourcing switched off),
    and what that rule still allows: _why_not_eligible, the check _rank makes. (code, text)."""
    distance = distances_from(anchor) if anchor is not None else None
    having = sorted(
        (
            loc
            for loc in sites
            if levels.get((variant_id, loc.id), 0) > 0
            and not (anchor is not None and loc.id == anchor.id and loc.is_store)
        ),
        key=lambda loc: (distance(loc) if distance is not None else 0, loc.code),
    )
    if not having:
        return "nowhere", _("Not available anywhere in the network.")
    used = transfers_today(having, now)
    loc = having[0]
    units = levels[(variant_id, loc.id)]
    why_not, _offered = _why_not_eligible(loc, units, own=False, used=used)
    loc = loc.location  # the one the message names
    if why_not == "sourcing_off":
        return "sourcing_off", _(
            "%(store)s has %(available)d but does not supply other stores at the moment.",
            store=loc.name,
            available=units,
        )
    if why_not == "capacity" and loc.transfer_capacity == 0:
        return "capacity", _(
            "%(store)s has %(available)d but has paused sending to other stores and customers.",
            store=loc.name,
            available=units,
        )
    if why_not == "capacity":
        return "capacity", _(
            "%(store)s has %(available)d but has sent all its transfers for today (%(capacity)d); try again tomorrow.",
            store=loc.name,
            available=units,
            capacity=loc.transfer_capacity,
        )
    if loc.is_store and loc.pickup_enabled and pickup is not None:
        return "safety_stock", ngettext(
            "%(store)s keeps its last unit as safety stock: collect it at %(store)s instead.",
            "%(store)s keeps its last %(num)d units as safety stock: collect them at %(store)s instead.",
            units,
            store=loc.name,
        )
    return "safety_stock", ngettext(
        "%(store)s keeps its last unit as safety stock.",
        "%(store)s keeps its last %(num)d units as safety stock.",
        units,
        store=loc.name,
    )


def _planned(line, prices, candidate, pickup, request, rule, now, offered):
    loc = candidate.site.location
    if request.fulfilment == "pickup":
        if loc.id == pickup.id:
            promised = first_ready_day(pickup, now)
            code = "here_pickup" if promised == _local_today(pickup, now) else "here_pickup_next_open"
            params = {"store": loc.name, "available": offered}
        elif loc.is_store:
            code, params = (
                "nearest_store",
                {"available": offered, "store": loc.name, "km": round(candidate.distance_km)},
            )
            promised = _arrival(pickup, now, rule.days_for_distance(candidate.distance_km))
        else:
            days = max(loc.lead_time_days, 1)
            code, params = "warehouse", {"name": loc.name, "available": offered, "days": days}
            promised = _arrival(pickup, now, days)
    else:
        # Goods leave on a day the source is open (after its lead time) and arrive DELIVERY_DAYS later,
        # never on a Sunday (carriers deliver Monday to Saturday).
        leaves = next_open_day(loc, first_ready_day(loc, now) + timedelta(days=loc.lead_time_days))
        promised = leaves + timedelta(days=rule.delivery_days)
        if promised.weekday() == 6:
            promised += timedelta(days=1)
        if candidate.own:
            code, params = "here_delivery", {"store": loc.name, "available": offered}
        elif loc.is_store and candidate.distance_km is not None:
            code, params = (
                "nearest_store",
                {"available": offered, "store": loc.name, "km": round(candidate.distance_km)},
            )
        elif loc.is_store:
            code, params = "store_ships", {"store": loc.name, "available": offered}
        else:
            code, params = "warehouse", {"name": loc.name, "available": offered, "days": loc.lead_time_days}
    return PlannedLine(
        line.variant_id,
        line.quantity,
        prices[line.variant_id],
        loc,
        reason_text(code, params),
        promised,
        candidate.distance_km,
        keeps_safety_stock=not candidate.own,
        reason_code=code,
        reason_params=params,
    )


def _arrival(pickup, now, days):
    """Goods sent today arrive `days` later; they are ready on the pickup store's first open day from then."""
    return next_open_day(pickup, _local_today(pickup, now) + timedelta(days=days))


def reason_text(code, params):
    """A sourcing reason in the current language, from the code and parameters stored with an order line
    (so the viewer reads it in their language, not the placer's); '' for an unknown code."""
    params = params if isinstance(params, dict) else {}
    try:
        if code == "here_pickup":
            return _("In stock here at %(store)s (%(available)d available): ready today.", **params)
        if code == "here_pickup_next_open":
            return _("In stock here at %(store)s (%(available)d available): ready when the store next opens.", **params)
        if code == "nearest_store":
            return _("Nearest store with %(available)d available: %(store)s (%(km)d km).", **params)
        if code == "warehouse":
            return _("From the warehouse %(name)s (%(available)d available, %(days)d days lead time).", **params)
        if code == "here_delivery":
            return _("In stock here at %(store)s (%(available)d available): shipped from here.", **params)
        if code == "store_ships":
            return _("Shipped from the store %(store)s (%(available)d available).", **params)
        if code == "not_sold":
            return _("Not sold in %(market)s: it has no price in %(currency)s.", **params)
    except (KeyError, TypeError, ValueError):
        return ""
    return ""


def pickup_stores_by_distance(origin) -> list:
    """[(location, km)] of every active store with a pickup desk, nearest to `origin` first (then by code):
    the choice "collect in another store". `origin` itself comes first at 0 km when it has a desk."""
    stores = db.session.scalars(
        select(Location).where(Location.active.is_(True), Location.kind == "store", Location.pickup_enabled.is_(True))
    ).all()
    distance = distances_from(origin)
    return sorted(((store, distance(store)) for store in stores), key=lambda pair: (pair[1], pair[0].code))
