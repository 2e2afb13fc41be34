"""The OpenAPI 3.1 document of the integration API, served at /api/v1/openapi.json.

Generated, not written: the schemas come from the pydantic models in api/schemas.py (the same models that
validate request bodies and serialise responses in api/views.py), the operations from the table ROUTES below,
one row per route of the API blueprint (tests/web/test_api.py checks that the table and the app's routes are
the same). Limits come from the services, so the document cannot drift from what is enforced.
"""

from dataclasses import dataclass, field
from functools import cache

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from omnistore.api import schemas
from omnistore.catalog import codes
from omnistore.catalog import feed as product_feed
from omnistore.catalog import lookups as catalog
from omnistore.orders import placing
from omnistore.stock import feed as stock_feed
from omnistore.web.errors import MAX_URL_LENGTH

VERSION = "1.0.0"
PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"


SCOPE = (
    "**Scope of a token.** Each token has a scope, set when it is made "
    "(`flask api-token create NAME [--channel web|store|app|phone ...] [--store CODE ...] [--read-only] "
    "[--all-status-urls]`): the order channels and the stores it may read and act on, and whether it may only "
    "read. Without options a token has the web channel, every store, read-write, and tokens made before scopes "
    "existed have exactly that, so counter (store) orders are out of their reach. An order belongs to its "
    "pickup store, or to the store that sold it; a web delivery to no store (only network-wide tokens see it). "
    "A token always sees the orders it placed itself.\n\n"
    "- Reads of an order outside the scope answer **404 not_found**, the same as a number that does not exist, "
    "so order numbers cannot be probed; cancelling one is a 404 too.\n"
    "- Writes outside the scope answer **403 out_of_scope**: an order on another channel, for a pickup store "
    "outside the scope, or a delivery by a token limited to stores; the catalogue (PUT /products) by a token "
    "limited to stores. A stock row for a store outside the scope is refused in its own result "
    "(`out_of_scope`).\n"
    "- Every write by a read-only token answers **403 read_only**.\n"
    "- `GET /stock/{sku}` lists the token's stores only; `GET /locations` and `GET /products` are the "
    "network's public facts and the same for every token.\n"
    "- `status_url` (the customer's status page, which the QR code at the desk encodes: a credential) is "
    "shown only to the token that placed the order, or to one made with `--all-status-urls`; otherwise null. "
    "Webhooks (which every endpoint gets for every order) never carry it: read the order here within the "
    "token's scope."
)


def _ref(name):
    return {"$ref": REF.format(model=name)}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


RESPONSES = {
    "BadRequest": _error(
        "bad_request: the body is empty or not valid JSON (a body that is "
        "required); invalid_value: a value holds a character the database cannot "
        "store (NUL)."
    ),
    "Forbidden": _error(
        "read_only: this token may only read; out_of_scope: the channel or store is "
        "outside this token's scope (see the scope section above)."
    ),
    "UriTooLong": _error(f"The URL is longer than {MAX_URL_LENGTH} bytes."),
    "BodyTooLarge": _error("The body is larger than the server accepts."),
    "Unauthorized": {
        **_error("No bearer token, or one that is not valid or was revoked."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="omnistore"'}},
    },
    "PayloadTooLarge": _error(
        "The body is larger than the server accepts, or holds more than "
        f"{product_feed.MAX_PRODUCTS_PER_UPSERT} products or "
        f"{product_feed.MAX_VARIANTS_PER_UPSERT} variants."
    ),
    "UnsupportedMediaType": _error("The body is not sent as application/json."),
    "ValidationFailed": _error("A parameter or the body's outline is not right; see fields."),
    "NotFound": _error("No such record."),
    "OrderNotFound": _error(
        "No such order, or one outside this token's scope (the same answer, so order numbers cannot be probed)."
    ),
    "StockPayloadTooLarge": _error(
        f"The body is larger than the server accepts, or holds more than {stock_feed.MAX_IMPORT_ROWS} rows."
    ),
    "Conflict": _error("A concurrent change got in the way; nothing was saved, send it again."),
    "OrderConflict": _error(
        "insufficient_stock: the units are not available (`lines` says which, "
        "with the reason); idempotency_key_reused: the key was used for another "
        "body; invalid_transition: the order can no longer be cancelled; offer_used: the offer's last use was "
        "taken a moment ago by another order."
    ),
    "ReturnNotFound": _error("No such return, or one whose order is outside this token's scope."),
    "ReturnConflict": _error(
        "invalid_transition: the return is refunded at the store's till, or owes nothing (refused)."
    ),
    "RateLimited": {
        **_error("Too many requests for this client; wait and retry."),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
    },
}


COMMON = {"401": "Unauthorized", "414": "UriTooLong", "429": "RateLimited"}


# --- the operations -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ok:
    """A success answer: its model (None: any object) and what it means."""

    model: type | None
    description: str
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One operation of the API: the Flask endpoint that serves it and what the document says of it."""

    method: str
    path: str  # OpenAPI template under PREFIX, e.g. /orders/{number}
    endpoint: str
    operation_id: str
    summary: str
    ok: dict  # status -> Ok
    errors: dict = field(default_factory=dict)  # status -> name in RESPONSES (COMMON is added unless public)
    description: str = ""
    parameters: tuple = ()
    body: type | None = None
    body_required: bool = True
    public: bool = False


def _query(name, description, schema):
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _string(max_length, **extra):
    return {"type": "string", "maxLength": max_length, **extra}


EAN = {
    "type": "string",
    "pattern": "^[0-9]{13}$",
    "description": "EAN-13 with a valid check digit.",
    "examples": ["4006381333931"],
}
RETURN_ID = {
    "name": "return_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
ORDER_NUMBER = {"name": "number", "in": "path", "required": True, "schema": _string(20, examples=["OS-26-000123"])}
WRITE_ERRORS = {"400": "BadRequest", "403": "Forbidden", "415": "UnsupportedMediaType", "422": "ValidationFailed"}

ROUTES = (
    Route(
        "get",
        "/openapi.json",
        "api.openapi",
        "getOpenApi",
        "This document",
        public=True,
        ok={"200": Ok(None, "The OpenAPI document")},
        errors={"414": "UriTooLong", "429": "RateLimited"},
    ),
    Route(
        "get",
        "/markets",
        "api.list_markets",
        "listMarkets",
        "The markets: the countries the chain sells in, with currency, VAT rate and delivery terms",
        ok={"200": Ok(schemas.MarketList, "Every market, ordered by code")},
    ),
    Route(
        "get",
        "/locations",
        "api.list_locations",
        "listLocations",
        "The network: every active store and warehouse",
        ok={"200": Ok(schemas.LocationList, "Active locations, ordered by code")},
    ),
    Route(
        "get",
        "/products",
        "api.search_products",
        "searchProducts",
        "Search the catalogue",
        description="`q` matches name, brand, category, style code, SKU and colour, ignoring case and accents "
        '("mueller" and "muller" find "Müller"); every word must match. `ean` and `sku` match '
        "exactly. Filters combine. Ordered by name.",
        parameters=(
            _query("q", "Search words", _string(catalog.SEARCH_QUERY_MAX, pattern=schemas.ONE_LINE)),
            _query("ean", "Exact EAN-13 of one of the variants (a wrong check digit → 422)", EAN),
            _query("sku", "Exact SKU of one of the variants", _string(codes.SKU_MAX, pattern=schemas.ONE_LINE)),
            _query(
                "limit",
                "Page size",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": catalog.SEARCH_LIMIT_MAX,
                    "default": catalog.SEARCH_LIMIT_DEFAULT,
                },
            ),
            _query(
                "offset",
                "Products to skip (take next_offset from the previous page)",
                {"type": "integer", "minimum": 0, "maximum": catalog.SEARCH_OFFSET_MAX, "default": 0},
            ),
        ),
        ok={"200": Ok(schemas.ProductPage, "One page of products with their variants")},
        errors={"400": "BadRequest", "422": "ValidationFailed"},
    ),
    Route(
        "put",
        "/products",
        "api.put_products",
        "upsertProducts",
        "Bulk create or update styles with their variants (PIM/ERP feed)",
        description="Each row is checked on its own and refused as a whole if anything in it is wrong (the "
        "reasons are in its result); the good rows are applied. Sending the same rows again changes "
        "nothing and reports them unchanged.",
        body=schemas.ProductUpsert,
        ok={"200": Ok(schemas.ProductUpsertResult, "One result per row, in request order")},
        errors={**WRITE_ERRORS, "409": "Conflict", "413": "PayloadTooLarge"},
    ),
    Route(
        "put",
        "/stock",
        "api.put_stock",
        "setStock",
        "Bulk set on_hand per SKU and location (ERP stock feed)",
        description="Each row sets the on-hand figure of one SKU at one location; the difference is written to "
        "the stock ledger as an import. Rows are checked on their own: good rows are applied, bad "
        "ones reported with their reasons (unknown SKU or location, not a whole number, negative, the "
        "same SKU and location twice in the request, below what is allocated to orders). Rows whose "
        "figure is already stored are reported unchanged and write nothing, so sending the same "
        "request again changes nothing.",
        body=schemas.StockUpsert,
        ok={"200": Ok(schemas.StockImportResult, "One result per row, in request order")},
        errors={**WRITE_ERRORS, "413": "StockPayloadTooLarge"},
    ),
    Route(
        "get",
        "/stock/{sku}",
        "api.get_stock",
        "getStock",
        "Availability of one SKU at every location",
        parameters=(
            {
                "name": "sku",
                "in": "path",
                "required": True,
                "schema": _string(codes.SKU_MAX, minLength=1, pattern=schemas.ONE_LINE),
            },
        ),
        ok={
            "200": Ok(schemas.StockAvailability, "On hand, allocated and available per location in this token's stores")
        },
        errors={"400": "BadRequest", "404": "NotFound"},
    ),
    Route(
        "post",
        "/orders",
        "api.create_order",
        "createOrder",
        "Place a web order (pickup or delivery)",
        description="Send an `Idempotency-Key` header (any visible ASCII, at most "
        f"{placing.IDEMPOTENCY_KEY_MAX} characters, unique per order): a retry with the same key and "
        "the same body answers 200 with the order made the first time (header `Idempotent-Replayed: "
        "true`) and never makes a second one; the same key with a different body is refused with 409 "
        "idempotency_key_reused. A request refused with 409 insufficient_stock or 422 made nothing, "
        "so its key may be sent again.",
        parameters=(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": placing.IDEMPOTENCY_KEY_MAX},
            },
        ),
        body=schemas.OrderInput,
        ok={
            "201": Ok(
                schemas.Order,
                "The order was placed",
                headers={"Location": {"schema": {"type": "string"}, "description": "The order's URL"}},
            ),
            "200": Ok(schemas.Order, "The same Idempotency-Key and body again: the order placed before"),
        },
        errors={**WRITE_ERRORS, "409": "OrderConflict", "413": "BodyTooLarge"},
    ),
    Route(
        "post",
        "/offers/validate",
        "api.validate_offer",
        "validateOffer",
        "Check a customer's offer code against a cart before placing the order",
        description="The body is the order as it will be sent to POST /orders, with its `offer_code`. The "
        "customer (matched by email or phone) must own the code; the offer must run today, be for the order's "
        "market, have a use left and apply to at least one line. Nothing is used up: the use is taken when the "
        "order is placed (send the same `offer_code` there). Problems → 422 with the message at `offer_code`.",
        body=schemas.OrderInput,
        ok={"200": Ok(schemas.OfferValidation, "What the offer takes off, per line and in total")},
        errors={**WRITE_ERRORS, "413": "BodyTooLarge"},
    ),
    Route(
        "get",
        "/orders/{number}",
        "api.get_order",
        "getOrder",
        "An order with its status, lines, pickup location and status URL",
        parameters=(ORDER_NUMBER,),
        ok={"200": Ok(schemas.Order, "The order")},
        errors={"400": "BadRequest", "404": "OrderNotFound"},
    ),
    Route(
        "post",
        "/orders/{number}/cancel",
        "api.cancel_order",
        "cancelOrder",
        "Cancel an order while that is still allowed",
        description="Pickup orders until collected (placed, in transit, ready); deliveries until shipped. "
        'Allocations are released and the customer is told. Optional body: `{"reason": "…"}`.',
        parameters=(ORDER_NUMBER,),
        body=schemas.CancelInput,
        body_required=False,
        ok={"200": Ok(schemas.Order, "The cancelled order")},
        errors={**WRITE_ERRORS, "404": "OrderNotFound", "409": "OrderConflict", "413": "BodyTooLarge"},
    ),
    Route(
        "get",
        "/returns/{return_id}",
        "api.get_return",
        "getReturn",
        "A return: its lines with grades and refund amounts, its state and how it is refunded",
        parameters=(RETURN_ID,),
        ok={"200": Ok(schemas.Return, "The return")},
        errors={"404": "ReturnNotFound"},
    ),
    Route(
        "post",
        "/returns/{return_id}/refunded",
        "api.return_refunded",
        "confirmReturnRefunded",
        "Confirm that the payment side refunded a return",
        description="For a return whose `refund_method` is online (announced by the `return.refund_requested` "
        "webhook with the amounts per line): it becomes refunded, with who and when. Idempotent: confirming a "
        "refunded return again answers 200 with `Idempotent-Replayed: true` and changes nothing. "
        'Optional body: `{"reference": "…"}` (the payment side\'s refund id, at most 100 characters).',
        parameters=(RETURN_ID,),
        body=schemas.RefundedInput,
        body_required=False,
        ok={"200": Ok(schemas.Return, "The refunded return")},
        errors={**WRITE_ERRORS, "404": "ReturnNotFound", "409": "ReturnConflict", "413": "BodyTooLarge"},
    ),
)


# --- generation ---------------------------------------------------------------------------------------------


class _Generator(GenerateJsonSchema):
    """pydantic's JSON schema without the titles it derives from class and field names (noise for readers),
    nor a `default: null` on fields that may be left out but are not nullable."""

    def default_schema(self, schema):
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] is None:
            del generated["default"]
        return generated

    def field_title_should_be_set(self, schema):
        return False

    def model_schema(self, schema):
        generated = super().model_schema(schema)
        generated.pop("title", None)
        if "description" in generated:  # a docstring: one paragraph, not its source lines
            generated["description"] = " ".join(generated["description"].split())
        return generated


def _models():
    models = []
    for route in ROUTES:
        if route.body is not None:
            models.append((route.body, "validation"))
        models += [(ok.model, "serialization") for ok in route.ok.values() if ok.model is not None]
    return [(schemas.Error, "serialization"), *dict.fromkeys(models)]


def _operation(route, refs):
    operation = {"operationId": route.operation_id, "summary": route.summary}
    if route.description:
        operation["description"] = route.description
    if route.public:
        operation["security"] = []
    if route.parameters:
        operation["parameters"] = list(route.parameters)
    if route.body is not None:
        operation["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": refs[route.body, "validation"]}},
        }
    responses = {}
    for status, ok in route.ok.items():
        schema = {"type": "object"} if ok.model is None else refs[ok.model, "serialization"]
        responses[status] = _json(schema, ok.description) | ({"headers": ok.headers} if ok.headers else {})
    for status, name in {**route.errors, **({} if route.public else COMMON)}.items():
        responses[status] = {"$ref": f"#/components/responses/{name}"}
    operation["responses"] = responses
    return operation


@cache
def document():
    """The whole OpenAPI document as a dict (built once; treat it as read-only)."""
    refs, definitions = models_json_schema(_models(), ref_template=REF, schema_generator=_Generator)
    paths = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omnistore integration API",
            "version": VERSION,
            "description": "For web shops, PIM and ERP systems. Every route except this document needs "
            "`Authorization: Bearer <token>` (`flask api-token create NAME`). Errors are "
            '`{"error": {"code": "…", "message": "…"}}` with the status each operation lists '
            "(also for an unknown route 404, a wrong method 405 with `Allow`, a too-large body 413, "
            "a too-long URL 414, a wrong content type 415, too many requests 429). Requests are "
            "rate limited per client.\n\n" + SCOPE,
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": definitions.get("$defs", {}),
            "responses": RESPONSES,
        },
    }
