"""Changing a customer: create and edit a profile; consents, notes, visits and the wishlist; who may manage a
profile. Finding one is in finding.py; the timeline, figures and recommendations are in
clienteling/history.py; the access log, export, erase and merge in clienteling/ (access_log.py, export.py,
erasure.py, merging.py).
"""

import secrets
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnistore.catalog.models import Variant
from omnistore.catalog.search_text import search_forms
from omnistore.core import audit, validation
from omnistore.core.channels import CHANNELS
from omnistore.core.db import transaction
from omnistore.core.errors import DuplicateCustomer, Forbidden, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.contact import normalize_email, normalize_phone
from omnistore.customers.finding import LOYALTY_PREFIX, MAX_ID, find_by_contact
from omnistore.customers.models import (
    CONSENT_CHANNELS,
    CUSTOMER_LOCALES,
    VISIT_KINDS,
    Consent,
    Customer,
    CustomerNote,
    CustomerVisit,
    WishlistItem,
)
from omnistore.stores import markets
from omnistore.stores.models import Location

NAME_MAX = 100
NOTE_MAX = 2000
VISIT_NOTE_MAX = 500
SIZE_MAX = 16

# Sizes are kept per group of categories: a customer has one size for tops, one for shoes…
SIZE_GROUPS = {
    "tops": ("Jackets", "Knitwear", "Shirts", "T-shirts"),
    "jeans": ("Jeans",),
    "dresses": ("Dresses",),
    "shoes": ("Sneakers", "Boots"),
}
CATEGORY_GROUP = {category: group for group, categories in SIZE_GROUPS.items() for category in categories}
ONE_SIZE = "One size"


@dataclass
class NewCustomer:
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    preferred_location_id: int | None = None
    consents: dict = field(default_factory=dict)  # channel ("email", "sms") -> True / False / None (not asked)
    locale: str | None = None


@dataclass
class ProfileChanges:
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    preferred_location_id: int | None = None
    sizes: dict = field(default_factory=dict)  # group -> size
    locale: str = "de"


# --- creating and editing --------------------------------------------------------------------------------


def _market_locale(location):
    """A new profile's language when none is given: the default language of the store's market (else of the
    default market)."""
    try:
        market = markets.market_of(location) if getattr(location, "market_code", None) else None
        market = market or markets.market_for(markets.default_market_code())
    except NotFound:
        return "de"
    return market.locale if market.locale in CUSTOMER_LOCALES else "de"


def _country_of(location):
    return getattr(location, "country", None) or "DE"


def _clean_name(value, name, errors):
    text = " ".join((value or "").split())
    if len(text) > NAME_MAX:
        errors[name] = _l("Use at most %(count)d characters.", count=NAME_MAX)
    elif validation.bad_character(text):
        errors[name] = _l("This field contains characters that are not allowed.")
    return text


def _contact(raw_email, raw_phone, country, errors):
    email = phone = None
    if (raw_email or "").strip():
        try:
            email = normalize_email(raw_email)
        except ValidationFailed as failure:
            errors.update(failure.fields)
    if (raw_phone or "").strip():
        try:
            phone = normalize_phone(raw_phone, country)
        except ValidationFailed as failure:
            errors.update(failure.fields)
    return email, phone


def _preferred_location(session, location_id, errors):
    if location_id in (None, ""):
        return None
    location = session.get(Location, location_id) if isinstance(location_id, int) else None
    if location is None or not location.active or location.kind != "store":
        errors["preferred_location_id"] = _l("Choose one of our stores.")
        return None
    return location


def _check_duplicates(session, email, phone, exclude_id=None):
    for column, value, name in ((Customer.email, email, "email"), (Customer.phone, phone, "phone")):
        if not value:
            continue
        query = select(Customer).where(column == value)
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
        existing = session.scalar(query)
        if existing is not None:
            message = (
                _l("A customer with this email address exists already.")
                if name == "email"
                else _l("A customer with this phone number exists already.")
            )
            raise DuplicateCustomer(existing, message, field=name)


def _new_loyalty_number(session):
    while True:
        number = f"{LOYALTY_PREFIX}{secrets.randbelow(10**7):07d}"
        if session.scalar(select(Customer.id).where(Customer.loyalty_number == number)) is None:
            return number


def create_customer(data: NewCustomer, *, staff=None, location=None, channel="store") -> Customer:
    """A new profile. Raises ValidationFailed (field messages) or DuplicateCustomer (email or phone known).

    At the counter (channel "store") the consent question must have been asked for every channel the customer
    gave contact data for: True or False, never left to a default."""
    location = location or (staff.location if staff is not None else None)
    errors = {}
    if channel not in CHANNELS:
        raise ValidationFailed(_l("Unknown channel."), {"channel": _l("Unknown channel.")})
    first = _clean_name(data.first_name, "first_name", errors)
    last = _clean_name(data.last_name, "last_name", errors)
    if not first and not last and "first_name" not in errors:
        errors["last_name"] = _l("Enter the customer's name.")
    email, phone = _contact(data.email, data.phone, _country_of(location), errors)
    if not email and not phone and "email" not in errors and "phone" not in errors:
        errors["email"] = _l("Enter an email address or a phone number.")
    consents = dict(data.consents or {})
    for name in consents:
        if name not in CONSENT_CHANNELS or consents[name] not in (True, False, None):
            errors["consents"] = _l("Unknown consent.")
    for name, present in (("email", email or data.email), ("sms", phone or data.phone)):
        if present and channel == "store" and consents.get(name) is None:
            errors[f"consent_{name}"] = _l("Please ask the customer and choose yes or no.")
        if not present:
            consents.pop(name, None)
    locale = data.locale or _market_locale(location)
    if locale not in CUSTOMER_LOCALES:
        errors["locale"] = _l("Unknown language.")
    with transaction() as session:
        preferred = _preferred_location(session, data.preferred_location_id, errors)
        if errors:
            raise ValidationFailed(_l("Please check the highlighted fields."), errors)
        _check_duplicates(session, email, phone)
        customer = Customer(
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            loyalty_number=_new_loyalty_number(session),
            preferred_location_id=preferred.id if preferred else None,
            sizes={},
            preferences={},
            search_name=search_forms(f"{first} {last}"),
            created_channel=channel,
            locale=locale,
        )
        session.add(customer)
        try:
            session.flush()
        except IntegrityError:  # the same email or phone committed a moment ago by someone else
            session.rollback()
            existing = find_by_contact(email=email, phone=phone)
            if existing is None:
                raise
            raise DuplicateCustomer(existing) from None
        for name, granted in consents.items():
            if granted is not None:
                customer.consents.append(_consent(customer, name, granted, staff, location, channel))
        audit.record(
            "customer.created",
            entity=customer,
            staff=staff,
            location_id=location.id if location is not None else None,
            channel=channel,
        )
    return customer


def _consent(customer, name, granted, staff, location, channel="store"):
    return Consent(
        customer_id=customer.id,
        channel=name,
        granted=granted,
        source_channel=channel,
        location_id=location.id if location is not None else None,
        staff_id=staff.id if staff is not None else None,
    )


def lock_customer(session, customer_id, *, share=False):
    """The profile read afresh and locked for this transaction (PostgreSQL: FOR UPDATE, or FOR SHARE for a
    reader that only must not see it change; SQLite: the write transaction's BEGIN IMMEDIATE). Erase and
    merge take the same lock, so a change never lands on a profile erased or merged a moment ago."""
    return session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update(read=share)
        .execution_options(populate_existing=True)
    )


def _editable(customer):
    if customer is None or not customer.active:
        raise NotFound(_l("This profile can no longer be changed."))


def update_profile(customer, changes: ProfileChanges, *, staff) -> Customer:
    """Change name, contact data, preferred store, sizes and language; duplicates refused."""
    errors = {}
    first = _clean_name(changes.first_name, "first_name", errors)
    last = _clean_name(changes.last_name, "last_name", errors)
    if not first and not last and "first_name" not in errors:
        errors["last_name"] = _l("Enter the customer's name.")
    email, phone = _contact(changes.email, changes.phone, _country_of(staff.location), errors)
    sizes = {}
    for group, size in (changes.sizes or {}).items():
        size = " ".join((size or "").split())
        if group not in SIZE_GROUPS:
            errors["sizes"] = _l("Unknown size group.")
        elif len(size) > SIZE_MAX:
            errors[f"size_{group}"] = _l("Use at most %(count)d characters.", count=SIZE_MAX)
        elif size:
            sizes[group] = size
    if changes.locale not in CUSTOMER_LOCALES:
        errors["locale"] = _l("Unknown language.")
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        preferred = _preferred_location(session, changes.preferred_location_id, errors)
        if errors:
            raise ValidationFailed(_l("Please check the highlighted fields."), errors)
        if not email and not phone:
            message = _l("Keep an email address or a phone number.")
            raise ValidationFailed(message, {"email": message})
        _check_duplicates(session, email, phone, exclude_id=customer.id)
        before = {"email": customer.email, "phone": customer.phone}
        customer.first_name, customer.last_name = first, last
        customer.search_name = search_forms(f"{first} {last}")
        customer.email, customer.phone = email, phone
        customer.preferred_location_id = preferred.id if preferred else None
        customer.sizes = sizes
        customer.locale = changes.locale
        for name, old, new in (("email", before["email"], email), ("sms", before["phone"], phone)):
            if old and old != new and current_consents(customer).get(name, {}).get("granted"):
                # Consent was given for the old address: it does not carry over to a new one.
                session.add(_consent(customer, name, False, staff, staff.location))
        audit.record(
            "customer.updated",
            entity=customer,
            staff=staff,
            fields=sorted(
                k for k, v in (("email", email != before["email"]), ("phone", phone != before["phone"])) if v
            ),
        )
    return customer


# --- consents ------------------------------------------------------------------------------------------


def current_consents(customer) -> dict:
    """channel -> {"granted", "at", "source_channel", "location", "staff"} of the newest record per channel."""
    newest = {}
    for consent in sorted(customer.consents, key=lambda c: (c.recorded_at, c.id or 0)):
        newest[consent.channel] = consent
    return {
        name: {
            "granted": c.granted,
            "at": c.recorded_at,
            "source_channel": c.source_channel,
            "location": c.location,
            "staff": c.staff,
        }
        for name, c in newest.items()
    }


def record_consent(customer, channel, granted, *, staff) -> Consent:
    if channel not in CONSENT_CHANNELS or granted not in (True, False):
        raise ValidationFailed(_l("Unknown consent."), {"consent": _l("Unknown consent.")})
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        if granted and not (customer.email if channel == "email" else customer.phone):
            message = _l("Add an email address first.") if channel == "email" else _l("Add a phone number first.")
            raise ValidationFailed(message, {"consent": message})
        consent = _consent(customer, channel, granted, staff, staff.location)
        customer.consents.append(consent)
        audit.record("customer.consent", entity=customer, staff=staff, channel=channel, granted=granted)
    return consent


# --- notes and visits ------------------------------------------------------------------------------------


def add_note(customer, body, *, staff) -> CustomerNote:
    errors = {}
    # A textarea: line breaks stay (as LF); BEL, ESC, NUL and the like are refused at the field.
    text = validation.text(
        body,
        field="body",
        errors=errors,
        max_length=None,
        required=True,
        multiline=True,
        missing=_l("Write a note first."),
    )
    if errors:
        raise ValidationFailed(errors["body"], errors)
    if len(text) > NOTE_MAX:
        message = _l(
            "A note can have at most %(count)d characters (this one has %(length)d).", count=NOTE_MAX, length=len(text)
        )
        raise ValidationFailed(message, {"body": message})
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        note = CustomerNote(customer_id=customer.id, staff_id=staff.id, location_id=staff.location_id, body=text)
        customer.notes.insert(0, note)
        session.flush()
        audit.record("customer.note_added", entity=customer, staff=staff, note_id=note.id)
    return note


def record_visit(customer, *, staff, kind="visit", note="") -> CustomerVisit:
    if kind not in VISIT_KINDS:
        raise ValidationFailed(_l("Unknown kind of visit."), {"kind": _l("Unknown kind of visit.")})
    errors = {}
    text = validation.text(note, field="note", errors=errors, max_length=VISIT_NOTE_MAX)  # a one-line input
    if errors:
        raise ValidationFailed(errors["note"], errors)
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        visit = CustomerVisit(
            customer_id=customer.id,
            kind=kind,
            channel="store",
            location_id=staff.location_id,
            staff_id=staff.id,
            note=text,
        )
        session.add(visit)
        audit.record("customer.visit", entity=customer, staff=staff, kind=kind)
    return visit


# --- wishlist ----------------------------------------------------------------------------------------------


def wishlist(customer) -> list[WishlistItem]:
    from sqlalchemy.orm import joinedload

    return db.session.scalars(
        select(WishlistItem)
        .where(WishlistItem.customer_id == customer.id)
        .options(joinedload(WishlistItem.variant).joinedload(Variant.product))
        .order_by(WishlistItem.created_at.desc(), WishlistItem.id.desc())
    ).all()


def add_to_wishlist(customer, variant_id, *, staff, channel="store") -> WishlistItem:
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        variant = session.get(Variant, variant_id) if isinstance(variant_id, int) and 0 < variant_id <= MAX_ID else None
        if variant is None:
            raise ValidationFailed(_l("Choose a product size first."), {"variant": _l("Choose a product size first.")})
        existing = session.scalar(
            select(WishlistItem).where(WishlistItem.customer_id == customer.id, WishlistItem.variant_id == variant.id)
        )
        if existing is not None:
            return existing
        item = WishlistItem(
            customer_id=customer.id,
            variant_id=variant.id,
            channel=channel,
            location_id=staff.location_id if staff else None,
            staff_id=staff.id if staff else None,
        )
        session.add(item)
        audit.record("customer.wishlist_added", entity=customer, staff=staff, variant_id=variant.id)
    return item


def remove_from_wishlist(customer, item_id, *, staff):
    with transaction() as session:
        customer = lock_customer(session, customer.id)
        _editable(customer)
        item = session.get(WishlistItem, item_id) if isinstance(item_id, int) and 0 < item_id <= MAX_ID else None
        if item is None or item.customer_id != customer.id:
            raise NotFound(_l("That item is not on the wishlist."))
        session.delete(item)
        audit.record("customer.wishlist_removed", entity=customer, staff=staff, variant_id=item.variant_id)


# --- who may do what -------------------------------------------------------------------------------------


def can_manage(staff, customer) -> bool:
    """Export, erase, merge and the access log: managers of the customer's preferred store (any manager when
    the customer has none), and admins."""
    if staff.is_admin:
        return True
    return staff.is_manager and customer.preferred_location_id in (None, staff.location_id)


def require_manage(staff, customer):
    if not can_manage(staff, customer):
        raise Forbidden(_l("Only a manager of the customer's preferred store (or an admin) can do this."))
