"""Offers as verbs: a manager defines one (`define_offer`, every field checked, messages per field); it is
issued to one customer by a clerk (`issue_to_customer`) or to many at once (`issue_to_customers`: one
INSERT … SELECT, so a segment of 100 000 customers is one statement, and issuing again adds nobody twice); a
code is looked up and checked for a customer and a market (`usable_offer`); an order takes one use by a
conditional UPDATE (`take_use`, the limit inside the write, so two tablets never both use a one-use offer) and
a cancelled order gives it back (`give_back`). Loyalty points buy a reward offer when the chain turns it on
(`loyalty_reward`)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.lookups import find_variant_by_code
from omnistore.catalog.models import Product
from omnistore.core import audit, validation
from omnistore.core import config as settings
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.offers.models import (
    CODE_LENGTH,
    MAX_USES,
    OFFER_KINDS,
    OFFER_SCOPES,
    IssuedOffer,
    Offer,
    OfferRedemption,
)
from omnistore.stores.models import Market

NAME_MAX = 120
AMOUNT_MAX_MAJOR = 100_000  # no offer takes more than this off, in the currency's major unit
VALIDITY_MAX_DAYS = 366 * 2


class OfferUsed(Conflict):
    code = "offer_used"


# --- defining ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferTerms:
    """An offer as typed by a manager (strings as they came) — define_offer checks every field."""

    name: str
    kind: str  # percent | amount
    value: str  # "15" (percent) or "5.00" (amount in the market's currency)
    scope: str  # basket | category | product
    market: str
    valid_from: str  # ISO date
    valid_until: str
    uses_per_customer: str = "1"
    category: str = ""
    product_code: str = ""  # a SKU or EAN of any of the product's sizes


def _date(value, field, errors):
    try:
        return date.fromisoformat(str(value or "").strip()[:10]) if str(value or "").strip() else None
    except ValueError:
        errors[field] = _l("Give a date such as 2026-12-31.")
        return None


def amount_minor(typed, currency):
    """A typed amount ("5", "5.50", "5,50") in minor units of `currency`; None when it is not one."""
    text_value = str(typed or "").strip().replace(",", ".")
    if not text_value or len(text_value) > 20 or not text_value.isascii():
        return None
    try:
        amount = Decimal(text_value)
    except InvalidOperation:
        return None
    precision = get_currency_precision(currency)
    minor = amount * (10**precision)
    if not amount.is_finite() or minor != minor.to_integral_value():
        return None
    return int(minor)


def _check_terms(terms: OfferTerms, staff, today):
    errors = {}
    name = validation.text(terms.name, field="name", errors=errors, max_length=NAME_MAX, required=True)
    kind = terms.kind if terms.kind in OFFER_KINDS else None
    if kind is None:
        errors["kind"] = _l("Choose percent or amount.")
    scope = terms.scope if terms.scope in OFFER_SCOPES else None
    if scope is None:
        errors["scope"] = _l("Choose the basket, a category or a product.")
    market = db.session.get(Market, str(terms.market or "").strip().upper()[:2]) if terms.market else None
    if market is None:
        errors["market"] = _l("Choose the market.")
    elif not staff.is_admin and staff.location.market_code != market.code:
        errors["market"] = _l("You can define offers for your store's market only.")
    value = None
    if kind == "percent":
        value = validation.whole_number(terms.value)
        if value is None or not 1 <= value <= 100:
            errors["value"] = _l("Give a whole percentage from 1 to 100.")
            value = None
    elif kind == "amount" and market is not None:
        value = amount_minor(terms.value, market.currency)
        if value is None or value <= 0:
            errors["value"] = _l("Give an amount above zero, such as 5.00.")
            value = None
        elif value > AMOUNT_MAX_MAJOR * 10 ** get_currency_precision(market.currency):
            errors["value"] = _l("At most %(max)d.", max=AMOUNT_MAX_MAJOR)
            value = None
    category, product_id = "", None
    if scope == "category":
        category = validation.text(terms.category, field="category", errors=errors, max_length=100, required=True)
        if category and "category" not in errors:
            known = db.session.scalar(
                select(Product.category).where(func.lower(Product.category) == category.lower()).limit(1)
            )
            if known is None:
                errors["category"] = _l("No product has the category “%(category)s”.", category=category[:60])
            else:
                category = known
    elif scope == "product":
        code = str(terms.product_code or "").strip()
        variant = find_variant_by_code(code) if code else None
        if variant is None:
            errors["product_code"] = (
                _l("Scan or type the SKU or EAN of one of the product's sizes.")
                if not code
                else _l("No product has the code “%(code)s”.", code=code[:40])
            )
        else:
            product_id = variant.product_id
    uses = validation.whole_number(terms.uses_per_customer)
    if uses is None or not 1 <= uses <= MAX_USES:
        errors["uses_per_customer"] = _l("Give a whole number from 1 to %(max)d.", max=MAX_USES)
    first = _date(terms.valid_from, "valid_from", errors)
    last = _date(terms.valid_until, "valid_until", errors)
    if first is None and "valid_from" not in errors:
        errors["valid_from"] = _l("Required.")
    if last is None and "valid_until" not in errors:
        errors["valid_until"] = _l("Required.")
    if first and last:
        if last < first:
            errors["valid_until"] = _l("The last day comes before the first.")
        elif last < today:
            errors["valid_until"] = _l("This day has passed already.")
        elif (last - first).days > VALIDITY_MAX_DAYS:
            errors["valid_until"] = _l("An offer runs for two years at most.")
    if errors:
        raise ValidationFailed(_("Check the highlighted fields."), errors)
    return dict(
        name=name,
        kind=kind,
        value=value,
        scope=scope,
        category=category,
        product_id=product_id,
        market_code=market.code,
        valid_from=first,
        valid_until=last,
        uses_per_customer=uses,
    )


def require_manager(staff):
    if staff is None or not staff.is_manager:
        raise Forbidden(_l("Only a manager can do this."))


def define_offer(terms: OfferTerms, *, staff, today=None) -> Offer:
    """A new offer from a manager's (or admin's) terms; ValidationFailed with a message per field."""
    require_manager(staff)
    values = _check_terms(terms, staff, today or utcnow().date())
    with transaction() as session:
        offer = Offer(origin="manager", created_by_staff_id=staff.id, **values)
        session.add(offer)
        session.flush()
        audit.record("offer.defined", entity=offer, staff=staff, **{k: str(v) for k, v in values.items()})
    return offer


def offers_for(staff, *, include_past=False, today=None):
    """The offers a staff member may issue (their store's market; an admin: every market), newest first."""
    today = today or utcnow().date()
    query = select(Offer).where(Offer.origin == "manager").order_by(Offer.created_at.desc(), Offer.id.desc())
    if not staff.is_admin:
        query = query.where(Offer.market_code == staff.location.market_code)
    if not include_past:
        query = query.where(Offer.valid_until >= today)
    return db.session.scalars(query.limit(200)).all()


def offer_for(offer_id, staff) -> Offer:
    """One offer the staff member may see; NotFound otherwise (the same for another market's)."""
    offer = db.session.get(Offer, offer_id) if isinstance(offer_id, int) and 0 < offer_id < 2**31 else None
    if (
        offer is None
        or offer.origin != "manager"
        or (not staff.is_admin and offer.market_code != staff.location.market_code)
    ):
        raise NotFound(_l("No such offer."))
    return offer


# --- issuing ---------------------------------------------------------------------------------------------------


def _random_code(dialect_name):
    """A fresh random code per row, computed by the database (so a set-based insert gives each its own)."""
    if dialect_name == "postgresql":
        return func.upper(
            func.substr(func.md5(func.concat(func.random(), func.clock_timestamp(), Customer.id)), 1, CODE_LENGTH)
        )
    return func.upper(func.hex(func.randomblob(CODE_LENGTH // 2)))


def _insert(dialect_name):
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(IssuedOffer)


def issue_to_customers(offer, customer_ids, *, staff, via, segment="", now=None) -> int:
    """Issue `offer` to every active customer whose id `customer_ids` (a SELECT of ids, or a list) yields: one
    INSERT … SELECT that skips those who have it already (and, against a concurrent issue, ON CONFLICT DO
    NOTHING). Returns how many got it now. In the caller's transaction or its own."""
    now = now or utcnow()
    if offer.valid_until < now.date():
        raise ValidationFailed(_("This offer has expired."), {"offer": _("This offer has expired.")})
    if not isinstance(customer_ids, list | tuple | set | frozenset):
        # A SELECT of ids: never correlated with the customer rows of the INSERT's own SELECT.
        wanted = Customer.id.in_(customer_ids.correlate(None).scalar_subquery())
    else:
        wanted = Customer.id.in_([int(i) for i in customer_ids])
    with transaction() as session:
        dialect = session.get_bind().dialect.name
        rows = select(
            literal(offer.id),
            Customer.id,
            _random_code(dialect),
            literal(offer.uses_per_customer),
            literal(via),
            literal(segment[:32]),
            literal(staff.id if staff is not None else None),
            literal(staff.location_id if staff is not None else None),
            literal(now, type_=IssuedOffer.__table__.c.issued_at.type),
        ).where(
            wanted,
            Customer.erased_at.is_(None),
            Customer.merged_into_id.is_(None),
            ~exists().where(IssuedOffer.offer_id == offer.id, IssuedOffer.customer_id == Customer.id),
        )
        statement = (
            _insert(dialect)
            .from_select(
                [
                    "offer_id",
                    "customer_id",
                    "code",
                    "uses_left",
                    "issued_via",
                    "segment",
                    "issued_by_staff_id",
                    "location_id",
                    "issued_at",
                ],
                rows,
            )
            .on_conflict_do_nothing(index_elements=["offer_id", "customer_id"])
            .returning(IssuedOffer.id)
        )
        # Counted from RETURNING: the driver's rowcount of an INSERT … SELECT is not reliable everywhere.
        added = len(session.execute(statement).all())
        audit.record("offer.issued", entity=offer, staff=staff, via=via, segment=segment, customers=added)
    return added


def issue_to_customer(offer, customer, *, staff, now=None) -> IssuedOffer:
    """A clerk gives `offer` to one customer (from the profile): the offer must be of the clerk's store's
    market (an admin: any) and still running. Issuing it again returns the one they have."""
    now = now or utcnow()
    if not staff.is_admin and offer.market_code != staff.location.market_code:
        raise NotFound(_l("No such offer."))
    if not customer.active:
        raise NotFound(_l("This customer's personal data was erased."))
    for _attempt in range(3):
        try:
            issue_to_customers(offer, [customer.id], staff=staff, via="clerk", now=now)
            break
        except IntegrityError:  # a random code met an existing one: draw again
            db.session.rollback()
    return db.session.scalar(
        select(IssuedOffer).where(IssuedOffer.offer_id == offer.id, IssuedOffer.customer_id == customer.id)
    )


def customer_offers(customer, *, today=None, usable_only=False):
    """The offers issued to a customer, running ones first (with their offer loaded)."""
    today = today or utcnow().date()
    query = (
        select(IssuedOffer)
        .join(Offer, Offer.id == IssuedOffer.offer_id)
        .where(IssuedOffer.customer_id == customer.id)
        .order_by((Offer.valid_until < today).asc(), Offer.valid_until.asc(), IssuedOffer.id.asc())
    )
    if usable_only:
        query = query.where(IssuedOffer.uses_left > 0, Offer.valid_from <= today, Offer.valid_until >= today)
    return db.session.scalars(query.limit(100)).all()


# --- using -----------------------------------------------------------------------------------------------------


def normalise_code(typed) -> str:
    """A code as scanned or typed: upper case, spaces and dashes dropped; "" for anything that is not one."""
    if not isinstance(typed, str):
        return ""
    code = "".join(ch for ch in typed.strip().upper() if ch not in " -")
    if not code or len(code) > CODE_LENGTH * 2 or not code.isascii() or not code.isalnum():
        return ""
    return code


def find_issued(code) -> IssuedOffer | None:
    code = normalise_code(code)
    return db.session.scalar(select(IssuedOffer).where(IssuedOffer.code == code)) if code else None


def check_usable(issued, *, customer_id, market_code, today, field="offer"):
    """ValidationFailed (at `field`) unless `issued` is this customer's, has a use left, runs today and is
    for this market."""

    def refuse(message):
        raise ValidationFailed(message, {field: message})

    if issued is None or customer_id is None or issued.customer_id != customer_id:
        refuse(_("No offer with this code for this customer."))
    offer = issued.offer
    if issued.uses_left <= 0:
        refuse(_("This offer was used already."))
    if today < offer.valid_from:
        refuse(_("This offer starts on %(date)s.", date=offer.valid_from.isoformat()))
    if today > offer.valid_until:
        refuse(_("This offer ended on %(date)s.", date=offer.valid_until.isoformat()))
    if market_code and offer.market_code != market_code:
        refuse(
            _(
                "This offer is for the %(offer_market)s market; this order is sold in %(market)s.",
                offer_market=offer.market_code,
                market=market_code,
            )
        )
    return issued


def usable_offer(code, *, customer_id, market_code, today=None, field="offer") -> IssuedOffer:
    """The issued offer with this code, checked for this customer and market today (see check_usable)."""
    return check_usable(
        find_issued(code), customer_id=customer_id, market_code=market_code, today=today or utcnow().date(), field=field
    )


def take_use(session, issued, *, order, discount_minor, staff=None, api_client=None, now=None) -> OfferRedemption:
    """One use of `issued` for `order`, in the caller's (the order's) transaction: a conditional UPDATE that
    takes a use only while one is left, so the limit holds whatever runs at the same time. OfferUsed if none
    is left."""
    now = now or utcnow()
    taken = session.execute(
        update(IssuedOffer)
        .where(
            IssuedOffer.id == issued.id,
            IssuedOffer.customer_id == order.customer_id,
            IssuedOffer.uses_left > 0,
        )
        .values(uses_left=IssuedOffer.uses_left - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        message = _("This offer was used already.")
        raise OfferUsed(message, field="offer")
    redemption = OfferRedemption(
        issued_offer_id=issued.id,
        order_id=order.id,
        discount_minor=discount_minor,
        currency=order.currency,
        redeemed_at=now,
        staff_id=staff.id if staff is not None else None,
        api_client_id=api_client.id if api_client is not None else None,
    )
    session.add(redemption)
    session.flush()
    session.refresh(issued)
    audit.record(
        "offer.redeemed",
        entity=issued,
        staff=staff,
        api_client=api_client,
        order=order.number,
        discount_minor=discount_minor,
    )
    return redemption


def give_back(session, order_id, *, now=None) -> int:
    """The use an order took, given back (the order was cancelled), once: the redemption is marked released by
    a conditional UPDATE, and only then the use returns. In the caller's transaction; how many came back."""
    now = now or utcnow()
    issued_id = session.scalar(
        select(OfferRedemption.issued_offer_id).where(
            OfferRedemption.order_id == order_id, OfferRedemption.released_at.is_(None)
        )
    )
    if issued_id is None:
        return 0
    released = session.execute(
        update(OfferRedemption)
        .where(OfferRedemption.order_id == order_id, OfferRedemption.released_at.is_(None))
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1:
        return 0
    session.execute(
        update(IssuedOffer)
        .where(IssuedOffer.id == issued_id)
        .values(uses_left=IssuedOffer.uses_left + 1)
        .execution_options(synchronize_session=False)
    )
    audit.record("offer.given_back", entity=("issued_offer", issued_id), order_id=order_id)
    return 1


def redemption_of(order_id) -> OfferRedemption | None:
    return db.session.scalar(select(OfferRedemption).where(OfferRedemption.order_id == order_id))


# --- loyalty -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoyaltyTerms:
    points: int  # 0: the chain does not redeem points
    percent: int
    days: int

    @property
    def enabled(self):
        return self.points > 0


def _config(name):
    key = settings.setting(name).key
    if has_app_context() and key in current_app.config:
        return current_app.config[key]
    return settings.default(name)


def loyalty_terms() -> LoyaltyTerms:
    return LoyaltyTerms(
        _config("LOYALTY_REWARD_POINTS"), _config("LOYALTY_REWARD_PERCENT"), _config("LOYALTY_REWARD_DAYS")
    )


def loyalty_reward(customer, *, staff, now=None) -> IssuedOffer:
    """Turn the customer's points into a reward (when the chain turns it on): the points come off by one
    conditional UPDATE (never below zero, whatever runs at once), and a one-use percent offer on the basket in
    the store's market is issued to them, redeemed like any offer."""
    terms = loyalty_terms()
    if not terms.enabled:
        raise Forbidden(_l("This chain does not redeem loyalty points."))
    now = now or utcnow()
    with transaction() as session:
        taken = session.execute(
            update(Customer)
            .where(
                Customer.id == customer.id,
                Customer.loyalty_points >= terms.points,
                Customer.erased_at.is_(None),
                Customer.merged_into_id.is_(None),
            )
            .values(loyalty_points=Customer.loyalty_points - terms.points)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            message = _("%(points)d points are needed for a reward.", points=terms.points)
            raise ValidationFailed(message, {"loyalty": message})
        offer = Offer(
            name=_("Loyalty reward: %(percent)d %% off", percent=terms.percent),
            kind="percent",
            value=terms.percent,
            scope="basket",
            market_code=staff.location.market_code,
            valid_from=now.date(),
            valid_until=now.date() + timedelta(days=terms.days),
            uses_per_customer=1,
            origin="loyalty",
            created_by_staff_id=staff.id,
            created_at=now,
        )
        session.add(offer)
        session.flush()
        issue_to_customers(offer, [customer.id], staff=staff, via="loyalty", now=now)
        issued = session.scalar(select(IssuedOffer).where(IssuedOffer.offer_id == offer.id))
        audit.record("loyalty.redeemed", entity=customer, staff=staff, points=terms.points, issued_offer=issued.id)
    db.session.refresh(customer)
    return issued


def issued_counts(offer_ids) -> dict:
    """{offer_id: (customers issued, uses standing)} for the manager's list."""
    if not offer_ids:
        return {}
    issued = dict(
        db.session.execute(
            select(IssuedOffer.offer_id, func.count())
            .where(IssuedOffer.offer_id.in_(offer_ids))
            .group_by(IssuedOffer.offer_id)
        ).all()
    )
    used = dict(
        db.session.execute(
            select(IssuedOffer.offer_id, func.count())
            .join(OfferRedemption, OfferRedemption.issued_offer_id == IssuedOffer.id)
            .where(IssuedOffer.offer_id.in_(offer_ids), OfferRedemption.released_at.is_(None))
            .group_by(IssuedOffer.offer_id)
        ).all()
    )
    return {offer_id: (issued.get(offer_id, 0), used.get(offer_id, 0)) for offer_id in offer_ids}


# --- personal data (called by clienteling's export, erase and merge) ----------------------------------------------


def export_offers(customer_id) -> list:
    """The offers issued to the customer and each use on an order, as JSON-ready data (the GDPR export)."""
    rows = db.session.scalars(
        select(IssuedOffer).where(IssuedOffer.customer_id == customer_id).order_by(IssuedOffer.issued_at)
    ).all()
    uses = {}
    for redemption in db.session.scalars(
        select(OfferRedemption).where(OfferRedemption.issued_offer_id.in_([r.id for r in rows]))
    ):
        uses.setdefault(redemption.issued_offer_id, []).append(redemption)
    return [
        {
            "code": row.code,
            "offer": row.offer.name,
            "kind": row.offer.kind,
            "value": row.offer.value,
            "scope": row.offer.scope,
            "market": row.offer.market_code,
            "valid_from": row.offer.valid_from.isoformat(),
            "valid_until": row.offer.valid_until.isoformat(),
            "uses_left": row.uses_left,
            "issued_via": row.issued_via,
            "segment": row.segment,
            "issued_at": row.issued_at.isoformat(),
            "uses": [
                {
                    "order_id": use.order_id,
                    "discount_minor": use.discount_minor,
                    "currency": use.currency,
                    "redeemed_at": use.redeemed_at.isoformat(),
                    "given_back_at": use.released_at.isoformat() if use.released_at else None,
                }
                for use in uses.get(row.id, [])
            ],
        }
        for row in rows
    ]


def erase_offers(session, customer_ids) -> int:
    """Erase: offers never used are deleted (nothing about them is needed); used ones stay, with no use left, as
    the record of the discount on the orders (which keep it on their lines). In the erase's transaction (the
    caller has taken the offers off the customers' drafts). Returns how many were deleted."""
    ids = list(customer_ids)
    used = select(OfferRedemption.issued_offer_id)
    deleted = session.execute(
        delete(IssuedOffer)
        .where(IssuedOffer.customer_id.in_(ids), IssuedOffer.id.not_in(used))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(IssuedOffer)
        .where(IssuedOffer.customer_id.in_(ids))
        .values(uses_left=0)
        .execution_options(synchronize_session=False)
    )
    return deleted


def merge_offers(session, survivor_id, merged_id) -> int:
    """Merge: the merged profile's offers move to the survivor; one the survivor has too keeps the survivor's row
    and gains the merged one's uses left (that row stays with the stub, without uses, as the record of its uses).
    In the merge's transaction; how many moved."""
    have = {
        row.offer_id: row for row in session.scalars(select(IssuedOffer).where(IssuedOffer.customer_id == survivor_id))
    }
    moved = 0
    for row in session.scalars(select(IssuedOffer).where(IssuedOffer.customer_id == merged_id)).all():
        mine = have.get(row.offer_id)
        if mine is None:
            row.customer_id = survivor_id
            moved += 1
        else:
            mine.uses_left += row.uses_left
            row.uses_left = 0
    session.flush()
    return moved
