"""The profile: timeline, notes (escaped), figures, recommendations, wishlist; privacy: access log, export,
erase (no personal data left in any table), merge (nothing lost); role limits and store scope."""

import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from omnistore.clienteling import export as customer_export
from omnistore.clienteling import history as customer_history
from omnistore.clienteling import merging as customer_merging
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import finding
from omnistore.customers import services as customer_service
from omnistore.customers.models import (
    Consent,
    Customer,
    CustomerAccess,
    CustomerMerge,
    CustomerNote,
    CustomerVisit,
    WishlistItem,
)
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    parka, knit = (
        dict(product="Fjord Parka", category="Jackets"),
        dict(product="Merino Crew Knit", category="Knitwear", price_minor=7995),
    )
    made = make.shop(
        "HAM",
        "BER",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "manager": ("manager", "HAM", "Maria Becker"),
            "ber_manager": ("manager", "BER", "Ben Berlin", "ber@example.test"),
            "admin": "admin",
        },
        variants={
            "parka_m": dict(parka, size="M", stock={"HAM": 3}),
            "parka_l": dict(parka, size="L", stock={"HAM": 3}),
            "knit_m": dict(knit, size="M", stock={"HAM": 3}),
            "knit_l": dict(knit, size="L", stock={"HAM": 3}),
        },
    )
    ham, ber, clerk, manager = made.ham, made.ber, made.clerk, made.manager
    parka_m, parka_l, knit_m, knit_l = made.parka_m, made.parka_l, made.knit_m, made.knit_l
    juergen = make.customer(
        "Jürgen",
        "Müller",
        email="juergen@example.de",
        phone="+4915123456789",
        loyalty_number="OSL0000042",
        preferred_location_id=ham.id,
        sizes={"tops": "M"},
    )
    # Jürgen bought the parka in M; two other customers bought the parka with the knit.
    bought = make.order(
        ham,
        [(parka_m, 1, ham)],
        status="collected",
        channel="store",
        customer_id=juergen.id,
        delivery_address={"name": "Jürgen Müller", "street": "Elbchaussee 1"},
    )
    for n in range(2):
        other = make.customer("Anna", f"Other{n}")
        make.order(
            ham, [(parka_l, 1, ham), (knit_l if n else knit_m, 1, ham)], status="collected", customer_id=other.id
        )
    web = make.order(ham, [(knit_l, 1, ham)], status="ready", channel="web", customer_id=juergen.id)
    return dict(
        ham=ham,
        ber=ber,
        clerk=clerk,
        manager=manager,
        juergen=juergen,
        parka_m=parka_m,
        knit_m=knit_m,
        knit_l=knit_l,
        bought=bought,
        web=web,
    )


def text(response):
    return response.get_data(as_text=True)


def url(shop, suffix=""):
    return f"/customers/{shop['juergen'].id}{suffix}"


def test_profile_shows_contact_consents_figures_open_orders_and_timeline(client, shop):
    client.login("clerk@example.test")
    page = text(client.get(url(shop)))
    assert "Jürgen Müller" in page and "juergen@example.de" in page and "OSL0000042" in page
    assert "Open orders and pickups" in page and shop["web"].number in page
    assert 'data-figure="orders">2<' in page  # the collected and the ready order
    assert "Fjord Parka" in page and "Merino Crew Knit" in page  # order lines on the timeline
    assert "Access log" not in page and "Erase" not in page  # clerks: no privacy tools


def test_every_view_is_logged_with_who_and_where(client, shop):
    client.login("clerk@example.test")
    client.get(url(shop))
    client.get(url(shop))
    rows = db.session.scalars(select(CustomerAccess)).all()
    assert [(r.action, r.staff_id, r.location_id) for r in rows] == [("view", shop["clerk"].id, shop["ham"].id)] * 2


def test_notes_go_on_the_timeline_escaped_and_bad_notes_change_nothing(client, shop):
    client.login("clerk@example.test")
    response = client.submit(url(shop, "/notes"), {"body": "<script>alert(1)</script> mag Navy ✓"}, headers=HX)
    assert response.status_code == 200
    page = text(response)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; mag Navy ✓" in page and "<script>alert" not in page
    assert "Jonas Weber" in page
    for body, message in (("", "Write a note"), ("x" * 5000, "at most 2000")):
        bad = client.submit(url(shop, "/notes"), {"body": body}, headers=HX)
        assert bad.status_code == 422 and message in text(bad)
    assert db.session.scalar(select(func.count()).select_from(CustomerNote)) == 1
    plain = client.submit(url(shop, "/notes"), {"body": "without htmx"})
    assert plain.status_code == 303


@pytest.mark.parametrize("body", ["ring \u0007 bell", "\u001b[31mred", "c1 \u0085 next"])
def test_a_note_with_a_control_character_is_refused_at_the_field(client, shop, body):
    client.login("clerk@example.test")
    response = client.submit(url(shop, "/notes"), {"body": body}, headers=HX)
    assert response.status_code == 422
    assert 'id="note-error"' in text(response) and "control character" in text(response)
    visit = client.submit(url(shop, "/visits"), {"kind": "visit", "note": body}, headers=HX)
    assert visit.status_code == 422 and "control character" in text(visit)
    assert db.session.scalar(select(func.count()).select_from(CustomerNote)) == 0
    assert db.session.scalar(select(func.count()).select_from(CustomerVisit)) == 0


def test_a_multi_line_note_keeps_its_lines_and_nothing_else(client, shop):
    client.login("clerk@example.test")
    assert client.submit(url(shop, "/notes"), {"body": "Size M\r\nprefers  navy\t\r\n"}, headers=HX).status_code == 200
    assert db.session.scalar(select(CustomerNote.body)) == "Size M\nprefers navy"
    client.submit(url(shop, "/visits"), {"kind": "visit", "note": "tried\r\nthe parka"}, headers=HX)
    assert db.session.scalar(select(CustomerVisit.note)) == "tried the parka"


def test_timeline_filters_by_channel_and_pages(client, shop):
    client.login("clerk@example.test")
    for n in range(20):
        customer_service.add_note(shop["juergen"], f"note {n}", staff=shop["clerk"])
    web = text(client.get(url(shop, "/timeline?channel=web"), headers=HX))
    assert shop["web"].number in web and shop["bought"].number not in web and "note 19" not in web
    first = text(client.get(url(shop, "/timeline"), headers=HX))
    assert "note 19" in first and "Older" in first and "Newer" not in first and "note 0" not in first
    second = text(client.get(url(shop, "/timeline?page=2"), headers=HX))
    assert "note 0" in second and shop["bought"].number in second and "Newer" in second and "Older" not in second
    assert client.get(url(shop, "/timeline?page=99999999999&channel=fax"), headers=HX).status_code == 200


def test_recording_a_visit_puts_it_on_the_timeline(client, shop):
    client.login("clerk@example.test")
    page = text(client.submit(url(shop, "/visits"), {"kind": "visit"}, headers=HX))
    assert "Visit" in page and "Hamburg" in page
    assert db.session.scalar(select(func.count()).select_from(CustomerVisit)) == 1


def test_recommendations_come_from_others_in_the_customers_size_with_a_reason(client, shop):
    recs = customer_history.recommendations(shop["juergen"], shop["ham"].id)
    assert [(r.product.name, r.variant.size, r.customers) for r in recs] == [("Merino Crew Knit", "M", 2)]
    assert recs[0].because_of.name == "Fjord Parka" and recs[0].here == 3
    client.login("clerk@example.test")
    page = text(client.get(url(shop, "/recommendations"), headers=HX))
    assert "Bought with Fjord Parka by 2 other customers" in page and "Save to wishlist" in page
    knit = recs[0].variant  # the endless-aisle builder is there: an order for this customer with this size
    assert f"/orders/new?customer_id={shop['juergen'].id}&amp;variant_id={knit.id}" in page


def test_never_recommends_what_they_already_bought_in_that_size(client, make, shop):
    make.order(shop["ham"], [(shop["knit_m"], 1, shop["ham"])], status="collected", customer_id=shop["juergen"].id)
    assert customer_history.recommendations(shop["juergen"], shop["ham"].id) == []


def test_wishlist_by_code_and_from_a_recommendation(client, shop):
    client.login("clerk@example.test")
    added = client.submit(url(shop, "/wishlist"), {"code": shop["knit_m"].sku}, headers=HX)
    assert added.status_code == 200 and "Merino Crew Knit" in text(added)
    again = client.submit(url(shop, "/wishlist"), {"variant_id": str(shop["knit_m"].id)}, headers=HX)
    assert again.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WishlistItem)) == 1
    bad = client.submit(url(shop, "/wishlist"), {"code": "<b>nope</b>"}, headers=HX)
    assert bad.status_code == 422 and "&lt;b&gt;nope" in text(bad)
    item = db.session.scalar(select(WishlistItem))
    client.submit(url(shop, f"/wishlist/{item.id}/remove"), headers=HX)
    assert db.session.scalar(select(func.count()).select_from(WishlistItem)) == 0


def test_edit_changes_contact_and_sizes_and_refuses_duplicates(client, make, shop):
    make.customer("Anna", "Taken", email="taken@example.de")
    client.login("clerk@example.test")
    data = dict(
        first_name="Jürgen",
        last_name="Müller",
        email="juergen@example.de",
        phone="040 3250 1200",
        preferred_location_id=str(shop["ham"].id),
        locale="de",
        size_tops="L",
        size_shoes="43",
        size_jeans="",
        size_dresses="",
    )
    assert client.submit(url(shop, "/edit"), data).status_code == 303
    db.session.expire_all()
    customer = db.session.get(Customer, shop["juergen"].id)
    assert customer.phone == "+494032501200" and customer.sizes == {"tops": "L", "shoes": "43"}
    duplicate = client.submit(url(shop, "/edit"), dict(data, email="TAKEN@example.de"))
    assert duplicate.status_code == 409 and "exists already" in text(duplicate)
    bad = client.submit(url(shop, "/edit"), dict(data, phone="123", email="x@"))
    assert bad.status_code == 422 and "not a valid phone" in text(bad) and "not a valid email" in text(bad)


# --- role limits and store scope -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/access-log", "/export", "/erase", "/merge"])
def test_clerks_cannot_use_the_privacy_tools(client, shop, suffix):
    client.login("clerk@example.test")
    assert client.get(url(shop, suffix)).status_code == 403
    assert client.submit(url(shop, suffix), {"confirm": "ERASE"}).status_code in (403, 405)
    db.session.expire_all()
    assert db.session.get(Customer, shop["juergen"].id).erased_at is None


@pytest.mark.parametrize("suffix", ["/access-log", "/export", "/erase", "/merge"])
def test_a_manager_of_another_store_cannot_either(client, shop, suffix):
    client.login("ber@example.test")
    assert client.get(url(shop, suffix)).status_code == 403
    page = text(client.get(url(shop)))
    assert "Erase personal data" not in page


def test_the_managers_access_log_shows_who_viewed_from_where(client, shop):
    client.login("clerk@example.test")
    client.get(url(shop))
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login("manager@example.test")
    page = text(client.get(url(shop)))
    assert "Access log" in page and "Export data" in page
    log = text(client.get(url(shop, "/access-log")))
    assert "Jonas Weber" in log and "Maria Becker" in log and "Hamburg" in log


# --- export --------------------------------------------------------------------------------------------------


def test_export_holds_everything_about_the_customer(client, shop):
    customer_service.add_note(shop["juergen"], "Prefers navy", staff=shop["clerk"])
    customer_service.record_consent(shop["juergen"], "email", True, staff=shop["clerk"])
    customer_service.record_visit(shop["juergen"], staff=shop["clerk"], note="tried the parka")
    customer_service.add_to_wishlist(shop["juergen"], shop["knit_m"].id, staff=shop["clerk"])
    client.login("manager@example.test")
    response = client.get(url(shop, "/export"))
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert set(archive.namelist()) == {"customer.json", "timeline.csv"}
    data = json.loads(archive.read("customer.json"))
    assert data["customer"]["email"] == "juergen@example.de" and data["customer"]["loyalty_number"] == "OSL0000042"
    assert data["customer"]["sizes"] == {"tops": "M"} and data["customer"]["preferred_store"] == "HAM"
    assert [n["body"] for n in data["notes"]] == ["Prefers navy"]
    assert data["consents"][0]["channel"] == "email" and data["consents"][0]["store"] == "HAM"
    assert data["visits"][0]["note"] == "tried the parka" and data["wishlist"][0]["sku"] == shop["knit_m"].sku
    assert {o["number"] for o in data["orders"]} == {shop["bought"].number, shop["web"].number}
    assert data["orders"][0]["delivery_address"]["street"] == "Elbchaussee 1"
    assert data["orders"][0]["lines"][0]["product"] == "Fjord Parka"
    timeline = archive.read("timeline.csv").decode("utf-8-sig")
    assert timeline.splitlines()[0] == ";".join(customer_export.TIMELINE_COLUMNS)
    assert shop["bought"].number in timeline and "Prefers navy" in timeline and "tried the parka" in timeline
    assert db.session.scalar(select(CustomerAccess.action).order_by(CustomerAccess.id.desc()).limit(1)) == "export"


# --- erase ---------------------------------------------------------------------------------------------------

TEXTUAL = (sa.String, sa.Text, sa.JSON, sa.types.NullType)


def _every_text_value():
    """Every value of every text or JSON column of every table in the database (found through the database's
    own metadata, so a table added later is scanned too), as text; and the tables scanned."""
    inspector = sa.inspect(db.engine)
    values, scanned = [], set()
    with db.engine.connect() as connection:
        for name in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(name) if isinstance(c["type"], TEXTUAL)]
            if not columns:
                continue
            scanned.add(name)
            table = sa.table(name, *(sa.column(column) for column in columns))
            for row in connection.execute(sa.select(table)):
                values.extend((name, _as_text(v)) for v in row if v is not None)
    return values, scanned


def _as_text(value):
    if isinstance(value, str) and value[:1] in ("{", "["):  # JSON stored as text (SQLite): read its \u escapes
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _api_order(client, email, key):
    from omnistore.stores.staff import create_api_client

    _api, token = create_api_client("web shop")
    document = {
        "customer": {"email": email, "first_name": "Jürgen", "last_name": "Müller"},
        "lines": [{"sku": "KNIT-L", "quantity": 1}],
        "fulfilment": "pickup",
        "pickup_location": "HAM",
        "payment_state": "paid",
    }
    return lambda: client.http.post(
        "/api/v1/orders", json=document, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    )


def test_erase_leaves_no_personal_data_in_any_table(client, make, shop):
    from omnistore.orders import desk as order_desk
    from omnistore.orders.models import DraftHold, OrderDraft
    from omnistore.pickups import customer as customer_pickups

    juergen, manager = shop["juergen"], shop["manager"]
    shop["knit_l"].sku = "KNIT-L"
    db.session.commit()
    customer_service.add_note(juergen, "Jürgen mag Navy, wohnt Elbchaussee", staff=shop["clerk"])
    customer_service.record_consent(juergen, "email", True, staff=shop["clerk"])
    customer_service.record_visit(juergen, staff=shop["clerk"], note="came with his daughter")
    customer_service.add_to_wishlist(juergen, shop["knit_m"].id, staff=shop["clerk"])
    # The pickup order: the confirmation resent, the address changed, resent again; the customer checks in.
    order_desk.resend_confirmation(shop["web"], staff=manager)
    customer_service.update_profile(
        juergen,
        customer_service.ProfileChanges(
            first_name="Jürgen", last_name="Müller", email="j.neu@example.de", phone="+4915123456789", locale="de"
        ),
        staff=manager,
    )
    order_desk.resend_confirmation(db.session.get(Order, shop["web"].id), staff=manager)
    token = make.pickup(shop["web"]).token
    customer_pickups.check_in(token, note="Jürgen in the blue car")
    db.session.add(
        OutboxMessage(
            kind="email",
            topic="order.ready",
            recipient="juergen@example.de",
            subject="Your order is ready, Jürgen Müller",
            body="Hello Jürgen Müller",
        )
    )
    db.session.commit()  # an email from before the outbox knew its customers
    # A web order whose client put the customer's address into its Idempotency-Key.
    api_order = _api_order(client, "j.neu@example.de", "order-for-j.neu@example.de")
    placed = api_order()
    assert placed.status_code == 201, placed.get_json()
    # A delivery started at the counter, to his home, not placed yet (its units are held).
    draft = order_drafts.start_draft(shop["clerk"], customer_id=juergen.id)
    order_drafts.set_line(draft, shop["knit_m"].id, 1, staff=shop["clerk"])
    order_drafts.choose_fulfilment(
        draft,
        "delivery",
        staff=shop["clerk"],
        payment_state="paid",
        address={
            "name": "Jürgen Müller",
            "street": "Elbchaussee 1",
            "postcode": "22763",
            "city": "Hamburg",
            "country": "DE",
        },
    )
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 1
    twin = make.customer(
        "Jürgen", "Mueller-Twin", email="twin@example.de", phone="+4917011112222", preferred_location_id=shop["ham"].id
    )
    customer_merging.merge_customers(juergen, twin, staff=manager)
    before, _tables = _every_text_value()
    assert any("j.neu@example.de" in value for _table, value in before)  # the scan sees what it looks for

    client.login("manager@example.test")
    page = text(client.get(url(shop, "/erase")))
    assert "cannot be undone" in page
    refused = client.submit(url(shop, "/erase"), {"confirm": "yes"})
    assert refused.status_code == 422 and db.session.get(Customer, juergen.id).erased_at is None
    response = client.submit(url(shop, "/erase"), {"confirm": "ERASE"})
    assert response.status_code == 303

    personal = [
        "Jürgen",
        "Müller",
        "juergen",
        "mueller",
        "juergen@example.de",
        "j.neu",
        "+4915123456789",
        "OSL0000042",
        "Elbchaussee",
        "daughter",
        "blue car",
        "twin@example.de",
        "+4917011112222",
        "Twin",
        "Navy, wohnt",
    ]
    values, tables = _every_text_value()
    assert {
        "customer",
        "customer_merge",
        "order_draft",
        "orders",
        "order_event",
        "outbox_message",
        "audit_event",
        "pickup",
    } <= tables
    leaks = [(word, table, value) for table, value in values for word in personal if word.lower() in value.lower()]
    assert leaks == []
    db.session.expire_all()
    erased = db.session.get(Customer, juergen.id)
    assert erased.erased_at is not None and erased.display_name == f"#{juergen.id}"
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == juergen.id)) == 3
    assert customer_service.current_consents(erased)["email"]["granted"] is False  # withdrawn
    assert finding.search_customers("müller") == [] and finding.search_customers("OSL0000042") == []
    assert client.get(url(shop)).status_code == 404
    assert db.session.scalar(select(CustomerAccess.action).order_by(CustomerAccess.id.desc()).limit(1)) == "erase"
    # Unsent emails to him are gone; sent ones say only that there was one.
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.recipient != "erased")
        )
        == 0
    )
    # The open draft was cancelled and its units are free again; placing it is refused with the reason.
    dropped = db.session.get(OrderDraft, draft.id)
    assert dropped.status == "abandoned" and dropped.delivery_address == {}
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    assert (
        db.session.scalar(
            select(sa.func.sum(sa.literal_column("allocated")))
            .select_from(sa.table("stock_level"))
            .where(sa.column("variant_id") == shop["knit_m"].id)
        )
        == 0
    )
    client.post("/logout", data={"csrf_token": client.csrf_token()})
    client.login("clerk@example.test")
    place = client.submit(f"/orders/drafts/{draft.token}/place", {"idempotency_key": "after-erase"})
    assert place.status_code == 409 and "personal data was erased" in text(place)
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == juergen.id)) == 3
    # The web shop's retry with its key still finds its order: the key is kept as a hash, and exactly.
    replay = api_order()
    assert replay.status_code == 200 and replay.get_json()["number"] == placed.get_json()["number"]


# --- merge ---------------------------------------------------------------------------------------------------


def test_merge_moves_everything_and_records_it(client, make, shop):
    juergen = shop["juergen"]
    twin = make.customer(
        "Jürgen",
        "Müller",
        email="j.mueller@example.de",
        phone="+4917011112222",
        loyalty_points=300,
        loyalty_tier="gold",
        preferred_location_id=shop["ham"].id,
    )
    juergen.loyalty_points = 100
    db.session.commit()
    make.order(shop["ham"], [(shop["knit_l"], 1, shop["ham"])], status="collected", channel="app", customer_id=twin.id)
    customer_service.add_note(twin, "twin note", staff=shop["clerk"])
    customer_service.record_consent(twin, "sms", True, staff=shop["clerk"])
    customer_service.record_visit(twin, staff=shop["clerk"])
    customer_service.add_to_wishlist(twin, shop["knit_m"].id, staff=shop["clerk"])
    customer_service.add_to_wishlist(juergen, shop["knit_m"].id, staff=shop["clerk"])
    from omnistore.orders.models import OrderDraft

    draft = order_drafts.start_draft(shop["clerk"], customer_id=twin.id)
    db.session.add(
        OutboxMessage(kind="email", topic="order.ready", recipient="j.mueller@example.de", customer_id=twin.id)
    )
    db.session.commit()
    client.login("manager@example.test")
    page = text(client.get(url(shop, "/merge")))
    assert 'name="other_id"' in page and "data-customer-picker" in page
    confirm = text(client.submit(url(shop, "/merge"), {"other_id": str(twin.id)}))
    assert "Merge Jürgen Müller into Jürgen Müller?" in confirm
    done = client.submit(url(shop, "/merge"), {"other_id": str(twin.id), "confirmed": "1"})
    assert done.status_code == 303

    db.session.expire_all()
    survivor, stub = db.session.get(Customer, juergen.id), db.session.get(Customer, twin.id)
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == survivor.id)) == 3
    assert (
        db.session.scalar(select(func.count()).select_from(CustomerNote).where(CustomerNote.customer_id == survivor.id))
        == 1
    )
    assert db.session.scalar(select(Consent.customer_id).where(Consent.channel == "sms")) == survivor.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(CustomerVisit).where(CustomerVisit.customer_id == survivor.id)
        )
        == 1
    )
    assert db.session.scalar(select(func.count()).select_from(WishlistItem)) == 1
    assert survivor.loyalty_points == 400 and survivor.loyalty_tier == "gold"
    assert stub.merged_into_id == survivor.id and stub.email is None and stub.loyalty_points == 0
    record = db.session.scalar(select(CustomerMerge))
    assert record.merged_snapshot["email"] == "j.mueller@example.de" and record.moved["orders"] == 1
    # Drafts and emails follow the customer, so the survivor's erase finds them.
    assert db.session.get(OrderDraft, draft.id).customer_id == survivor.id
    assert db.session.scalar(select(OutboxMessage.customer_id)) == survivor.id
    assert finding.search_customers("müller") == [survivor]
    assert client.get(f"/customers/{twin.id}").headers["Location"].endswith(f"/customers/{survivor.id}")
    again = client.submit(url(shop, "/merge"), {"other_id": str(survivor.id), "confirmed": "1"})
    assert again.status_code == 422


def test_unknown_and_erased_profiles_are_not_found(client, make, shop):
    gone = make.customer("Gone", "Person", erased_at=utcnow())
    client.login("clerk@example.test")
    for address in (f"/customers/{gone.id}", "/customers/999999", "/customers/99999999999", "/customers/0/timeline"):
        assert client.get(address).status_code == 404, address


def test_the_loser_of_crossing_merges_sees_why_on_the_merge_page(client, make, shop):
    # Two managers had each other's profile open: one merged the twin into Jürgen, the other now merges
    # Jürgen into the twin (the twin's page was loaded before the first merge).
    twin = make.customer("Jürgen", "Twin", email="twin@example.de", preferred_location_id=shop["ham"].id)
    customer_merging.merge_customers(shop["juergen"], twin, staff=shop["manager"])
    client.login("manager@example.test")
    response = client.submit(f"/customers/{twin.id}/merge", {"other_id": str(shop["juergen"].id), "confirmed": "1"})
    page = text(response)
    assert response.status_code == 409 and 'name="other_id"' in page  # the merge page, with the reason
    assert f"merged into profile #{shop['juergen'].id} a moment ago" in page
    erase = client.submit(f"/customers/{twin.id}/erase", {"confirm": "ERASE"})
    assert erase.status_code == 409 and "a moment ago" in text(erase) and 'name="confirm"' in text(erase)
    db.session.expire_all()
    assert db.session.get(Customer, shop["juergen"].id).merged_into_id is None
    assert db.session.get(Customer, twin.id).erased_at is None
    assert db.session.scalar(select(func.count()).select_from(CustomerMerge)) == 1
