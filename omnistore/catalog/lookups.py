"""Finding products and variants: the API's product search (`search_products`: words, EAN, SKU, a page at a time),
and one variant by code or id (`find_variant_ref` / `find_variant_by_code` for the scanner and the search box,
`get_variant`). Bad input is answered with a message per field."""

import unicodedata
from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from omnistore.catalog.codes import EAN_RE, SKU_MAX, ean13_check_digit, gtin13, is_valid_ean13
from omnistore.catalog.models import Product, Variant
from omnistore.catalog.search_text import fold
from omnistore.core import validation
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db

# Limits shared with the API document.
SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 100
SEARCH_OFFSET_MAX = 1_000_000
SEARCH_QUERY_MAX = 200
SEARCH_TOKENS_MAX = 10


# --- the API's product search -----------------------------------------------------------------------


@dataclass
class ProductPage:
    products: list[Product]
    limit: int
    offset: int
    next_offset: int | None


def _query_text(value, name, max_length, errors):
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = "Must be text."
        return None
    if validation.bad_character(value, whitespace=False) is not None:
        errors[name] = "Contains a control character."
        return None
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > max_length:
        errors[name] = f"At most {max_length} characters."
        return None
    return value or None


def _whole_number(value, name, low, high, errors):
    """An int from code (validation's rule, never a bool; the API parsed any text already) from low to high."""
    value = validation.whole_number(value) if isinstance(value, int) else None
    if value is None or not low <= value <= high:
        errors[name] = f"Must be a whole number from {low} to {high}."
        return None
    return value


def search_products(q=None, *, ean=None, sku=None, limit=SEARCH_LIMIT_DEFAULT, offset=0):
    """Products with their variants, ordered by name, a page at a time.

    `q` matches name, brand, category, style code, SKU and colour accent- and case-insensitively, every word
    somewhere ("mueller jacke" finds "Müller Regenjacke"); a 13-digit word also matches an EAN. `ean` and
    `sku` match exactly. Given together, all must match.
    """
    errors = {}
    q = _query_text(q, "q", SEARCH_QUERY_MAX, errors)
    ean_sent = ean is not None
    ean = _query_text(ean, "ean", 64, errors)
    if ean_sent and ean is None and "ean" not in errors:  # "?ean=" asks for no EAN: say so, not "everything"
        errors["ean"] = "An EAN is exactly 13 digits."
    sku = _query_text(sku, "sku", SKU_MAX, errors)
    limit = _whole_number(limit, "limit", 1, SEARCH_LIMIT_MAX, errors)
    offset = _whole_number(offset, "offset", 0, SEARCH_OFFSET_MAX, errors)
    if ean is not None and "ean" not in errors:
        if not EAN_RE.match(ean):
            errors["ean"] = "An EAN is exactly 13 digits."
        elif not is_valid_ean13(ean):
            errors["ean"] = f"EAN check digit is wrong (expected {ean13_check_digit(ean[:12])})."
    tokens = list(dict.fromkeys(fold(q).split())) if q else []
    if len(tokens) > SEARCH_TOKENS_MAX:
        errors["q"] = f"At most {SEARCH_TOKENS_MAX} words."
    if errors:
        raise ValidationFailed("Please check the search parameters.", errors)

    query = select(Product)
    if ean:
        query = query.where(Product.variants.any(Variant.ean == ean))
    if sku:
        query = query.where(Product.variants.any(Variant.sku == sku))
    for token in tokens:
        in_variant = func.lower(Variant.sku).contains(token, autoescape=True)
        if EAN_RE.match(token):
            in_variant = or_(in_variant, Variant.ean == token)
        query = query.where(
            or_(
                Product.search_text.contains(token, autoescape=True),
                func.lower(Product.style_code).contains(token, autoescape=True),
                Product.variants.any(in_variant),
            )
        )
    query = (
        query.order_by(Product.name, Product.id)
        .limit(limit + 1)
        .offset(offset)
        .options(selectinload(Product.variants).selectinload(Variant.prices))
    )
    products = list(db.session.scalars(query))
    more = len(products) > limit
    return ProductPage(products[:limit], limit, offset, offset + limit if more else None)


# --- one variant by code or id ----------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRef:
    id: int
    product_id: int


_BY_EAN = select(Variant.id, Variant.product_id).where(Variant.ean == bindparam("ean"))
_BY_SKU = select(Variant.sku, Variant.id, Variant.product_id).where(
    Variant.sku.in_([bindparam("sku"), bindparam("upper")])
)


def find_variant_ref(code):
    """The VariantRef of the variant with this EAN (or UPC-A/GTIN-14 of it) or exactly this SKU (any case);
    else None. One or two key lookups; what the scanner and the search box need to open the variant."""
    if not isinstance(code, str):
        return None
    code = unicodedata.normalize("NFC", code).strip()
    if not code or len(code) > SKU_MAX or " " in code:
        return None
    if validation.bad_character(code, whitespace=False) is not None:
        return None
    ean = gtin13(code) if code.isascii() and code.isdigit() else None
    if ean is not None and (row := db.session.execute(_BY_EAN, {"ean": ean}).first()) is not None:
        return VariantRef(*row)
    # SKUs are stored as sent, mostly upper case: the SKU as typed wins over its upper-case form.
    found = {sku: VariantRef(*ref) for sku, *ref in db.session.execute(_BY_SKU, {"sku": code, "upper": code.upper()})}
    return found.get(code) or found.get(code.upper())


def find_variant_by_code(code):
    """The variant with this EAN (or UPC-A/GTIN-14 of it) or exactly this SKU (any case); else None."""
    ref = find_variant_ref(code)
    return db.session.get(Variant, ref.id) if ref is not None else None


MAX_ID = 2_147_483_647  # ids are 32-bit integers; a larger number in a URL is simply not found


def get_variant(variant_id):
    """The variant with this id, or None."""
    return db.session.get(Variant, variant_id) if isinstance(variant_id, int) and 0 < variant_id <= MAX_ID else None
