"""The two checks every typed or sent value goes through: text and whole numbers. One rule each, so a note,
an address line, a SKU and a form field refuse the same things with the same words.

Text: must be a string; no control characters (Unicode Cc, and lone surrogates), so no NUL ever reaches the
database and no BEL or ESC lands in a note. A one-line field turns tab, CR and LF into spaces and squeezes
spaces (what a paste from a spreadsheet brings); a multi-line field (a textarea) keeps its line breaks as LF.
Whole numbers: ASCII digits only ("١٢" and "1_0" are not numbers here, though Python's int() takes them).
"""

import re
import unicodedata

from flask_babel import lazy_gettext as _l

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n?")
_DIGITS = re.compile(r"[+-]?[0-9]+")

NOT_TEXT = _l("Must be text.")
BAD_CHARACTER = _l("Contains a control character that cannot be stored. Remove it and try again.")


_WHITESPACE = {ord(c): " " for c in "\t\n\r"}  # kept as line breaks (multi-line) or turned into spaces


def bad_character(value: str, *, whitespace=True) -> str | None:
    """The first control character in `value` that no field takes, or None. Tab, CR and LF count as
    whitespace unless `whitespace` is False (a one-line API field or CSV cell that must not hold them)."""
    match = CONTROL.search(value.translate(_WHITESPACE) if whitespace else value)
    return match.group() if match else None


def text(value, *, field, errors, max_length, required=False, multiline=False, missing=None) -> str:
    """`value` cleaned, or "" with a message for `field` in `errors` (nothing raised: callers collect all)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = NOT_TEXT
        return ""
    if bad_character(value):
        errors[field] = BAD_CHARACTER
        return ""
    value = unicodedata.normalize("NFC", value)
    if multiline:
        lines = _LINE_BREAK.sub("\n", value).replace("\t", " ").split("\n")
        value = "\n".join(" ".join(line.split()) for line in lines).strip()
    else:
        value = " ".join(value.split())
    if required and not value:
        errors[field] = missing or _l("Required.")
    elif max_length is not None and len(value) > max_length:
        errors[field] = _l("At most %(max)d characters (now %(length)d).", max=max_length, length=len(value))
    return value


def whole_number(value) -> int | None:
    """A whole number as typed ("12", " -3 "), ASCII digits only; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    typed = value.strip().replace("\u2212", "-")  # a typographic minus is still a minus
    if not (typed.isascii() and _DIGITS.fullmatch(typed)) or len(typed) > 18:
        return None
    return int(typed)


_HUNDREDTHS = re.compile(r"([0-9]{1,12})(?:[.,]([0-9]{1,2}))?")


def hundredths(value) -> int | None:
    """An amount with up to two decimals as typed ("39", "39,95", "39.5"), in hundredths (3995, 3950); ASCII digits,
    either decimal mark, no sign, no thousands separator; None for anything else."""
    if not isinstance(value, str):
        return None
    typed = value.strip().replace("\u00a0", "").replace(" ", "")
    found = _HUNDREDTHS.fullmatch(typed) if typed.isascii() else None
    if found is None:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
