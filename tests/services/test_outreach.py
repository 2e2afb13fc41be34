"""Outreach from the profile (clienteling/outreach.py): only with consent, up to six products from the wishlist
or the recommendations, capped per customer across all staff in the same lock as the send (real threads), on
the timeline; orders attributed to the clerk who wrote."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from omnistore.clienteling import history, outreach
from omnistore.core.errors import Conflict, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.types import utcnow
from omnistore.customers import services as customer_service
from omnistore.customers.models import Customer, MarketingSend
from omnistore.stores.models import Staff


@pytest.fixture
def world(make):
    variants = {
        f"v{i}": dict(product=f"Product {i}", category="Accessories", size="One size", stock={"HAM": 2})
        for i in range(8)
    }
    shop = make.shop(
        "HAM", "CPH", team={"jonas": ("clerk", "HAM", "Jonas Weber"), "mette": ("clerk", "CPH")}, variants=variants
    )
    anna = make.customer("Anna", "Hansen", email="anna@example.de", locale="de")
    for i in range(8):
        customer_service.add_to_wishlist(anna, shop[f"v{i}"].id, staff=shop.jonas)
    shop["anna"] = anna
    return shop


def grant(world):
    customer_service.record_consent(world.anna, "email", True, staff=world.jonas)


def mails():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "marketing.outreach")).all()


def test_not_offered_and_refused_without_consent(world):
    assert not outreach.offered(world.anna)
    with pytest.raises(ValidationFailed) as refused:
        outreach.send_outreach(world.anna, staff=world.jonas, message="Hi", variant_ids=[world.v0.id])
    assert "message" in refused.value.fields and mails() == []


def test_a_message_with_products_in_the_customers_language_on_the_timeline(world):
    grant(world)
    assert outreach.offered(world.anna)
    send = outreach.send_outreach(
        world.anna,
        staff=world.jonas,
        message="Your scarf is back!\nCome by.",
        variant_ids=[str(world.v1.id), world.v2.id],
    )
    [mail] = mails()
    assert mail.payload["locale"] == "de" and "Hallo Anna" in mail.body
    assert "Product 1" in mail.body and "Product 2" in mail.body and "Product 3" not in mail.body
    assert "Come by." in mail.body and "Jonas Weber" in mail.body
    assert send.staff_id == world.jonas.id and send.detail["variant_ids"] == [world.v1.id, world.v2.id]
    [entry] = [e for e in history.timeline(world.anna).entries if e.kind == "outreach"]
    assert entry.item.staff.name == "Jonas Weber"


@pytest.mark.parametrize(
    ("message", "pick", "field"),
    [
        ("", [0], "message"),
        ("x" * (outreach.MESSAGE_MAX + 1), [0], "message"),
        ("bell\x07", [0], "message"),
        ("Hi", [], "products"),
        ("Hi", list(range(7)), "products"),
        ("Hi", ["-1"], "products"),
        ("Hi", ["abc"], "products"),
        ("Hi", [10**12], "products"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_goes(world, message, pick, field):
    grant(world)
    ids = [world[f"v{p}"].id if isinstance(p, int) and p < 8 else p for p in pick]
    with pytest.raises(ValidationFailed) as refused:
        outreach.send_outreach(world.anna, staff=world.jonas, message=message, variant_ids=ids)
    assert field in refused.value.fields and mails() == []


def test_a_product_not_on_the_wishlist_nor_recommended_is_refused(make, world):
    grant(world)
    stranger = make.variant(make.product("Elsewhere"), size="One size")
    with pytest.raises(ValidationFailed):
        outreach.send_outreach(world.anna, staff=world.jonas, message="Hi", variant_ids=[stranger.id])


def test_the_cap_counts_every_clerk(world):
    grant(world)
    outreach.send_outreach(world.anna, staff=world.jonas, message="Hi", variant_ids=[world.v0.id])
    with pytest.raises(Conflict):
        outreach.send_outreach(world.anna, staff=world.mette, message="Hej", variant_ids=[world.v1.id])
    assert len(mails()) == 1


def test_clerks_at_once_never_pass_the_cap_together(app, world):
    grant(world)
    barrier = threading.Barrier(4)
    outcomes = [None] * 4

    def run(i):
        with app.app_context():
            try:
                customer = db.session.get(Customer, world.anna.id)
                staff = db.session.get(Staff, (world.jonas if i % 2 else world.mette).id)
                variant_id = world[f"v{i}"].id
                db.session.commit()
                barrier.wait(timeout=60)
                outcomes[i] = outreach.send_outreach(customer, staff=staff, message="Hi", variant_ids=[variant_id])
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "Conflict", "Conflict", "MarketingSend"], outcomes
    assert len(mails()) == 1


def test_orders_within_the_window_count_for_the_latest_clerk_once(make, world):
    grant(world)
    now = utcnow()
    bert = make.customer("Bert", "Berg")

    def sent(customer, staff, days_ago):
        db.session.add(
            MarketingSend(
                customer_id=customer.id,
                kind="outreach",
                staff_id=staff.id,
                location_id=staff.location_id,
                created_at=now - timedelta(days=days_ago),
            )
        )
        db.session.commit()

    def order(customer, days_ago, status="placed"):
        o = make.order(world.ham, [(world.v0, 1, world.ham)], status=status, customer_id=customer.id)
        o.placed_at = now - timedelta(days=days_ago)
        db.session.commit()
        return o

    sent(world.anna, world.mette, 20)
    sent(world.anna, world.jonas, 10)
    counted = order(world.anna, 5)  # 5 days after Jonas's message: his
    order(world.anna, 12)  # 8 days after Mette's: hers
    order(world.anna, 4, status="cancelled")  # never a sale
    order(bert, 3)  # nobody wrote to Bert
    result = outreach.orders_attributed_to_outreach(now - timedelta(days=30), now)
    assert result[world.jonas.id].orders == 1 and result[world.jonas.id].sales == {"EUR": counted.total_minor}
    assert result[world.mette.id].orders == 1
    assert outreach.orders_attributed_to_outreach(now - timedelta(days=30), now, days=7)[world.jonas.id].orders == 1
    assert world.mette.id not in outreach.orders_attributed_to_outreach(now - timedelta(days=30), now, days=7)
    only_cph = outreach.orders_attributed_to_outreach(now - timedelta(days=30), now, location_id=world.cph.id)
    assert set(only_cph) == {world.mette.id}
    assert outreach.orders_attributed_to_outreach(now - timedelta(days=2), now) == {}
