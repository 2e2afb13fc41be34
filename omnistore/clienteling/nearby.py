""" "Available near you": when a variant a customer is waiting for becomes available in a store near them, one
e-mail names the store, its hours, and a button that holds the unit there for pickup.

What a customer waits for (an interest), strongest first:
- notify:   a "tell me when it is available" request taken at the counter and still open (customers/notify.py);
- wishlist: a variant on their wishlist (customers/services.py);
- draft:    a variant left in an order draft at the counter whose holds ran out unplaced, within
            OMNISTORE_NEARBY_DRAFT_DAYS (orders/drafts.py; drafts the customer held from this e-mail aside).

Near: the store is the customer's preferred store, or lies within OMNISTORE_NEARBY_KM of it or of the store where
the interest was recorded; the preferred store first, then the nearest. Available: the store has units beyond its
safety stock (stock/availability.py: offerable_at_stores — what a hold keeping the safety stock may take).

`run(now)` (the job nearby.notify in omnistore/jobs.py) does not look at every customer and variant: it reads the
stock ledger from where it stopped (NearbyScan, the last StockMovement id read), takes the (variant, store) pairs
whose availability went up (units received, released, arrived, counted up), and looks up only the interests in
those variants. The cursor row is locked while a batch is read and handled, and moves in the same transaction as
the e-mails of the batch, so two workers never handle the same movements; movements younger than LAG are left for
the next run (a transaction still open elsewhere may have taken a lower id).

The e-mail goes through the one marketing consent gate (customers/marketing.py; its kind is KIND, registered
below): the consent in force, the cap — one per customer and variant (the gate's key) per
OMNISTORE_NEARBY_PERIOD_DAYS, counted under the customer's row lock in the transaction that writes the send —,
the customer's language and the one-tap unsubscribe. In the same transaction the customer's NearbyAlert row for
the variant is written with the button's token. Two workers, or two runs, cannot both send.

The button: /n/<token> (clienteling/views/nearby.py) shows the offer; `hold(token)` holds one unit through the
counter's own hold (orders/drafts.py: hold_for_customer — a DraftHold on an open draft at the store, released by
holds.release after OMNISTORE_NEARBY_HOLD_HOURS). The alert row is claimed by a conditional UPDATE first, so two
taps hold one unit; a unit that went meanwhile is a clear "sorry" and nothing is held.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from omnistore.catalog.models import Variant
from omnistore.clienteling.models import NearbyAlert, NearbyScan
from omnistore.core import audit
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, InsufficientStock, NotFound
from omnistore.core.extensions import db
from omnistore.core.public_url import public_url
from omnistore.core.types import utcnow
from omnistore.customers import marketing
from omnistore.customers.models import Customer, NotifyRequest, WishlistItem
from omnistore.orders import drafts, notifications
from omnistore.orders.models import DraftHold, DraftLine, OrderDraft
from omnistore.stock.availability import offerable_at_stores
from omnistore.stock.models import StockMovement
from omnistore.stores.locations import distances_from
from omnistore.stores.models import Location

KIND = "nearby"  # the marketing kind, as the consent gate knows it
TOPIC = "marketing.nearby"
SCAN = "nearby"
BATCH = 2000  # movements read per transaction
LAG = timedelta(seconds=30)  # movements younger than this wait for the next run
LOOKBACK = timedelta(days=1)  # a first run (or one after a long pause) looks at the last day's movements only
SOURCE_RANK = {"notify": 0, "wishlist": 1, "draft": 2}
TOKEN_BYTES = 24


def _setting(name):
    return current_app.config[f"OMNISTORE_NEARBY_{name}"]


def period():
    return timedelta(days=_setting("PERIOD_DAYS"))


def hold_time():
    return timedelta(hours=_setting("HOLD_HOURS"))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hold_url(token: str) -> str:
    return f"{public_url()}/n/{token}"


def _insert(table):
    return (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(table)


# --- the job ---------------------------------------------------------------------------------------------------


@dataclass
class NearbyReport:
    movements: int = 0
    pairs: int = 0
    sent: int = 0
    capped: int = 0
    no_consent: int = 0

    def __str__(self):
        return (
            f"{self.movements} stock movement(s) read, {self.pairs} store(s) with units back, "
            f"{self.sent} e-mail(s) sent, {self.capped} within the period, {self.no_consent} without consent"
        )


def run(now=None) -> NearbyReport:
    """Read the ledger from where the last run stopped, batch after batch, and e-mail who waits (see above)."""
    now = now or utcnow()
    report = NearbyReport()
    while _one_batch(now, report):
        pass
    return report


def _lock_cursor(session):
    session.execute(_insert(NearbyScan.__table__).values(name=SCAN, last_movement_id=0).on_conflict_do_nothing())
    return session.scalar(
        select(NearbyScan).where(NearbyScan.name == SCAN).with_for_update().execution_options(populate_existing=True)
    )


def _one_batch(now, report) -> bool:
    """One batch of movements in one transaction; False when there was nothing (more) to read."""
    with transaction() as session:
        cursor = _lock_cursor(session)
        after = cursor.last_movement_id
        ids = (
            select(StockMovement.id)
            .where(StockMovement.id > after, StockMovement.created_at <= now - LAG)
            .order_by(StockMovement.id)
            .limit(BATCH)
            .subquery()
        )
        upto, count = session.execute(select(func.max(ids.c.id), func.count(ids.c.id))).one()
        if not count:
            return False
        rising = or_(StockMovement.on_hand_delta > 0, StockMovement.allocated_delta < 0)
        pairs = session.execute(
            select(StockMovement.variant_id, StockMovement.location_id)
            .where(
                StockMovement.id > after,
                StockMovement.id <= upto,
                StockMovement.created_at >= now - LOOKBACK,
                rising,
            )
            .distinct()
        ).all()
        report.movements += count
        _notify(session, [tuple(pair) for pair in pairs], now, report)
        cursor.last_movement_id = upto
    return count == BATCH


@dataclass(frozen=True)
class Interest:
    customer_id: int
    variant_id: int
    source: str
    location_id: int | None  # where it was recorded


def interests_in(variant_ids, now) -> dict:
    """{(customer id, variant id): Interest} of everyone waiting for one of `variant_ids` (the strongest source
    of each), read by variant (indexed), never customer by customer."""
    variant_ids = sorted(set(variant_ids))
    found = {}

    def keep(interest):
        key = (interest.customer_id, interest.variant_id)
        if key not in found or SOURCE_RANK[interest.source] < SOURCE_RANK[found[key].source]:
            found[key] = interest

    if not variant_ids:
        return found
    for row in db.session.execute(
        select(NotifyRequest.customer_id, NotifyRequest.variant_id, NotifyRequest.location_id).where(
            NotifyRequest.variant_id.in_(variant_ids), NotifyRequest.cancelled_at.is_(None)
        )
    ):
        keep(Interest(row.customer_id, row.variant_id, "notify", row.location_id))
    for row in db.session.execute(
        select(WishlistItem.customer_id, WishlistItem.variant_id, WishlistItem.location_id).where(
            WishlistItem.variant_id.in_(variant_ids)
        )
    ):
        keep(Interest(row.customer_id, row.variant_id, "wishlist", row.location_id))
    draft_days = timedelta(days=_setting("DRAFT_DAYS"))
    for row in db.session.execute(
        select(OrderDraft.customer_id, DraftLine.variant_id, OrderDraft.location_id)
        .join(DraftLine, DraftLine.draft_id == OrderDraft.id)
        .where(
            DraftLine.variant_id.in_(variant_ids),
            OrderDraft.status == "open",
            OrderDraft.customer_id.is_not(None),
            OrderDraft.staff_id.is_not(None),  # left at the counter (not a hold from this e-mail)
            OrderDraft.holds_expire_at >= now - draft_days,  # it had holds, lately, and (below) they are gone
            ~exists().where(DraftHold.draft_id == OrderDraft.id),
        )
    ):
        keep(Interest(row.customer_id, row.variant_id, "draft", row.location_id))
    return found


def near_store(customer, interest, stores, km) -> Location | None:
    """The store of `stores` (that have the variant) to name to the customer: their preferred store, else the
    nearest within `km` of their preferred store or of where the interest was recorded; None: none is near."""
    by_id = {store.id: store for store in stores}
    if customer.preferred_location_id in by_id:
        return by_id[customer.preferred_location_id]
    anchors = [
        place
        for place in (customer.preferred_location, db.session.get(Location, interest.location_id or 0))
        if place is not None
    ]
    best = None
    for anchor in anchors:
        distance = distances_from(anchor)
        for store in stores:
            km_away = distance(store)
            if km_away <= km and (best is None or (km_away, store.code) < best[0]):
                best = ((km_away, store.code), store)
    return best[1] if best else None


def _notify(session, pairs, now, report):
    offerable = offerable_at_stores(pairs)
    report.pairs += len(offerable)
    if not offerable:
        return
    stores_of = {}
    for variant_id, location_id in offerable:
        stores_of.setdefault(variant_id, set()).add(location_id)
    stores = {s.id: s for s in session.scalars(select(Location).where(Location.id.in_({loc for _v, loc in offerable})))}
    interests = interests_in(stores_of, now)
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(
                Customer.id.in_({customer_id for customer_id, _v in interests}),
                Customer.erased_at.is_(None),
                Customer.merged_into_id.is_(None),
            )
        )
    }
    km = _setting("KM")
    for (customer_id, variant_id), interest in sorted(interests.items()):
        customer = customers.get(customer_id)
        if customer is None:
            continue
        store = near_store(customer, interest, [stores[i] for i in sorted(stores_of[variant_id])], km)
        if store is None:
            continue
        outcome = send(customer, variant_id, store, interest.source, now=now)
        if outcome.sent:
            report.sent += 1
        elif outcome.reason == "capped":
            report.capped += 1
        else:
            report.no_consent += 1  # no consent in force, or no address to write to


# --- the e-mail, through the consent gate ------------------------------------------------------------------


def _cap(config):
    """One "available near you" e-mail per customer and variant (the gate's key) per period."""
    return marketing.Cap(1, timedelta(days=config["OMNISTORE_NEARBY_PERIOD_DAYS"]))


NEARBY = marketing.register_kind(
    marketing.MarketingKind(KIND, _l("available near you"), channel="email", cap=_cap, per_key=True)
)


def _remember(session, customer_id, variant_id, store_id, source, now, hashed):
    """The customer's alert row for the variant, now naming this e-mail (its store, why, its button)."""
    table = NearbyAlert.__table__
    values = dict(location_id=store_id, source=source, sent_at=now, token_hash=hashed, held_at=None, draft_id=None)
    statement = (
        _insert(table)
        .values(customer_id=customer_id, variant_id=variant_id, sends=1, **values)
        .on_conflict_do_update(
            index_elements=[table.c.customer_id, table.c.variant_id], set_={**values, "sends": table.c.sends + 1}
        )
    )
    return session.execute(statement.returning(table.c.id)).scalar_one()


def send(customer, variant_id, store, source, *, now=None) -> marketing.Outcome:
    """E-mail `customer` that `variant_id` is available at `store`, through the consent gate (consent in force,
    one per customer and variant per period counted under the customer's row lock, their language, the
    one-tap unsubscribe); the alert row with the button's token is written in the same transaction."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction() as session:
        variant = session.get(Variant, variant_id)
        locale = marketing.customer_locale(customer)
        outcome = marketing.send(
            customer,
            marketing.MarketingEmail(
                kind=KIND,
                template="nearby",
                subject=_l("%(product)s is available at %(store)s", product=variant.product.name, store=store.name),
                context={
                    "product": variant.product.name,
                    "detail": " · ".join(part for part in (variant.size, variant.colour) if part),
                    "hours": notifications.hours_rows(store.opening_hours or {}, locale),
                    "map_url": notifications.map_url(store),
                    "hold_url": hold_url(token),
                    "hold_hours": int(hold_time().total_seconds() // 3600),
                },
                key=str(variant.id),
                location=store,
                detail={"sku": variant.sku, "store": store.code, "why": source},
            ),
            now=now,
        )
        if outcome.sent:
            _remember(session, customer.id, variant.id, store.id, source, now, token_hash(token))
    return outcome


# --- the button: the offer and the hold -----------------------------------------------------------------------


class LinkExpired(Conflict):
    code = "link_expired"


@dataclass(frozen=True)
class Offer:
    alert: NearbyAlert
    store: Location
    variant: Variant
    draft: OrderDraft | None  # the hold, once made
    held_until: object = None  # when the hold ends (None: not held, or the hold has ended)
    units: int = 0  # units the store can hold now
    locale: str = "en"  # the customer's language (the page answers in the e-mail's)

    @property
    def held(self):
        return self.draft is not None

    @property
    def ordered(self):
        """The clerk has turned the hold into an order at the counter."""
        return self.draft is not None and self.draft.status == "placed"

    @property
    def hold_ended(self):
        return self.draft is not None and self.held_until is None and not self.ordered


def _alert_for(session, token, *, lock=False):
    if not isinstance(token, str) or not 20 <= len(token) <= 64 or not token.isascii():
        raise NotFound(_("This link is not valid (any more)."))
    query = select(NearbyAlert).where(NearbyAlert.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    alert = session.scalar(query)
    if alert is None:
        raise NotFound(_("This link is not valid (any more)."))
    return alert


def offer(token, now=None) -> Offer:
    """What the e-mail's link shows: the product, the store, and whether the unit is held (until when) or can be."""
    now = now or utcnow()
    alert = _alert_for(db.session, token)
    draft = db.session.get(OrderDraft, alert.draft_id) if alert.draft_id else None
    until = None
    if draft is not None:
        until = db.session.scalar(
            select(func.min(DraftHold.expires_at)).where(DraftHold.draft_id == draft.id, DraftHold.expires_at >= now)
        )
    units = offerable_at_stores([(alert.variant_id, alert.location_id)]).get((alert.variant_id, alert.location_id), 0)
    customer = db.session.get(Customer, alert.customer_id)
    locale = marketing.customer_locale(customer) if customer is not None else "en"
    return Offer(alert, alert.location, alert.variant, draft, until, units, locale)


def locale_of_token(token) -> str | None:
    """The language of the customer a hold link was sent to (for its error pages), or None."""
    try:
        return offer_locale(_alert_for(db.session, token))
    except NotFound:
        return None


def offer_locale(alert):
    customer = db.session.get(Customer, alert.customer_id)
    return marketing.customer_locale(customer) if customer is not None else None


def hold(token, now=None) -> Offer:
    """Hold one unit at the e-mail's store for the customer (see the module docstring). A second tap returns the
    hold the first made; LinkExpired after the period; InsufficientStock when the unit went meanwhile."""
    now = now or utcnow()
    with transaction() as session:
        alert = _alert_for(session, token, lock=True)
        if alert.draft_id is not None:
            return offer(token, now)
        if alert.sent_at < now - period():
            raise LinkExpired(_("This offer has ended. Ask in the store, or wait for the next e-mail."))
        claimed = session.execute(
            update(NearbyAlert)
            .where(NearbyAlert.id == alert.id, NearbyAlert.held_at.is_(None))
            .values(held_at=now)
            .returning(NearbyAlert.id)
        ).scalar_one_or_none()
        if claimed is None:  # another tap got here first (SQLite: it committed before this transaction began)
            return offer(token, now)
        try:
            draft = drafts.hold_for_customer(
                alert.customer_id,
                alert.variant_id,
                alert.location_id,
                until=now + hold_time(),
                reason=_("Held for the customer from an e-mail"),
            )
        except InsufficientStock:
            raise InsufficientStock(
                _("Sorry, %(store)s has no unit left to hold right now.", store=alert.location.name),
                available=0,
                requested=1,
            ) from None
        session.execute(update(NearbyAlert).where(NearbyAlert.id == alert.id).values(draft_id=draft.id))
        customer = session.get(Customer, alert.customer_id)
        audit.record("customer.nearby_held", entity=customer, variant_id=alert.variant_id, draft=draft.token)
    db.session.expire_all()
    return offer(token, now)


def alerts_of(customer_id) -> list[NearbyAlert]:
    """The customer's "available near you" e-mails (the profile, the export)."""
    return db.session.scalars(
        select(NearbyAlert).where(NearbyAlert.customer_id == customer_id).order_by(NearbyAlert.sent_at.desc())
    ).all()


__all__ = ["KIND", "Interest", "LinkExpired", "NearbyReport", "Offer", "alerts_of", "hold", "offer", "run", "send"]
