"""What the stock verbs and the import are given, checked before any database work: whole numbers as typed (a form's
string, a CSV cell or an int from code) with their words for each problem, one-line texts, and the limits of both.
Bad input raises ValidationFailed with a message per field."""

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import format_decimal
from flask_babel import gettext as _

from omnistore.core import validation
from omnistore.core.errors import ValidationFailed
from omnistore.stores.models import LOCATION_CODE_MAX  # noqa: F401 — the callers' limit, kept with the column

MAX_QUANTITY = 1_000_000  # one receipt, allocation, count or imported figure
REASON_MAX = 500
REFERENCE_MAX = 100
SKU_MAX = 64
_DECIMAL = re.compile(r"[+-]?[0-9]*[.,][0-9]+|[+-]?[0-9]+[.,][0-9]*|[+-]?[0-9.]+[eE][+-]?[0-9]+")


def _bad_character(value):
    """core.validation's rule, strict: a CSV cell or one-line value takes no tab or line break either."""
    return validation.bad_character(value, whitespace=False)


def _whole_number(value, low, high):
    """(number, None) or (None, (code, message)). Strings as typed in a form or a CSV cell; ints from code."""
    number = validation.whole_number(value)  # the one rule for whole numbers; here only the words differ
    if number is None and isinstance(value, str):
        typed = value.strip().replace("\u2212", "-")
        if not typed:
            return None, ("required", _("Enter a number."))
        if typed.isascii() and _DECIMAL.fullmatch(typed):
            return None, ("not_a_whole_number", _("Enter a whole number (no decimals), like 3."))
        return None, ("not_a_number", _("“%(value)s” is not a number.", value=typed[:20]))
    if number is None:
        return None, ("not_a_number", _("Enter a whole number."))
    if number < 0:
        return None, ("negative", _("The number cannot be negative."))
    if number < low:
        return None, ("too_small", _("Enter %(low)d or more.", low=low))
    if number > high:
        return None, ("too_large", _("Enter at most %(high)s.", high=format_decimal(high)))
    return number, None


def _text(value, *, max_length, required, errors, name, missing_message=None):
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = _("Must be text.")
        return ""
    if validation.bad_character(value) is not None:
        errors[name] = _("Contains a character that cannot be stored.")
        return ""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if required and not value:
        errors[name] = missing_message or _("Required.")
    elif len(value) > max_length:
        errors[name] = _("At most %(max)d characters (now %(length)d).", max=max_length, length=len(value))
    return value


@dataclass(frozen=True)
class _Checked:
    quantity: int
    reason: str
    reference: str
    seen_version: int | None


def _check(change, *, low, reason_required, reason_message=None):
    errors = {}
    quantity, problem = _whole_number(change.quantity, low, MAX_QUANTITY)
    if problem is not None:
        errors["quantity"] = problem[1]
        if problem[0] == "negative" and low > 0:
            errors["quantity"] = _("A receipt cannot be negative. To lower the figure, correct the count.")
    reason = _text(
        change.reason,
        max_length=REASON_MAX,
        required=reason_required,
        errors=errors,
        name="reason",
        missing_message=reason_message,
    )
    reference = _text(change.reference, max_length=REFERENCE_MAX, required=False, errors=errors, name="reference")
    seen = None
    if change.seen_version not in (None, ""):
        seen, problem = _whole_number(change.seen_version, 0, 2**62)
        if problem is not None:
            errors["version"] = _("Reload the page and count again.")
    if errors:
        raise ValidationFailed(_("Please check the highlighted fields."), errors)
    return _Checked(quantity, reason, reference, seen)
