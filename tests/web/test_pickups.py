"""The pickup desk in the browser's terms: the live queue, pick list and ready, the handover, store scope."""

import re

import pytest

from omnistore.core.audit import AuditEvent
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.orders import pickup_codes
from omnistore.orders.models import Order, Pickup
from omnistore.pickups import handover as pickup_handover
from omnistore.pickups import preparing
from omnistore.pickups import queue as pickup_queue
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel
from tests.helpers import count_statements

HX = {"HX-Request": "true"}


@pytest.fixture
def desk(make):
    ham, cph = make.location("HAM"), make.location("CPH")
    jacket = make.variant(make.product(name="Fjord Parka"), size="XL", colour="Navy")
    boots = make.variant(make.product(name="Trail Boots"), size="42", colour="Brown")
    for variant in (jacket, boots):
        make.stock(variant, ham, 5)
        make.stock(variant, cph, 5)
    clerk = make.staff("clerk", ham, email="clerk@example.test", name="Jonas Weber")
    make.staff("clerk", cph, email="cph@example.test")
    make.staff("admin", cph, email="admin@example.test")
    return {"ham": ham, "cph": cph, "jacket": jacket, "boots": boots, "clerk": clerk}


def new_order(make, desk, *, store="ham", first_name="Mia", payment_state="paid", lines=None):
    location = desk[store]
    customer = make.customer(first_name, "Jensen")
    lines = lines or [(desk["jacket"], 1, location), (desk["boots"], 1, location)]
    order = make.order(location, lines=lines, customer_id=customer.id, payment_state=payment_state)
    for variant, quantity, source in lines:
        ledger.allocate(ledger.StockChange(variant.id, source.id, quantity, reference=order.number))
    with transaction():
        pickup_codes.open_pickup(order)
    return order


def make_ready(order, staff, shelf="B-12"):
    preparing.mark_ready(order, staff=staff, shelf_location=shelf)
    db.session.expire_all()
    return db.session.get(Order, order.id)


def text(response):
    return response.get_data(as_text=True)


def section(page, kind):
    match = re.search(rf'<section class="qgroup qgroup-{kind}".*?</section>', page, re.S)
    return match.group(0) if match else ""


# --- the queue -------------------------------------------------------------------------------------------


def test_the_desk_shows_each_order_in_its_group(client, make, desk):
    to_pick = new_order(make, desk, first_name="Anna")
    ready = make_ready(new_order(make, desk, first_name="Bo"), desk["clerk"], shelf="C-7")
    here = make_ready(new_order(make, desk, first_name="Carl"), desk["clerk"])
    with transaction():
        here.pickup.checked_in_at = utcnow()
        here.pickup.check_in_note = "Blue car, spot 4"
    arriving = new_order(make, desk, first_name="Dora", lines=[(desk["jacket"], 1, desk["cph"])])
    overdue = make_ready(new_order(make, desk, first_name="Emil"), desk["clerk"])
    with transaction():
        overdue.pickup.pickup_by = utcnow().replace(year=2020)
    new_order(make, desk, store="cph", first_name="Other")  # another store's order never shows
    client.login("clerk@example.test")
    page = text(client.get("/pickups/"))
    assert to_pick.number in section(page, "to_pick")
    assert ready.number in section(page, "ready") and "C-7" in section(page, "ready")
    assert here.number in section(page, "checked_in") and "Blue car, spot 4" in section(page, "checked_in")
    assert arriving.number in section(page, "arriving") and "0 of 1 lines here" in section(page, "arriving")
    assert overdue.number in section(page, "overdue")
    assert page.index("qgroup-checked_in") < page.index("qgroup-to_pick")  # customers here come first
    assert "Other Jensen" not in page
    assert 'data-scan-target="/pickups/handover?code=%7Bcode%7D"' in page


def test_the_queue_reads_its_orders_in_two_statements_however_many_there_are(client, make, desk):
    """The orders with their pickups and customers, then all their lines with what each is: a queue that polls
    all day does not read each kind of row on its own round trip."""
    for name in ("Anna", "Bo", "Carl"):
        new_order(
            make, desk, first_name=name, lines=[(desk["jacket"], 1, desk["ham"]), (desk["boots"], 1, desk["cph"])]
        )
    client.login("clerk@example.test")
    client.get("/pickups/")
    with count_statements("SELECT") as seen:
        page = text(client.get("/pickups/queue", headers=HX))
    assert all(f"{name} Jensen" in page for name in ("Anna", "Bo", "Carl")) and "1 of 2 lines here" in page
    assert len([statement for statement in seen if statement.startswith("SELECT orders.id")]) == 1  # the orders
    assert len([statement for statement in seen if "FROM order_line " in statement + " "]) == 1
    for table in ("pickup", "customer", "variant", "product", "location"):
        assert not [statement for statement in seen if f"FROM {table} " in statement + " "], table


def test_the_queue_answers_204_while_nothing_changed(client, make, desk):
    client.login("clerk@example.test")
    page = text(client.get("/pickups/"))
    url = re.search(r'hx-get="(/pickups/queue\?v=[0-9a-f]+)"', page).group(1)
    assert client.get(url, headers=HX).status_code == 204
    order = new_order(make, desk, first_name="Nora")  # a new web order arrives
    response = client.get(url, headers=HX)
    assert response.status_code == 200 and order.number in text(response)
    assert "<html" not in text(response)
    new_url = re.search(r'hx-get="(/pickups/queue\?v=[0-9a-f]+)"', text(response)).group(1).replace("&amp;", "&")
    assert client.get(new_url, headers=HX).status_code == 204
    with transaction():  # the customer says "I'm here"
        db.session.get(Order, order.id).pickup.checked_in_at = utcnow()
    assert client.get(new_url, headers=HX).status_code == 200


def test_an_unchanged_queue_poll_is_three_statements_without_loading_the_staff_member(client, make, desk):
    new_order(make, desk, first_name="Nora")
    client.login("clerk@example.test")
    url = re.search(r'hx-get="(/pickups/queue\?v=[0-9a-f]+)"', text(client.get("/pickups/"))).group(1)
    with count_statements("SELECT") as seen:
        assert client.get(url, headers=HX).status_code == 204
    assert len(seen) == 3, "\n\n".join(seen)
    assert "staff_session" in seen[0] and "pickup" in seen[1] and "transfer" in seen[2]
    clerk = desk["clerk"]
    session_key_hash = make.staff_session_rows()[0].key_hash
    answer = pickup_queue.poll(clerk.id, session_key_hash)
    assert answer.fingerprint == pickup_queue.queue_fingerprint(desk["ham"]) == url.rsplit("=", 1)[1]
    assert answer.session_open and answer.role == "clerk"


def test_an_unchanged_queue_poll_still_notes_the_desks_presence_once_a_minute(client, make, desk):
    client.login("clerk@example.test")
    url = re.search(r'hx-get="(/pickups/queue\?v=[0-9a-f]+)"', text(client.get("/pickups/"))).group(1)
    make.age_sessions(minutes=2)
    before = make.staff_session_rows()[0].last_seen_at
    assert client.get(url, headers=HX).status_code in (200, 204)  # 200 if the minute turned meanwhile
    after = make.staff_session_rows()[0].last_seen_at
    assert after > before
    current = f"/pickups/queue?v={pickup_queue.queue_fingerprint(desk['ham'])}"
    with count_statements("SELECT") as seen:  # noted: the next poll within the minute takes the short way
        assert client.get(current, headers=HX).status_code == 204
    assert len(seen) == 3, "\n\n".join(seen)


def test_polling_another_stores_queue_does_not_keep_the_session_alive(client, make, desk):
    """Only the own store's desk counts as presence (tests/web/test_sessions.py has the rest)."""
    client.login("admin@example.test")
    client.get("/pickups/?location=HAM")
    make.age_sessions(minutes=2)
    before = make.staff_session_rows()[0].last_seen_at
    fingerprint = pickup_queue.queue_fingerprint(desk["ham"])
    client.get(f"/pickups/queue?v={fingerprint}&location=HAM", headers=HX)
    assert make.staff_session_rows()[0].last_seen_at == before


# --- pick list and ready ------------------------------------------------------------------------------------


def test_pick_lines_then_mark_ready_with_a_short_line(client, make, desk):
    order = new_order(make, desk)
    jacket_line, boots_line = order.lines
    client.login("clerk@example.test")
    page = text(client.get(f"/pickups/orders/{order.number}"))
    assert "Fjord Parka" in page and "Pick list" in page and "data-print" in page
    response = client.submit(f"/pickups/orders/{order.number}/picked", {"line": str(jacket_line.id)}, headers=HX)
    assert response.status_code == 200 and "1 line(s) marked as picked." in text(response)
    response = client.submit(
        f"/pickups/orders/{order.number}/ready",
        {"shelf_location": "A-3", "short": str(boots_line.id), f"short_reason-{boots_line.id}": "Damaged"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/pickups/"
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "ready" and order.pickup.shelf_location == "A-3"
    assert [line.status for line in order.lines] == ["picked", "short"]
    assert "is ready for pickup" in text(client.get("/pickups/"))


def test_a_page_of_one_order_reads_it_in_three_statements(client, make, desk):
    """The order with its pickup and customer, its lines with their variants, products and sources, its events:
    each round trip to the database waits its turn on a busy server, so what the page shows is joined."""
    order = new_order(make, desk)
    client.login("clerk@example.test")
    client.get("/pickups/")  # the session's first touch is not the page's
    for url in (f"/pickups/orders/{order.number}", f"/orders/{order.number}"):
        with count_statements("SELECT") as seen:
            page = text(client.get(url))
        assert "Fjord Parka" in page and "Trail Boots" in page and "Mia" in page
        for table in ("orders", "order_line", "order_event"):
            reads = [statement for statement in seen if f"FROM {table} " in statement + " "]
            assert len(reads) == 1, (url, table, reads)
        for table in ("pickup", "customer", "variant", "product"):
            assert not [statement for statement in seen if f"FROM {table} " in statement + " "], (url, table)


def test_a_short_line_without_reason_is_shown_at_the_field(client, make, desk):
    order = new_order(make, desk)
    line = order.lines[1]
    client.login("clerk@example.test")
    response = client.submit(f"/pickups/orders/{order.number}/ready", {"short": str(line.id)})
    assert response.status_code == 422
    page = text(response)
    assert f'id="short-error-{line.id}"' in page and "Say why this line is short." in page
    assert db.session.get(Order, order.id).status == "placed"


@pytest.mark.parametrize("data", [{"line": "nonsense"}, {"line": "99999999999"}, {}])
def test_bad_picked_input_is_refused_at_the_list(client, make, desk, data):
    order = new_order(make, desk)
    client.login("clerk@example.test")
    response = client.submit(f"/pickups/orders/{order.number}/picked", data, headers=HX)
    assert response.status_code == 422 and 'role="alert"' in text(response)


def test_printable_pick_lists_one_per_order(client, make, desk):
    first, second = new_order(make, desk), new_order(make, desk)
    client.login("clerk@example.test")
    page = text(client.get("/pickups/picklist"))
    assert page.count('class="card sheet-page"') == 2 and first.number in page and second.number in page
    page = text(client.get(f"/pickups/picklist?order={first.number}"))
    assert page.count('class="card sheet-page"') == 1


# --- the handover -------------------------------------------------------------------------------------------


def test_typed_code_leads_to_the_handover_and_confirm_collects(client, make, desk):
    order = make_ready(new_order(make, desk, first_name="Mia"), desk["clerk"])
    code = order.pickup.short_code
    client.login("clerk@example.test")
    response = client.get(f"/pickups/handover?code={code[:4].lower()}-{code[4:].lower()}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/pickups/orders/{order.number}/handover?via=code"
    page = text(client.get(response.headers["Location"]))
    assert "Mia" in page and "Jensen" not in page.split("<main")[1]  # first name only
    assert "does it match Mia?" in page and "Fjord Parka" in page and "B-12" in page
    response = client.submit(f"/pickups/orders/{order.number}/handover", {"verification": "code_name", "via": "code"})
    assert response.status_code == 303
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "collected" and order.pickup.verification == "code_name"
    assert order.pickup.collected_by_staff_id == desk["clerk"].id
    assert f"Order {order.number} handed over." in text(client.get("/pickups/"))


def test_a_scanned_status_url_finds_the_order(app, client, make, desk):
    order = make_ready(new_order(make, desk), desk["clerk"])
    client.login("clerk@example.test")
    response = client.get("/pickups/handover", query_string={"code": pickup_codes.status_url(order.pickup)})
    assert response.headers["Location"].endswith("?via=qr")
    page = text(client.get(response.headers["Location"]))
    assert 'value="qr" checked' in page


@pytest.mark.parametrize(
    "code, status, message",
    [
        ("ACDEFGHJ", 404, "No pickup order has the code ACDEFGHJ"),
        ("hello", 404, "is not a pickup code"),
        ("", 422, "Scan the customer"),
        ("x" * 5000, 404, "is not a pickup code"),
    ],
)
def test_a_bad_code_is_explained_at_the_code_field(client, make, desk, code, status, message):
    client.login("clerk@example.test")
    response = client.get("/pickups/handover", query_string={"code": code})
    assert response.status_code == status
    page = text(response)
    assert 'id="pickup-code-error"' in page and message in page


def test_another_stores_order_says_where_to_collect_it(client, make, desk):
    order = make_ready(
        new_order(make, desk, store="cph"),
        db.session.scalar(db.select(db.Model.registry._class_registry["Staff"]).filter_by(email="cph@example.test")),
    )
    client.login("clerk@example.test")
    response = client.get("/pickups/handover", query_string={"code": order.pickup.short_code})
    assert response.status_code == 409 and "to be collected at København" in text(response)
    assert db.session.query(AuditEvent).filter_by(action="pickup.code_failed").count() == 1
    # Nor can the Hamburg clerk open or confirm its handover by number.
    assert client.get(f"/pickups/orders/{order.number}/handover").status_code == 404
    response = client.submit(f"/pickups/orders/{order.number}/handover", {"verification": "id"})
    assert response.status_code == 404
    assert db.session.get(Order, order.id).status == "ready"


@pytest.mark.parametrize(
    "locale, when", [("en", "04/12/2026, 15:24"), ("de", "04.12.26, 15:24"), ("da", "04.12.2026 15.24")]
)
def test_already_collected_says_when_in_the_language_on_the_stores_clock(client, make, desk, locale, when):
    from datetime import UTC, datetime

    from omnistore.stores.models import Staff

    order = make_ready(new_order(make, desk), desk["clerk"])
    pickup_handover.hand_over(order, staff=desk["clerk"], verification="qr")
    with transaction():  # a store an hour behind the admin's Copenhagen, collected at 15:24 its time
        db.session.get(Pickup, order.pickup.id).collected_at = datetime(2026, 12, 4, 15, 24, tzinfo=UTC)
        desk["ham"].timezone = "Europe/London"
        db.session.merge(desk["ham"])
        db.session.execute(db.update(Staff).where(Staff.email == "admin@example.test").values(locale=locale))
    client.login("admin@example.test")
    response = client.get("/pickups/handover", query_string={"code": order.pickup.short_code})
    assert response.status_code == 409 and when in text(response), text(response)


def test_a_collected_order_says_when_and_by_whom(client, make, desk):
    order = make_ready(new_order(make, desk), desk["clerk"])
    pickup_handover.hand_over(order, staff=desk["clerk"], verification="qr")
    client.login("clerk@example.test")
    response = client.get("/pickups/handover", query_string={"code": order.pickup.short_code})
    assert response.status_code == 409 and "already collected" in text(response) and "Jonas Weber" in text(response)
    # A confirm sent again (its answer was lost, or a second tablet) answers with what happened, not an error.
    response = client.submit(f"/pickups/orders/{order.number}/handover", {"verification": "qr"})
    assert response.status_code == 303 and response.headers["Location"] == "/pickups/"
    desk_page = text(client.get("/pickups/"))
    assert f"Order {order.number} was already collected" in desk_page and "Jonas Weber" in desk_page
    assert db.session.query(AuditEvent).filter_by(action="pickup.handed_over").count() == 1


def test_throttled_after_too_many_wrong_codes(app, client, make, desk):
    app.config["OMNISTORE_PICKUP_CODE_ATTEMPTS_PER_CLERK"] = 2
    order = make_ready(new_order(make, desk), desk["clerk"])
    client.login("clerk@example.test")
    for _ in range(2):
        assert client.get("/pickups/handover?code=ACDEFGHJ").status_code == 404
    response = client.get(f"/pickups/handover?code={order.pickup.short_code}")
    assert response.status_code == 429 and "Too many wrong pickup codes" in text(response)


def test_pay_at_pickup_needs_the_payment_step_and_a_verification(client, make, desk):
    order = make_ready(new_order(make, desk, payment_state="pay_at_pickup"), desk["clerk"])
    client.login("clerk@example.test")
    page = text(client.get(f"/pickups/orders/{order.number}/handover"))
    assert "Collect the payment" in page
    response = client.submit(f"/pickups/orders/{order.number}/handover", {})
    assert response.status_code == 422
    page = text(response)
    assert 'id="pay-error"' in page and 'id="verification-error"' in page
    assert db.session.get(Order, order.id).status == "ready"
    response = client.submit(
        f"/pickups/orders/{order.number}/handover", {"verification": "id", "payment_collected": "1"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).pickup.payment_collected_at is not None


def test_partial_handover_refuses_a_line_with_its_reason(client, make, desk):
    order = make_ready(new_order(make, desk), desk["clerk"])
    boots = order.lines[1]
    client.login("clerk@example.test")
    response = client.submit(
        f"/pickups/orders/{order.number}/handover",
        {"verification": "qr", "refuse": str(boots.id), f"refuse_reason-{boots.id}": "Does not fit"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert [line.status for line in db.session.get(Order, order.id).lines] == ["collected", "refused"]
    level = db.session.scalar(db.select(StockLevel).filter_by(variant_id=desk["boots"].id, location_id=desk["ham"].id))
    assert (level.on_hand, level.allocated) == (5, 0)
    assert "1 line(s) went back to stock" in text(client.get("/pickups/"))


def test_an_admin_works_any_stores_desk(client, make, desk):
    order = make_ready(new_order(make, desk), desk["clerk"])
    client.login("admin@example.test")  # an admin based in Copenhagen
    page = text(client.get("/pickups/?location=HAM"))
    assert order.number in page
    assert client.get(f"/pickups/handover?code={order.pickup.short_code}").status_code == 303
    assert client.get("/pickups/?location=NOPE").status_code == 404


def test_a_clerk_cannot_open_another_stores_desk(client, make, desk):
    client.login("clerk@example.test")
    assert client.get("/pickups/?location=CPH").status_code == 403


def test_a_post_without_csrf_token_is_refused(client, make, desk):
    order = make_ready(new_order(make, desk), desk["clerk"])
    client.login("clerk@example.test")
    response = client.post(f"/pickups/orders/{order.number}/handover", data={"verification": "qr"})
    assert response.status_code == 400
    assert db.session.get(Order, order.id).status == "ready" and Pickup


def test_the_desk_shows_one_group_when_asked_and_its_live_queue_keeps_to_it(client, make, desk):
    """?show=<group> (the home screen's tiles link there); anything else shows the whole queue."""
    to_pick = new_order(make, desk, first_name="Mia")
    ready = make_ready(new_order(make, desk, first_name="Ole"), desk["clerk"])
    client.login("clerk@example.test")
    page = text(client.get("/pickups/?show=ready"))
    assert ready.number in page and to_pick.number not in page and "Show the whole queue" in page
    assert "show=ready" in page.split('id="pickup-queue"')[1].split(">")[0]  # the poll asks for the same group
    polled = text(client.get("/pickups/queue?show=to_pick", headers={"HX-Request": "true"}))
    assert to_pick.number in polled and ready.number not in polled
    whole = text(client.get("/pickups/?show=<script>"))
    assert to_pick.number in whole and ready.number in whole and "Show the whole queue" not in whole
    home = text(client.get("/"))
    assert 'href="/pickups/?show=ready"' in home and 'href="/orders/?status=collected"' in home
