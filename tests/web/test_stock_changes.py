"""The here-page (receive, correct, history), its store scope, and the managers' CSV import."""

import re

import pytest
from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.extensions import db
from omnistore.stock import ledger
from omnistore.stock.models import StockLevel, StockMovement

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    """Hamburg and Copenhagen, a variant stocked at both, a clerk and a manager in Hamburg."""
    return make.shop(
        "HAM",
        "CPH",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "manager": "manager",
            "admin": "admin",
            "cph_clerk": ("clerk", "CPH", None, "cph@example.test"),
        },
        variants={"variant": dict(product="Fjord Parka", size="XL", colour="Navy", stock={"HAM": (5, 2), "CPH": 7})},
    )


def here_url(shop, action="here", **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/stock/variants/{shop['variant'].id}/{action}" + (f"?{query}" if query else "")


def level(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def movements(variant, location):
    return db.session.scalar(
        select(func.count())
        .select_from(StockMovement)
        .where(StockMovement.variant_id == variant.id, StockMovement.location_id == location.id)
    )


def text(response):
    return response.get_data(as_text=True)


# --- the page --------------------------------------------------------------------------------------------


def test_here_page_shows_figures_forms_and_history(client, shop):
    client.login("clerk@example.test")
    response = client.get(here_url(shop))
    assert response.status_code == 200
    page = text(response)
    assert "Fjord Parka" in page and "Navy / XL" in page and shop["variant"].sku in page
    assert "Stock at Hamburg" in page
    assert re.search(r'data-figure="on_hand">5<', page)
    assert re.search(r'data-figure="allocated">2<', page)
    assert re.search(r'data-figure="available">3<', page)
    assert 'id="receive-quantity"' in page and 'id="correct-quantity"' in page
    assert page.count('name="csrf_token"') >= 3  # both forms (and sign-out)
    assert 'id="history"' in page and "test stock" in page and "Received" in page


def test_an_htmx_request_gets_the_component_only(client, shop):
    client.login("clerk@example.test")
    response = client.get(here_url(shop), headers=HX)
    page = text(response)
    assert response.status_code == 200 and "Vary" in response.headers
    assert page.lstrip().startswith("{#") is False and '<div id="stock-here"' in page
    assert "<html" not in page


def test_unknown_variant_is_404(client, shop):
    client.login("clerk@example.test")
    assert client.get("/stock/variants/999999/here").status_code == 404
    assert client.submit("/stock/variants/999999/receive", {"quantity": "1", "reason": "x"}).status_code == 404


def test_signed_out_is_sent_to_sign_in(client, shop):
    response = client.get(here_url(shop))
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


# --- receive ----------------------------------------------------------------------------------------------


def test_receive_with_htmx_returns_the_updated_component(client, shop):
    client.login("clerk@example.test")
    response = client.submit(
        here_url(shop, "receive"), {"quantity": "3", "reason": "Lieferung KW 12", "reference": "LS-4711"}, headers=HX
    )
    assert response.status_code == 200, text(response)
    page = text(response)
    assert '<div id="stock-here"' in page and "<html" not in page
    assert "Received 3. On hand now: 8." in page
    assert re.search(r'data-figure="on_hand">8<', page)
    assert "Lieferung KW 12" in page and "LS-4711" in page and "Jonas Weber" in page
    assert level(shop["variant"], shop["ham"]).on_hand == 8


def test_receive_without_javascript_redirects_back_with_a_flash(client, shop):
    client.login("clerk@example.test")
    response = client.submit(here_url(shop, "receive"), {"quantity": "4", "reason": "delivery"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(here_url(shop))
    page = text(client.get(response.headers["Location"]))
    assert "Received 4. On hand now: 9." in page
    assert level(shop["variant"], shop["ham"]).on_hand == 9


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"quantity": "0", "reason": "x"}, "quantity", "Enter 1 or more."),
        ({"quantity": "-3", "reason": "x"}, "quantity", "A receipt cannot be negative"),
        ({"quantity": "abc", "reason": "x"}, "quantity", "is not a number"),
        ({"quantity": "2.5", "reason": "x"}, "quantity", "no decimals"),
        ({"quantity": "1000001", "reason": "x"}, "quantity", "Enter at most 1,000,000."),
        ({"quantity": "", "reason": "x"}, "quantity", "Enter a number."),
        ({"quantity": "3", "reason": "   "}, "reason", "Say where the goods came from"),
        ({"quantity": "3"}, "reason", "Say where the goods came from"),
        ({"quantity": "3", "reason": "x" * 501}, "reason", "At most 500 characters"),
        ({"quantity": "3", "reason": "ok", "reference": "r" * 101}, "reference", "At most 100 characters"),
    ],
)
def test_bad_receipts_are_422_at_the_field_and_change_nothing(client, shop, data, field, message):
    client.login("clerk@example.test")
    before = movements(shop["variant"], shop["ham"])
    for headers in (HX, {}):
        response = client.submit(here_url(shop, "receive"), data, headers=headers)
        assert response.status_code == 422
        page = text(response)
        error = re.search(rf'<p class="field-error" id="receive-{field}-error">([^<]*)</p>', page)
        assert error and message in error.group(1).replace("&#34;", '"'), page
        assert f'id="receive-{field}"' in page and 'aria-invalid="true"' in page
    assert level(shop["variant"], shop["ham"]).on_hand == 5
    assert movements(shop["variant"], shop["ham"]) == before


def test_what_was_typed_stays_in_the_form_after_an_error(client, shop):
    client.login("clerk@example.test")
    page = text(
        client.submit(here_url(shop, "receive"), {"quantity": "abc", "reason": "Lieferung <b>7</b>"}, headers=HX)
    )
    assert 'value="abc"' in page
    assert 'value="Lieferung &lt;b&gt;7&lt;/b&gt;"' in page


def test_html_in_a_reason_is_shown_escaped(client, shop):
    client.login("clerk@example.test")
    client.submit(here_url(shop, "receive"), {"quantity": "1", "reason": "<script>alert(1)</script> Größe ✓"})
    page = text(client.get(here_url(shop)))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Größe ✓" in page


def test_a_receipt_without_a_csrf_token_is_refused(client, shop):
    client.login("clerk@example.test")
    response = client.post(here_url(shop, "receive"), data={"quantity": "1", "reason": "x"})
    assert response.status_code == 400
    assert level(shop["variant"], shop["ham"]).on_hand == 5


def test_first_receipt_creates_the_level(client, shop, make):
    other = make.variant(shop["variant"].product, size="S", colour="Navy")
    client.login("clerk@example.test")
    page = text(client.get(f"/stock/variants/{other.id}/here"))
    assert "Never stocked here so far" in page
    response = client.submit(f"/stock/variants/{other.id}/receive", {"quantity": "2", "reason": "first"}, headers=HX)
    assert response.status_code == 200
    assert level(other, shop["ham"]).on_hand == 2


# --- correct ----------------------------------------------------------------------------------------------


def test_correct_sets_the_counted_figure(client, shop):
    client.login("clerk@example.test")
    version = level(shop["variant"], shop["ham"]).version
    response = client.submit(
        here_url(shop, "correct"), {"quantity": "4", "reason": "Stocktake", "version": str(version)}, headers=HX
    )
    assert response.status_code == 200
    page = text(response)
    assert "Count saved: 4 on hand (-1)." in page
    assert "Count corrected" in page and "−1" in page or "-1" in page
    assert level(shop["variant"], shop["ham"]).on_hand == 4


def test_a_matching_count_changes_nothing(client, shop):
    client.login("clerk@example.test")
    before = level(shop["variant"], shop["ham"]).version
    page = text(
        client.submit(
            here_url(shop, "correct"), {"quantity": "5", "reason": "Stocktake", "version": str(before)}, headers=HX
        )
    )
    assert "The count matches: 5 on hand. Nothing was changed." in page
    assert level(shop["variant"], shop["ham"]).version == before


def test_a_count_below_what_is_reserved_is_refused_with_the_reason(client, shop):
    client.login("clerk@example.test")
    response = client.submit(here_url(shop, "correct"), {"quantity": "1", "reason": "Stocktake"}, headers=HX)
    assert response.status_code == 422
    page = text(response)
    assert "Reserved for customer orders: 2. The count cannot be lower than that" in page
    assert 'id="correct-quantity-error"' in page
    assert level(shop["variant"], shop["ham"]).on_hand == 5


def test_a_count_made_on_old_figures_is_refused_with_the_new_ones(client, shop):
    client.login("clerk@example.test")
    seen = level(shop["variant"], shop["ham"]).version
    ledger.receive(ledger.StockChange(shop["variant"].id, shop["ham"].id, 3, "another tablet"), None)
    response = client.submit(
        here_url(shop, "correct"), {"quantity": "4", "reason": "Stocktake", "version": str(seen)}, headers=HX
    )
    assert response.status_code == 409
    page = text(response)
    assert "Someone changed this stock meanwhile: on hand is now 8 (2 reserved)." in page
    assert re.search(r'data-figure="on_hand">8<', page)
    assert level(shop["variant"], shop["ham"]).on_hand == 8
    # The form now carries the new version: sending the count again (after a look) goes through.
    new_version = re.search(r'name="version" value="(\d+)"', page).group(1)
    assert int(new_version) == seen + 1
    response = client.submit(
        here_url(shop, "correct"), {"quantity": "4", "reason": "Stocktake", "version": new_version}, headers=HX
    )
    assert response.status_code == 200
    assert level(shop["variant"], shop["ham"]).on_hand == 4


@pytest.mark.parametrize(
    ("quantity", "message"), [("-1", "cannot be negative"), ("x", "is not a number"), ("", "Enter a number.")]
)
def test_bad_counts_are_422(client, shop, quantity, message):
    client.login("clerk@example.test")
    response = client.submit(here_url(shop, "correct"), {"quantity": quantity, "reason": "Stocktake"}, headers=HX)
    assert response.status_code == 422 and message in text(response)
    assert level(shop["variant"], shop["ham"]).on_hand == 5


# --- store scope ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["receive", "correct"])
def test_a_hamburg_clerk_cannot_change_copenhagen_stock(client, shop, action):
    client.login("clerk@example.test")
    before = (level(shop["variant"], shop["cph"]).on_hand, movements(shop["variant"], shop["cph"]))
    response = client.submit(here_url(shop, action, location="CPH"), {"quantity": "1", "reason": "sneaky"})
    assert response.status_code == 403
    response = client.submit(here_url(shop, action, location="CPH"), {"quantity": "1", "reason": "sneaky"}, headers=HX)
    assert response.status_code == 403
    assert (level(shop["variant"], shop["cph"]).on_hand, movements(shop["variant"], shop["cph"])) == before
    assert level(shop["variant"], shop["ham"]).on_hand == 5


def test_a_clerk_cannot_open_another_stores_here_page(client, shop):
    client.login("clerk@example.test")
    assert client.get(here_url(shop, location="CPH")).status_code == 403
    assert client.get(here_url(shop, location="XXX")).status_code == 404
    assert client.get(here_url(shop, location="ham")).status_code == 200  # own store, any case


def test_a_manager_is_held_to_the_own_store_too(client, shop):
    client.login("manager@example.test")
    response = client.submit(here_url(shop, "receive", location="CPH"), {"quantity": "1", "reason": "x"})
    assert response.status_code == 403
    assert level(shop["variant"], shop["cph"]).on_hand == 7


def test_an_admin_changes_stock_anywhere(client, shop):
    client.login("admin@example.test")
    page = text(client.get(here_url(shop, location="CPH")))
    assert "Stock at København" in page
    assert f'action="{here_url(shop, "receive", location="CPH")}"' in page
    response = client.submit(here_url(shop, "receive", location="CPH"), {"quantity": "2", "reason": "admin"})
    assert response.status_code == 303 and response.headers["Location"].endswith(here_url(shop, location="CPH"))
    assert level(shop["variant"], shop["cph"]).on_hand == 9


def test_the_changes_are_recorded_with_who_did_them(client, shop):
    client.login("clerk@example.test")
    client.submit(here_url(shop, "receive"), {"quantity": "1", "reason": "delivery"})
    movement = db.session.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
    assert (movement.kind, movement.staff_id, movement.reason) == ("receipt", shop["clerk"].id, "delivery")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.received").order_by(AuditEvent.id))
    assert event.staff_id == shop["clerk"].id and event.location_id == shop["ham"].id


# --- history ----------------------------------------------------------------------------------------------


def test_history_is_paged_newest_first(client, shop):
    for n in range(1, 25):
        ledger.receive(ledger.StockChange(shop["variant"].id, shop["ham"].id, 1, f"delivery {n:02d}"), shop["clerk"])
    client.login("clerk@example.test")
    first = text(client.get(here_url(shop)))
    assert "26 entries" in first and "Page 1 of 2" in first
    assert first.index("delivery 24") < first.index("delivery 23")
    assert "delivery 04" not in first
    second = client.get(here_url(shop, page=2), headers=HX)
    assert "delivery 04" in text(second) and "test stock" in text(second)
    assert "delivery 24" not in text(second)
    assert client.get(here_url(shop, page=99)).status_code == 200  # past the end: the last page
    assert client.get(here_url(shop, page="x")).status_code == 200


# --- CSV import -------------------------------------------------------------------------------------------


def upload(client, content, name="stock.csv", **kwargs):
    from io import BytesIO

    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.submit("/stock/import", {"file": (BytesIO(data), name)}, content_type="multipart/form-data", **kwargs)


def test_clerks_cannot_import(client, shop):
    client.login("clerk@example.test")
    assert client.get("/stock/import").status_code == 403
    assert upload(client, f"{shop['variant'].sku};HAM;9\n").status_code == 403
    assert level(shop["variant"], shop["ham"]).on_hand == 5


def test_manager_imports_for_the_own_store_and_sees_the_bad_rows(client, shop):
    sku = shop["variant"].sku
    client.login("manager@example.test")
    page = text(client.get("/stock/import"))
    assert "Sets the on-hand figures of Hamburg" in page and 'type="file"' in page
    content = f"sku;location;on_hand\n{sku};HAM;9\n\nNOPE;HAM;1\n{sku};CPH;3\n{sku};HAM;-2\n"
    response = upload(client, content)
    assert response.status_code == 200
    page = text(response)
    assert level(shop["variant"], shop["ham"]).on_hand == 5  # the duplicate SKU at HAM refuses both lines
    assert "Unknown SKU NOPE." in page
    assert "You can import stock for your own store only, not for CPH." in page
    assert "appears more than once (also at 6)" in page and "(also at 2)" in page
    assert "1 row was not imported" not in page and "4 rows were not imported" in page
    assert level(shop["variant"], shop["cph"]).on_hand == 7


def test_import_then_resend_changes_nothing(client, shop):
    sku = shop["variant"].sku
    client.login("manager@example.test")
    content = f"\ufeffsku,location,on_hand\r\n{sku},HAM,11\r\n"
    page = text(upload(client, content))
    assert "Every row was imported." in page
    assert level(shop["variant"], shop["ham"]).on_hand == 11
    version, count = level(shop["variant"], shop["ham"]).version, movements(shop["variant"], shop["ham"])
    page = text(upload(client, content))
    assert re.search(r"<strong>1</strong><span>Already right</span>", page)
    assert level(shop["variant"], shop["ham"]).version == version
    assert movements(shop["variant"], shop["ham"]) == count


def test_the_refused_rows_can_be_downloaded_by_who_imported(client, shop):
    client.login("manager@example.test")
    page = text(upload(client, "sku;location;on_hand\n=HYPERLINK(1);HAM;1\nX;HAM;abc\n"))
    link = re.search(r'href="(/stock/import/(IMP-[0-9A-F]{12})/problems.csv)"', page)
    assert link
    response = client.get(link.group(1))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = text(response)
    assert body.startswith("\ufeffline;sku;location;problem")
    assert "2;'=HYPERLINK(1);HAM;Unknown SKU =HYPERLINK(1)." in body
    assert "3;X;HAM;“abc” is not a number." in body
    client.get("/logout")
    client.submit("/logout")
    client.login("admin@example.test")
    assert client.get(link.group(1)).status_code == 200
    assert client.get("/stock/import/IMP-000000000000/problems.csv").status_code == 404
    assert client.get("/stock/import/nonsense/problems.csv").status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Choose a CSV file"),
        (b"PK\x03\x04rest-of-a-zip", "That is an Excel workbook"),
        (b"sku;location\nA;HAM\n", "lacks on_hand"),
        (b"\n\n  \n", "The file is empty."),
    ],
)
def test_files_that_cannot_be_used_are_422_with_a_message(client, shop, content, message):
    client.login("manager@example.test")
    response = (
        upload(client, content) if content else client.submit("/stock/import", {}, content_type="multipart/form-data")
    )
    assert response.status_code == 422
    page = text(response)
    assert message in page and 'id="import-file-error"' in page


def test_admin_imports_for_any_location(client, shop):
    client.login("admin@example.test")
    assert "Sets the on-hand figures of any location" in text(client.get("/stock/import"))
    page = text(upload(client, f"{shop['variant'].sku};CPH;1\n{shop['variant'].sku};HAM;2\n"))
    assert "Every row was imported." in page
    assert level(shop["variant"], shop["cph"]).on_hand == 1
    assert level(shop["variant"], shop["ham"]).on_hand == 2
