"""Markets on the screens: each clerk sees their market's prices in their language, a product not sold in the
market says so at the counter, documents show the market's VAT, a customer's figures stay per currency."""

import re

import pytest
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.customers.models import Customer
from omnistore.orders import drafts as order_drafts
from omnistore.orders import placing
from omnistore.stores.models import Staff

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shop(make):
    make.market("DK")
    ham, cph = make.location("HAM"), make.location("CPH")
    make.staff(location=ham, email="hanna@example.test")
    make.staff(location=cph, email="carl@example.test")
    parka = make.variant(make.product(name="Fjord Parka"), size="XL", prices={"DE": 24995, "DK": 189995})
    german = make.variant(make.product(name="Lederhose"), size="50", prices={"DE": 19995})
    make.stock(parka, ham, 3)
    make.stock(german, cph, 2)
    customer = Customer(
        first_name="Ida", last_name="Lund", email="ida@example.test", locale="da", created_channel="store"
    )
    db.session.add(customer)
    db.session.commit()
    return {"ham": ham, "cph": cph, "parka": parka, "german": german, "customer": customer}


def speak(email, locale):
    db.session.execute(Staff.__table__.update().where(Staff.email == email).values(locale=locale))
    db.session.commit()


def text(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True).replace("\xa0", " "))


@pytest.mark.parametrize(
    ("email", "locale", "price"),
    [
        ("carl@example.test", "da", "1.899,95 kr."),
        ("carl@example.test", "de", "1.899,95 kr."),
        ("carl@example.test", "en", "kr. 1,899.95"),
        ("hanna@example.test", "de", "249,95 €"),
        ("hanna@example.test", "en", "€249.95"),
    ],
)
def test_each_clerk_sees_the_price_of_their_market_in_their_language(client, shop, email, locale, price):
    speak(email, locale)
    client.login(email)
    search = text(client.get("/stock/", query_string={"q": "parka"}))
    product = text(client.get("/stock/", query_string={"q": shop["parka"].ean}, follow_redirects=True))
    assert price in search and price in product
    other = "€" if "kr." in price else "kr."
    assert other not in search and other not in product


def test_a_product_not_sold_in_the_market_says_so_at_the_counter(client, shop):
    client.login("carl@example.test")
    product = text(client.get("/stock/", query_string={"q": shop["german"].ean}, follow_redirects=True))
    assert "Not sold in Danmark" in product
    response = client.get("/orders/new", query_string={"variant_id": shop["german"].id})
    builder = text(client.get(response.headers["Location"]))
    assert "Not sold in Danmark" in builder
    assert "Not sold in Danmark: it has no price in DKK." in builder  # the proposal's reason
    # In Hamburg the same product is sold, in euros.
    client.submit("/logout")
    client.login("hanna@example.test")
    assert "€199.95" in text(client.get("/stock/", query_string={"q": shop["german"].ean}, follow_redirects=True))


def test_the_confirmation_and_the_order_page_show_the_markets_vat(client, make, shop):
    clerk = db.session.scalar(select(Staff).where(Staff.email == "carl@example.test"))
    draft = order_drafts.start_draft(clerk, customer_id=shop["customer"].id)
    order_drafts.set_line(draft, shop["parka"].id, 1, staff=clerk)
    order = placing.place(draft, staff=clerk)
    email = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    body = email.body.replace("\xa0", " ")
    assert "1.899,95 kr." in body and "inkl. 25% moms: 379,99 kr." in body  # Danish, the customer's language
    assert "379,99 kr." in email.payload["html"].replace("\xa0", " ")
    hooks = {"currency": order.currency, "market": order.market_code, "total_minor": order.total_minor}
    assert hooks == {"currency": "DKK", "market": "DK", "total_minor": 189995}
    client.login("carl@example.test")
    page = text(client.get(f"/orders/{order.number}"))
    assert "kr. 1,899.95" in page and "incl. VAT 25%" in page and "kr. 379.99" in page


def test_a_customers_figures_are_per_currency(client, make, shop):
    make.stock(shop["parka"], shop["cph"], 1)
    for email in ("carl@example.test", "hanna@example.test"):
        clerk = db.session.scalar(select(Staff).where(Staff.email == email))
        draft = order_drafts.start_draft(clerk, customer_id=shop["customer"].id)
        order_drafts.set_line(draft, shop["parka"].id, 1, staff=clerk)
        placing.place(draft, staff=clerk)
    client.login("hanna@example.test")  # a clerk of another market: the figures stay in their currencies
    page = client.get(f"/customers/{shop['customer'].id}").get_data(as_text=True).replace("\xa0", " ")
    ltv = re.search(r'data-figure="ltv">(.*?)</dd>', page, re.S).group(1)
    assert 'data-currency="DKK">kr. 1,899.95' in ltv and 'data-currency="EUR">€249.95' in ltv
    assert "2,149.90" not in page  # never the two added up
