"""The integration API: bearer auth, JSON errors for everything, locations, products, the OpenAPI document."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnistore.api import openapi
from omnistore.api import views as api
from omnistore.catalog import feed
from omnistore.catalog.models import Product, Variant
from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stock import feed as stock_feed
from omnistore.stores.models import ApiClient
from omnistore.stores.staff import create_api_client, revoke_api_client
from tests.factories import ean
from tests.helpers import count_statements


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def api_client(app):
    return create_api_client("shop")


@pytest.fixture
def auth(api_client):
    _client, token = api_client
    return {"Authorization": f"Bearer {token}"}


def product_row(style_code="JKT-1", name="Rain Jacket", n=1, **fields):
    variants = [
        {"sku": f"{style_code}-{size}", "ean": ean(n * 10 + i), "size": size, "colour": "Navy", "price_minor": 8995}
        for i, size in enumerate(("S", "M"))
    ]
    return {
        "style_code": style_code,
        "name": name,
        "brand": "Nordwind",
        "category": "Jackets",
        "description": "",
        "image_url": "",
        "variants": variants,
        **fields,
    }


def put_products(http, auth, products):
    return http.put("/api/v1/products", json={"products": products}, headers=auth)


def assert_json_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_token_is_401_with_a_bearer_challenge(http, header):
    headers = {"Authorization": header} if header is not None else {}
    response = http.get("/api/v1/locations", headers=headers)
    assert_json_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid_token" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["os_wrong", "x" * 500, "Müller-Token"])
def test_invalid_token_is_401(http, api_client, token):
    response = http.get("/api/v1/locations", headers={"Authorization": f"Bearer {token}"})
    assert_json_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="omnistore", error="invalid_token"'


def test_revoked_token_is_401(http, auth):
    assert http.get("/api/v1/locations", headers=auth).status_code == 200
    revoke_api_client("shop")
    assert_json_error(http.get("/api/v1/locations", headers=auth), 401)


def test_scheme_is_case_insensitive(http, api_client):
    _client, token = api_client
    assert http.get("/api/v1/locations", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_every_route_but_the_document_needs_a_token(app, http):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint == "api.openapi":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = http.open(rule.rule, method=method, json={})
            assert_json_error(response, 401)
    assert http.get("/api/v1/openapi.json").status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(app, http, api_client, auth):
    client, _token = api_client

    def stored():
        return db.session.execute(select(ApiClient.last_used_at).where(ApiClient.id == client.id)).scalar()

    assert stored() is None
    assert http.get("/api/v1/locations", headers=auth).status_code == 200
    first = stored()
    assert first is not None and utcnow() - first < timedelta(seconds=30)

    with count_statements("UPDATE") as updates:
        for _ in range(3):
            assert http.get("/api/v1/locations", headers=auth).status_code == 200
    assert not updates
    assert stored() == first

    db.session.execute(db.update(ApiClient).values(last_used_at=first - timedelta(minutes=5)))
    db.session.commit()
    db.session.expire_all()
    assert http.get("/api/v1/locations", headers=auth).status_code == 200
    assert stored() > first


def test_the_client_is_recorded_as_the_actor(http, api_client, auth):
    client, _token = api_client
    assert put_products(http, auth, [product_row()]).status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "catalog.products_upserted"))
    assert event.api_client_id == client.id


# --- JSON errors for whatever a client sends ---------------------------------------------------------


def test_unknown_route_and_wrong_method_are_json(http, auth):
    assert_json_error(http.get("/api/v1/nothing-here", headers=auth), 404, "not_found")
    assert_json_error(http.get("/api/v2/products", headers=auth), 404, "not_found")
    response = http.post("/api/v1/products", json={}, headers=auth)
    assert_json_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PUT"}
    assert_json_error(http.delete("/api/v1/locations", headers=auth), 405)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", "application/json", 400, "bad_request"),
        (b"   ", "application/json", 400, "bad_request"),
        (b"", None, 400, "bad_request"),
        (b'{"products": [', "application/json", 400, "bad_request"),
        (b"{'products': []}", "application/json", 400, "bad_request"),
        (b'{"products": [{"price": NaN}]}', "application/json", 400, "bad_request"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "bad_request"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "bad_request"),
        (b'{"products": [{"price_minor": 1' + b"0" * 5000 + b"}]}", "application/json", 400, "bad_request"),
        (b'{"products": []}', "text/plain", 415, "unsupported_media_type"),
        (b"products=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"products": []}', None, 415, "unsupported_media_type"),
        (b"null", "application/json", 422, "validation_failed"),
        (b"[]", "application/json", 422, "validation_failed"),
        (b'"products"', "application/json", 422, "validation_failed"),
        (b'{"items": []}', "application/json", 422, "validation_failed"),
        (b'{"products": {"style_code": "x"}}', "application/json", 422, "validation_failed"),
        (b'{"products": "all"}', "application/json", 422, "validation_failed"),
    ],
)
def test_bad_bodies_get_a_json_error_and_change_nothing(http, auth, body, content_type, status, code):
    headers = dict(auth, **({"Content-Type": content_type} if content_type else {}))
    response = http.put("/api/v1/products", data=body, headers=headers)
    assert_json_error(response, status, code)
    assert db.session.scalar(select(func.count(Product.id))) == 0


def test_a_body_over_the_size_limit_is_413(app, http, auth):
    app.config["MAX_CONTENT_LENGTH"] = 2_000
    response = put_products(http, auth, [product_row(description="x" * 3_000)])
    assert_json_error(response, 413, "payload_too_large")


def test_more_than_the_maximum_of_products_is_413_with_a_clear_message(http, auth):
    rows = [product_row(f"S-{i}", n=i) for i in range(feed.MAX_PRODUCTS_PER_UPSERT + 1)]
    error = assert_json_error(put_products(http, auth, rows), 413, "too_many_products")
    assert "At most 1000 products" in error["message"] and error["limit"] == 1000
    assert db.session.scalar(select(func.count(Product.id))) == 0


def test_rate_limit_is_per_client_and_json(app, http, auth):
    app.config["OMNISTORE_API_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert http.get("/api/v1/locations", headers=auth).status_code == 200
    response = http.get("/api/v1/locations", headers=auth)
    assert_json_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    _other, token = create_api_client("erp")
    assert http.get("/api/v1/locations", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# --- locations --------------------------------------------------------------------------------------


def test_locations_lists_the_active_network(http, auth, make):
    make.location("HAM", phone="+49 40 123456")
    make.location("CPH", hold_days=10, opening_hours={"mon": [["10:00", "18:00"]]})
    make.location("WH1")
    make.location("BER", active=False)

    response = http.get("/api/v1/locations", headers=auth)

    assert response.status_code == 200
    locations = response.get_json()["locations"]
    assert [loc["code"] for loc in locations] == ["CPH", "HAM", "WH1"]
    cph, ham, wh1 = locations
    assert ham == {
        "code": "HAM",
        "name": "Hamburg",
        "kind": "store",
        "address": {"street": "Teststraße 1", "postcode": "20095", "city": "Hamburg"},
        "country": "DE",
        "phone": "+49 40 123456",
        "latitude": 53.5511,
        "longitude": 9.9937,
        "timezone": "Europe/Berlin",
        "opening_hours": {
            "mon": [["09:30", "20:00"]],
            "tue": [["09:30", "20:00"]],
            "wed": [["09:30", "20:00"]],
            "thu": [["09:30", "20:00"]],
            "fri": [["09:30", "20:00"]],
            "sat": [["09:30", "20:00"]],
            "sun": [],
        },
        "pickup_enabled": True,
        "market": "DE",
        "hold_days": 7,
    }
    assert (cph["name"], cph["country"], cph["timezone"], cph["hold_days"]) == (
        "København",
        "DK",
        "Europe/Copenhagen",
        10,
    )
    assert cph["opening_hours"]["mon"] == [["10:00", "18:00"]] and cph["opening_hours"]["sun"] == []
    assert (wh1["kind"], wh1["pickup_enabled"]) == ("warehouse", False)
    assert response.headers["Cache-Control"] == "no-store"


# --- PUT /products ----------------------------------------------------------------------------------


def test_put_products_creates_then_reports_unchanged_on_resend(http, auth):
    rows = [product_row("JKT-1", "Müller Regenjacke ☔", n=1), product_row("JKT-2", n=2)]

    response = put_products(http, auth, rows)

    assert response.status_code == 200
    assert response.get_json() == {
        "results": [
            {"index": 0, "style_code": "JKT-1", "status": "created", "errors": []},
            {"index": 1, "style_code": "JKT-2", "status": "created", "errors": []},
        ],
        "summary": {"created": 2, "updated": 0, "unchanged": 0, "errors": 0},
    }
    stamps = dict(db.session.execute(select(Product.style_code, Product.updated_at)).all())
    variant_stamps = dict(db.session.execute(select(Variant.sku, Variant.updated_at)).all())

    again = put_products(http, auth, rows).get_json()

    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert again["summary"] == {"created": 0, "updated": 0, "unchanged": 2, "errors": 0}
    assert dict(db.session.execute(select(Product.style_code, Product.updated_at)).all()) == stamps
    assert dict(db.session.execute(select(Variant.sku, Variant.updated_at)).all()) == variant_stamps
    assert db.session.scalar(select(func.count(Variant.id))) == 4


def test_put_products_per_row_results(http, auth, make):
    put_products(http, auth, [product_row("JKT-1", n=1)])
    other = make.variant(sku="OTHER-1", ean=ean(999))
    changed = product_row("JKT-1", "Rain Jacket Pro", n=1)
    bad_ean = product_row("JKT-2", n=2)
    bad_ean["variants"][1]["ean"] = "4006381333932"
    negative = product_row("JKT-3", n=3)
    negative["variants"][0]["price_minor"] = -5
    taken = product_row("JKT-4", n=4)
    taken["variants"][0]["ean"] = other.ean
    dupes = [product_row("JKT-5", n=5), product_row("JKT-6", n=6)]
    dupes[1]["variants"][0]["sku"] = "JKT-5-S"
    wrong_types = product_row("JKT-7", n=7, name=42)
    wrong_types["variants"][0]["price_minor"] = "89.95"

    body = put_products(
        http, auth, [changed, bad_ean, negative, taken, *dupes, wrong_types, "oops", product_row("JKT-8", n=8)]
    ).get_json()

    results = body["results"]
    assert [(r["index"], r["style_code"], r["status"]) for r in results] == [
        (0, "JKT-1", "updated"),
        (1, "JKT-2", "error"),
        (2, "JKT-3", "error"),
        (3, "JKT-4", "error"),
        (4, "JKT-5", "error"),
        (5, "JKT-6", "error"),
        (6, "JKT-7", "error"),
        (7, None, "error"),
        (8, "JKT-8", "created"),
    ]
    assert results[1]["errors"] == [
        {"field": "variants[1].ean", "code": "invalid_ean", "message": "EAN check digit is wrong (expected 1)."}
    ]
    assert results[2]["errors"] == [
        {"field": "variants[0].price_minor", "code": "invalid_value", "message": "price_minor must not be negative."}
    ]
    assert results[3]["errors"][0]["code"] == "already_used" and other.ean in results[3]["errors"][0]["message"]
    assert results[4]["errors"][0]["field"] == "variants[0].sku"
    assert results[5]["errors"][0]["code"] == "duplicate_in_request"
    assert {e["field"] for e in results[6]["errors"]} == {"name", "variants[0].price_minor"}
    assert body["summary"] == {"created": 1, "updated": 1, "unchanged": 0, "errors": 7}
    assert set(db.session.scalars(select(Product.style_code))) == {"JKT-1", "JKT-8", other.product.style_code}


def test_an_empty_product_list_is_fine(http, auth):
    body = put_products(http, auth, []).get_json()
    assert body == {"results": [], "summary": {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}}


# --- GET /products ----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(http, auth):
    rows = [
        product_row("MUE-1", "Müller Regenjacke", n=1),
        product_row("TEE-1", "Basic T-Shirt", n=2),
        product_row("SOK-1", "Søren Socken", n=3),
    ]
    assert put_products(http, auth, rows).get_json()["summary"]["created"] == 3


@pytest.mark.parametrize(
    ("query", "styles"),
    [
        ("q=mueller", ["MUE-1"]),
        ("q=muller", ["MUE-1"]),
        ("q=M%C3%BCLLER", ["MUE-1"]),
        ("q=soeren", ["SOK-1"]),
        ("q=soren+socken", ["SOK-1"]),
        ("q=tee-1-m", ["TEE-1"]),
        ("q=nordwind", ["TEE-1", "MUE-1", "SOK-1"]),
        (f"ean={ean(21)}", ["TEE-1"]),
        ("sku=SOK-1-S", ["SOK-1"]),
        ("q=zzz", []),
        ("q=", ["TEE-1", "MUE-1", "SOK-1"]),
    ],
)
def test_search_products(http, auth, catalogue, query, styles):
    response = http.get(f"/api/v1/products?{query}", headers=auth)
    assert response.status_code == 200
    assert [p["style_code"] for p in response.get_json()["products"]] == styles


def test_search_result_shape_and_paging(http, auth, catalogue):
    body = http.get("/api/v1/products?q=nordwind&limit=2", headers=auth).get_json()
    assert (body["limit"], body["offset"], body["next_offset"], body["currency"]) == (2, 0, 2, "EUR")
    tee = body["products"][0]
    assert set(tee) == {"style_code", "name", "brand", "category", "description", "image_url", "updated_at", "variants"}
    assert tee["updated_at"].endswith("Z")
    de = {"market": "DE", "currency": "EUR", "amount_minor": 8995}
    assert tee["variants"] == [
        {"sku": "TEE-1-S", "ean": ean(20), "size": "S", "colour": "Navy", "price_minor": 8995, "prices": [de]},
        {"sku": "TEE-1-M", "ean": ean(21), "size": "M", "colour": "Navy", "price_minor": 8995, "prices": [de]},
    ]
    rest = http.get("/api/v1/products?q=nordwind&limit=2&offset=2", headers=auth).get_json()
    assert ([p["style_code"] for p in rest["products"]], rest["next_offset"]) == (["SOK-1"], None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-3", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("ean=123", "ean"),
        ("ean=4006381333932", "ean"),
        ("ean=%EF%BC%94006381333931", "ean"),
        ("q=" + "x" * 201, "q"),
        ("q=a%01b", "q"),
        ("sku=" + "K" * 65, "sku"),
    ],
)
def test_search_with_bad_parameters_is_422(http, auth, query, field):
    error = assert_json_error(http.get(f"/api/v1/products?{query}", headers=auth), 422, "validation_failed")
    assert field in error["fields"]


def test_a_nul_byte_in_a_parameter_is_a_json_400(http, auth):
    assert_json_error(http.get("/api/v1/products?q=a%00b", headers=auth), 400)


# --- the OpenAPI document ---------------------------------------------------------------------------


def _document_paths():
    document = openapi.document()
    prefix = document["servers"][0]["url"]
    return {prefix + path: {method.upper() for method in item} for path, item in document["paths"].items()}


def _api_routes(app):
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_openapi_document_matches_the_routes(app, http):
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert _document_paths() == _api_routes(app)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    for item in document["paths"].values():
        for operation in item.values():
            assert "200" in operation["responses"]
            if operation.get("security") != []:
                assert operation["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}


def test_the_route_table_is_the_api_blueprint(app):
    """The document is generated from openapi.ROUTES: each row names the endpoint that serves it, and every
    route under /api/v1 is one row (same path, method and endpoint), so no route goes undocumented."""
    table = {(openapi.PREFIX + route.path, route.method.upper(), route.endpoint) for route in openapi.ROUTES}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            served |= {(path, method, rule.endpoint) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert table == served
    assert len({route.operation_id for route in openapi.ROUTES}) == len(openapi.ROUTES)
    assert {route.endpoint for route in openapi.ROUTES if route.public} == api.PUBLIC_ENDPOINTS


def test_the_request_models_name_the_fields_the_services_check():
    """Bodies the services check by hand (per-row feeds, the order) take exactly the fields the models document."""
    from omnistore.api import schemas
    from omnistore.orders import api_orders

    def fields(model):
        return set(model.model_fields)

    assert fields(schemas.ProductInput) == set(feed.PRODUCT_KEYS)
    assert fields(schemas.VariantInput) == set(feed.VARIANT_KEYS)
    assert fields(schemas.StockRowInput) == set(stock_feed.IMPORT_ROW_KEYS + stock_feed.OPTIONAL_ROW_KEYS)
    assert fields(schemas.OrderInput) == api_orders.WEB_ORDER_KEYS
    assert fields(schemas.CustomerInput) == api_orders.CUSTOMER_KEYS
    assert fields(schemas.LineInput) == api_orders.LINE_KEYS


def test_openapi_document_is_valid():
    import openapi_spec_validator as validator

    validator.validate(json.loads(json.dumps(openapi.document())))


def test_responses_match_the_documented_schemas(http, auth, catalogue, make):
    import jsonschema

    make.location("HAM")
    components = openapi.document()["components"]

    def check(body, name):
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        jsonschema.Draft202012Validator(schema).validate(body)

    check(http.get("/api/v1/products?q=nordwind", headers=auth).get_json(), "ProductPage")
    locations = http.get("/api/v1/locations", headers=auth).get_json()["locations"]
    for location in locations:
        check(location, "Location")
    bad = product_row("X-1", n=9)
    bad["variants"][0]["ean"] = "1"
    check(put_products(http, auth, [product_row("MUE-1", n=1), bad]).get_json(), "ProductUpsertResult")
    check(http.get("/api/v1/locations").get_json(), "Error")
    check(http.get("/api/v1/products?limit=0", headers=auth).get_json(), "Error")


# --- the document and the API agree (what the fuzzer found) -------------------------------------------


def _request_schema(path, method):
    import jsonschema

    document = openapi.document()
    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_an_order_without_contact_or_name_is_refused_by_the_document_too():
    orders = _request_schema("/orders", "post")
    good = {
        "customer": {"email": "a@example.de", "last_name": "Berg"},
        "lines": [{"sku": "X", "quantity": 1}],
        "fulfilment": "pickup",
        "pickup_location": "HAM",
    }
    assert orders.is_valid(good)
    for customer in ({}, {"email": "a@example.de"}, {"first_name": "Anna"}, {"last_name": "Berg\x07"}):
        assert not orders.is_valid({**good, "customer": customer}), customer


def test_feeds_document_that_each_row_is_answered_on_its_own(http, auth):
    """A row that is not a valid row is part of a valid request: it gets its own error result (200)."""
    body = {"stock": [[None, None]]}
    assert _request_schema("/stock", "put").is_valid(body)
    response = http.put("/api/v1/stock", json=body, headers=auth)
    assert response.status_code == 200
    assert response.get_json()["results"][0]["errors"][0]["code"] == "invalid_type"
    assert _request_schema("/products", "put").is_valid({"products": [None, "oops"]})


def test_an_empty_ean_is_refused_as_the_document_says(http, auth):
    error = assert_json_error(http.get("/api/v1/products?ean=", headers=auth), 422, "validation_failed")
    assert "ean" in error["fields"]


def test_an_over_long_url_is_a_json_414(http, auth):
    assert_json_error(http.get("/api/v1/products?q=" + "x" * 5000, headers=auth), 414, "uri_too_long")
    assert_json_error(http.get("/api/v1/stock/" + "A" * 5000), 414, "uri_too_long")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "/api/v1/orders/OS-26-000001/cancel", {"data": b"\x00", "content_type": "application/json"}, 400),
        ("post", "/api/v1/orders/OS-26-000001/cancel", {"data": b"reason", "content_type": "text/plain"}, 415),
        ("get", "/api/v1/stock/A%00B", {}, None),
        ("get", "/api/v1/orders/OS%00", {}, None),
        ("get", "/api/v1/products?sku=A%00B", {}, None),
        ("get", "/api/v1/products?q=%1B%5B31m", {}, None),
        ("get", "/api/v1/products?q=" + "x" * 5000, {}, 414),
    ],
)
def test_every_error_status_is_documented_for_its_operation(http, auth, method, path, kwargs, status):
    response = getattr(http, method)(path, headers=auth, **kwargs)
    if status is not None:
        assert response.status_code == status
    assert response.mimetype == "application/json" and set(response.get_json()) == {"error"}
    template = re.sub(r"^/api/v1", "", path.split("?")[0])
    template = re.sub(r"^/stock/.*", "/stock/{sku}", template)
    template = re.sub(r"^/orders/[^/]+", "/orders/{number}", template)
    responses = openapi.document()["paths"][template][method]["responses"]
    assert str(response.status_code) in responses, (response.status_code, sorted(responses))
