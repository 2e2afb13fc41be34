"""Every POST route of the app, signed in as admin and anonymous, with each kind of input no form of ours
sends: file parts where text belongs, repeated fields, JSON, another content type. None may answer with a 5xx
(the app runs with TESTING, so an exception in a view fails the test), and none may change anything."""

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from omnistore.core.extensions import db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def field_names():
    """Every field name our templates and forms send (the union: the guard must not need a route's form)."""
    names = set()
    for template in TEMPLATES.rglob("*.html"):
        names.update(re.findall(r'\bname="([A-Za-z_][\w-]*)"', template.read_text()))
    names.update({"email", "password", "next", "locale", "note", "quantity", "reason", "code", "file"})
    names.discard("csrf_token")
    return sorted(names)


def post_routes(app):
    """(endpoint, url) of every route that takes a POST, with its URL parameters filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        values = {
            name: 1 if type(rule._converters[name]).__name__ == "IntegerConverter" else "x" for name in rule.arguments
        }
        with app.test_request_context():
            routes.append((rule.endpoint, app.url_for(rule.endpoint, **values)))
    return sorted(routes)


def row_counts():
    db.session.expire_all()
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def odd_bodies(names):
    """The kinds of input, as test-client keyword arguments."""
    yield (
        "files",
        {
            "data": {name: (io.BytesIO(b"=cmd|' /C calc'!A0"), "x.csv") for name in names},
            "content_type": "multipart/form-data",
        },
    )
    yield "repeated", {"data": {name: ["a", "b"] for name in names}}
    yield "json", {"json": {name: ["a"] for name in names}}
    yield "text", {"data": "email=a@b.c", "content_type": "text/plain"}
    yield "xml", {"data": "<email>a</email>", "content_type": "application/xml; charset=utf-8"}


@pytest.fixture
def world(make):
    ham = make.location("HAM")
    make.staff("admin", ham, email="admin@example.test")
    make.variant()


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_no_post_route_fails_on_input_no_form_sends(app, client, world, who):
    if who == "admin":
        client.login("admin@example.test")
    token = client.csrf_token()
    names = field_names()
    routes = post_routes(app)
    assert len(routes) >= 30
    before = row_counts()
    refused = 0
    for endpoint, url in routes:
        for kind, body in odd_bodies(names):
            response = client.post(url, headers={"X-CSRFToken": token}, **body)
            assert response.status_code < 500, (endpoint, kind, response.status_code)
            assert response.status_code in (302, 400, 401, 403, 404, 405, 413, 415, 422, 429), (endpoint, kind)
            refused += response.status_code == 400
    after = row_counts()
    after.pop("staff_session", None), before.pop("staff_session", None)
    assert after == before
    print(f"{len(routes)} POST routes × 5 kinds of odd input as {who}: no 5xx, {refused} refused with 400")


def test_the_sign_in_page_says_what_was_wrong_with_a_file_for_the_email(client, world):
    token = client.csrf_token()
    response = client.post(
        "/login",
        data={"email": (io.BytesIO(b"x"), "a.txt"), "password": "pw", "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "The field “email” takes text, not a file." in response.get_data(as_text=True)
    assert not client.signed_in()


@pytest.mark.parametrize("path", ["/language", "/o/abcdefabcdefabcdefabcdef/here"])
def test_public_forms_refuse_a_file_or_a_list(client, world, path):
    token = client.csrf_token()
    as_file = client.post(
        path,
        data={"locale": (io.BytesIO(b"de"), "a"), "note": (io.BytesIO(b"x"), "b"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert as_file.status_code == 400
    as_list = client.post(path, data={"locale": ["de", "da"], "note": ["a", "b"], "csrf_token": token})
    assert as_list.status_code == 400 and "was sent more than once" in as_list.get_data(as_text=True)


def test_an_htmx_request_gets_the_message_as_a_fragment(client, world):
    client.login("admin@example.test")
    token = client.csrf_token()
    response = client.post(
        "/customers/1/notes", data={"note": ["a", "b"]}, headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert response.status_code == 400 and response.headers["HX-Retarget"] == "#toasts"
    assert "<html" not in response.get_data(as_text=True)


def test_the_stock_import_still_takes_its_file(client, world, make):
    client.login("admin@example.test")
    token = client.csrf_token()
    response = client.post(
        "/stock/import",
        data={"file": (io.BytesIO(b"sku;location;on_hand\r\n"), "s.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code != 400 or "takes text" not in response.get_data(as_text=True)
