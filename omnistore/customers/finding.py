"""Finding a customer: by a search, by email or phone, by loyalty code, by id.

A name matches partially and accent-insensitively on every word ("mueller", "muel", "jurg mul" find
"Jürgen Müller"), through `Customer.search_name` (folded and transcribed forms; a trigram index on
PostgreSQL); an email matches exactly (lower-cased); a phone number in any common German or Danish notation
matches its E.164 form; a loyalty number, a loyalty QR code or a loyalty card's EAN-13 matches its profile.
Erased and merged profiles are never found.
"""

import contextlib
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from omnistore.catalog.codes import ean13_check_digit, is_valid_ean13
from omnistore.catalog.search_text import fold, search_forms
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.contact import normalize_email, phone_candidates
from omnistore.customers.models import Customer

SEARCH_LIMIT = 20
SEARCH_QUERY_MAX = 100
SEARCH_WORDS_MAX = 5
MAX_ID = 2_147_483_647

# Loyalty numbers: "OSL" and 7 digits. The card's QR code holds the number; its barcode is an EAN-13 from the
# in-store range: "299", the 7 digits with two leading zeros, and the check digit.
LOYALTY_PREFIX = "OSL"
LOYALTY_EAN_PREFIX = "29900"
_LOYALTY_RE = re.compile(r"^[A-Z]{2,6}\d{4,12}$")


def _findable():
    return and_(Customer.erased_at.is_(None), Customer.merged_into_id.is_(None))


def loyalty_number_from_code(code) -> str | None:
    """The loyalty number in a typed number, a scanned loyalty QR code or a loyalty card's EAN-13."""
    text = re.sub(r"[\s-]+", "", (code or "").strip()).upper()
    if not text or len(text) > 40:
        return None
    if len(text) == 13 and text.isdigit() and text.isascii():
        if text.startswith(LOYALTY_EAN_PREFIX) and is_valid_ean13(text):
            return f"{LOYALTY_PREFIX}{text[5:12]}"
        return None
    return text if _LOYALTY_RE.match(text) else None


def loyalty_card_ean(number) -> str:
    """The EAN-13 printed on the card of loyalty number "OSL1234567"."""
    body = LOYALTY_EAN_PREFIX + number[len(LOYALTY_PREFIX) :]
    return body + ean13_check_digit(body)


def find_by_loyalty_code(code) -> Customer | None:
    number = loyalty_number_from_code(code)
    if number is None:
        return None
    return db.session.scalar(select(Customer).where(Customer.loyalty_number == number, _findable()))


def find_by_contact(*, email=None, phone=None) -> Customer | None:
    """The profile with this email address or phone number (either; normalised first), or None."""
    conditions = []
    if email:
        with contextlib.suppress(ValidationFailed):
            conditions.append(Customer.email == normalize_email(email))
    if phone:
        candidates = [phone] if phone.startswith("+") and phone[1:].isdigit() else phone_candidates(phone)
        if candidates:
            conditions.append(Customer.phone.in_(candidates))
    if not conditions:
        return None
    return db.session.scalar(select(Customer).where(or_(*conditions), _findable()).order_by(Customer.id).limit(1))


def search_customers(query, *, limit=SEARCH_LIMIT) -> list[Customer]:
    """Profiles matching `query`: name (partial, accents and umlauts ignored), email, phone or loyalty code.

    Exact identifiers come first; a query that is too long or has too many words raises ValidationFailed."""
    text = " ".join((query or "").split())
    if not text:
        return []
    if len(text) > SEARCH_QUERY_MAX:
        message = _l("Use at most %(count)d characters.", count=SEARCH_QUERY_MAX)
        raise ValidationFailed(message, {"q": message})
    limit = max(1, min(int(limit), 100))
    exact = []
    if "@" in text:
        try:
            email = normalize_email(text)
        except ValidationFailed:
            email = text.lower()
        exact = list(db.session.scalars(select(Customer).where(Customer.email == email, _findable())))
        return exact[:limit]
    if (customer := find_by_loyalty_code(text)) is not None:
        exact.append(customer)
    if candidates := phone_candidates(text):
        exact += [
            c
            for c in db.session.scalars(
                select(Customer).where(Customer.phone.in_(candidates), _findable()).order_by(Customer.id)
            )
            if c not in exact
        ]
    words = [word for word in dict.fromkeys(text.lower().split()) if any(ch.isalpha() for ch in word)]
    if len(words) > SEARCH_WORDS_MAX:
        message = _l("Use at most %(count)d words.", count=SEARCH_WORDS_MAX)
        raise ValidationFailed(message, {"q": message})
    if not words or len(exact) >= limit:
        return exact[:limit]
    conditions = []
    for word in words:
        # Each word, folded ("müller" → "muller") or transcribed ("mueller"), somewhere in the name.
        forms = set(search_forms(word).split()) or {fold(word)}
        conditions.append(or_(*(Customer.search_name.contains(form, autoescape=True) for form in sorted(forms))))
    # No ORDER BY on purpose: with one, PostgreSQL walks the name index in order and filters (hundreds of ms
    # when a common name matches thousands); without, a common name stops after `limit` rows and a rare one
    # uses the trigram index. The few found are sorted here.
    names = sorted(
        db.session.scalars(select(Customer).where(*conditions, _findable()).limit(limit)).all(),
        key=lambda c: (c.search_name, c.id),
    )
    return (exact + [c for c in names if c not in exact])[:limit]


def get_customer(customer_id) -> Customer:
    """The profile with this id (erased or merged ones too); NotFound if there is none."""
    customer = (
        db.session.get(Customer, customer_id) if isinstance(customer_id, int) and 0 < customer_id <= MAX_ID else None
    )
    if customer is None:
        raise NotFound(_l("No customer with that number."))
    return customer


def get_active_customer(customer_id) -> Customer:
    """A profile that can be shown and changed: NotFound for an erased one; a merged one leads to the survivor
    (follow `merged_into_id`)."""
    customer = get_customer(customer_id)
    if customer.erased_at is not None:
        raise NotFound(_l("This customer's personal data was erased."))
    return customer
