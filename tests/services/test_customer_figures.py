"""The manager's customer figures: lifetime value net of returns per currency, new customers per channel,
returning buyers and repeat visitors, stages and movements, acquisition cost and the spend a manager enters
(one row per key, also when two enter at once), the clerks' endless-aisle orders; store and network."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from omnistore.clienteling import lifecycle
from omnistore.clienteling.lifecycle import Stage
from omnistore.core.errors import Forbidden, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.models import CustomerVisit
from omnistore.returns.models import Return
from omnistore.reviews import customer_figures as cf
from omnistore.reviews import scope as review_scope
from omnistore.reviews.models import AcquisitionSpend

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
IN = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # inside the period 2026-06-01 … 2026-06-20
BEFORE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def scope(staff, store="network"):
    return review_scope.scope_for(staff, store=store, period="custom", first="2026-06-01", last="2026-06-20", now=NOW)


@pytest.fixture
def net(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={"admin": "admin", "manager": ("manager", "HAM"), "clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={"parka": dict(prices={"DE": 10000, "DK": 100000})},
    )
    return made


def sale(make, net, person, store, at, *, channel="store", status="collected", source=None, **fields):
    source = source or store
    return make.order(
        store,
        [(net.parka, 1, source)],
        status=status,
        channel=channel,
        customer=person,
        placed_at=at,
        origin_location_id=store.id,
        **fields,
    )


def refund(order, store, staff, minor, status="refunded"):
    db.session.add(
        Return(
            order_id=order.id,
            location_id=store.id,
            status=status,
            reason="does_not_fit",
            currency=order.currency,
            refund_minor=minor,
            received_by_staff_id=staff.id,
            created_at=IN + timedelta(days=1),
        )
    )
    db.session.commit()


def test_lifetime_value_is_net_of_returns_and_per_currency(make, net):
    anna, bo = make.customer("Anna"), make.customer("Bo")
    in_period = sale(make, net, anna, net.ham, IN)
    sale(make, net, anna, net.ham, BEFORE, channel="web")
    sale(make, net, anna, net.ham, IN, status="cancelled")  # never a sale
    refund(in_period, net.ham, net.admin, 3000)
    refund(in_period, net.ham, net.admin, 5000, status="refused")  # nothing refunded
    sale(make, net, bo, net.cph, IN)
    rows = {r.currency: (r.customers, r.net_minor, r.average_minor) for r in cf.lifetime_value(scope(net.admin))}
    assert rows == {"EUR": (1, 17000, 17000), "DKK": (1, 100000, 100000)}
    ham = cf.lifetime_value(scope(net.manager, "HAM"))
    assert [(r.currency, r.net_minor) for r in ham] == [("EUR", 17000)]


def test_new_customers_returning_buyers_and_repeat_visitors(make, net):
    anna, bo, carl = make.customer("Anna"), make.customer("Bo"), make.customer("Carl")
    sale(make, net, anna, net.ham, BEFORE)
    sale(make, net, anna, net.ham, IN)  # returning
    sale(make, net, bo, net.cph, IN, channel="web")  # new, web, Copenhagen
    sale(make, net, carl, net.ham, IN)  # new, store, Hamburg
    sale(make, net, carl, net.ham, IN + timedelta(hours=1), channel="app")  # not a second first
    dora, eve, fay = make.customer("Dora"), make.customer("Eve"), make.customer("Fay")
    for person, at in ((dora, IN), (dora, IN + timedelta(days=1)), (eve, BEFORE), (eve, IN), (fay, IN)):
        db.session.add(CustomerVisit(customer_id=person.id, location_id=net.ham.id, created_at=at))
    db.session.add(CustomerVisit(customer_id=fay.id, location_id=net.cph.id, created_at=BEFORE))
    db.session.commit()

    network = cf.customer_figures(scope(net.admin))
    assert network.new_customers == {"web": 1, "store": 1, "app": 0, "phone": 0}
    assert (network.buyers, network.returning_buyers) == (3, 1)
    assert (network.visitors, network.visits, network.repeat_visitors) == (3, 4, 3)  # Fay was in Copenhagen
    ham = cf.customer_figures(scope(net.manager, "HAM"))
    assert ham.new_customers == {"web": 0, "store": 1, "app": 0, "phone": 0}
    assert (ham.buyers, ham.returning_buyers) == (2, 1)
    assert (ham.visitors, ham.visits, ham.repeat_visitors) == (3, 4, 2)  # Fay's earlier visit was elsewhere
    assert ham.returning_share == 0.5


def test_stages_at_the_end_and_the_movements_in_the_period(make, net):
    anna = make.customer("Anna", preferred_location_id=net.ham.id)
    bo = make.customer("Bo")
    lifecycle.record_stage_changes(datetime(2026, 5, 20, tzinfo=UTC))  # before the period: both new
    sale(make, net, anna, net.ham, IN)
    sale(make, net, bo, net.cph, IN)
    lifecycle.record_stage_changes(IN + timedelta(days=1))
    network = cf.customer_figures(scope(net.admin))
    assert network.movements == [("acquisition", "first_purchase", 2)]
    assert network.stages[Stage.FIRST_PURCHASE] == 2 and network.stages[Stage.ACQUISITION] == 0
    ham = cf.customer_figures(scope(net.manager, "HAM"))
    assert ham.movements == [("acquisition", "first_purchase", 1)]
    assert sum(ham.stages.values()) == 1


def test_acquisition_cost_is_the_spend_over_the_new_customers_of_that_month_and_channel(make, net):
    for n in range(4):
        sale(make, net, make.customer(f"Web{n}"), net.ham, IN, channel="web")
    ham = scope(net.manager, "HAM")
    cf.set_spend(ham, cf.SpendEntry("2026-06", "web", "EUR", "1000"), staff=net.manager)
    cf.set_spend(ham, cf.SpendEntry("2026-06", "web", "EUR", "1200,50"), staff=net.manager)  # replaces
    cf.set_spend(ham, cf.SpendEntry("2026-06", "web", "DKK", "800.5"), staff=net.manager)
    cf.set_spend(ham, cf.SpendEntry("2026-05", "web", "EUR", "99"), staff=net.manager)  # before the period
    rows = [
        (r.month, r.currency, r.spend_minor, r.new_customers, r.cost_minor)
        for r in cf.customer_figures(ham).acquisition
    ]
    assert rows == [
        (date(2026, 6, 1), "DKK", 80050, 4, 20012),
        (date(2026, 6, 1), "EUR", 120050, 4, 30012),
    ]
    assert db.session.scalar(select(func.count()).select_from(AcquisitionSpend)) == 3
    with pytest.raises(Forbidden):  # the network's spend is an admin's
        cf.set_spend(scope(net.admin), cf.SpendEntry("2026-06", "web", "EUR", "1"), staff=net.manager)
    cf.set_spend(scope(net.admin), cf.SpendEntry("2026-06", "web", "EUR", "500"), staff=net.admin)
    network = [(r.currency, r.spend_minor) for r in cf.customer_figures(scope(net.admin)).acquisition]
    assert network == [("DKK", 80050), ("EUR", 170050)]  # the network's own and every store's


@pytest.mark.parametrize(
    "entry, bad",
    [
        (("2026-13", "web", "EUR", "1"), "month"),
        (("", "web", "EUR", "1"), "month"),
        (("2026-06", "fax", "EUR", "1"), "channel"),
        (("2026-06", "web", "USD", "1"), "currency"),
        (("2026-06", "web", "EUR", "-5"), "amount"),
        (("2026-06", "web", "EUR", "1e9"), "amount"),
        (("2026-06", "web", "EUR", "99999999999"), "amount"),
        (("2026-06", "web", "EUR", "1,234"), "amount"),
        (("2026-06", "web", "EUR", "١٢"), "amount"),
        (("2026-06", "web", "EUR", "12\x00"), "amount"),
        (("2026-06", "web", "EUR", ""), "amount"),
    ],
)
def test_bad_spend_is_refused_at_its_field_and_nothing_changes(make, net, entry, bad):
    with pytest.raises(ValidationFailed) as refused:
        cf.set_spend(scope(net.manager, "HAM"), cf.SpendEntry(*entry), staff=net.manager)
    assert set(refused.value.fields) == {bad}
    assert db.session.scalar(select(func.count()).select_from(AcquisitionSpend)) == 0


def test_two_managers_entering_the_same_spend_at_once_leave_one_row(app, make, net):
    ham = scope(net.manager, "HAM")
    errors, start = [], threading.Barrier(4)

    def enter(amount):
        with app.app_context():
            try:
                start.wait()
                cf.set_spend(ham, cf.SpendEntry("2026-06", "web", "EUR", amount), staff=net.manager)
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=enter, args=(str(n),)) for n in (10, 20, 30, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    [row] = db.session.scalars(select(AcquisitionSpend)).all()
    assert row.amount_minor in (1000, 2000, 3000, 4000)


def test_the_clerks_endless_aisle_orders(make, net):
    anna = make.customer("Anna")
    sale(make, net, anna, net.ham, IN, source=net.cph, placed_by_staff_id=net.clerk.id)  # from Copenhagen
    sale(make, net, anna, net.ham, IN, source=net.cph, placed_by_staff_id=net.clerk.id, status="cancelled")
    sale(make, net, anna, net.ham, IN, placed_by_staff_id=net.clerk.id)  # from the shelf here: not endless aisle
    [row] = cf.customer_figures(scope(net.manager, "HAM")).clerks
    assert (row.name, row.orders, row.sales) == ("Jonas Weber", 2, {"EUR": 10000})
    assert cf.customer_figures(scope(net.admin)).clerks == [row]


def test_offers_and_orders_after_outreach_are_in_the_figures(make):
    """Made through the product's verbs: an offer defined, issued and redeemed in the builder; an outreach
    message with consent, and the customer's order after it."""
    from omnistore.clienteling import outreach
    from omnistore.customers import services as customers
    from omnistore.offers import services as offers
    from omnistore.orders import discounts, drafts, placing

    shop = make.shop(
        "HAM",
        "CPH",
        team={"admin": "admin", "manager": ("manager", "HAM"), "clerk": ("clerk", "HAM", "Jonas Weber")},
        variants={"parka": dict(prices={"DE": 10000, "DK": 100000}, stock={"HAM": 10})},
    )
    today = datetime.now(UTC).date()
    offer = offers.define_offer(
        offers.OfferTerms(
            name="Parka 10 %",
            kind="percent",
            value="10",
            scope="basket",
            market="DE",
            valid_from=today.isoformat(),
            valid_until=(today + timedelta(days=30)).isoformat(),
            uses_per_customer="1",
        ),
        staff=shop.manager,
    )
    anna = make.customer("Anna", email="anna@example.de")
    bo = make.customer("Bo", email="bo@example.de")
    issued = offers.issue_to_customer(offer, anna, staff=shop.clerk)
    offers.issue_to_customer(offer, bo, staff=shop.clerk)

    def order(customer, code=None):
        draft = drafts.start_draft(shop.clerk, customer_id=customer.id)
        drafts.set_line(draft, shop.parka.id, 1, staff=shop.clerk)
        drafts.choose_fulfilment(draft, "pickup", staff=shop.clerk, pickup_location_id=shop.ham.id)
        if code:
            discounts.apply_offer(draft, code, staff=shop.clerk)
        return placing.place(draft, staff=shop.clerk)

    redeemed = order(anna, issued.code)
    customers.record_consent(bo, "email", True, staff=shop.clerk)
    customers.add_to_wishlist(bo, shop.parka.id, staff=shop.clerk)
    outreach.send_outreach(bo, staff=shop.clerk, message="The parka is back.", variant_ids=[shop.parka.id])
    after_outreach = order(bo)

    def figures(staff, store="network"):
        # The figures count stores' local days: late in the UTC day, Hamburg's is already tomorrow.
        around = dict(first=(today - timedelta(days=1)).isoformat(), last=(today + timedelta(days=1)).isoformat())
        period = dict(period="custom", **around)
        return cf.customer_figures(review_scope.scope_for(staff, store=store, **period))

    for found in (figures(shop.manager, "HAM"), figures(shop.admin)):
        [total] = found.offers
        assert (total.currency, total.issued, total.redeemed, total.discount_minor) == ("EUR", 2, 1, 1000)
        assert total.sales_minor == redeemed.total_minor == 9000
        [clerk] = found.outreach
        assert (clerk.name, clerk.orders, clerk.sales) == ("Jonas Weber", 1, {"EUR": after_outreach.total_minor})
    assert figures(shop.admin, "CPH").outreach == [] and figures(shop.admin, "CPH").offers == []
