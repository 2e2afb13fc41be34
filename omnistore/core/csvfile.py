"""Every CSV file the app writes, in one format: UTF-8 with a BOM, semicolons, CRLF — as Excel in Germany and
Denmark opens them — numbers with the language's decimal sign, money exact to the cent, and text that a
spreadsheet would run as a formula neutralised (CSV injection).

Cells are typed: text (str) is neutralised when it starts with = + - @ tab or CR; numbers (int, float, Decimal)
and `Money` are written as numbers, so a negative quantity stays a number. Shared core: no request, no web.
"""

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_decimal_symbol

BOM = "\ufeff"
DELIMITER = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Money:
    """An amount in minor units (cents, øre): written exact to the cent, never rounded."""

    minor: int


@dataclass(frozen=True)
class Number:
    """A measured figure (a rate, hours) written with `places` decimals (trailing ,0 dropped)."""

    value: float
    places: int = 1


def neutralise(text: str) -> str:
    """Text a spreadsheet would take for a formula gets a leading apostrophe, which Excel shows as text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@lru_cache(maxsize=16)
def _decimal_sign(locale):
    return get_decimal_symbol(locale or "en")


def cell(value, locale=None) -> str:
    """One value as the text of its cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Money):
        sign = "-" if value.minor < 0 else ""
        whole, cents = divmod(abs(int(value.minor)), 100)
        return f"{sign}{whole}{_decimal_sign(locale)}{cents:02d}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Number | float | Decimal):
        number, places = (value.value, value.places) if isinstance(value, Number) else (value, 2)
        exact = Decimal(str(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        text = f"{exact:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text == "-0":
            text = "0"
        return text.replace(".", _decimal_sign(locale))
    return neutralise(str(value))


def write(header, rows, *, locale=None) -> bytes:
    """The whole file: header and rows, each cell through `cell`."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow([cell(value, locale) for value in header])
    for row in rows:
        writer.writerow([cell(value, locale) for value in row])
    return buffer.getvalue().encode("utf-8")
