"""Finding and creating customers in the browser's requests: search, scan, quick-create, the picker."""

import re

import pytest
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.customers import finding
from omnistore.customers.models import Consent, Customer

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    shop = make.shop(
        "HAM",
        "CPH",
        team={"clerk": ("clerk", "HAM", "Jonas Weber"), "cph_clerk": ("clerk", "CPH", "Mads Holm", "cph@example.test")},
    )
    shop["juergen"] = make.customer(
        "Jürgen",
        "Müller",
        email="juergen@example.de",
        phone="+4915123456789",
        loyalty_number="OSL0000042",
        preferred_location_id=shop.ham.id,
    )
    return shop


def text(response):
    return response.get_data(as_text=True)


def customers():
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_the_nav_entry_opens_the_search_page_not_coming_soon(client, shop):
    client.login("clerk@example.test")
    page = text(client.get("/customers/"))
    assert "coming in a next release" not in page and 'id="customer-q"' in page and "New customer" in page
    assert "data-scan-open" in page


@pytest.mark.parametrize("query", ["mueller", "jürgen", "JUERGEN@example.de", "0151 2345 6789", "OSL 0000042"])
def test_search_results_partial_finds_the_customer(client, shop, query):
    client.login("clerk@example.test")
    response = client.get("/customers/", query_string={"q": query}, headers=HX)
    if query.startswith("OSL"):  # a loyalty number opens the profile at once
        assert response.headers["HX-Redirect"] == f"/customers/{shop['juergen'].id}"
        return
    assert response.status_code == 200 and "Jürgen Müller" in text(response)
    assert "<html" not in text(response) and f"/customers/{shop['juergen'].id}" in text(response)


def test_search_without_match_offers_to_create_with_the_query(client, shop):
    client.login("clerk@example.test")
    page = text(client.get("/customers/?q=Schmidt", headers=HX))
    assert "No customer matches" in page and "/customers/new?q=Schmidt" in page


@pytest.mark.parametrize("query", ["x" * 150, "a b c d e f g", "\u202e<script>", "%", "🙂"])
def test_odd_search_input_never_fails(client, shop, query):
    client.login("clerk@example.test")
    response = client.get("/customers/", query_string={"q": query}, headers=HX)
    assert response.status_code in (200, 422)
    assert "<script>" not in text(response)


def test_scanning_a_loyalty_card_opens_the_profile(client, shop):
    client.login("clerk@example.test")
    card = finding.loyalty_card_ean("OSL0000042")
    response = client.get(f"/customers/scan?code={card}")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/customers/{shop['juergen'].id}")
    unknown = client.get("/customers/scan?code=OSL9999999")
    assert unknown.status_code == 303 and "q=OSL9999999" in unknown.headers["Location"]


def form(**fields):
    values = dict(
        first_name="Anna",
        last_name="Schmidt",
        email="anna@example.de",
        phone="0171 1234567",
        preferred_location_id="",
        consent_email="yes",
        consent_sms="no",
    )
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def test_quick_create_asks_consent_neutrally_and_creates(client, shop):
    client.login("clerk@example.test")
    page = text(client.get("/customers/new?q=Anna Schmidt"))
    assert 'value="Anna"' in page and 'value="Schmidt"' in page
    radios = re.findall(r'<input[^>]*type="radio"[^>]*>', page)
    assert len(radios) == 4 and not any("checked" in radio for radio in radios)  # nothing pre-ticked
    response = client.submit("/customers/new", form())
    assert response.status_code == 303
    created = db.session.scalar(select(Customer).where(Customer.email == "anna@example.de"))
    assert response.headers["Location"].endswith(f"/customers/{created.id}")
    assert created.phone == "+491711234567" and created.preferred_location_id is None
    assert {c.channel: c.granted for c in db.session.scalars(select(Consent))} == {"email": True, "sms": False}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "anna@", "phone": ""}, "not a valid email"),
        ({"phone": "0171"}, "not a valid phone number"),
        ({"email": "", "phone": ""}, "email address or a phone number"),
        ({"first_name": "", "last_name": ""}, "Enter the customer"),
        ({"consent_email": None}, "Please ask the customer"),
        ({"consent_sms": "maybe"}, "Please ask the customer"),
        ({"first_name": "x" * 300}, "at most"),
        ({"preferred_location_id": "99999999999"}, "Choose one of our stores"),
    ],
)
def test_quick_create_shows_bad_input_at_the_field_and_creates_nothing(client, shop, fields, message):
    client.login("clerk@example.test")
    before = customers()
    response = client.submit("/customers/new", form(**fields))
    assert response.status_code == 422, text(response)[:500]
    assert message in text(response) and 'class="field-error"' in text(response)
    assert customers() == before


def test_quick_create_with_a_known_email_offers_the_existing_profile(client, shop):
    client.login("clerk@example.test")
    response = client.submit("/customers/new", form(email="JUERGEN@example.de"))
    assert response.status_code == 409
    page = text(response)
    assert "exists already" in page and "Jürgen Müller" in page
    assert f'href="/customers/{shop["juergen"].id}"' in page and "Open this profile" in page
    assert customers() == 1


def test_picker_searches_chooses_and_puts_the_id_in_a_hidden_input(client, shop):
    client.login("clerk@example.test")
    results = text(client.get("/customers/picker/search?field=customer_id&picker_q=mueller", headers=HX))
    assert "Jürgen Müller" in results and f"customer={shop['juergen'].id}" in results
    chosen = text(client.get(f"/customers/picker?field=customer_id&customer={shop['juergen'].id}", headers=HX))
    assert f'<input type="hidden" name="customer_id" value="{shop["juergen"].id}">' in chosen
    empty = text(client.get("/customers/picker?field=customer_id", headers=HX))
    assert '<input type="hidden" name="customer_id" value="">' in empty and "New customer" in empty
    assert client.get("/customers/picker?field=bad-name!", headers=HX).status_code == 400
    assert client.get("/customers/picker?field=customer_id&customer=999999", headers=HX).status_code == 404


def test_picker_quick_create_and_duplicate_offer(client, shop):
    client.login("clerk@example.test")
    data = {
        "customer_id_first_name": "Freja",
        "customer_id_last_name": "Nielsen",
        "customer_id_email": "freja@example.dk",
        "customer_id_phone": "",
        "customer_id_consent_email": "no",
    }
    created = client.submit("/customers/picker/create?field=customer_id", data, headers=HX)
    assert created.status_code == 200
    freja = db.session.scalar(select(Customer).where(Customer.email == "freja@example.dk"))
    assert f'name="customer_id" value="{freja.id}"' in text(created)
    duplicate = client.submit(
        "/customers/picker/create?field=customer_id", dict(data, customer_id_email="Freja@Example.dk"), headers=HX
    )
    assert duplicate.status_code == 409 and "Use this customer" in text(duplicate)
    assert f"customer={freja.id}" in text(duplicate)
    missing = client.submit(
        "/customers/picker/create?field=customer_id",
        dict(data, customer_id_email="new@example.dk", customer_id_consent_email=""),
        headers=HX,
    )
    assert missing.status_code == 422 and "Please ask the customer" in text(missing)
    assert customers() == 2


def test_every_customer_page_needs_a_login(client, shop):
    for url in ("/customers/", "/customers/new", f"/customers/{shop['juergen'].id}", "/customers/picker/search"):
        response = client.get(url)
        assert response.status_code in (302, 401) and "/login" in response.headers.get("Location", "/login")


def test_a_loyalty_card_scanned_anywhere_opens_the_profile(client, shop):
    """The global search box (keyboard-wedge scanner) and the camera's default target know loyalty cards too."""
    client.login("clerk@example.test")
    card = finding.loyalty_card_ean("OSL0000042")
    wedge = client.get(f"/stock/?q={card}")
    assert wedge.status_code == 303 and wedge.headers["Location"].endswith(f"/customers/{shop['juergen'].id}")
    camera = client.get("/stock/scan?code=OSL0000042")
    assert camera.status_code == 303 and camera.headers["Location"].endswith(f"/customers/{shop['juergen'].id}")
    assert client.get("/stock/scan?code=OSL9999999").status_code == 404


@pytest.mark.parametrize(
    ("typed", "field", "value"),
    [
        ("Anna Berg", "first_name", "Anna"),
        ("Anna Berg", "last_name", "Berg"),
        ("anna@example.dk", "email", "anna@example.dk"),
        ("0151 2345 6789", "phone", "0151 2345 6789"),
    ],
)
def test_picker_quick_create_starts_with_what_was_searched(client, shop, typed, field, value):
    client.login("clerk@example.test")
    picker = text(client.get("/customers/picker", query_string={"field": "customer_id", "new": typed}, headers=HX))
    assert re.search(r'<details class="picker-create" open', picker)
    assert re.search(rf'name="customer_id_{field}" [^>]*value="{re.escape(value)}"', picker)
    assert customers() == 1  # nothing is created before the clerk confirms


@pytest.mark.parametrize(
    "query",
    [
        "jurgen",
        "Müller",
        "+49 151 23456789",
        "0151-234 567 89",
        "0049 15123456789",
        "juergen@example.de",
        "OSL0000042 ",
    ],
)
def test_the_global_search_box_finds_customers_in_their_own_group(client, shop, query):
    """The box on every page promises products, EANs and customers: it finds customers as the customer search
    does, in a group of their own above the products. Every staff member may look customers up."""
    client.login("cph@example.test")  # another store's clerk: customers are one profile across the chain
    for headers in ({}, HX):
        response = client.get("/stock/", query_string={"q": query}, headers=headers)
        if query.startswith("OSL"):  # a loyalty number opens the profile
            assert shop["juergen"].id and f"/customers/{shop['juergen'].id}" in (
                response.headers.get("HX-Redirect") or response.headers.get("Location", "")
            )
            continue
        page = text(response)
        group = page[page.index('aria-labelledby="found-customers"') : page.index('id="found-products"')]
        assert "Jürgen Müller" in group and f'href="/customers/{shop["juergen"].id}"' in group


def test_the_global_search_shows_no_customer_group_for_product_filters_or_nothing_found(client, shop):
    client.login("clerk@example.test")
    assert "found-customers" in text(client.get("/stock/?q=mueller"))
    assert "found-customers" not in text(client.get("/stock/?q=mueller&category=Jackets"))
    assert "found-customers" not in text(client.get("/stock/?q=mueller&offset=12", headers=HX))
    assert "found-customers" not in text(client.get("/stock/?q=zzzz"))
    assert client.get("/stock/?q=" + "a " * 30).status_code == 422  # too many words: one clear message, no 500
