"""Sessions live on the server: sign-out and the idle timeout end them for every copy of the cookie; an open
clerk's pickup desk stays signed in (within a shift); a request that is no longer signed in leads to one sign-in page
and back to where the clerk was."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.pickups import queue as pickup_queue
from omnistore.stores.models import Staff
from tests.conftest import PASSWORD, StaffClient

HX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    return {"OMNISTORE_IDLE_TIMEOUT_MINUTES": 30, "OMNISTORE_DESK_SESSION_HOURS": 10}


@pytest.fixture
def store(make):
    ham, cph = make.location("HAM"), make.location("CPH")
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    admin = make.staff("admin", cph, email="admin@example.test")
    variant = make.variant()
    make.stock(variant, ham, 3)
    return {"ham": ham, "cph": cph, "clerk": clerk, "admin": admin, "variant": variant}


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie (as a thief would)."""
    thief = StaffClient(app.test_client())
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def signed_out(response):
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_cookie_copied_before_sign_out_opens_nothing_afterwards(app, client, store):
    client.login(store["clerk"].email)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    thief = copy_of(app, client)
    assert thief.get("/").status_code == 200  # the copy works while the clerk is signed in
    client.submit("/logout")
    assert signed_out(thief.get("/"))
    response = thief.post("/language", data={"locale": "da", "csrf_token": token, "next": "/"})
    assert response.status_code in (302, 303, 400)
    db.session.expire_all()
    assert db.session.get(Staff, store["clerk"].id).locale == "en"  # the old token changed nothing


def test_a_copied_cookie_is_signed_out_after_the_idle_timeout_too(app, client, store, make):
    client.login(store["clerk"].email)
    client.get("/")
    thief = copy_of(app, client)
    make.age_sessions(minutes=31)  # the tablet was left alone
    assert signed_out(thief.get("/orders/"))
    make.age_sessions(minutes=-31)  # whatever the clock says later, the session stays ended
    assert signed_out(thief.get("/"))
    assert signed_out(client.get("/"))
    assert all(row.ended_at is not None for row in make.staff_session_rows())


def test_signing_out_one_tablet_leaves_the_others_signed_in(app, client, store):
    client.login(store["clerk"].email)
    other = StaffClient(app.test_client())
    other.login(store["clerk"].email)
    client.submit("/logout")
    assert signed_out(client.get("/"))
    assert other.get("/").status_code == 200


def test_no_session_outlives_its_lifetime(client, store, make):
    client.login(store["clerk"].email)
    make.age_sessions(hours=13)
    assert signed_out(client.get("/"))
    assert "Your session ended after 12 hours" in client.get("/login").get_data(as_text=True)


def test_activity_is_written_at_most_once_a_minute(client, store, make):
    client.login(store["clerk"].email)
    client.get("/")
    before = make.staff_session_rows()[0].last_seen_at
    client.get("/orders/")
    assert make.staff_session_rows()[0].last_seen_at == before
    make.age_sessions(minutes=2)
    client.get("/orders/")
    assert make.staff_session_rows()[0].last_seen_at >= before


def queue_poll(client, location, *, other_store=False):
    fingerprint = pickup_queue.queue_fingerprint(location)
    code = f"&location={location.code}" if other_store else ""
    return client.get(
        f"/pickups/queue?v={fingerprint}{code}", headers={**HX, "HX-Current-URL": "http://localhost/pickups/"}
    )


def test_an_open_desk_stays_signed_in_while_its_queue_is_on_screen(client, store, make):
    client.login(store["clerk"].email)
    assert client.get("/pickups/").status_code == 200
    for _ in range(3):  # 3 × 20 minutes: the queue polling all along
        make.age_sessions(minutes=20)
        assert queue_poll(client, store["ham"]).status_code == 204
    assert client.get("/pickups/").status_code == 200


def test_other_live_polls_do_not_keep_a_session_open(client, store, make):
    client.login(store["clerk"].email)
    panel = client.get(f"/stock/variants/{store['variant'].id}/panel", headers=HX).get_data(as_text=True)
    url = re.search(r'hx-get="([^"]+v=[^"]+)"', panel).group(1).replace("&amp;", "&")
    make.age_sessions(minutes=20)
    assert client.get(url, headers=HX).status_code == 204
    make.age_sessions(minutes=20)
    assert client.get(url, headers=HX).status_code == 401  # 40 minutes without activity: signed out


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_a_managers_or_admins_desk_does_not_keep_the_session_open(client, store, make, role):
    """Their sessions can do far more than run a desk: the ordinary idle timeout holds, even on their own desk."""
    boss = make.staff(role, store["ham"], email=f"{role}-ham@example.test")
    client.login(boss.email)
    assert client.get("/pickups/").status_code == 200
    make.age_sessions(minutes=20)
    assert queue_poll(client, store["ham"]).status_code == 204
    make.age_sessions(minutes=20)
    assert queue_poll(client, store["ham"]).status_code == 401  # 40 minutes with only the queue on screen


def test_only_the_own_stores_desk_counts_as_presence(client, store, make):
    client.login(store["admin"].email)  # an admin at CPH looking at Hamburg's desk
    assert client.get("/pickups/?location=HAM").status_code == 200
    make.age_sessions(minutes=20)
    assert queue_poll(client, store["ham"], other_store=True).status_code == 204
    make.age_sessions(minutes=20)
    assert queue_poll(client, store["ham"], other_store=True).status_code == 401


def test_desk_presence_ends_with_the_shift(client, store, make):
    client.login(store["clerk"].email)
    [row] = make.staff_session_rows()
    row.started_at = utcnow() - timedelta(hours=10, minutes=1)  # signed in longer ago than a shift…
    row.last_seen_at = utcnow() - timedelta(minutes=25)  # …and last active within the idle timeout
    db.session.commit()
    assert queue_poll(client, store["ham"]).status_code == 204
    make.age_sessions(minutes=10)
    assert queue_poll(client, store["ham"]).status_code == 401


def test_disabling_a_staff_member_ends_their_sessions(client, store, make):
    from omnistore.stores.staff import disable_staff

    client.login(store["clerk"].email)
    disable_staff(store["clerk"].email)
    assert all(row.ended_at is not None for row in make.staff_session_rows())
    assert signed_out(client.get("/"))


# --- one sign-in page, and back -----------------------------------------------------------------------------


def next_of(location):
    return parse_qs(urlsplit(location).query).get("next", [None])[0]


def test_an_htmx_request_without_a_session_leads_the_whole_page_to_sign_in(client, store):
    page = f"/stock/products/{store['variant'].product_id}?variant={store['variant'].id}"
    response = client.get(
        f"/stock/variants/{store['variant'].id}/panel?v=1-1-1",
        headers={**HX, "HX-Current-URL": f"http://localhost{page}"},
    )
    assert response.status_code == 401 and not response.get_data()  # nothing to swap into the panel
    target = response.headers["HX-Redirect"]
    assert target.startswith("/login?") and next_of(target) == page
    token = client.csrf_token()
    response = client.post(
        target, data={"email": store["clerk"].email, "password": PASSWORD, "next": next_of(target), "csrf_token": token}
    )
    assert response.headers["Location"] == page


def test_the_idle_timeout_inside_a_panel_returns_to_the_page_not_the_panel(client, store, make):
    client.login(store["clerk"].email)
    make.age_sessions(minutes=31)
    response = queue_poll(client, store["ham"])
    assert response.status_code == 401 and next_of(response.headers["HX-Redirect"]) == "/pickups/"


@pytest.mark.parametrize(
    "current",
    [
        "https://evil.example/pickups/",
        "http://localhost.evil.example/x",
        "javascript:alert(1)",
        "http://localhost//evil.example/",
        "/pickups/",
        "http://localhost/login?next=/x",
        "http://localhost/a\tb",
        "",
    ],
)
def test_only_a_page_of_this_site_is_returned_to(client, store, current):
    response = client.get("/pickups/queue?v=1", headers={**HX, "HX-Current-URL": current})
    assert response.status_code == 401 and next_of(response.headers["HX-Redirect"]) is None


def test_a_plain_page_still_redirects_with_next(client):
    response = client.get("/orders/?q=x")
    assert signed_out(response) and next_of(response.headers["Location"]) == "/orders/?q=x"


def test_sessions_that_cannot_hold_any_more_are_deleted_at_the_next_sign_in(app, client, store, make):
    client.login(store["clerk"].email)
    client.submit("/logout")
    other = StaffClient(app.test_client())
    other.login(store["clerk"].email)
    make.age_sessions(hours=13)
    client.login(store["clerk"].email)
    rows = make.staff_session_rows()
    assert len(rows) == 1 and rows[0].ended_at is None


def test_a_boosted_link_without_a_session_returns_to_where_it_led(client):
    response = client.get("/orders/", headers={**HX, "HX-Boosted": "true", "HX-Current-URL": "http://localhost/"})
    assert response.status_code == 401 and next_of(response.headers["HX-Redirect"]) == "/orders/"
