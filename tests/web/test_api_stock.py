"""PUT /api/v1/stock (bulk set on_hand, per-row results, idempotent) and GET /api/v1/stock/{sku}."""

import pytest
from sqlalchemy import func, select

from omnistore.api import openapi
from omnistore.core.extensions import db
from omnistore.stock.models import StockLevel, StockMovement
from omnistore.stores.staff import create_api_client


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def api_client(app):
    return create_api_client("erp")


@pytest.fixture
def auth(api_client):
    return {"Authorization": f"Bearer {api_client[1]}"}


@pytest.fixture
def network(make):
    ham, cph, wh1 = make.location("HAM"), make.location("CPH"), make.location("WH1")
    parka = make.variant(sku="NWD-001-NAV-XL")
    tee = make.variant(sku="TEE-1")
    make.stock(parka, cph, 2)
    make.stock(parka, wh1, 10, allocated=4)
    return {"ham": ham, "cph": cph, "wh1": wh1, "parka": parka, "tee": tee}


def put_stock(http, auth, rows):
    return http.put("/api/v1/stock", json={"stock": rows}, headers=auth)


def check_schema(body, name):
    import jsonschema

    components = openapi.document()["components"]
    jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": components}).validate(body)


def on_hand(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.on_hand).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def movement_count():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def test_needs_a_token(http, network):
    assert http.put("/api/v1/stock", json={"stock": []}).status_code == 401
    assert http.get("/api/v1/stock/TEE-1").status_code == 401
    assert http.get("/api/v1/stock/TEE-1", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_put_stock_per_row_results(http, auth, network, api_client):
    response = put_stock(
        http,
        auth,
        [
            {"sku": "NWD-001-NAV-XL", "location": "cph", "on_hand": 5},
            {"sku": "TEE-1", "location": "HAM", "on_hand": 3},
            {"sku": "NWD-001-NAV-XL", "location": "WH1", "on_hand": 10},
            {"sku": "NOPE", "location": "HAM", "on_hand": 1},
            {"sku": "TEE-1", "location": "XXX", "on_hand": 1},
            {"sku": "TEE-1", "location": "CPH", "on_hand": -1},
            {"sku": "TEE-1", "location": "WH1", "on_hand": "7"},
            {"sku": "NWD-001-NAV-XL", "location": "WH1", "on_hand": 3},  # duplicate of row 2; below allocated too
            [1, 2],
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    check_schema(body, "StockImportResult")
    results = body["results"]
    assert [(r["index"], r["status"], [e["code"] for e in r["errors"]]) for r in results] == [
        (0, "updated", []),
        (1, "created", []),
        (2, "error", ["duplicate"]),
        (3, "error", ["unknown_sku"]),
        (4, "error", ["unknown_location"]),
        (5, "error", ["negative"]),
        (6, "error", ["invalid_type"]),
        (7, "error", ["duplicate"]),
        (8, "error", ["invalid_type"]),
    ]
    assert results[0] == {
        "index": 0,
        "sku": "NWD-001-NAV-XL",
        "location": "cph",
        "status": "updated",
        "on_hand": 5,
        "errors": [],
    }
    assert results[3]["on_hand"] is None and results[3]["errors"][0]["field"] == "sku"
    assert body["summary"] == {"created": 1, "updated": 1, "unchanged": 0, "errors": 7}
    assert body["reference"].startswith("IMP-")
    assert on_hand(network["parka"], network["cph"]) == 5
    assert on_hand(network["tee"], network["ham"]) == 3
    assert on_hand(network["parka"], network["wh1"]) == 10
    movement = db.session.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
    assert (movement.kind, movement.api_client_id, movement.reference) == (
        "import",
        api_client[0].id,
        body["reference"],
    )


def test_put_stock_is_idempotent(http, auth, network):
    rows = [
        {"sku": "NWD-001-NAV-XL", "location": "CPH", "on_hand": 0},
        {"sku": "TEE-1", "location": "WH1", "on_hand": 12},
    ]
    first = put_stock(http, auth, rows).get_json()
    assert first["summary"] == {"created": 1, "updated": 1, "unchanged": 0, "errors": 0}
    count = movement_count()
    again = put_stock(http, auth, rows).get_json()
    assert again["summary"] == {"created": 0, "updated": 0, "unchanged": 2, "errors": 0}
    assert [r["on_hand"] for r in again["results"]] == [0, 12]
    assert movement_count() == count


def test_below_allocated_is_a_row_error(http, auth, network):
    body = put_stock(http, auth, [{"sku": "NWD-001-NAV-XL", "location": "WH1", "on_hand": 3}]).get_json()
    assert body["results"][0]["errors"][0]["code"] == "below_allocated"
    assert "Reserved for customer orders here: 4, so on_hand cannot be 3." in body["results"][0]["errors"][0]["message"]
    assert on_hand(network["parka"], network["wh1"]) == 10


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"products": []}, 422, "validation_failed"),
        ({"stock": {"sku": "x"}}, 422, "validation_failed"),
        ([{"sku": "TEE-1", "location": "HAM", "on_hand": 1}], 422, "validation_failed"),
        ("text", 422, "validation_failed"),
    ],
)
def test_bodies_of_the_wrong_shape(http, auth, network, body, status, code):
    response = http.put("/api/v1/stock", json=body, headers=auth)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert movement_count() == 3


def test_malformed_and_non_json_bodies(http, auth, network):
    assert http.put("/api/v1/stock", data="{", headers={**auth, "Content-Type": "application/json"}).status_code == 400
    assert (
        http.put("/api/v1/stock", data="sku;location;on_hand", headers={**auth, "Content-Type": "text/csv"}).status_code
        == 415
    )
    assert http.put("/api/v1/stock", headers=auth).status_code == 400


def test_too_many_rows_is_413(http, auth, network, monkeypatch):
    from omnistore.stock import feed

    monkeypatch.setattr(feed, "MAX_IMPORT_ROWS", 2)
    response = put_stock(http, auth, [{"sku": "TEE-1", "location": "HAM", "on_hand": n} for n in range(3)])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_many_rows"
    assert movement_count() == 3


def test_an_empty_list_is_fine(http, auth, network):
    body = put_stock(http, auth, []).get_json()
    assert body["results"] == [] and body["summary"] == {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}


def test_get_stock_lists_every_location(http, auth, network):
    response = http.get("/api/v1/stock/NWD-001-NAV-XL", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    check_schema(body, "StockAvailability")
    assert body["sku"] == "NWD-001-NAV-XL" and body["ean"] == network["parka"].ean
    assert body["locations"] == [
        {"location": "CPH", "kind": "store", "on_hand": 2, "allocated": 0, "available": 2},
        {"location": "HAM", "kind": "store", "on_hand": 0, "allocated": 0, "available": 0},
        {"location": "WH1", "kind": "warehouse", "on_hand": 10, "allocated": 4, "available": 6},
    ]
    assert body["totals"] == {"on_hand": 12, "allocated": 4, "available": 8}


@pytest.mark.parametrize("sku", ["NOPE", "x" * 80, "TEE-1%00"])
def test_get_stock_of_an_unknown_sku_is_a_json_404(http, auth, network, sku):
    response = http.get(f"/api/v1/stock/{sku}", headers=auth)
    assert response.status_code in (400, 404)
    assert response.mimetype == "application/json" and response.get_json()["error"]["code"]


def test_skus_with_slashes_and_unicode_are_found(http, auth, make, network):
    make.variant(sku="JKT/Ø-42")
    response = http.get("/api/v1/stock/JKT/%C3%98-42", headers=auth)
    assert response.status_code == 200 and response.get_json()["sku"] == "JKT/Ø-42"


def test_errors_match_the_documented_schema(http, auth, network):
    check_schema(http.get("/api/v1/stock/NOPE", headers=auth).get_json(), "Error")
    check_schema(http.put("/api/v1/stock", json={}, headers=auth).get_json(), "Error")
