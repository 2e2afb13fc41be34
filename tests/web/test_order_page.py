"""The order page: lines with their sources, transfers, history; cancel with a reason; resend; delivered."""

import re

import pytest
from sqlalchemy import select

from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.orders import cancelling, placing
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order, OrderEvent, Transfer
from omnistore.stock.models import StockLevel
from tests.helpers import count_statements


@pytest.fixture
def placed(make):
    ham, cph = make.location("HAM"), make.location("CPH")
    clerk = make.staff(location=ham, email="hanna@example.test", name="Hanna Berg")
    cph_clerk = make.staff(location=cph, email="carl@example.test")
    boot = make.variant(make.product(name="Trail Boot"), size="44")
    make.stock(boot, cph, 2)
    customer = Customer(first_name="Ida", last_name="Lund", email="ida@example.test", created_channel="store")
    db.session.add(customer)
    db.session.commit()
    draft = order_drafts.start_draft(clerk, customer_id=customer.id)
    order_drafts.set_line(draft, boot.id, 1, staff=clerk)
    order = placing.place(draft, idempotency_key="k1", staff=clerk)
    return {"order": order, "clerk": clerk, "cph_clerk": cph_clerk, "boot": boot, "cph": cph, "ham": ham}


def allocated(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.allocated).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def test_the_page_shows_lines_sources_transfers_and_history(client, placed):
    client.login(placed["clerk"].email)
    page = client.get(f"/orders/{placed['order'].number}").get_data(as_text=True)
    assert "Trail Boot" in page and "København" in page and "To pick" in page
    assert "Hanna Berg" in page and "Placed" in page
    assert "Cancel this order" in page


def test_the_history_names_where_each_step_happened_reading_only_those_locations(client, placed, make):
    for code in ("BER", "AAR", "WH1"):  # the network's other locations are not the page's business
        make.location(code)
    events = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == placed["order"].id)).all()
    assert {event.location_id for event in events} - {None} == {placed["ham"].id}
    client.login(placed["clerk"].email)
    with count_statements("SELECT") as seen:
        page = client.get(f"/orders/{placed['order'].number}").get_data(as_text=True)
    placed_entry = re.search(r"<li><strong>Placed</strong>.*?</li>", page, re.S).group(0)
    assert placed_entry.endswith(" · Hanna Berg · Hamburg</li>"), placed_entry  # where it was placed
    reads = [statement for statement in seen if "FROM location" in statement]
    assert reads and all("WHERE location.id" in statement for statement in reads), reads  # never all of them


def test_cancel_needs_a_reason_then_releases_the_goods_and_cancels_the_transfer(client, placed):
    order = placed["order"]
    client.login(placed["clerk"].email)
    refused = client.submit(f"/orders/{order.number}/cancel", {"reason": "   "})
    assert refused.status_code == 422
    assert 'id="cancel-reason-error"' in refused.get_data(as_text=True)
    assert db.session.get(Order, order.id).status == "placed"
    assert allocated(placed["boot"], placed["cph"]) == 1

    done = client.submit(f"/orders/{order.number}/cancel", {"reason": "Customer found it elsewhere"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"
    assert allocated(placed["boot"], placed["cph"]) == 0
    assert {t.status for t in db.session.scalars(select(Transfer))} == {"cancelled"}
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "is cancelled" in page and "Customer found it elsewhere" in page
    assert "Cancel this order" not in page
    again = client.submit(f"/orders/{order.number}/cancel", {"reason": "twice"})
    assert again.status_code == 303
    assert "can no longer be cancelled" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_source_store_cannot_cancel_the_customers_order(client, placed):
    client.login(placed["cph_clerk"].email)
    page = client.get(f"/orders/{placed['order'].number}").get_data(as_text=True)
    assert "Cancel this order" not in page
    response = client.submit(f"/orders/{placed['order'].number}/cancel", {"reason": "no"})
    assert response.status_code == 303
    assert db.session.get(Order, placed["order"].id).status == "placed"


def test_resend_confirmation_queues_the_email_again_when_emails_exist(client, placed):
    client.login(placed["clerk"].email)
    response = client.submit(f"/orders/{placed['order'].number}/resend")
    assert response.status_code == 303
    assert "sent again to ida@example.test" in client.get(response.headers["Location"]).get_data(as_text=True)
    kinds = [e.kind for e in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == placed["order"].id))]
    assert "confirmation_resent" in kinds


def test_other_stores_do_not_see_the_order(client, placed, make):
    stranger = make.staff(location=make.location("AAR"), email="aa@example.test")
    client.login(stranger.email)
    assert client.get(f"/orders/{placed['order'].number}").status_code == 404
    assert client.submit(f"/orders/{placed['order'].number}/cancel", {"reason": "x"}).status_code == 404


@pytest.mark.parametrize("locale, words", [("de", "Bestellung storniert"), ("da", "Bestilling annulleret")])
def test_a_cancelled_lines_reason_is_shown_in_the_viewers_language(client, placed, locale, words):
    order = placed["order"]
    cancelling.cancel(order, staff=placed["clerk"], reason="Customer found it elsewhere")  # placed in English
    client.login(placed["clerk"].email)
    client.submit("/language", {"locale": locale, "next": "/"})
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert f'<small class="muted">{words}</small>' in page
    assert "Customer found it elsewhere" in page  # what the clerk typed stays as typed


def test_an_older_lines_stored_reason_text_is_still_shown(client, placed):
    line = placed["order"].lines[0]
    line.status, line.status_reason = "released", "pickup expired"  # written before reasons became codes
    db.session.commit()
    client.login(placed["clerk"].email)
    client.submit("/language", {"locale": "de", "next": "/"})
    page = client.get(f"/orders/{placed['order'].number}").get_data(as_text=True)
    assert '<small class="muted">pickup expired</small>' in page
