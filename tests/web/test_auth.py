"""Signing in and out: sessions, bad input, throttling, idle timeout, language."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import request

from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.stores import staff as staff_service
from tests.conftest import PASSWORD, StaffClient


@pytest.fixture
def clerk(make):
    return make.staff("clerk", make.location("HAM"), email="anna@store.test")


def test_sign_in_and_out(client, clerk):
    response = client.login("ANNA@store.test ")  # case and blanks as a tablet keyboard types them
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "Hamburg" in client.get("/").get_data(as_text=True)

    response = client.submit("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302  # back to the login page


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("", ""),
        ("anna@store.test", ""),
        ("anna@store.test", "wrong password"),
        ("nobody@store.test", "correct-horse-battery"),
        ("x" * 5000, "y" * 5000),
        ("'; DROP TABLE staff; --", "ä😀"),
    ],
)
def test_bad_sign_in_is_refused_with_a_message(client, clerk, email, password):
    response = client.login(email, password)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "field-error" in page
    assert not client.signed_in()


def test_failed_sign_in_is_audited(client, clerk):
    client.login("anna@store.test", "wrong password")
    actions = db.session.scalars(db.select(AuditEvent.action)).all()
    assert "staff.login_failed" in actions


def test_disabled_staff_cannot_sign_in_and_is_signed_out(client, clerk, app):
    from omnistore.stores.staff import disable_staff

    client.login(clerk.email)
    assert client.get("/").status_code == 200
    disable_staff(clerk.email)
    assert client.get("/").status_code == 302  # the open session ended
    assert client.login(clerk.email).status_code == 422


def test_session_is_renewed_on_sign_in(client, clerk):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.login(clerk.email)
    with client.session_transaction() as session:
        assert "planted" not in session


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_only_goes_to_this_site(client, clerk, target):
    token = client.csrf_token()
    response = client.post(
        "/login", data={"email": clerk.email, "password": "correct-horse-battery", "next": target, "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_next_returns_to_the_page_asked_for(client, clerk):
    assert client.get("/orders/").headers["Location"].startswith("/login?next=")
    token = client.csrf_token()
    response = client.post(
        "/login",
        data={"email": clerk.email, "password": "correct-horse-battery", "next": "/orders/", "csrf_token": token},
    )
    assert response.headers["Location"] == "/orders/"


@pytest.fixture
def app_config(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LOGIN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_sign_in_is_throttled(client, clerk):
    for _ in range(3):
        assert client.login(clerk.email, "wrong password").status_code == 422
    response = client.login(clerk.email)  # even the right password waits now
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
    assert not client.signed_in()


@pytest.mark.parametrize("app_config", [{"OMNISTORE_IDLE_TIMEOUT_MINUTES": 30}], indirect=True)
def test_idle_session_is_signed_out(client, clerk, make):
    client.login(clerk.email)
    assert client.get("/").status_code == 200
    make.age_sessions(minutes=31)
    response = client.get("/orders/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "without activity" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_idle_timeout_answers_htmx_with_a_redirect_header(client, clerk, make):
    client.login(clerk.email)
    client.get("/")
    make.age_sessions(minutes=40)
    response = client.get("/orders/", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].startswith("/login")


def test_language_is_remembered_per_user(client, clerk):
    client.login(clerk.email)
    client.submit("/language", {"locale": "de", "next": "/"})
    assert clerk.locale == "de" or db.session.get(type(clerk), clerk.id).locale == "de"
    client.submit("/logout")
    client.login(clerk.email)
    assert '<html lang="de">' in client.get("/").get_data(as_text=True)


def test_unknown_language_changes_nothing(client, clerk):
    client.login(clerk.email)
    client.submit("/language", {"locale": "xx"})
    db.session.expire_all()
    assert db.session.get(type(clerk), clerk.id).locale == "en"


def test_language_before_sign_in_carries_over(client, clerk):
    client.submit("/language", {"locale": "da", "next": "/login"})
    assert '<html lang="da">' in client.get("/login").get_data(as_text=True)
    client.login(clerk.email)
    db.session.expire_all()
    assert db.session.get(type(clerk), clerk.id).locale == "da"


def login_from(client, address, email, password=PASSWORD, forwarded_for=None):
    token = client.csrf_token()
    headers = (
        {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https", "Referer": "https://localhost/login"}
        if forwarded_for
        else {}
    )  # HTTPS: CSRF checks the referrer
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_overrides={"REMOTE_ADDR": address},
        headers=headers,
    )


PROXY = "10.0.0.2"  # the TLS proxy: every request reaches the app from here


@pytest.mark.parametrize(
    "app_config",
    [{"OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT": "2 per minute", "OMNISTORE_TRUSTED_PROXIES": 1}],
    indirect=True,
)
def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(app, clerk, make):
    guesser = StaffClient(app.test_client())
    other = make.staff("clerk", clerk.location, email="ben@store.test")
    for _ in range(2):
        assert login_from(guesser, PROXY, other.email, "wrong", forwarded_for="203.0.113.9").status_code == 422
    assert login_from(guesser, PROXY, other.email, "wrong", forwarded_for="203.0.113.9").status_code == 429
    desk = StaffClient(app.test_client())  # another client behind the same proxy is not held back
    assert login_from(desk, PROXY, clerk.email, forwarded_for="198.51.100.7").status_code == 303


@pytest.mark.fresh_app  # adds a route
@pytest.mark.parametrize("app_config", [{"OMNISTORE_TRUSTED_PROXIES": 1}], indirect=True)
def test_a_trusted_proxy_names_the_client_and_scheme_but_never_the_host(app):
    """X-Forwarded-Host is not taken: many proxies pass a client's own through, and in development the host
    decides customers' links (omnistore/core/public_url.py)."""

    @app.get("/_test/origin")
    def _origin():
        return {"address": request.remote_addr, "url": request.host_url}

    response = app.test_client().get(
        "/_test/origin",
        environ_overrides={"REMOTE_ADDR": PROXY},
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
    )
    assert response.get_json() == {"address": "203.0.113.9", "url": "https://localhost/"}


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT": "2 per minute"}], indirect=True)
def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(app, clerk):
    guesser = StaffClient(app.test_client())
    for number in range(2):  # a client facing the app directly names a new address each time: no use
        assert (
            login_from(guesser, "203.0.113.9", clerk.email, "wrong", forwarded_for=f"192.0.2.{number}").status_code
            == 422
        )
    assert login_from(guesser, "203.0.113.9", clerk.email, forwarded_for="192.0.2.99").status_code == 429


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "OMNISTORE_LOGIN_RATE_LIMIT": "3 per minute",
            "OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT": "3 per minute",
            "OMNISTORE_LOGIN_REQUEST_RATE_LIMIT": "5 per minute",
        }
    ],
    indirect=True,
)
def test_parallel_wrong_passwords_check_a_bounded_number_of_passwords(app, clerk, monkeypatch):
    """The limits on failures are counted after the answer; sent at once, every guess would pass them. Each
    password check here waits until every guess has either reached a check too or been refused, so the
    guesses truly overlap; the sign-in attempts counted up front bound how many passwords are checked."""
    guesses, state, changed = 16, {"checks": 0, "refused": 0}, threading.Condition()
    check_password = staff_service.authenticate

    def overlapping_check(email, password):
        with changed:
            state["checks"] += 1
            changed.notify_all()
            changed.wait_for(lambda: state["checks"] + state["refused"] >= guesses, timeout=30)
        return check_password(email, password)

    monkeypatch.setattr(staff_service, "authenticate", overlapping_check)
    clients = [StaffClient(app.test_client()) for _ in range(guesses)]
    tokens = [guesser.csrf_token() for guesser in clients]

    def guess(number):
        response = clients[number].post(
            "/login", data={"email": clerk.email, "password": f"guess {number}", "csrf_token": tokens[number]}
        )
        if response.status_code == 429:
            with changed:
                state["refused"] += 1
                changed.notify_all()
        return response.status_code

    with ThreadPoolExecutor(guesses) as pool:
        statuses = list(pool.map(guess, range(guesses)))
    assert state["checks"] <= 5
    assert sorted(statuses) == [422] * state["checks"] + [429] * (guesses - state["checks"])


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LOGIN_REQUEST_RATE_LIMIT": "5 per minute"}], indirect=True)
def test_sign_in_attempts_are_counted_before_the_password_is_checked(app, clerk):
    store = StaffClient(app.test_client())
    for _ in range(5):  # a shared store address: right passwords count too, failures or not
        assert login_from(store, "198.51.100.7", clerk.email).status_code == 303
        store.submit("/logout")
    assert login_from(store, "198.51.100.7", clerk.email).status_code == 429


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LOGIN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_a_stranger_cannot_lock_a_clerk_out(app, clerk):
    stranger = StaffClient(app.test_client())
    for _ in range(10):
        login_from(stranger, "203.0.113.9", clerk.email, "wrong password")
    assert login_from(stranger, "203.0.113.9", clerk.email, "wrong password").status_code == 429
    desk = StaffClient(app.test_client())
    assert login_from(desk, "198.51.100.7", clerk.email).status_code == 303  # the clerk at the desk


@pytest.mark.parametrize(
    "app_config",
    [{"OMNISTORE_LOGIN_RATE_LIMIT": "3 per minute", "OMNISTORE_LOGIN_ADDRESS_RATE_LIMIT": "5 per minute"}],
    indirect=True,
)
def test_one_address_guessing_many_accounts_is_throttled(app, client, make):
    ham = make.location("HB2")
    emails = [make.staff("clerk", ham, email=f"c{number}@store.test").email for number in range(6)]
    for email in emails[:5]:
        assert login_from(client, "203.0.113.9", email, "wrong password").status_code == 422
    assert login_from(client, "203.0.113.9", emails[5]).status_code == 429


@pytest.mark.parametrize("app_config", [{"OMNISTORE_LOGIN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_signing_in_successfully_does_not_count_toward_the_throttle(app, client, clerk):
    for _ in range(4):
        assert login_from(client, "198.51.100.7", clerk.email).status_code == 303
        client.submit("/logout")
