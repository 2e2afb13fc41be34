"""The product feed (PUT /api/v1/products): the PIM/ERP sends styles with their variants, each row is checked on its
own and answered field by field, the good rows are created or updated in a few bulk statements."""

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from omnistore.catalog.codes import EAN_RE, SKU_MAX, ean13_check_digit, is_valid_ean13
from omnistore.catalog.models import Product, Variant, VariantPrice
from omnistore.catalog.search_text import search_text_for
from omnistore.core import audit, validation
from omnistore.core.db import transaction
from omnistore.core.errors import Conflict, DomainError, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stores.markets import default_market_code
from omnistore.stores.models import ApiClient, Market, Staff

# --- limits shared with the API document --------------------------------------------------------

MAX_PRODUCTS_PER_UPSERT = 1000
MAX_VARIANTS_PER_PRODUCT = 250
MAX_VARIANTS_PER_UPSERT = 25_000
MAX_PRICE_MINOR = 2_147_483_647  # the column is a 32-bit integer on PostgreSQL
STYLE_CODE_MAX = 64
# Optional text fields of a product / variant and their maximum lengths (those of the columns).
PRODUCT_TEXT_FIELDS = {"brand": 100, "category": 100, "description": 10_000, "image_url": 500}
NAME_MAX = 200
VARIANT_TEXT_FIELDS = {"size": 32, "colour": 64}
PRODUCT_KEYS = ("style_code", "name", "brand", "category", "description", "image_url", "variants")
VARIANT_KEYS = ("sku", "ean", "size", "colour", "price_minor", "prices")

_IN_CHUNK = 500  # values per IN (...) list: well inside SQLite's and PostgreSQL's parameter limits
_ABSENT = object()
_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


class TooManyProducts(DomainError):
    code = "too_many_products"
    status = 413


# --- results --------------------------------------------------------------------------------------


@dataclass
class RowError:
    field: str | None  # "name", "variants[1].ean"; None when the row as a whole is at fault
    code: str  # required | invalid_type | invalid_value | too_long | invalid_ean | unknown_field |
    #            duplicate_in_request | already_used
    message: str

    def as_dict(self):
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class RowResult:
    index: int
    style_code: str | None
    status: str = "error"  # created | updated | unchanged | error
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self):
        return {
            "index": self.index,
            "style_code": self.style_code,
            "status": self.status,
            "errors": [error.as_dict() for error in self.errors],
        }


@dataclass
class UpsertResult:
    results: list[RowResult]

    @property
    def summary(self):
        counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
        for result in self.results:
            counts[result.status] += 1
        return {
            "created": counts["created"],
            "updated": counts["updated"],
            "unchanged": counts["unchanged"],
            "errors": counts["error"],
        }

    def as_dict(self):
        return {"results": [result.as_dict() for result in self.results], "summary": self.summary}


# --- validation of one row (no database) ----------------------------------------------------------


@dataclass
class _VariantRow:
    position: int
    sku: str | None = None
    ean: str | None = None
    # {market code: price, or None to stop selling there} as sent; `price_minor` is the default market's.
    prices: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # size/colour when sent

    @property
    def colour(self):
        return self.values.get("colour", "")


@dataclass(eq=False)  # rows compare by identity: two rows may hold the same data
class _ProductRow:
    result: RowResult
    style_code: str | None = None
    values: dict = field(default_factory=dict)  # name and the optional fields that were sent
    variants: list[_VariantRow] = field(default_factory=list)

    def error(self, field_name, code, message):
        self.result.errors.append(RowError(field_name, code, message))

    @property
    def ok(self):
        return not self.result.errors


def _bad_character(value, multiline):
    """core.validation's rule; a one-line field of the API takes no tab or line break either."""
    return validation.bad_character(value, whitespace=multiline)


def _text(row, data, key, path, *, max_length, required=False, multiline=False):
    """The cleaned string for `key`, "" for an explicit null, or _ABSENT (with an error if required)."""
    value = data.get(key)
    if value is None:
        if required:
            row.error(path, "required", f"{key} is required.")
            return _ABSENT
        return "" if key in data else _ABSENT
    if not isinstance(value, str):
        row.error(path, "invalid_type", f"{key} must be a string.")
        return _ABSENT
    if (char := _bad_character(value, multiline)) is not None:
        row.error(path, "invalid_value", f"{key} contains a control character (U+{ord(char):04X}).")
        return _ABSENT
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        row.error(path, "required", f"{key} must not be empty.")
        return _ABSENT
    if len(value) > max_length:
        row.error(path, "too_long", f"{key} is longer than {max_length} characters.")
        return _ABSENT
    return value


def _unknown_keys(row, data, allowed, prefix):
    for key in data:
        if key not in allowed:
            row.error(
                f"{prefix}{key}", "unknown_field", f"Unknown field {str(key)[:40]!r}; allowed: {', '.join(allowed)}."
            )


def _parse_variant(row, data, position, markets):
    prefix = f"variants[{position}]."
    variant = _VariantRow(position)
    if not isinstance(data, dict):
        row.error(f"variants[{position}]", "invalid_type", "Each variant must be a JSON object.")
        return variant
    _unknown_keys(row, data, VARIANT_KEYS, prefix)
    sku = _text(row, data, "sku", prefix + "sku", max_length=SKU_MAX, required=True)
    variant.sku = None if sku is _ABSENT else sku
    variant.ean = _ean(row, data.get("ean"), prefix + "ean")
    variant.prices = _prices(row, data, prefix, markets)
    for key, max_length in VARIANT_TEXT_FIELDS.items():
        value = _text(row, data, key, prefix + key, max_length=max_length)
        if value is not _ABSENT:
            variant.values[key] = value
    return variant


def _ean(row, value, path):
    if value is None:
        row.error(path, "required", "ean is required.")
    elif not isinstance(value, str):
        row.error(path, "invalid_type", "ean must be a string of 13 digits (a number would lose leading zeros).")
    elif not EAN_RE.match(value.strip()):
        row.error(path, "invalid_ean", "EAN must be exactly 13 digits.")
    elif not is_valid_ean13(value.strip()):
        expected = ean13_check_digit(value.strip()[:12])
        row.error(path, "invalid_ean", f"EAN check digit is wrong (expected {expected}).")
    else:
        return value.strip()
    return None


def _price(row, value, path, name):
    if type(value) is not int:  # bool is an int subclass; floats and strings are refused too
        row.error(path, "invalid_type", f"{name} must be a whole number of minor units (cents, øre).")
    elif value < 0:
        row.error(path, "invalid_value", f"{name} must not be negative.")
    elif value > MAX_PRICE_MINOR:
        row.error(path, "invalid_value", f"{name} must be at most {MAX_PRICE_MINOR}.")
    else:
        return value
    return None


def _prices(row, data, prefix, markets):
    """{market code: price or None} from `prices` ({"DK": 189995, "DE": null}: null stops selling there) and
    `price_minor` (the default market's price, as before markets). At least one price is required."""
    prices = {}
    default = default_market_code()
    sent = data.get("prices")
    if sent is not None:
        if not isinstance(sent, dict):
            row.error(
                prefix + "prices", "invalid_type", 'prices must be an object of market code to price, {"DK": 189995}.'
            )
        else:
            for key, value in sent.items():
                code = key.strip().upper() if isinstance(key, str) else ""
                path = f"{prefix}prices.{str(key)[:8]}"
                if code not in markets:
                    known = ", ".join(sorted(markets)) or "none yet"
                    row.error(path, "unknown_market", f"No market {str(key)[:8]!r}; the markets are {known}.")
                elif code in prices:
                    row.error(path, "duplicate_in_request", f"The price in {code} is sent twice.")
                elif value is None:
                    prices[code] = None
                elif (price := _price(row, value, path, f"prices.{code}")) is not None:
                    prices[code] = price
    if "price_minor" in data:
        value = data["price_minor"]
        price = None if value is None else _price(row, value, prefix + "price_minor", "price_minor")
        if value is None:
            row.error(prefix + "price_minor", "required", "price_minor must be a price; to stop selling, send prices.")
        elif price is not None and prices.get(default, price) != price:
            row.error(
                prefix + "price_minor",
                "invalid_value",
                f"price_minor is the price in {default} and differs from prices.{default}; send one of them.",
            )
        elif price is not None:
            prices[default] = price
    if sent is None and "price_minor" not in data:
        row.error(prefix + "prices", "required", 'prices is required: {"DK": 189995, "DE": 24995} (or price_minor).')
    return prices


def _parse_row(index, data, markets):
    row = _ProductRow(RowResult(index, None))
    if not isinstance(data, dict):
        row.error(None, "invalid_type", "Each product must be a JSON object.")
        return row
    raw_code = data.get("style_code")
    row.result.style_code = raw_code[:STYLE_CODE_MAX] if isinstance(raw_code, str) else None
    _unknown_keys(row, data, PRODUCT_KEYS, "")
    style_code = _text(row, data, "style_code", "style_code", max_length=STYLE_CODE_MAX, required=True)
    if style_code is not _ABSENT:
        row.style_code = row.result.style_code = style_code
    name = _text(row, data, "name", "name", max_length=NAME_MAX, required=True)
    if name is not _ABSENT:
        row.values["name"] = name
    for key, max_length in PRODUCT_TEXT_FIELDS.items():
        value = _text(row, data, key, key, max_length=max_length, multiline=key == "description")
        if value is not _ABSENT:
            if key == "image_url" and value and not _URL_RE.match(value):
                row.error(key, "invalid_value", "image_url must be an http:// or https:// address.")
                continue
            row.values[key] = value
    variants = data.get("variants")
    if variants is None:
        row.error("variants", "required", "variants is required: a list of at least one variant.")
    elif not isinstance(variants, list):
        row.error("variants", "invalid_type", "variants must be a list.")
    elif not variants:
        row.error("variants", "required", "variants must hold at least one variant.")
    elif len(variants) > MAX_VARIANTS_PER_PRODUCT:
        row.error("variants", "too_long", f"A product may have at most {MAX_VARIANTS_PER_PRODUCT} variants.")
    else:
        row.variants = [_parse_variant(row, variant, position, markets) for position, variant in enumerate(variants)]
    return row


def _flag_duplicates(rows):
    """Style codes, SKUs and EANs must each appear once per request; every row involved is refused."""
    seen = {"style_code": {}, "sku": {}, "ean": {}}
    for row in rows:
        if row.style_code is not None:
            seen["style_code"].setdefault(row.style_code, []).append((row, "style_code"))
        for variant in row.variants:
            for key in ("sku", "ean"):
                value = getattr(variant, key)
                if value is not None:
                    seen[key].setdefault(value, []).append((row, f"variants[{variant.position}].{key}"))
    labels = {"style_code": "style_code", "sku": "SKU", "ean": "EAN"}
    for key, values in seen.items():
        for value, places in values.items():
            if len(places) < 2:
                continue
            for row, path in places:
                other_row, other_path = next((r, p) for r, p in places if r is not row or p != path)
                where = other_path if other_row is row else f"products[{other_row.result.index}].{other_path}"
                row.error(
                    path,
                    "duplicate_in_request",
                    f"{labels[key]} {value!r} appears more than once in this request (also at {where}).",
                )


# --- the verb -------------------------------------------------------------------------------------


def upsert_products(rows, actor):
    """Create or update styles with their variants from a PIM/ERP feed; one result per row.

    A row with any problem is refused as a whole and the others are applied. Fields a row leaves out keep
    their stored value; variants it leaves out are kept (stock and orders refer to them). Sending the same
    rows again writes nothing to the catalogue and reports them "unchanged". `actor` is the ApiClient or
    Staff member; one AuditEvent records the call.
    """
    if not isinstance(rows, list):
        raise ValidationFailed("products must be a list of products.", {"products": "Must be a list."})
    if len(rows) > MAX_PRODUCTS_PER_UPSERT:
        raise TooManyProducts(
            f"At most {MAX_PRODUCTS_PER_UPSERT} products per request, this one has {len(rows)}; "
            "send the catalogue in several requests.",
            limit=MAX_PRODUCTS_PER_UPSERT,
        )
    variants = sum(len(r["variants"]) for r in rows if isinstance(r, dict) and isinstance(r.get("variants"), list))
    if variants > MAX_VARIANTS_PER_UPSERT:
        raise TooManyProducts(
            f"At most {MAX_VARIANTS_PER_UPSERT} variants per request, this one has {variants}; "
            "send the catalogue in several requests.",
            limit=MAX_VARIANTS_PER_UPSERT,
        )
    markets = set(db.session.scalars(select(Market.code)))
    parsed = [_parse_row(index, data, markets) for index, data in enumerate(rows)]
    _flag_duplicates(parsed)
    try:
        with transaction() as session:
            _apply_rows(session, [row for row in parsed if row.ok])
            result = UpsertResult([row.result for row in parsed])
            audit.record(
                "catalog.products_upserted",
                entity=("product", ""),
                api_client=actor if isinstance(actor, ApiClient) else None,
                staff=actor if isinstance(actor, Staff) else None,
                summary=result.summary,
                created=[r.style_code for r in result.results if r.status == "created"],
                updated=[r.style_code for r in result.results if r.status == "updated"],
                rejected=[r.index for r in result.results if r.status == "error"],
            )
    except IntegrityError as error:
        # Another request created the same style, SKU or EAN between our read and our write.
        raise Conflict(
            "The catalogue changed while this batch was being applied; nothing was saved. Send the batch again."
        ) from error
    return result


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _apply_rows(session, rows):
    if not rows:
        return
    products, owners = _load_existing(session, rows)
    new_rows, new_variants, new_prices, grown = [], [], [], []
    for row in rows:
        _check_owners(row, owners)
        if not row.ok:
            continue
        product = products.get(row.style_code)
        if product is None:
            new_rows.append(row)
            row.result.status = "created"
            continue
        known = {variant.sku for variant in product.variants}
        added = [variant for variant in row.variants if variant.sku not in known]
        row.result.status = "updated" if _update_product(product, row, added) else "unchanged"
        if added:
            new_variants += [_variant_values(product.id, variant) for variant in added]
            new_prices += [variant.prices for variant in added]
            grown.append(product)
    session.flush()  # the UPDATEs of changed products and variants (batched per mapper)
    if new_rows:
        # Bulk INSERTs (a few statements per batch, not one per row), then the variants with their product ids.
        ids = dict(
            session.execute(
                insert(Product).returning(Product.style_code, Product.id), [_product_values(row) for row in new_rows]
            ).all()
        )
        new_variants += [_variant_values(ids[row.style_code], variant) for row in new_rows for variant in row.variants]
        new_prices += [variant.prices for row in new_rows for variant in row.variants]
    if new_variants:
        ids = dict(session.execute(insert(Variant).returning(Variant.sku, Variant.id), new_variants).all())
        now = utcnow()
        price_rows = [
            {"variant_id": ids[values["sku"]], "market_code": code, "amount_minor": amount, "updated_at": now}
            for values, prices in zip(new_variants, new_prices, strict=True)
            for code, amount in prices.items()
            if amount is not None
        ]
        if price_rows:
            session.execute(insert(VariantPrice), price_rows)
    for product in grown:
        session.expire(product, ["variants"])  # reload with the new variants when next read


def _load_existing(session, rows):
    """The stored products of these rows (with variants) and who owns their SKUs and EANs: a few queries."""
    codes = {row.style_code for row in rows}
    products = {}
    for chunk in _chunks(codes):
        query = (
            select(Product)
            .where(Product.style_code.in_(chunk))
            .options(selectinload(Product.variants).selectinload(Variant.prices))
            .execution_options(populate_existing=True)
        )  # never decide on stale objects in the session
        products.update((product.style_code, product) for product in session.scalars(query))
    owners = {"sku": {}, "ean": {}}
    for key, column in (("sku", Variant.sku), ("ean", Variant.ean)):
        values = {getattr(variant, key) for row in rows for variant in row.variants}
        for chunk in _chunks(values):
            query = (
                select(Variant.sku, Variant.ean, Product.style_code)
                .join(Product, Variant.product_id == Product.id)
                .where(column.in_(chunk))
            )
            owners[key].update((getattr(owner, key), owner) for owner in session.execute(query))
    return products, owners


def _check_owners(row, owners):
    """An SKU or EAN already in the catalogue must belong to this very style (and an EAN to this SKU)."""
    for variant in row.variants:
        owner = owners["sku"].get(variant.sku)
        if owner is not None and owner.style_code != row.style_code:
            row.error(
                f"variants[{variant.position}].sku",
                "already_used",
                f"SKU {variant.sku!r} already belongs to style {owner.style_code!r}.",
            )
        owner = owners["ean"].get(variant.ean)
        if owner is not None and owner.sku != variant.sku:
            style = "this style" if owner.style_code == row.style_code else f"style {owner.style_code!r}"
            row.error(
                f"variants[{variant.position}].ean",
                "already_used",
                f"EAN {variant.ean} already belongs to SKU {owner.sku!r} of {style}.",
            )


def _product_values(row):
    values = {key: row.values.get(key, "") for key in PRODUCT_TEXT_FIELDS}
    values.update(style_code=row.style_code, name=row.values["name"])
    values["search_text"] = search_text_for(values, row.variants)
    return values


def _variant_values(product_id, variant):
    return {
        "product_id": product_id,
        "sku": variant.sku,
        "ean": variant.ean,
        **{key: variant.values.get(key, "") for key in VARIANT_TEXT_FIELDS},
    }


def _update_product(product, row, added):
    """Apply the row to a stored product (but for the `added` variants); True when anything changed.

    Only what differs is assigned, so an unchanged row causes no UPDATE and keeps its updated_at.
    """
    changed = _assign(product, row.values) | bool(added)
    by_sku = {variant.sku: variant for variant in product.variants}
    for v in row.variants:
        if (variant := by_sku.get(v.sku)) is not None:
            changed |= _assign(variant, {"ean": v.ean, **v.values})
            changed |= _assign_prices(variant, v.prices)
    search_text = search_text_for(product, [*product.variants, *added])
    if product.search_text != search_text:
        product.search_text = search_text
        changed = True
    if changed:
        product.updated_at = utcnow()  # a variant change is a change of the product too
    return changed


def _assign_prices(variant, prices):
    """Set the variant's price in each market sent (None: no longer sold there); others keep theirs."""
    changed = False
    stored = {price.market_code: price for price in variant.prices}
    for code, amount in prices.items():
        price = stored.get(code)
        if amount is None and price is not None:
            variant.prices.remove(price)
            changed = True
        elif amount is not None and price is None:
            variant.prices.append(VariantPrice(market_code=code, amount_minor=amount))
            changed = True
        elif amount is not None and price.amount_minor != amount:
            price.amount_minor = amount
            changed = True
    return changed


def _assign(record, values):
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed
