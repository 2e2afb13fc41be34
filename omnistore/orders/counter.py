"""What the order builder at the counter shows beside the draft itself (reads only):

- pickup_stores(origin): the stores a customer can collect at, nearest first;
- find_variants(typed, here_id): the catalogue search as sizes to tap, with stock here and in the network;
- option_summaries(draft, state): for each way of getting the goods (collect here, collect in another store,
  delivery) what the sourcing engine would plan right now: promised date, sources, shipping fee — so the
  clerk can tell the customer the choices before choosing. The chosen option's full proposal is the draft's
  own (orders/drafts.draft_state).
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import defer

from omnistore.core.errors import DomainError
from omnistore.core.extensions import db
from omnistore.orders import order_rules, sourcing
from omnistore.stock import availability
from omnistore.stock import search as catalogue_search
from omnistore.stores.locations import distances_from
from omnistore.stores.models import Location

MAX_RESULTS = 6


@dataclass(frozen=True)
class PickupStore:
    location: Location
    distance_km: float

    @property
    def id(self):
        return self.location.id


def pickup_stores(origin) -> list:
    """Active stores with a pickup desk: `origin` first (when it has one), then by distance, then by name."""
    distance = distances_from(origin)
    stores = db.session.scalars(
        select(Location)
        .where(Location.active.is_(True), Location.kind == "store", Location.pickup_enabled.is_(True))
        .options(defer(Location.opening_hours), defer(Location.pickup_hours))  # a list of names and distances
    ).all()
    return sorted(
        (PickupStore(store, 0.0 if store.id == origin.id else distance(store)) for store in stores),
        key=lambda s: (s.location.id != origin.id, s.distance_km, s.location.name),
    )


@dataclass(frozen=True)
class VariantChoice:
    variant: object
    here: int
    network: int


@dataclass(frozen=True)
class ProductChoice:
    product: object
    variants: list


def find_variants(typed, *, here_id) -> list:
    """Products matching `typed`, each with its variants and their stock here / in the network."""
    query = catalogue_search.catalogue_query(typed, here_id=here_id)
    page = availability.search(query)
    hits = page.hits[:MAX_RESULTS]
    totals = availability.variant_totals([v.id for hit in hits for v in hit.variants], here_id)
    empty = availability.Totals()
    return [
        ProductChoice(
            hit.product,
            [
                VariantChoice(v, totals.get(v.id, empty).here, totals.get(v.id, empty).network)
                for v in sorted(hit.variants, key=lambda v: (v.colour, catalogue_search.size_sort_key(v.size)))
            ],
        )
        for hit in hits
    ]


@dataclass(frozen=True)
class OptionSummary:
    choice: str  # "here" | "store" | "delivery"
    location: Location | None  # the pickup store of a pickup option
    promised_date: date | None = None
    shipping_fee_minor: int = 0
    sources: tuple = ()
    complete: bool = False
    problem: str = ""


def current_choice(draft) -> str:
    """The way of getting the goods the draft is set to now: "delivery", "here" or "store"."""
    if draft.fulfilment == "delivery":
        return "delivery"
    return "here" if draft.pickup_location_id == draft.location_id else "store"


def option_summaries(draft, state, stores=None, *, reading=None) -> dict:
    """{choice: OptionSummary} for the draft's lines under each way of getting them (see the docstring). The
    draft's current way is `state`'s own proposal (the same request), not proposed a second time, and the
    draft's holds are the ones `state` counted back. `reading`: what the caller read at the same moment (the
    builder passes the draft state's own reading when that state only read)."""
    if not draft.lines:
        return {}
    holds = state.own_holds
    lines = tuple(order_rules.LineRequest(line.variant_id, line.quantity) for line in draft.lines)
    here = draft.location
    stores = stores if stores is not None else pickup_stores(here)
    other = None
    if draft.fulfilment == "pickup" and draft.pickup_location_id not in (None, here.id):
        other = next((s.location for s in stores if s.id == draft.pickup_location_id), None)
    if other is None:
        other = next((s.location for s in stores if s.id != here.id), None)
    country = (draft.delivery_address or {}).get("country") or here.country
    options = {}
    reading = reading or sourcing.Reading()  # the ways are proposed at one moment, from one reading
    now = reading.now
    wanted = [("here", "pickup", here), ("store", "pickup", other), ("delivery", "delivery", None)]
    for choice, fulfilment, location in wanted:
        if fulfilment == "pickup" and (location is None or not location.pickup_enabled or not location.is_store):
            options[choice] = OptionSummary(choice, location, problem="no_desk")
            continue
        request = sourcing.SourcingRequest(
            lines=lines,
            fulfilment=fulfilment,
            pickup_location_id=location.id if location else None,
            delivery_country=country if fulfilment == "delivery" else None,
            selling_location_id=here.id,
            own_holds=holds,
            now=now,
        )
        try:
            same = state.proposal is not None and choice == current_choice(draft)
            proposal = state.proposal if same else sourcing.propose(request, reading=reading)
        except DomainError as refused:
            options[choice] = OptionSummary(choice, location, problem=str(refused.message))
            continue
        options[choice] = OptionSummary(
            choice,
            location,
            proposal.promised_date,
            proposal.shipping_fee_minor,
            tuple(proposal.sources),
            proposal.complete,
        )
    return options
