"""The integration API (JSON under /api/v1, bearer tokens). See DESIGN.md for the contract.

Every route needs `Authorization: Bearer <token>` except the OpenAPI document. Errors are JSON
(`{"error": {"code", "message", ...}}`) whatever raised them: our checks, a service's DomainError, or
Flask/werkzeug (404, 405, 413, 429 come out through web/errors.py, which answers JSON under /api/).
"""

import json
import math
import time

from flask import Blueprint, abort, current_app, g, jsonify, make_response, request
from pydantic import ValidationError

from omnistore.api import openapi, schemas
from omnistore.catalog import feed as product_feed
from omnistore.catalog import lookups as catalog
from omnistore.catalog import prices
from omnistore.core import validation
from omnistore.core.errors import DomainError, NotFound, ValidationFailed
from omnistore.core.extensions import csrf, limiter
from omnistore.offers import labels as offer_labels
from omnistore.orders import api_orders, cancelling, pickup_codes, placing
from omnistore.orders.line_reasons import line_reason
from omnistore.returns import access as return_access
from omnistore.returns import refunds as return_refunds
from omnistore.stock import bulk_import, reads
from omnistore.stock import feed as stock_feed
from omnistore.stores import locations, markets
from omnistore.stores import staff as staff_service
from omnistore.stores.models import WEEKDAYS
from omnistore.web.errors import MAX_URL_LENGTH, error_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
REALM = 'Bearer realm="omnistore"'
_CLIENT_KEY = "omnistore.api_client"


class BadRequest(DomainError):
    code = "bad_request"
    status = 400


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415


# --- authentication and rate limit ----------------------------------------------------------------


def _bearer_token():
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def current_client():
    """The ApiClient behind this request's bearer token, or None (looked up once per request).

    Cached in the WSGI environ, which belongs to this request alone (`g` lives as long as the app context,
    which may span several requests, e.g. in tests).
    """
    environ = request.environ
    if _CLIENT_KEY not in environ:
        environ[_CLIENT_KEY] = staff_service.authenticate_api_token(_bearer_token())
    return environ[_CLIENT_KEY]


def _rate_limit():
    return current_app.config["OMNISTORE_API_RATE_LIMIT"]


def _rate_limit_key():
    """One bucket per API client; requests without a valid token share their address's bucket."""
    client = current_client()
    return f"api-client:{client.id}" if client is not None else f"api-ip:{request.remote_addr}"


limiter.limit(_rate_limit, key_func=_rate_limit_key)(bp)


def _url_length():
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:
        raw = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
    return len(raw.encode("latin-1", "replace"))


@bp.before_request
def _authenticate():
    if _url_length() > MAX_URL_LENGTH:
        abort(414)
    g.api_client = client = current_client()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if client is None:
        if _bearer_token() is None:
            message, challenge = "Send the API token as 'Authorization: Bearer <token>'.", REALM
        else:
            message, challenge = "The API token is not valid or was revoked.", f'{REALM}, error="invalid_token"'
        response = make_response(error_response(401, message, "unauthorized"))
        response.headers["WWW-Authenticate"] = challenge
        return response
    staff_service.note_api_client_use(client)
    if request.method in BODY_METHODS and _has_body() and not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    return None


@bp.after_request
def _api_headers(response):
    response.headers.setdefault("Cache-Control", "no-store")
    if response.status_code == 429 and (current := limiter.current_limit) is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(current.reset_at - time.time())))
    return response


# --- request helpers ------------------------------------------------------------------------------


def _has_body():
    return bool(request.content_length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def json_body():
    """The request's JSON document; 400 for an empty or malformed body, 415 for another content type."""
    raw = request.get_data(cache=True)  # 413 from werkzeug beyond MAX_CONTENT_LENGTH
    if not raw.strip():
        raise BadRequest("The request body is empty; send a JSON document.")
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest("The JSON document is nested too deeply.") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        raise BadRequest(f"The request body is not valid JSON: {error}") from None


def body_as(model, body, message, fields):
    """The body checked against its request model; a body that does not fit is 422 validation_failed with
    `message` and `fields` (the API's error shape, not pydantic's)."""
    try:
        return model.model_validate(body, strict=True)
    except ValidationError:
        raise ValidationFailed(message, fields) from None


def send(document, status=200):
    """A response model as the JSON response (the model is what the OpenAPI document describes)."""
    return make_response(jsonify(document.model_dump(mode="json")), status)


def _int_arg(name, default):
    value = request.args.get(name)
    if value is None:
        return default
    number = validation.whole_number(value)
    if number is None or number < 0:
        raise ValidationFailed("Please check the search parameters.", {name: "Must be a whole number."})
    return number


def _time(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# --- documents --------------------------------------------------------------------------------------


def _address(location):
    return schemas.LocationAddress(street=location.street, postcode=location.postcode, city=location.city)


def location_document(location):
    hours = location.opening_hours or {}
    return schemas.Location(
        code=location.code,
        name=location.name,
        kind=location.kind,
        address=_address(location),
        country=location.country,
        phone=location.phone,
        latitude=location.latitude,
        longitude=location.longitude,
        timezone=location.timezone,
        opening_hours={day: hours.get(day, []) for day in WEEKDAYS},
        pickup_enabled=location.pickup_enabled,
        market=location.market_code,
        hold_days=location.hold_days,
    )


def product_document(product, currencies, default_market):
    """A product with each variant's price per market (`currencies`: {market code: currency})."""
    return schemas.Product(
        style_code=product.style_code,
        name=product.name,
        brand=product.brand,
        category=product.category,
        description=product.description,
        image_url=product.image_url,
        updated_at=_time(product.updated_at),
        variants=[
            schemas.Variant(
                sku=v.sku,
                ean=v.ean,
                size=v.size,
                colour=v.colour,
                price_minor=prices.prices_of(v).get(default_market),
                prices=[
                    schemas.MarketPrice(
                        market=p.market_code, currency=currencies[p.market_code], amount_minor=p.amount_minor
                    )
                    for p in v.prices
                ],
            )
            for v in product.variants
        ],
    )


# --- routes -----------------------------------------------------------------------------------------


@bp.get("/openapi.json", endpoint="openapi")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(openapi.document())


@bp.get("/markets")
def list_markets():
    default = markets.default_market_code()
    return send(
        schemas.MarketList(
            markets=[
                schemas.Market(
                    code=m.code,
                    name=m.name,
                    currency=m.currency,
                    locale=m.locale,
                    vat_rate_bp=m.vat_rate_bp,
                    shipping_fee_minor=m.shipping_fee_minor,
                    free_shipping_from_minor=m.free_shipping_from_minor,
                    postcode_rule=m.postcode_rule,
                    return_window_days=markets.return_window_days(m),
                    default=m.code == default,
                )
                for m in markets.list_markets()
            ]
        )
    )


@bp.get("/locations")
def list_locations():
    return send(schemas.LocationList(locations=[location_document(loc) for loc in locations.list_locations()]))


@bp.put("/products")
def put_products():
    body = json_body()
    # The feeds' envelopes and rows are checked by hand, not by schemas.ProductUpsert / StockUpsert: each row
    # must get its own result with stable codes while the good rows are applied, and a list over the maximum
    # is 413, not 422 (see schemas.py).
    if not isinstance(body, dict) or "products" not in body:
        raise ValidationFailed(
            'Send an object with a list of products: {"products": [...]}.', {"products": "Required."}
        )
    staff_service.require_api_network(g.api_client)
    result = product_feed.upsert_products(body["products"], actor=g.api_client)
    return send(schemas.ProductUpsertResult.model_validate(result.as_dict()))


@bp.get("/products")
def search_products():
    page = catalog.search_products(
        request.args.get("q"),
        ean=request.args.get("ean"),
        sku=request.args.get("sku"),
        limit=_int_arg("limit", catalog.SEARCH_LIMIT_DEFAULT),
        offset=_int_arg("offset", 0),
    )
    currencies = {m.code: m.currency for m in markets.list_markets()}
    default = markets.default_market_code()
    return send(
        schemas.ProductPage(
            products=[product_document(product, currencies, default) for product in page.products],
            currency=currencies.get(default, current_app.config["OMNISTORE_CURRENCY"]),
            limit=page.limit,
            offset=page.offset,
            next_offset=page.next_offset,
        )
    )


# --- stock ------------------------------------------------------------------------------------------


def _import_document(result):
    """The stock import's answer, built by hand rather than through schemas.StockImportResult: a feed may hold
    200,000 rows, and checking and dumping their results through the model costs about 5 s more per such
    request than this plain dict (measured: 0.8-1.1 s by hand, 5.9-6.2 s through the model, on the test
    machine) for no gain, since the rows' figures come from the import itself. The model still describes
    this document in the OpenAPI document, and tests/web/test_api_stock.py checks the answer against it."""
    return {
        "reference": result.reference,
        "results": [
            {
                "index": row.line,
                "sku": row.sku,
                "location": row.location,
                "status": row.status,
                "on_hand": row.on_hand,
                "errors": [problem.as_dict() for problem in row.errors],
            }
            for row in result.results
        ],
        "summary": {key: value for key, value in result.summary.items() if key != "skipped"},
    }


@bp.put("/stock")
def put_stock():
    """Bulk set on_hand ({"stock": [{sku, location, on_hand}]}); per-row results; idempotent."""
    body = json_body()
    staff_service.require_api_write(g.api_client)
    if not isinstance(body, dict) or "stock" not in body:
        raise ValidationFailed(
            'Send an object with a list of rows: {"stock": [{"sku": ..., "location": ..., "on_hand": ...}]}.',
            {"stock": "Required."},
        )
    result = bulk_import.import_on_hand(stock_feed.rows_from_json(body["stock"]), actor=g.api_client, source="API")
    return jsonify(_import_document(result))


@bp.get("/stock/<path:sku>")
def get_stock(sku):
    """Availability of one SKU at every active location in the client's scope."""
    variant, levels = reads.network_stock(sku)
    levels = [level for level in levels if staff_service.api_store_in_scope(g.api_client, level.location.code)]
    return send(
        schemas.StockAvailability(
            sku=variant.sku,
            ean=variant.ean,
            locations=[
                schemas.LocationStock(
                    location=level.location.code,
                    kind=level.location.kind,
                    on_hand=level.on_hand,
                    allocated=level.allocated,
                    available=level.available,
                )
                for level in levels
            ],
            totals=schemas.StockTotals(
                on_hand=sum(level.on_hand for level in levels),
                allocated=sum(level.allocated for level in levels),
                available=sum(level.available for level in levels),
            ),
        )
    )


# --- orders -----------------------------------------------------------------------------------------


def _date(value):
    return value.isoformat() if value is not None else None


def order_document(order, client):
    """An order as the web shop sees it: status, lines with their source, pickup location and status URL
    (only for the client that placed it, or one allowed all: it is the customer's QR credential)."""
    pickup = order.pickup
    location = order.pickup_location
    return schemas.Order(
        number=order.number,
        status=order.status,
        channel=order.channel,
        fulfilment=order.fulfilment,
        payment_state=order.payment_state,
        placed_at=_time(order.placed_at),
        promised_date=order.promised_at.date().isoformat() if order.promised_at else None,
        market=order.market_code,
        currency=order.currency,
        total_minor=order.total_minor,
        credit_minor=order.credit_minor or 0,
        amount_due_minor=order.amount_due_minor,
        vat_rate_bp=order.market.vat_rate_bp if order.market is not None else None,
        vat_minor=markets.vat_included(order.total_minor, order.market) if order.market is not None else None,
        shipping_fee_minor=placing.shipping_fee_minor(order),
        shipping_fee_waived=order.shipping_fee_waived,
        discount_minor=sum(line.discount_minor or 0 for line in order.lines),
        pickup_location=None
        if location is None
        else schemas.PickupLocation(
            code=location.code,
            name=location.name,
            address=_address(location),
            country=location.country,
        ),
        status_url=pickup_codes.status_url(pickup)
        if pickup is not None and staff_service.api_sees_status_url(client, order)
        else None,
        pickup=None
        if pickup is None
        else schemas.OrderPickup(
            ready_at=_time(pickup.ready_at),
            pickup_by=_time(pickup.pickup_by),
            collected_at=_time(pickup.collected_at),
        ),
        delivery_address=order.delivery_address or None,
        tracking_reference=order.tracking_reference or None,
        lines=[
            schemas.OrderLine(
                sku=line.variant.sku,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                status=line.status,
                source_location=line.source_location.code,
                reason=line_reason(line),
                returned_quantity=line.returned_quantity,
                discount_minor=line.discount_minor or 0,
            )
            for line in order.lines
        ],
    )


@bp.post("/orders")
def create_order():
    """A web order; `Idempotency-Key` makes a retry safe (201 created, 200 the same order again)."""
    body = json_body()
    placed = api_orders.place_web_order(
        body, api_client=g.api_client, idempotency_key=request.headers.get("Idempotency-Key")
    )
    order = api_orders.order_for_api(placed.order.number, g.api_client)
    response = send(order_document(order, g.api_client), 201 if placed.created else 200)
    response.headers["Location"] = f"{bp.url_prefix}/orders/{order.number}"
    if not placed.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/offers/validate")
def validate_offer():
    """What a customer's offer code takes off a cart, before the order is placed (nothing is used up)."""
    checked = api_orders.validate_web_offer(json_body(), api_client=g.api_client)
    offer = checked.issued.offer
    return send(
        schemas.OfferValidation(
            offer_code=checked.issued.code,
            name=offer.name,
            description=offer_labels.offer_value(offer),
            valid_until=offer.valid_until.isoformat(),
            uses_left=checked.issued.uses_left,
            currency=checked.currency,
            goods_minor=checked.goods_minor,
            shipping_fee_minor=checked.shipping_fee_minor,
            discount_minor=checked.discount_minor,
            total_minor=checked.total_minor,
            lines=[
                schemas.OfferLine(sku=sku, quantity=quantity, unit_price_minor=price, discount_minor=share)
                for sku, quantity, price, share in checked.lines
            ],
        )
    )


@bp.get("/orders/<number>")
def get_order(number):
    return send(order_document(api_orders.order_for_api(number, g.api_client), g.api_client))


@bp.post("/orders/<number>/cancel")
def cancel_order(number):
    """Cancel while still allowed (placed, in transit, ready; a delivery until shipped)."""
    reason = ""
    if _has_body():
        reason = body_as(
            schemas.CancelInput, json_body(), 'Send nothing or {"reason": "…"}.', {"reason": "Must be text."}
        ).reason
    order = api_orders.order_for_api(number, g.api_client)  # out of scope: 404, like an unknown number
    staff_service.require_api_write(g.api_client)
    cancelling.cancel(order, api_client=g.api_client, reason=reason)
    return send(order_document(api_orders.order_for_api(number, g.api_client), g.api_client))


# --- returns ------------------------------------------------------------------------------------------


def return_document(ret):
    return schemas.Return(
        id=ret.id,
        order_number=ret.order.number,
        status=ret.status,
        location=ret.location.code,
        currency=ret.currency,
        refund_method=ret.refund_method,
        lines=[
            schemas.ReturnLine(
                sku=line.variant.sku, quantity=line.quantity, grade=line.grade, amount_minor=line.refund_minor
            )
            for line in ret.lines
        ],
        shipping_minor=ret.shipping_refund_minor,
        total_minor=ret.total_refund_minor,
        credit_minor=ret.credit_applied_minor or 0,
        exchange_order_number=ret.exchange_order.number if ret.exchange_order is not None else None,
        refund_due_minor=ret.refund_due_minor,
        refund_reference=ret.refund_reference or None,
        received_at=_time(ret.created_at),
        refund_requested_at=_time(ret.refund_requested_at),
        refunded_at=_time(ret.refunded_at),
    )


def _return_for_api(return_id):
    """A return whose order is within the token's scope; 404 otherwise (like an unknown id)."""
    try:
        ret = return_access.get_return(int(return_id) if return_id.isdigit() and len(return_id) <= 10 else None)
        api_orders.order_for_api(ret.order.number, g.api_client)
    except NotFound:
        raise NotFound("No such return.") from None
    return ret


@bp.get("/returns/<return_id>")
def get_return(return_id):
    return send(return_document(_return_for_api(return_id)))


@bp.post("/returns/<return_id>/refunded")
def return_refunded(return_id):
    """The payment side refunded the customer: the return is refunded. Idempotent (a repeat answers 200 with
    `Idempotent-Replayed: true` and changes nothing)."""
    reference = ""
    if _has_body():
        reference = body_as(
            schemas.RefundedInput, json_body(), 'Send nothing or {"reference": "…"}.', {"reference": "Must be text."}
        ).reference
    ret = _return_for_api(return_id)
    staff_service.require_api_write(g.api_client)
    ret, changed = return_refunds.confirm_online_refund(ret, api_client=g.api_client, reference=reference)
    response = send(return_document(return_access.get_return(ret.id)))
    if not changed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
