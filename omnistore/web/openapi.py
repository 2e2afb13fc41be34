"""The OpenAPI 3.1 document of the integration API, served at /api/v1/openapi.json.

Written by hand next to the routes in web/api.py; tests/web/test_api.py checks that both list the same
paths and methods. Limits come from the services, so the document cannot drift from what is enforced.
"""
from functools import cache

from ..models.statuses import LineStatus, OrderStatus
from ..services import catalog, ordering, sourcing, stock
from .errors import MAX_URL_LENGTH

VERSION = "1.0.0"


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
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name):
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _string(max_length=None, **extra):
    schema = {"type": "string", **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


EAN = _string(pattern="^[0-9]{13}$", description="EAN-13 with a valid check digit.", examples=["4006381333931"])
# Text the API takes in a query or path: no control characters (the services refuse them with 422).
ONE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
PRICE = {"type": "integer", "minimum": 0, "maximum": catalog.MAX_PRICE_MINOR,
         "description": "Price in minor units (cents, øre) of the shop's currency; one price in every channel."}
TIME_RANGE = {"type": "array", "items": _string(pattern="^[0-2][0-9]:[0-5][0-9]$"), "minItems": 2, "maxItems": 2}

# The feeds (PUT /products, PUT /stock) check each row on its own: a row that is not what its schema says
# is refused in its own result (status "error" with the reasons), and the good rows are still applied, so
# one bad row never blocks a feed of thousands. The request as a whole accepts any row; the row schema says
# what a row must be to be applied.
PER_ROW = {"description": "A row is applied when it matches the row schema (the first alternative); "
                          "anything else is answered in that row's result with status error, and the other "
                          "rows are applied all the same."}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": _string(description="Stable, machine-readable: unauthorized, not_found, "
                                                "validation_failed, too_many_products, rate_limited, …"),
                    "message": _string(description="For people: what was wrong and how to fix it."),
                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Per-parameter messages (validation_failed)."},
                },
                "additionalProperties": True,
            }
        },
    },
    "Location": {
        "type": "object",
        "required": ["code", "name", "kind", "address", "country", "latitude", "longitude", "timezone",
                     "opening_hours", "pickup_enabled", "hold_days"],
        "properties": {
            "code": _string(16, examples=["HAM"]),
            "name": _string(120),
            "kind": {"enum": ["store", "warehouse"]},
            "address": {
                "type": "object",
                "properties": {"street": _string(200), "postcode": _string(16), "city": _string(100)},
            },
            "country": _string(2, description="ISO 3166-1 alpha-2", examples=["DE", "DK"]),
            "phone": _string(32),
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            "timezone": _string(64, examples=["Europe/Berlin"]),
            "opening_hours": {
                "type": "object",
                "description": "Per weekday (mon … sun), opening ranges in the location's own time zone; "
                               "an empty list is a closed day.",
                "additionalProperties": {"type": "array", "items": TIME_RANGE},
            },
            "pickup_enabled": {"type": "boolean", "description": "Whether the location runs a pickup desk."},
            "hold_days": {"type": "integer", "minimum": 1, "maximum": 60,
                          "description": "Days a ready pickup order is held before it expires."},
        },
    },
    "Variant": {
        "type": "object",
        "required": ["sku", "ean", "size", "colour", "price_minor"],
        "properties": {"sku": _string(catalog.SKU_MAX), "ean": EAN, "size": _string(32), "colour": _string(64),
                       "price_minor": PRICE},
    },
    "Product": {
        "type": "object",
        "required": ["style_code", "name", "brand", "category", "description", "image_url", "updated_at",
                     "variants"],
        "properties": {
            "style_code": _string(catalog.STYLE_CODE_MAX),
            "name": _string(catalog.NAME_MAX),
            "brand": _string(100),
            "category": _string(100),
            "description": _string(),
            "image_url": _string(),
            "updated_at": _string(format="date-time"),
            "variants": {"type": "array", "items": _ref("Variant")},
        },
    },
    "ProductPage": {
        "type": "object",
        "required": ["products", "currency", "limit", "offset", "next_offset"],
        "properties": {
            "products": {"type": "array", "items": _ref("Product")},
            "currency": _string(3, description="ISO 4217 code of every price_minor", examples=["EUR"]),
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"], "description": "Offset of the next page; null on the last."},
        },
    },
    "VariantInput": {
        "type": "object",
        "required": ["sku", "ean", "price_minor"],
        "additionalProperties": False,
        "properties": {
            "sku": _string(catalog.SKU_MAX, minLength=1),
            "ean": EAN,
            "size": {"type": ["string", "null"], "maxLength": catalog.VARIANT_TEXT_FIELDS["size"]},
            "colour": {"type": ["string", "null"], "maxLength": catalog.VARIANT_TEXT_FIELDS["colour"]},
            "price_minor": PRICE,
        },
    },
    "ProductInput": {
        "type": "object",
        "description": "A style and (some of) its variants. Fields left out keep their stored value (null "
                       "clears an optional one); stored variants that are left out are kept. An SKU or EAN "
                       "may not move to another style, and an EAN not to another SKU.",
        "required": ["style_code", "name", "variants"],
        "additionalProperties": False,
        "properties": {
            "style_code": _string(catalog.STYLE_CODE_MAX, minLength=1),
            "name": _string(catalog.NAME_MAX, minLength=1),
            **{key: {"type": ["string", "null"], "maxLength": length}
               for key, length in catalog.PRODUCT_TEXT_FIELDS.items()},
            "variants": {"type": "array", "items": _ref("VariantInput"), "minItems": 1,
                         "maxItems": catalog.MAX_VARIANTS_PER_PRODUCT},
        },
    },
    "ProductUpsert": {
        "type": "object",
        "required": ["products"],
        "properties": {
            "products": {"type": "array", "items": {**PER_ROW, "anyOf": [_ref("ProductInput"), {}]},
                         "maxItems": catalog.MAX_PRODUCTS_PER_UPSERT,
                         "description": "More than the maximum → 413 too_many_products, nothing applied."},
        },
    },
    "RowError": {
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {"type": ["string", "null"], "examples": ["variants[1].ean"],
                      "description": "Where in the row; null when the row itself is not an object."},
            "code": {"enum": ["required", "invalid_type", "invalid_value", "too_long", "invalid_ean",
                              "unknown_field", "duplicate_in_request", "already_used"]},
            "message": _string(),
        },
    },
    "RowResult": {
        "type": "object",
        "required": ["index", "style_code", "status", "errors"],
        "properties": {
            "index": {"type": "integer", "description": "Position of the row in the request."},
            "style_code": {"type": ["string", "null"]},
            "status": {"enum": ["created", "updated", "unchanged", "error"]},
            "errors": {"type": "array", "items": _ref("RowError"),
                       "description": "Why the row was refused; empty unless status is error."},
        },
    },
    "ProductUpsertResult": {
        "type": "object",
        "required": ["results", "summary"],
        "properties": {
            "results": {"type": "array", "items": _ref("RowResult")},
            "summary": {
                "type": "object",
                "required": ["created", "updated", "unchanged", "errors"],
                "properties": {key: {"type": "integer", "minimum": 0}
                               for key in ("created", "updated", "unchanged", "errors")},
            },
        },
    },
}

SCHEMAS.update({
    "StockRowInput": {
        "type": "object",
        "required": ["sku", "location", "on_hand"],
        "additionalProperties": False,
        "properties": {
            "sku": _string(stock.SKU_MAX, minLength=1),
            "location": _string(stock.LOCATION_CODE_MAX, minLength=1, description="Location code (any case)",
                                examples=["HAM"]),
            "on_hand": {"type": "integer", "minimum": 0, "maximum": stock.MAX_QUANTITY,
                        "description": "The counted figure; must not be below what is allocated to orders."},
        },
    },
    "StockUpsert": {
        "type": "object",
        "required": ["stock"],
        "properties": {"stock": {"type": "array", "items": {**PER_ROW, "anyOf": [_ref("StockRowInput"), {}]},
                                 "maxItems": stock.MAX_IMPORT_ROWS,
                                 "description": "More than the maximum → 413 too_many_rows, nothing applied."}},
    },
    "StockRowError": {
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {"type": ["string", "null"], "examples": ["on_hand"],
                      "description": "The field at fault; null when the row as a whole is."},
            "code": {"enum": ["required", "invalid_type", "invalid_value", "too_long", "unknown_field",
                              "not_a_number", "not_a_whole_number", "negative", "too_small", "too_large",
                              "duplicate", "unknown_sku", "unknown_location", "out_of_scope", "below_allocated",
                              "conflict"]},
            "message": _string(),
        },
    },
    "StockRowResult": {
        "type": "object",
        "required": ["index", "sku", "location", "status", "on_hand", "errors"],
        "properties": {
            "index": {"type": "integer", "description": "Position of the row in the request."},
            "sku": {"type": ["string", "null"]},
            "location": {"type": ["string", "null"]},
            "status": {"enum": ["created", "updated", "unchanged", "error"],
                       "description": "created: first stock of the SKU at the location; unchanged: the figure was "
                                      "already stored (nothing written)."},
            "on_hand": {"type": ["integer", "null"], "description": "The figure now; null for a refused row."},
            "errors": {"type": "array", "items": _ref("StockRowError"),
                       "description": "Why the row was refused; empty unless status is error."},
        },
    },
    "StockImportResult": {
        "type": "object",
        "required": ["reference", "results", "summary"],
        "properties": {
            "reference": _string(description="Written to every stock movement of this request.",
                                 examples=["IMP-3F2A9C41D0B7"]),
            "results": {"type": "array", "items": _ref("StockRowResult")},
            "summary": {
                "type": "object",
                "required": ["created", "updated", "unchanged", "errors"],
                "properties": {key: {"type": "integer", "minimum": 0}
                               for key in ("created", "updated", "unchanged", "errors")},
            },
        },
    },
    "LocationStock": {
        "type": "object",
        "required": ["location", "kind", "on_hand", "allocated", "available"],
        "properties": {
            "location": _string(16, examples=["HAM"]),
            "kind": {"enum": ["store", "warehouse"]},
            "on_hand": {"type": "integer", "minimum": 0},
            "allocated": {"type": "integer", "minimum": 0, "description": "Reserved for orders."},
            "available": {"type": "integer", "minimum": 0, "description": "on_hand − allocated."},
        },
    },
    "StockAvailability": {
        "type": "object",
        "required": ["sku", "ean", "locations", "totals"],
        "properties": {
            "sku": _string(catalog.SKU_MAX),
            "ean": EAN,
            "locations": {"type": "array", "items": _ref("LocationStock"),
                          "description": "Every active location, by code; zeros where it has none."},
            "totals": {
                "type": "object",
                "required": ["on_hand", "allocated", "available"],
                "properties": {key: {"type": "integer", "minimum": 0} for key in ("on_hand", "allocated", "available")},
            },
        },
    },
})

SCHEMAS.update({
    "Address": {
        "type": "object",
        "required": ["name", "street", "postcode", "city", "country"],
        "additionalProperties": False,
        "properties": {
            "name": _string(sourcing.ADDRESS_FIELDS["name"], minLength=1),
            "street": _string(sourcing.ADDRESS_FIELDS["street"], minLength=1),
            "postcode": _string(sourcing.ADDRESS_FIELDS["postcode"],
                                description="DE: 5 digits, DK: 4 digits.", examples=["20095", "1620"]),
            "city": _string(sourcing.ADDRESS_FIELDS["city"], minLength=1),
            "country": _string(2, description="ISO 3166-1 alpha-2; the countries we deliver to (default DE, DK).",
                               examples=["DE", "DK"]),
        },
    },
    "OrderInput": {
        "type": "object",
        "required": ["customer", "lines", "fulfilment"],
        "additionalProperties": False,
        "description": "A web order. The customer is matched to an existing profile by email or phone, else "
                       "created. Stock is allocated at the pickup store first, else sourced from the nearest "
                       "store with enough (a transfer), else the warehouse. Anything wrong → 422 with a message "
                       "per field (paths like `lines[0].sku`) and nothing created.",
        "properties": {
            "customer": {
                "type": "object",
                "additionalProperties": False,
                "description": "An email address and/or a phone number, and a name (first and/or last). Empty "
                               "text counts as left out. An address or number that is not real → 422.",
                "allOf": [{"anyOf": [{"required": ["email"]}, {"required": ["phone"]}]},
                          {"anyOf": [{"required": ["first_name"]}, {"required": ["last_name"]}]}],
                "properties": {
                    "email": _string(254, pattern=ONE_LINE),
                    "phone": _string(40, pattern=ONE_LINE, description="Any usual notation; stored in E.164."),
                    "first_name": _string(ordering.NAME_MAX, pattern=ONE_LINE),
                    "last_name": _string(ordering.NAME_MAX, pattern=ONE_LINE),
                    "locale": {"enum": ["en", "de", "da"], "description": "Language of the customer's emails."},
                },
            },
            "lines": {
                "type": "array", "minItems": 1, "maxItems": sourcing.MAX_LINES,
                "items": {
                    "type": "object", "required": ["sku", "quantity"], "additionalProperties": False,
                    "properties": {"sku": _string(catalog.SKU_MAX, minLength=1),
                                   "quantity": {"type": "integer", "minimum": 1,
                                                "maximum": sourcing.MAX_LINE_QUANTITY}},
                },
            },
            "fulfilment": {"enum": list(sourcing.FULFILMENTS)},
            "pickup_location": _string(16, description="Pickup only: code of a store with a pickup desk.",
                                       examples=["HAM"]),
            "delivery_address": {**_ref("Address"), "description": "Delivery only."},
            "payment_state": {"enum": ["paid", "pay_at_pickup"], "default": "paid",
                              "description": "pay_at_pickup only for pickups."},
            "channel": {"enum": list(ordering.API_CHANNELS), "default": "web"},
        },
    },
    "OrderLine": {
        "type": "object",
        "required": ["sku", "quantity", "unit_price_minor", "status", "source_location", "reason"],
        "properties": {
            "sku": _string(catalog.SKU_MAX),
            "quantity": {"type": "integer", "minimum": 1},
            "unit_price_minor": PRICE,
            "status": {"enum": [status.value for status in LineStatus]},
            "source_location": _string(16, description="Code of the location the line is allocated from."),
            "reason": _string(description="Why that location, e.g. \"Nearest store with 3 available: Berlin "
                                          "(255 km).\""),
        },
    },
    "Order": {
        "type": "object",
        "required": ["number", "status", "channel", "fulfilment", "payment_state", "placed_at", "currency",
                     "total_minor", "shipping_fee_minor", "pickup_location", "status_url", "lines"],
        "properties": {
            "number": _string(20, examples=["OS-26-000123"]),
            "status": {"enum": [status.value for status in OrderStatus]},
            "channel": {"enum": ["web", "store", "app", "phone"]},
            "fulfilment": {"enum": list(sourcing.FULFILMENTS)},
            "payment_state": {"enum": ["paid", "pay_at_pickup"]},
            "placed_at": _string(format="date-time"),
            "promised_date": {"type": ["string", "null"], "format": "date",
                              "description": "Same store: today; a transfer: by distance; the warehouse: its lead "
                                             "time; a delivery: lead time plus carriage."},
            "currency": _string(3),
            "total_minor": {"type": "integer", "minimum": 0, "description": "Goods plus shipping fee."},
            "shipping_fee_minor": {"type": "integer", "minimum": 0},
            "pickup_location": {"type": ["object", "null"]},
            "status_url": {"type": ["string", "null"],
                           "description": "Pickup orders: the customer's status page (what the QR code encodes). "
                                          "Only for the token that placed the order or one allowed all status "
                                          "URLs; null otherwise and for deliveries."},
            "pickup": {"type": ["object", "null"]},
            "delivery_address": {"type": ["object", "null"]},
            "tracking_reference": {"type": ["string", "null"]},
            "lines": {"type": "array", "items": _ref("OrderLine")},
        },
    },
})

RESPONSES = {
    "BadRequest": _json(_ref("Error"), "bad_request: the body is empty or not valid JSON (a body that is "
                                       "required); invalid_value: a value holds a character the database cannot "
                                       "store (NUL)."),
    "Forbidden": _json(_ref("Error"), "read_only: this token may only read; out_of_scope: the channel or store is "
                                      "outside this token's scope (see the scope section above)."),
    "UriTooLong": _json(_ref("Error"), f"The URL is longer than {MAX_URL_LENGTH} bytes."),
    "BodyTooLarge": _json(_ref("Error"), "The body is larger than the server accepts."),
    "Unauthorized": {
        **_json(_ref("Error"), "No bearer token, or one that is not valid or was revoked."),
        "headers": {"WWW-Authenticate": {"schema": _string(), "description": 'Bearer realm="omnistore"'}},
    },
    "PayloadTooLarge": _json(_ref("Error"), "The body is larger than the server accepts, or holds more than "
                                            f"{catalog.MAX_PRODUCTS_PER_UPSERT} products or "
                                            f"{catalog.MAX_VARIANTS_PER_UPSERT} variants."),
    "UnsupportedMediaType": _json(_ref("Error"), "The body is not sent as application/json."),
    "ValidationFailed": _json(_ref("Error"), "A parameter or the body's outline is not right; see fields."),
    "NotFound": _json(_ref("Error"), "No such record."),
    "OrderNotFound": _json(_ref("Error"), "No such order, or one outside this token's scope (the same answer, so "
                                          "order numbers cannot be probed)."),
    "StockPayloadTooLarge": _json(_ref("Error"), "The body is larger than the server accepts, or holds more than "
                                                 f"{stock.MAX_IMPORT_ROWS} rows."),
    "Conflict": _json(_ref("Error"), "A concurrent change got in the way; nothing was saved, send it again."),
    "OrderConflict": _json(_ref("Error"), "insufficient_stock: the units are not available (`lines` says which, "
                                          "with the reason); idempotency_key_reused: the key was used for another "
                                          "body; invalid_transition: the order can no longer be cancelled."),
    "RateLimited": {
        **_json(_ref("Error"), "Too many requests for this client; wait and retry."),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
    },
}

COMMON = {"401": _response("Unauthorized"), "414": _response("UriTooLong"), "429": _response("RateLimited")}


def _query(name, description, schema):
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PATHS = {
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "414": _response("UriTooLong"), "429": _response("RateLimited")},
        }
    },
    "/locations": {
        "get": {
            "operationId": "listLocations",
            "summary": "The network: every active store and warehouse",
            "responses": {
                "200": _json({"type": "object", "required": ["locations"],
                              "properties": {"locations": {"type": "array", "items": _ref("Location")}}},
                             "Active locations, ordered by code"),
                **COMMON,
            },
        }
    },
    "/products": {
        "get": {
            "operationId": "searchProducts",
            "summary": "Search the catalogue",
            "description": "`q` matches name, brand, category, style code, SKU and colour, ignoring case and "
                           "accents (\"mueller\" and \"muller\" find \"Müller\"); every word must match. `ean` "
                           "and `sku` match exactly. Filters combine. Ordered by name.",
            "parameters": [
                _query("q", "Search words", _string(catalog.SEARCH_QUERY_MAX, pattern=ONE_LINE)),
                _query("ean", "Exact EAN-13 of one of the variants (a wrong check digit → 422)", EAN),
                _query("sku", "Exact SKU of one of the variants", _string(catalog.SKU_MAX, pattern=ONE_LINE)),
                _query("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": catalog.SEARCH_LIMIT_MAX,
                                              "default": catalog.SEARCH_LIMIT_DEFAULT}),
                _query("offset", "Products to skip (take next_offset from the previous page)",
                       {"type": "integer", "minimum": 0, "maximum": catalog.SEARCH_OFFSET_MAX, "default": 0}),
            ],
            "responses": {
                "200": _json(_ref("ProductPage"), "One page of products with their variants"),
                "400": _response("BadRequest"),
                "422": _response("ValidationFailed"),
                **COMMON,
            },
        },
        "put": {
            "operationId": "upsertProducts",
            "summary": "Bulk create or update styles with their variants (PIM/ERP feed)",
            "description": "Each row is checked on its own and refused as a whole if anything in it is wrong "
                           "(the reasons are in its result); the good rows are applied. Sending the same rows "
                           "again changes nothing and reports them unchanged.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ProductUpsert")}}},
            "responses": {
                "200": _json(_ref("ProductUpsertResult"), "One result per row, in request order"),
                "400": _response("BadRequest"),
                "403": _response("Forbidden"),
                "409": _response("Conflict"),
                "413": _response("PayloadTooLarge"),
                "415": _response("UnsupportedMediaType"),
                "422": _response("ValidationFailed"),
                **COMMON,
            },
        },
    },
}

PATHS.update({
    "/stock": {
        "put": {
            "operationId": "setStock",
            "summary": "Bulk set on_hand per SKU and location (ERP stock feed)",
            "description": "Each row sets the on-hand figure of one SKU at one location; the difference is written "
                           "to the stock ledger as an import. Rows are checked on their own: good rows are applied, "
                           "bad ones reported with their reasons (unknown SKU or location, not a whole number, "
                           "negative, the same SKU and location twice in the request, below what is allocated to "
                           "orders). Rows whose figure is already stored are reported unchanged and write nothing, "
                           "so sending the same request again changes nothing.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("StockUpsert")}}},
            "responses": {
                "200": _json(_ref("StockImportResult"), "One result per row, in request order"),
                "400": _response("BadRequest"),
                "403": _response("Forbidden"),
                "413": _response("StockPayloadTooLarge"),
                "415": _response("UnsupportedMediaType"),
                "422": _response("ValidationFailed"),
                **COMMON,
            },
        },
    },
    "/stock/{sku}": {
        "get": {
            "operationId": "getStock",
            "summary": "Availability of one SKU at every location",
            "parameters": [{"name": "sku", "in": "path", "required": True,
                            "schema": _string(catalog.SKU_MAX, minLength=1, pattern=ONE_LINE)}],
            "responses": {
                "200": _json(_ref("StockAvailability"), "On hand, allocated and available per location in this "
                                                        "token's stores"),
                "400": _response("BadRequest"),
                "404": _response("NotFound"),
                **COMMON,
            },
        },
    },
})


ORDER_NUMBER = {"name": "number", "in": "path", "required": True, "schema": _string(20, examples=["OS-26-000123"])}
PATHS.update({
    "/orders": {
        "post": {
            "operationId": "createOrder",
            "summary": "Place a web order (pickup or delivery)",
            "description": "Send an `Idempotency-Key` header (any visible ASCII, at most "
                           f"{ordering.IDEMPOTENCY_KEY_MAX} characters, unique per order): a retry with the same key "
                           "and the same body answers 200 with the order made the first time (header "
                           "`Idempotent-Replayed: true`) and never makes a second one; the same key with a "
                           "different body is refused with 409 idempotency_key_reused. A request refused with 409 "
                           "insufficient_stock or 422 made nothing, so its key may be sent again.",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": _string(ordering.IDEMPOTENCY_KEY_MAX)}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("OrderInput")}}},
            "responses": {
                "201": {**_json(_ref("Order"), "The order was placed"),
                        "headers": {"Location": {"schema": _string(), "description": "The order's URL"}}},
                "200": _json(_ref("Order"), "The same Idempotency-Key and body again: the order placed before"),
                "400": _response("BadRequest"),
                "403": _response("Forbidden"),
                "413": _response("BodyTooLarge"),
                "409": _response("OrderConflict"),
                "415": _response("UnsupportedMediaType"),
                "422": _response("ValidationFailed"),
                **COMMON,
            },
        },
    },
    "/orders/{number}": {
        "get": {
            "operationId": "getOrder",
            "summary": "An order with its status, lines, pickup location and status URL",
            "parameters": [ORDER_NUMBER],
            "responses": {"200": _json(_ref("Order"), "The order"), "400": _response("BadRequest"),
                          "404": _response("OrderNotFound"), **COMMON},
        },
    },
    "/orders/{number}/cancel": {
        "post": {
            "operationId": "cancelOrder",
            "summary": "Cancel an order while that is still allowed",
            "description": "Pickup orders until collected (placed, in transit, ready); deliveries until shipped. "
                           "Allocations are released and the customer is told. Optional body: "
                           '`{"reason": "…"}`.',
            "parameters": [ORDER_NUMBER],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "properties": {"reason": _string(300)}}}}},
            "responses": {
                "200": _json(_ref("Order"), "The cancelled order"),
                "400": _response("BadRequest"),
                "403": _response("Forbidden"),
                "404": _response("OrderNotFound"),
                "409": _response("OrderConflict"),
                "413": _response("BodyTooLarge"),
                "415": _response("UnsupportedMediaType"),
                "422": _response("ValidationFailed"),
                **COMMON,
            },
        },
    },
})


@cache
def document():
    """The whole OpenAPI document as a dict (built once; treat it as read-only)."""
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
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }
