"""CSRF, security headers, and errors that never leak a stack trace."""

import pytest

from omnistore.core.extensions import db
from omnistore.stores.models import Staff


@pytest.fixture
def clerk(make):
    return make.staff("clerk", make.location("HAM"), email="anna@store.test")


def test_login_without_csrf_token_is_refused(client, clerk):
    response = client.post("/login", data={"email": clerk.email, "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert not client.signed_in()


def test_state_change_without_csrf_token_changes_nothing(client, clerk):
    client.login(clerk.email)
    assert client.post("/language", data={"locale": "de"}).status_code == 400
    assert client.post("/language", data={"locale": "de", "csrf_token": "forged"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Staff, clerk.id).locale == "en"
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_htmx_requests_send_the_token_in_a_header(client, clerk):
    client.login(clerk.email)
    token = client.csrf_token()
    response = client.post("/language", data={"locale": "da"}, headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Staff, clerk.id).locale == "da"


def test_csrf_failure_from_htmx_is_a_message_fragment(client, clerk):
    client.login(clerk.email)
    response = client.post("/language", data={"locale": "da"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#toasts"
    assert "<html" not in response.get_data(as_text=True)


def test_security_headers(client, clerk):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    client.login(clerk.email)
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(client, clerk):
    client.login(clerk.email)
    for path in ("/login", "/", "/orders/"):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert "<script>" not in page and " style=" not in page and "<style" not in page
        assert 'allowEval": false' in page and 'selfRequestsOnly": true' in page


def test_session_cookie_is_http_only(client, clerk):
    response = client.login(clerk.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "could not find" in response.get_data(as_text=True)


def test_unknown_api_route_is_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code in (401, 404)
    assert response.is_json and "error" in response.get_json()


def test_wrong_method_is_405_not_500(client):
    assert client.get("/logout").status_code == 405


@pytest.mark.fresh_app  # adds a route
@pytest.mark.parametrize("app_config", [{"OMNISTORE_SHOW_ERROR_PAGES": True}])
def test_unexpected_error_shows_no_stack_trace(app, client, clerk, app_config):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "Nothing was changed" in body
