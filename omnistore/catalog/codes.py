"""A product's codes: the EAN-13 and its check digit, reading a scanned UPC-A or GTIN-14 as an EAN-13, the longest
SKU."""

import re

SKU_MAX = 64
EAN_RE = re.compile(r"^[0-9]{13}$")


def ean13_check_digit(first12: str) -> str:
    """The check digit for the first 12 digits of an EAN-13."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_ean13(code: str) -> bool:
    # isascii(): str.isdigit() also accepts other scripts' digits ("４", "٤"), which are no barcode.
    return (
        isinstance(code, str)
        and len(code) == 13
        and code.isascii()
        and code.isdigit()
        and ean13_check_digit(code[:12]) == code[12]
    )


def gtin13(code):
    """An EAN-13 from a scanned EAN-13, UPC-A (12 digits) or GTIN-14 with a leading zero; else None."""
    if len(code) == 12:
        code = "0" + code
    elif len(code) == 14 and code.startswith("0"):
        code = code[1:]
    return code if is_valid_ean13(code) else None
