"""Contact data as we store it: email addresses lower-cased and checked, phone numbers in E.164.

Shared by every flow that takes an email or a phone number from a person (customer profiles, orders).
Both functions raise ValidationFailed with a message that can be shown next to the field.
"""

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from omnistore.core.errors import ValidationFailed

EMAIL_MAX = 254
PHONE_INPUT_MAX = 40  # what a person may type: "+49 (0) 151 / 2345-6789" and the like
PHONE_COUNTRIES = ("DE", "DK")  # where our stores are: numbers without a country code are read as theirs
_PHONE_CHARACTERS = set("0123456789+()-./ ")


def normalize_email(raw) -> str:
    """ "  Jürgen.Mueller@Example.DE " → "jürgen.mueller@example.de"; ValidationFailed if it is no address."""
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(_l("Enter an email address."), {"email": _l("Enter an email address.")})
    message = _l("This is not a valid email address (for example name@example.com).")
    if len(text) > EMAIL_MAX:
        raise ValidationFailed(message, {"email": message})
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationFailed(message, {"email": message}) from None
    email = result.normalized.lower()
    if len(email) > EMAIL_MAX:
        raise ValidationFailed(message, {"email": message})
    return email


def _parse(text, country):
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_phone(raw):
    text = (raw or "").strip()
    if not text or len(text) > PHONE_INPUT_MAX or not set(text) <= _PHONE_CHARACTERS:
        return None
    if text.startswith("00"):  # 0049…, 0045…: the international prefix dialled from Germany or Denmark
        text = "+" + text[2:]
    return text


def normalize_phone(raw, default_country="DE") -> str:
    """A German or Danish number in any usual notation → E.164 ("0151 2345 6789" → "+4915123456789").

    Numbers without a country code are read as numbers of `default_country` (the store's country)."""
    if not (raw or "").strip():
        raise ValidationFailed(_l("Enter a phone number."), {"phone": _l("Enter a phone number.")})
    message = _l(
        "This is not a valid phone number. Include the area or mobile code, e.g. 0151 2345 6789 or +45 12 34 56 78."
    )
    text = _clean_phone(raw)
    country = default_country if default_country in phonenumbers.SUPPORTED_REGIONS else "DE"
    e164 = _parse(text, country) if text else None
    if e164 is None:
        raise ValidationFailed(message, {"phone": message})
    return e164


def phone_candidates(raw, countries=PHONE_COUNTRIES) -> list[str]:
    """Every E.164 number `raw` may mean, read as a number of each of `countries` (for searching)."""
    text = _clean_phone(raw)
    if not text or sum(ch.isdigit() for ch in text) < 6:
        return []
    found = (_parse(text, country) for country in countries)
    return list(dict.fromkeys(number for number in found if number))


def format_phone(e164) -> str:
    """E.164 as people read it: "+49 151 23456789"."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
