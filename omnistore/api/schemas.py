"""The integration API's contract: one pydantic model per request body and response document.

These models are the single source of the API's shapes. api/openapi.py generates the OpenAPI 3.1 document's
`components/schemas` from them (so the document cannot drift from what is answered), api/views.py serialises
every response through them and validates the small request bodies with them. Limits come from the services,
so the models cannot drift from what the services enforce.

The two bulk feeds (PUT /products, PUT /stock) are the exception on the way in: each row is checked by hand
in its service (catalog.feed.upsert_products, stock.feed.rows_from_json), because a bad row must be answered in its own
result with stable per-field codes (required, too_long, invalid_ean, below_allocated, …) while the good rows
are still applied. Their row models (ProductInput, StockRowInput) document what a row must be to be applied;
the request as a whole accepts any row (PER_ROW). The order body (OrderInput) is checked by
api_orders.web_order_from_json for the same reason in one request: every field's problem at once, in the
customer's language, with the lookups (SKUs, pickup store, real email and phone) in the same pass. The stock
import's answer is built by hand for speed (see api/views.py). A test keeps these models' field names and the
services' equal.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omnistore.catalog import codes
from omnistore.catalog import feed as product_feed
from omnistore.core.statuses import LineStatus, OrderStatus
from omnistore.orders import api_orders, order_rules
from omnistore.stock import feed as stock_feed
from omnistore.stock import inputs
from omnistore.stock import zones as stock_zones

# Text the API takes in a query, path or order: no control characters (the services refuse them with 422).
ONE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _doc(**schema):
    """Extra JSON schema keywords that only document (examples, formats, patterns the service checks itself)."""
    return Field(json_schema_extra=schema)


def Text(max_length=None, *, min_length=None, **extra):  # noqa: N802 - reads as a type in the models
    return Annotated[str, Field(max_length=max_length, min_length=min_length), _doc(**extra)]


def OptionalText(max_length=None, **extra):  # noqa: N802
    return Annotated[str | None, Field(max_length=max_length), _doc(**extra)]


EAN = Annotated[
    str, Field(pattern="^[0-9]{13}$", description="EAN-13 with a valid check digit.", examples=["4006381333931"])
]
PRICE = Annotated[
    int,
    Field(
        ge=0,
        le=product_feed.MAX_PRICE_MINOR,
        description="Price in minor units (cents, øre) of the market's currency, VAT included; one price in every "
        "channel within a market.",
    ),
]
DATE_TIME = Annotated[str, _doc(format="date-time")]
OPTIONAL_DATE_TIME = Annotated[str | None, _doc(format="date-time")]
COUNT = Annotated[int, Field(ge=0)]
LOCATION_CODE = Text(16, examples=["HAM"])
MARKET_CODE = Text(2, description="A market: the ISO 3166-1 code of a country the chain sells in.", examples=["DK"])
LOCATION_KIND = Literal["store", "warehouse"]
TIME_RANGE = Annotated[
    list[Annotated[str, Field(pattern="^[0-2][0-9]:[0-5][0-9]$")]], Field(min_length=2, max_length=2)
]

# The feeds (PUT /products, PUT /stock) check each row on its own: a row that is not what its schema says is
# refused in its own result (status "error" with the reasons), and the good rows are still applied, so one bad
# row never blocks a feed of thousands. The request as a whole accepts any row; the row schema says what a row
# must be to be applied.
PER_ROW = (
    "A row is applied when it matches the row schema (the first alternative); anything else is answered "
    "in that row's result with status error, and the other rows are applied all the same."
)


class Schema(BaseModel):
    """A response document: every field is always sent (null where there is nothing). Fields may be added
    later, so the document does not forbid others."""


class Input(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# --- errors -----------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # some errors say more, e.g. insufficient_stock's lines
    code: str = Field(
        description="Stable, machine-readable: unauthorized, not_found, validation_failed, "
        "too_many_products, rate_limited, …"
    )
    message: str = Field(description="For people: what was wrong and how to fix it.")
    fields: dict[str, str] = Field(None, description="Per-parameter messages (validation_failed).")


class Error(BaseModel):
    error: ErrorDetail


# --- locations --------------------------------------------------------------------------------------------


class LocationAddress(Schema):
    street: Text(200)
    postcode: Text(16)
    city: Text(100)


class Location(Schema):
    code: LOCATION_CODE
    name: Text(120)
    kind: LOCATION_KIND
    address: LocationAddress
    country: Text(2, description="ISO 3166-1 alpha-2", examples=["DE", "DK"])
    phone: Text(32)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: Text(64, examples=["Europe/Berlin"])
    opening_hours: dict[str, list[TIME_RANGE]] = Field(
        description="Per weekday (mon … sun), opening ranges in the location's own time zone; an empty list is "
        "a closed day."
    )
    pickup_enabled: bool = Field(description="Whether the location runs a pickup desk.")
    market: MARKET_CODE | None = Field(description="The market it sells in: its prices and currency.")
    hold_days: int = Field(ge=1, le=60, description="Days a ready pickup order is held before it expires.")


class LocationList(Schema):
    locations: list[Location] = Field(description="Active locations, ordered by code.")


class Market(Schema):
    code: MARKET_CODE
    name: Text(100)
    currency: Text(3, description="ISO 4217 code of every price and order in this market", examples=["DKK"])
    locale: Text(5, description="The customers' default language", examples=["da"])
    vat_rate_bp: int = Field(ge=0, le=10000, description="VAT rate in basis points (2500 = 25 %); prices include it.")
    shipping_fee_minor: COUNT
    free_shipping_from_minor: COUNT
    postcode_rule: Text(
        16,
        description="The postcode rule delivery addresses in this country are checked by "
        "(4-digits, 5-digits, 4-digits-letters, 2-3-digits; empty: no check)",
        examples=["4-digits"],
    )
    return_window_days: int = Field(
        ge=1,
        description="Days goods may come back after collection or delivery (web, app and phone orders get "
        "at least 14).",
    )
    default: bool = Field(description="The market `price_minor` stands for in the product feed.")


class MarketList(Schema):
    markets: list[Market]


# --- products ---------------------------------------------------------------------------------------------


class MarketPrice(Schema):
    market: MARKET_CODE
    currency: Text(3, examples=["DKK"])
    amount_minor: PRICE


class Variant(Schema):
    sku: Text(codes.SKU_MAX)
    ean: EAN
    size: Text(32)
    colour: Text(64)
    price_minor: PRICE | None = Field(
        description="The price in the default market (see `currency`); null: not sold there."
    )
    prices: list[MarketPrice] = Field(
        description="One price per market the variant is sold in; not listed: not sellable there."
    )


class Product(Schema):
    style_code: Text(product_feed.STYLE_CODE_MAX)
    name: Text(product_feed.NAME_MAX)
    brand: Text(100)
    category: Text(100)
    description: str
    image_url: str
    updated_at: DATE_TIME
    variants: list[Variant]


class ProductPage(Schema):
    products: list[Product]
    currency: Text(3, description="ISO 4217 code of every price_minor (the default market's)", examples=["EUR"])
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


class VariantInput(Input):
    sku: Text(codes.SKU_MAX, min_length=1)
    ean: EAN
    size: OptionalText(product_feed.VARIANT_TEXT_FIELDS["size"]) = None
    colour: OptionalText(product_feed.VARIANT_TEXT_FIELDS["colour"]) = None
    price_minor: PRICE | None = Field(
        None, description="The price in the default market (as before markets); send this or `prices`, or both."
    )
    prices: dict[str, PRICE | None] | None = Field(
        None,
        description='Price per market code, {"DK": 189995, "DE": 24995}; null stops selling in that market; markets '
        "left out keep their price. A variant without a price in a market is not sellable there.",
    )


class ProductInput(Input):
    """A style and (some of) its variants. Fields left out keep their stored value (null clears an optional
    one); stored variants that are left out are kept. An SKU or EAN may not move to another style, and an EAN
    not to another SKU."""

    style_code: Text(product_feed.STYLE_CODE_MAX, min_length=1)
    name: Text(product_feed.NAME_MAX, min_length=1)
    brand: OptionalText(product_feed.PRODUCT_TEXT_FIELDS["brand"]) = None
    category: OptionalText(product_feed.PRODUCT_TEXT_FIELDS["category"]) = None
    description: OptionalText(product_feed.PRODUCT_TEXT_FIELDS["description"]) = None
    image_url: OptionalText(product_feed.PRODUCT_TEXT_FIELDS["image_url"]) = None
    variants: list[VariantInput] = Field(min_length=1, max_length=product_feed.MAX_VARIANTS_PER_PRODUCT)


class ProductUpsert(BaseModel):
    # The envelope only: its rows are checked one by one in product_feed.upsert_products (see the module doc).
    products: list[Annotated[ProductInput | Any, Field(description=PER_ROW)]] = Field(
        json_schema_extra={"maxItems": product_feed.MAX_PRODUCTS_PER_UPSERT},  # 413, not 422: checked by the service
        description="More than the maximum → 413 too_many_products, nothing applied.",
    )


class RowError(Schema):
    field: str | None = Field(
        description="Where in the row; null when the row itself is not an object.", examples=["variants[1].ean"]
    )
    code: Literal[
        "required",
        "invalid_type",
        "invalid_value",
        "too_long",
        "invalid_ean",
        "unknown_field",
        "duplicate_in_request",
        "already_used",
        "unknown_market",
    ]
    message: str


class RowResult(Schema):
    index: int = Field(description="Position of the row in the request.")
    style_code: str | None
    status: Literal["created", "updated", "unchanged", "error"]
    errors: list[RowError] = Field(description="Why the row was refused; empty unless status is error.")


class Summary(Schema):
    created: COUNT
    updated: COUNT
    unchanged: COUNT
    errors: COUNT


class ProductUpsertResult(Schema):
    results: list[RowResult]
    summary: Summary


# --- stock ------------------------------------------------------------------------------------------------


class StockRowInput(Input):
    sku: Text(inputs.SKU_MAX, min_length=1)
    location: Text(inputs.LOCATION_CODE_MAX, min_length=1, description="Location code (any case)", examples=["HAM"])
    on_hand: int = Field(
        ge=0, le=inputs.MAX_QUANTITY, description="The counted figure; must not be below what is allocated to orders."
    )
    zone: OptionalText(
        stock_zones.ZONE_MAX,
        description='Where the variant sits in the location (counted by zone); "" clears it, absent keeps it.',
        examples=["A3"],
    ) = None


class StockUpsert(BaseModel):
    # The envelope only: its rows are checked one by one in stock_feed.rows_from_json and bulk_import.import_on_hand.
    stock: list[Annotated[StockRowInput | Any, Field(description=PER_ROW)]] = Field(
        json_schema_extra={"maxItems": stock_feed.MAX_IMPORT_ROWS},  # 413, not 422: checked by the service
        description="More than the maximum → 413 too_many_rows, nothing applied.",
    )


class StockRowError(Schema):
    field: str | None = Field(description="The field at fault; null when the row as a whole is.", examples=["on_hand"])
    code: Literal[
        "required",
        "invalid_type",
        "invalid_value",
        "too_long",
        "unknown_field",
        "not_a_number",
        "not_a_whole_number",
        "negative",
        "too_small",
        "too_large",
        "duplicate",
        "unknown_sku",
        "unknown_location",
        "out_of_scope",
        "below_allocated",
        "conflict",
    ]
    message: str


class StockRowResult(Schema):
    index: int = Field(description="Position of the row in the request.")
    sku: str | None
    location: str | None
    status: Literal["created", "updated", "unchanged", "error"] = Field(
        description="created: first stock of the SKU at the location; unchanged: the figure was already stored "
        "(nothing written)."
    )
    on_hand: int | None = Field(description="The figure now; null for a refused row.")
    errors: list[StockRowError] = Field(description="Why the row was refused; empty unless status is error.")


class StockImportResult(Schema):
    reference: str = Field(
        description="Written to every stock movement of this request.", examples=["IMP-3F2A9C41D0B7"]
    )
    results: list[StockRowResult]
    summary: Summary


class LocationStock(Schema):
    location: LOCATION_CODE
    kind: LOCATION_KIND
    on_hand: COUNT
    allocated: COUNT = Field(description="Reserved for orders.")
    available: COUNT = Field(description="on_hand − allocated.")


class StockTotals(Schema):
    on_hand: COUNT
    allocated: COUNT
    available: COUNT


class StockAvailability(Schema):
    sku: Text(codes.SKU_MAX)
    ean: EAN
    locations: list[LocationStock] = Field(description="Every active location, by code; zeros where it has none.")
    totals: StockTotals


# --- orders -----------------------------------------------------------------------------------------------

FULFILMENT = Literal[order_rules.FULFILMENTS]
PAYMENT_STATE = Literal["paid", "pay_at_pickup"]


class Address(Input):
    name: Text(order_rules.ADDRESS_FIELDS["name"], min_length=1)
    street: Text(order_rules.ADDRESS_FIELDS["street"], min_length=1)
    postcode: Text(
        order_rules.ADDRESS_FIELDS["postcode"],
        description="Checked by the postcode rule of the country's market (see GET /markets).",
        examples=["20095", "1620"],
    )
    city: Text(order_rules.ADDRESS_FIELDS["city"], min_length=1)
    country: Text(
        2, description="ISO 3166-1 alpha-2; the countries we deliver to (default DE, DK).", examples=["DE", "DK"]
    )


class CustomerInput(Input):
    """An email address and/or a phone number, and a name (first and/or last). Empty text counts as left out.
    An address or number that is not real → 422."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {"anyOf": [{"required": ["email"]}, {"required": ["phone"]}]},
                {"anyOf": [{"required": ["first_name"]}, {"required": ["last_name"]}]},
            ]
        },
    )
    email: Text(254, pattern=ONE_LINE) = None
    phone: Text(40, pattern=ONE_LINE, description="Any usual notation; stored in E.164.") = None
    first_name: Text(api_orders.NAME_MAX, pattern=ONE_LINE) = None
    last_name: Text(api_orders.NAME_MAX, pattern=ONE_LINE) = None
    locale: Literal["en", "de", "da"] = Field(None, description="Language of the customer's emails.")


class LineInput(Input):
    sku: Text(codes.SKU_MAX, min_length=1)
    quantity: int = Field(ge=1, le=order_rules.MAX_LINE_QUANTITY)


class OrderInput(Input):
    """A web order. The customer is matched to an existing profile by email or phone, else created. Stock is
    allocated at the pickup store first, else sourced from the nearest store with enough (a transfer), else
    the warehouse. Anything wrong → 422 with a message per field (paths like `lines[0].sku`) and nothing
    created."""

    customer: CustomerInput
    lines: list[LineInput] = Field(min_length=1, max_length=order_rules.MAX_LINES)
    fulfilment: FULFILMENT
    pickup_location: Text(16, description="Pickup only: code of a store with a pickup desk.", examples=["HAM"]) = None
    delivery_address: Address = Field(None, description="Delivery only.")
    payment_state: PAYMENT_STATE = Field("paid", description="pay_at_pickup only for pickups.")
    channel: Literal[api_orders.API_CHANNELS] = "web"
    market: MARKET_CODE = Field(
        None,
        description="The market it is sold in, whose prices and currency it takes. Left out: the pickup store's "
        "market, or for a delivery the delivery country's (else the default market).",
    )
    offer_code: Text(40, pattern=ONE_LINE) = Field(
        None,
        description="The customer's personal offer code (check it first with POST /offers/validate): its discount "
        "is put on the lines and one use is taken when the order is placed; a code that is not the customer's, "
        "used up, not running, of another market or applying to no line → 422 at offer_code.",
    )


class OfferLine(Schema):
    sku: Text(codes.SKU_MAX)
    quantity: int = Field(ge=1)
    unit_price_minor: PRICE
    discount_minor: COUNT = Field(description="This line's share of the discount.")


class OfferValidation(Schema):
    """What an offer code takes off a cart (nothing is used up: the order redeems it)."""

    offer_code: Text(40)
    name: Text(120, description="The offer's name, as the customer saw it.")
    description: str = Field(description='What it takes off, e.g. "15 % off Jackets".')
    valid_until: Annotated[str, _doc(format="date")]
    uses_left: COUNT
    currency: Text(3)
    goods_minor: COUNT
    shipping_fee_minor: COUNT
    discount_minor: COUNT
    total_minor: COUNT = Field(description="Goods plus shipping fee less the discount, VAT included.")
    lines: list[OfferLine]


class CancelInput(Input):
    """Optional body of POST /orders/{number}/cancel (longer reasons are cut to 300 characters)."""

    reason: Annotated[str, _doc(maxLength=300)] = ""


class OrderLine(Schema):
    sku: Text(codes.SKU_MAX)
    quantity: int = Field(ge=1)
    unit_price_minor: PRICE
    status: Literal[tuple(status.value for status in LineStatus)]
    source_location: Text(16, description="Code of the location the line is allocated from.")
    reason: str = Field(description='Why that location, e.g. "Nearest store with 3 available: Berlin (255 km)."')
    returned_quantity: COUNT = Field(description="Units of this line the customer brought back (at any store).")
    discount_minor: COUNT = Field(0, description="What an offer took off this line (all its units together).")


class PickupLocation(Schema):
    code: LOCATION_CODE
    name: Text(120)
    address: LocationAddress
    country: Text(2)


class OrderPickup(Schema):
    ready_at: OPTIONAL_DATE_TIME
    pickup_by: OPTIONAL_DATE_TIME
    collected_at: OPTIONAL_DATE_TIME


class Order(Schema):
    number: Text(20, examples=["OS-26-000123"])
    status: Literal[tuple(status.value for status in OrderStatus)]
    channel: Literal["web", "store", "app", "phone"]
    fulfilment: FULFILMENT
    payment_state: PAYMENT_STATE
    placed_at: DATE_TIME
    promised_date: Annotated[str | None, _doc(format="date")] = Field(
        description="Same store: today; a transfer: by distance; the warehouse: its lead time; a delivery: lead "
        "time plus carriage."
    )
    market: MARKET_CODE | None = Field(description="The market it was sold in.")
    currency: Text(3, description="ISO 4217 code of every amount of the order, its lines' too.")
    total_minor: int = Field(ge=0, description="Goods plus shipping fee less any offer's discount, VAT included.")
    discount_minor: COUNT = Field(0, description="What the customer's offer took off (the sum of the lines').")
    credit_minor: COUNT = Field(
        description="An exchange: the returned goods' credit set against this order's payment (at most its total)."
    )
    amount_due_minor: COUNT = Field(description="What the customer owes for it: total_minor − credit_minor.")
    vat_rate_bp: int | None = Field(description="The market's VAT rate in basis points (2500 = 25 %).")
    vat_minor: int | None = Field(description="The VAT the total includes.")
    shipping_fee_minor: COUNT
    shipping_fee_waived: bool = Field(
        description="The chain waived this delivery's shipping fee (units a pickup store could not supply, sent "
        "home at the customer's choice): shipping_fee_minor is 0."
    )
    pickup_location: PickupLocation | None
    status_url: str | None = Field(
        description="Pickup orders: the customer's status page (what the QR code encodes). Only for the token "
        "that placed the order or one allowed all status URLs; null otherwise and for deliveries."
    )
    pickup: OrderPickup | None
    delivery_address: dict[str, Any] | None
    tracking_reference: str | None
    lines: list[OrderLine]


class RefundedInput(Input):
    """Optional body of POST /returns/{id}/refunded: the payment side's reference for the refund."""

    reference: Annotated[str, _doc(maxLength=100)] = ""


class ReturnLine(Schema):
    sku: Text(codes.SKU_MAX)
    quantity: int = Field(ge=1)
    grade: Literal["resell", "damaged", "defective", "not_ours"] = Field(
        description="resell: back in stock at the returning store; damaged/defective: booked out; not_ours: "
        "refused (refunds nothing)."
    )
    amount_minor: COUNT = Field(description="Refund for these units, in minor units of the return's currency.")


class Return(Schema):
    id: int
    order_number: Text(20, examples=["OS-26-000123"])
    status: Literal["received", "graded", "refund_pending", "refunded", "refused"]
    location: Text(16, description="Code of the store that took the goods back.")
    currency: Text(3, description="The order's currency.")
    refund_method: Literal["online", "till", "none"] = Field(
        description="online: the web shop / payment side refunds it and confirms with POST "
        "/returns/{id}/refunded; till: paid out at the store's till (the clerk records its reference)."
    )
    lines: list[ReturnLine]
    shipping_minor: COUNT = Field(description="The shipping fee, refunded with the return of the last unit.")
    total_minor: COUNT
    credit_minor: COUNT = Field(description="An exchange: the part of total_minor set against the new order.")
    exchange_order_number: str | None = Field(description="An exchange: the order the credit went to.")
    refund_due_minor: COUNT = Field(description="What is paid back: total_minor − credit_minor.")
    refund_reference: str | None
    received_at: DATE_TIME
    refund_requested_at: OPTIONAL_DATE_TIME
    refunded_at: OPTIONAL_DATE_TIME


# --- serialisation -----------------------------------------------------------------------------------------


def dump(model, data):
    """`data` checked against the response model and turned into JSON-ready Python (what the client gets)."""
    return model.model_validate(data).model_dump(mode="json")
