"""Roles and store scope, enforced on the server for every view."""

import pytest

from omnistore.core.extensions import db
from omnistore.orders.models import Order

STAFF_PAGES = ["/", "/stock/", "/customers/", "/orders/", "/pickups/"]


@pytest.fixture
def network(make):
    ham, cph = make.location("HAM"), make.location("CPH")
    jacket = make.variant()
    ham_order = make.order(ham, [(jacket, 1, ham)])
    cph_order = make.order(cph, [(jacket, 2, cph)], channel="store")
    return {"ham": ham, "cph": cph, "ham_order": ham_order.number, "cph_order": cph_order.number}


@pytest.mark.parametrize("path", STAFF_PAGES + ["/manager/", "/orders/OS-26-000001"])
def test_anonymous_is_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_clerk_opens_every_staff_page(client, make, network, path):
    client.login(make.staff("clerk", network["ham"]).email)
    assert client.get(path).status_code == 200


def test_clerk_gets_403_on_manager_pages(client, make, network):
    client.login(make.staff("clerk", network["ham"]).email)
    response = client.get("/manager/")
    assert response.status_code == 403
    assert "permission" in response.get_data(as_text=True)
    assert 'href="/manager/"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_open_manager_pages(client, make, network, role):
    client.login(make.staff(role, network["ham"]).email)
    assert client.get("/manager/").status_code == 200
    assert 'href="/manager/"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["clerk", "manager"])
def test_another_stores_order_is_not_found(client, make, network, role):
    client.login(make.staff(role, network["ham"]).email)
    assert client.get(f"/orders/{network['ham_order']}").status_code == 200
    response = client.get(f"/orders/{network['cph_order']}")
    assert response.status_code == 404
    assert "No order with that number" in response.get_data(as_text=True)
    assert "København" not in response.get_data(as_text=True)
    listing = client.get("/orders/").get_data(as_text=True)
    assert network["ham_order"] in listing and network["cph_order"] not in listing


def test_a_store_that_supplies_an_order_sees_it(client, make, network):
    jacket = make.variant()
    supplied = make.order(network["cph"], [(jacket, 1, network["ham"])])  # Hamburg ships to Copenhagen
    client.login(make.staff("clerk", network["ham"]).email)
    assert client.get(f"/orders/{supplied.number}").status_code == 200


def test_admin_sees_every_store(client, make, network):
    client.login(make.staff("admin", network["ham"]).email)
    assert client.get(f"/orders/{network['cph_order']}").status_code == 200
    listing = client.get("/orders/").get_data(as_text=True)
    assert network["ham_order"] in listing and network["cph_order"] in listing


@pytest.mark.parametrize("number", ["OS-99-999999", "nonsense", "ö" * 300, "%00", "1 OR 1=1"])
def test_unknown_order_numbers_are_404(client, make, network, number):
    client.login(make.staff("clerk", network["ham"]).email)
    assert client.get(f"/orders/{number}").status_code in (400, 404)  # a NUL byte is a bad request


def test_order_list_filters_and_bad_filters(client, make, network):
    client.login(make.staff("clerk", network["ham"]).email)
    db.session.execute(db.update(Order).where(Order.number == network["ham_order"]).values(status="ready"))
    db.session.commit()
    assert network["ham_order"] in client.get("/orders/?status=ready").get_data(as_text=True)
    assert network["ham_order"] not in client.get("/orders/?status=placed").get_data(as_text=True)
    for bad in ("?status=nonsense", "?page=-4", "?page=abc", "?page=99999999999999999999"):
        assert client.get("/orders/" + bad).status_code == 200


def test_htmx_filter_returns_only_the_list(client, make, network):
    client.login(make.staff("clerk", network["ham"]).email)
    response = client.get("/orders/?status=placed", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="order-list"') and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]
    boosted = client.get("/orders/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


@pytest.mark.parametrize(("role", "shown"), [("clerk", False), ("manager", True), ("admin", True)])
def test_managers_find_the_stock_import_from_the_stock_page(client, make, network, role, shown):
    client.login(make.staff(role, network["ham"]).email)
    assert ('href="/stock/import"' in client.get("/stock/").get_data(as_text=True)) is shown
