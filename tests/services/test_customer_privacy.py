"""Merges and erases at the same moment, with real threads (one app context and connection each): the
profiles are locked in a stable order and read again, so exactly one consistent outcome remains — no profile
pointing at itself through others, nothing lost, nothing of an erased person left in a merge record."""

import json
import threading

import pytest
from sqlalchemy import func, select

from omnistore.clienteling import erasure as customer_erasure
from omnistore.clienteling import merging as customer_merging
from omnistore.core.errors import Conflict
from omnistore.core.extensions import db
from omnistore.customers import finding
from omnistore.customers import services as customer_service
from omnistore.customers.models import Customer, CustomerMerge
from omnistore.orders import drafts as order_drafts
from omnistore.orders.models import Order
from omnistore.stores.models import Staff


@pytest.fixture
def people(make):
    ham = make.location("HAM")
    manager = make.staff("manager", ham, email="manager@example.test")
    variant = make.variant()
    found = {"manager": manager}
    for name, points in (("anna", 10), ("bert", 20), ("carl", 40)):
        person = make.customer(name.title(), "Tester", email=f"{name}@example.de", loyalty_points=points)
        make.order(ham, [(variant, 1, ham)], status="collected", customer_id=person.id)
        found[name] = person
    return found


def run_together(app, jobs):
    """Run each job in its own thread with its own app context; each first reads what a view would read
    (the manager, the profiles), then all act at once. Returns each job's result or exception."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def run(i):
        with app.app_context():
            try:
                act = jobs[i]()
                barrier.wait(timeout=60)
                outcomes[i] = act()
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def merge(people, survivor, merged):
    def prepare():
        staff = db.session.get(Staff, people["manager"].id)
        keep = finding.get_active_customer(people[survivor].id)
        gone = finding.get_active_customer(people[merged].id)
        return lambda: customer_merging.merge_customers(keep, gone, staff=staff)

    return prepare


def erase(people, name):
    def prepare():
        staff = db.session.get(Staff, people["manager"].id)
        customer = finding.get_active_customer(people[name].id)
        return lambda: customer_erasure.erase_customer(customer, staff=staff, confirmation="ERASE")

    return prepare


def assert_consistent(people):
    """Every merged profile leads to an active or erased one without a cycle; orders and points all kept."""
    db.session.expire_all()
    everyone = {c.id: c for c in db.session.scalars(select(Customer))}
    for customer in everyone.values():
        seen, current = set(), customer
        while current.merged_into_id is not None:
            assert current.id not in seen, f"cycle through #{current.id}"
            seen.add(current.id)
            current = everyone[current.merged_into_id]
        assert current.merged_into_id is None
    stubs = {c.id for c in everyone.values() if c.merged_into_id is not None}
    assert db.session.scalar(select(func.count()).select_from(CustomerMerge)) == len(stubs)
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id.in_(stubs))) == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == 3
    if not any(c.erased_at for c in everyone.values()):
        assert sum(c.loyalty_points for c in everyone.values()) == 70


def test_a_into_b_and_b_into_a_at_once_leave_one_merge(app, people):
    outcomes = run_together(app, [merge(people, "anna", "bert"), merge(people, "bert", "anna")])
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "CustomerMerge"], outcomes
    refused = next(o for o in outcomes if isinstance(o, Conflict))
    assert "a moment ago" in str(refused.message)
    assert_consistent(people)
    db.session.expire_all()
    anna, bert = db.session.get(Customer, people["anna"].id), db.session.get(Customer, people["bert"].id)
    survivor = anna if anna.active else bert
    assert [anna.active, bert.active].count(True) == 1 and survivor.loyalty_points == 30
    record = db.session.scalar(select(CustomerMerge))
    assert record.survivor_id == survivor.id and record.merged_snapshot["email"] in (
        "anna@example.de",
        "bert@example.de",
    )


def test_a_triangle_of_merges_at_once_makes_no_cycle(app, people):
    outcomes = run_together(
        app, [merge(people, "anna", "bert"), merge(people, "bert", "carl"), merge(people, "carl", "anna")]
    )
    assert all(isinstance(o, CustomerMerge | Conflict) for o in outcomes), outcomes
    assert 1 <= sum(isinstance(o, CustomerMerge) for o in outcomes) <= 2
    assert_consistent(people)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.merged_into_id.is_(None))) >= 1


@pytest.mark.parametrize("erased", ["bert", "anna"])
def test_an_erase_and_a_merge_at_once_leave_nothing_of_the_erased(app, people, erased):
    # Bert merged into Anna while one manager erases Bert (the one merged) or Anna (the one kept).
    outcomes = run_together(app, [merge(people, "anna", "bert"), erase(people, erased)])
    merged, erase_outcome = outcomes
    assert isinstance(merged, CustomerMerge | Conflict) and isinstance(erase_outcome, Customer | Conflict), outcomes
    if erased == "bert":  # one of the two, never both: the merge record would keep Bert's data
        assert [isinstance(o, Conflict) for o in outcomes].count(True) == 1, outcomes
    else:  # erasing Anna after the merge takes Bert with her; before it, the merge is refused
        assert isinstance(erase_outcome, Customer), outcomes
    assert_consistent(people)
    if isinstance(erase_outcome, Customer):
        gone = {f"{erased}@example.de", erased.title()} | (
            {"bert@example.de", "Bert"} if erased == "anna" and isinstance(merged, CustomerMerge) else set()
        )
        db.session.expire_all()
        kept = [json.dumps(m.merged_snapshot, ensure_ascii=False) for m in db.session.scalars(select(CustomerMerge))]
        kept += [f"{c.first_name} {c.email}" for c in db.session.scalars(select(Customer))]
        assert [text for text in kept if any(word in text for word in gone)] == []


# --- an erase and the counter at the same moment ------------------------------------------------------------


@pytest.fixture
def counter(make, people):
    ham = db.session.get(Staff, people["manager"].id).location
    clerk = make.staff("clerk", ham, email="clerk@example.test")
    variant = make.variant(price_minor=3000)
    make.stock(variant, ham, 5)
    draft = order_drafts.start_draft(clerk, customer_id=people["anna"].id)
    order_drafts.set_line(draft, variant.id, 2, staff=clerk)
    order_drafts.choose_fulfilment(
        draft,
        "delivery",
        staff=clerk,
        payment_state="paid",
        address={
            "name": "Anna Tester",
            "street": "Elbchaussee 9",
            "postcode": "22763",
            "city": "Hamburg",
            "country": "DE",
        },
    )
    return {"clerk": clerk, "variant": variant, "token": draft.token, "ham": ham}


def test_an_erase_while_the_customers_draft_is_placed_leaves_no_address_and_no_held_units(app, people, counter):
    from omnistore.orders import placing
    from omnistore.orders.models import DraftHold, OrderDraft
    from omnistore.stock.models import StockLevel

    def place():
        clerk = db.session.get(Staff, counter["clerk"].id)
        draft = order_drafts.draft_for(counter["token"], clerk)
        return lambda: placing.place(draft, staff=clerk)

    placed, erased = run_together(app, [place, erase(people, "anna")])
    assert isinstance(erased, Customer), erased
    assert isinstance(placed, Order) or "personal data was erased" in str(getattr(placed, "message", placed))
    db.session.expire_all()
    draft = db.session.scalar(select(OrderDraft).where(OrderDraft.token == counter["token"]))
    assert draft.status in ("placed", "abandoned") and draft.delivery_address == {}
    assert db.session.scalar(select(func.count()).select_from(DraftHold)) == 0
    orders = db.session.scalars(select(Order).where(Order.customer_id == people["anna"].id)).all()
    assert all(order.delivery_address == {} for order in orders)
    level = db.session.scalar(select(StockLevel).where(StockLevel.variant_id == counter["variant"].id))
    assert level.allocated == (2 if isinstance(placed, Order) else 0)


def test_placing_an_erased_customers_draft_is_refused_with_the_reason(app, people, counter):
    from omnistore.core.errors import InvalidTransition
    from omnistore.orders import placing
    from omnistore.orders.models import OrderDraft

    clerk = db.session.get(Staff, counter["clerk"].id)
    draft = order_drafts.draft_for(counter["token"], clerk)  # the clerk's page was open …
    run_together(app, [erase(people, "anna")])  # … while a manager erased the customer
    with pytest.raises(InvalidTransition, match="personal data was erased"):
        placing.place(draft, staff=clerk)
    # Even an open draft the erase could not see (attached a moment after it) is never placed.
    db.session.execute(db.update(OrderDraft).where(OrderDraft.id == draft.id).values(status="open"))
    db.session.commit()
    with pytest.raises(InvalidTransition, match="personal data was erased"):
        placing.place(db.session.get(OrderDraft, draft.id), staff=clerk)
    assert (
        db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == people["anna"].id)) == 1
    )  # the collected one from before


def test_a_change_to_a_profile_erased_meanwhile_is_refused(app, people):
    from omnistore.core.errors import NotFound
    from omnistore.customers.models import CustomerNote

    anna = finding.get_active_customer(people["anna"].id)  # the clerk's profile page was open …
    run_together(app, [erase(people, "anna")])  # … while a manager erased her
    with pytest.raises(NotFound):
        customer_service.add_note(anna, "Anna prefers navy", staff=db.session.get(Staff, people["manager"].id))
    assert db.session.scalar(select(func.count()).select_from(CustomerNote)) == 0
