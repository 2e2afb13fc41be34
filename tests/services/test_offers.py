"""Offers: the discount maths per kind and scope, rounding to minor units, validity, the market, uses taken once
(also by two tablets at once, on PostgreSQL), given back on cancel, set-based issuing and loyalty rewards."""

import threading
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import Conflict, Forbidden, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.customers.models import Customer
from omnistore.offers import discounts
from omnistore.offers import services as offers
from omnistore.offers.models import IssuedOffer, Offer, OfferRedemption
from omnistore.orders import cancelling, order_rules
from omnistore.orders import discounts as order_discounts
from omnistore.orders import drafts as order_drafts
from omnistore.orders import placing as ordering
from omnistore.orders.models import Order

TODAY = utcnow().date()


def line(total_or_price, quantity=1, product_id=1, category="Jackets"):
    return discounts.BasketLine(product_id, category, quantity, total_or_price)


def terms(kind, value, scope="basket", category="", product_id=None):
    return SimpleNamespace(kind=kind, value=value, scope=scope, category=category, product_id=product_id)


# --- the maths ----------------------------------------------------------------------------------------------


def test_a_percentage_rounds_half_up_to_a_whole_minor_unit_and_spreads_exactly():
    # 15 % of 3 × 9.99 = 4.4955 → 4.50; shares add up to the total exactly.
    found = discounts.discount_for(terms("percent", 15), [line(999, 3)])
    assert found.total_minor == 450 and found.per_line == (450,)
    # 10 % of 0.05 = 0.005 → half up: 0.01
    assert discounts.discount_for(terms("percent", 10), [line(5)]).total_minor == 1
    assert discounts.discount_for(terms("percent", 10), [line(4)]).total_minor == 0
    split = discounts.discount_for(terms("percent", 33), [line(1000), line(1000), line(1001)])
    assert split.total_minor == 990 and sum(split.per_line) == 990 and all(s <= 1001 for s in split.per_line)


def test_an_amount_never_takes_more_than_what_it_applies_to():
    assert discounts.discount_for(terms("amount", 500), [line(300), line(100)]).per_line == (300, 100)
    found = discounts.discount_for(terms("amount", 500), [line(3000), line(1000)])
    assert found.total_minor == 500 and found.per_line == (375, 125)
    assert discounts.discount_for(terms("percent", 100), [line(2999, 2)]).total_minor == 5998


def test_category_and_product_offers_apply_to_their_lines_only():
    basket = [line(4000, category="Jackets", product_id=1), line(2000, category="Shoes", product_id=2)]
    assert discounts.discount_for(terms("percent", 10, "category", category="jackets"), basket).per_line == (400, 0)
    assert discounts.discount_for(terms("amount", 5000, "product", product_id=2), basket).per_line == (0, 2000)
    none = discounts.discount_for(terms("percent", 10, "category", category="Bags"), basket)
    assert not none.applies and none.per_line == (0, 0)


@pytest.mark.parametrize("total,weights", [(7, [1, 1, 1]), (10, [3, 3, 4]), (1, [5, 5]), (99, [1, 2, 3, 4, 90])])
def test_spreading_adds_up_and_keeps_every_line_at_or_above_zero(total, weights):
    shares = discounts.spread(total, weights)
    assert sum(shares) == min(total, sum(weights)) and all(0 <= s <= w for s, w in zip(shares, weights, strict=True))


# --- defining -----------------------------------------------------------------------------------------------


@pytest.fixture
def world(make):
    made = make.shop(
        "HAM",
        "CPH",
        team={"clerk": ("clerk", "HAM"), "manager": ("manager", "HAM"), "dk": ("manager", "CPH"), "admin": ("admin",)},
        variants={
            "jacket": dict(product="Rain Jacket", category="Jackets", price_minor=10000, stock={"HAM": 10}),
            "boot": dict(product="Boot", category="Shoes", price_minor=5000, stock={"HAM": 10}),
        },
    )
    made["customer"] = make.customer(email="kunde@example.test")
    return made


def define(world, staff=None, **changes):
    fields = dict(
        name="Winter 15 %",
        kind="percent",
        value="15",
        scope="basket",
        market="DE",
        valid_from=TODAY.isoformat(),
        valid_until=(TODAY + timedelta(days=30)).isoformat(),
        uses_per_customer="1",
    )
    fields.update(changes)
    return offers.define_offer(offers.OfferTerms(**fields), staff=staff or world["manager"])


def test_a_manager_defines_an_offer_and_bad_fields_are_named(world):
    offer = define(world, kind="amount", value="5,50")
    assert (offer.kind, offer.value, offer.market_code) == ("amount", 550, "DE")
    cases = [
        (dict(name="  "), "name"),
        (dict(name="x\x00"), "name"),
        (dict(value="0"), "value"),
        (dict(value="101"), "value"),
        (dict(kind="amount", value="-5"), "value"),
        (dict(kind="amount", value="5.555"), "value"),
        (dict(kind="bogus"), "kind"),
        (dict(scope="category", category="Bags"), "category"),
        (dict(scope="product", product_code="NOPE"), "product_code"),
        (
            dict(
                valid_until=(TODAY - timedelta(days=1)).isoformat(), valid_from=(TODAY - timedelta(days=5)).isoformat()
            ),
            "valid_until",
        ),
        (dict(valid_from="2026-13-01"), "valid_from"),
        (dict(valid_until=(TODAY - timedelta(days=1)).isoformat()), "valid_until"),
        (dict(uses_per_customer="0"), "uses_per_customer"),
        (dict(market="DK"), "market"),  # a German store's manager defines German offers
        (dict(market="ZZ"), "market"),
    ]
    before = db.session.scalar(select(func.count()).select_from(Offer))
    for change, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            define(world, **change)
        assert field in refused.value.fields, change
    assert db.session.scalar(select(func.count()).select_from(Offer)) == before
    with pytest.raises(Forbidden):
        define(world, staff=world["clerk"])
    assert define(world, market="DK", staff=world["admin"]).market_code == "DK"
    assert define(world, scope="product", product_code=world["boot"].sku).product_id == world["boot"].product_id
    assert define(world, scope="category", category="jackets").category == "Jackets"


# --- issuing ------------------------------------------------------------------------------------------------


def test_issuing_to_many_is_one_set_based_insert_and_never_duplicates(world, make):
    offer = define(world, uses_per_customer="2")
    people = [make.customer(email=f"p{i}@example.test") for i in range(5)]
    erased = make.customer(email="gone@example.test", erased_at=utcnow())
    ids = select(Customer.id).where(Customer.email.like("%@example.test"))
    assert offers.issue_to_customers(offer, ids, staff=world["manager"], via="segment", segment="at_risk") == 7 - 1
    assert offers.issue_to_customers(offer, ids, staff=world["manager"], via="segment", segment="at_risk") == 0
    rows = db.session.scalars(select(IssuedOffer).where(IssuedOffer.offer_id == offer.id)).all()
    assert len(rows) == 6 and erased.id not in {r.customer_id for r in rows}
    assert len({r.code for r in rows}) == 6 and all(len(r.code) == 12 for r in rows)
    assert {r.uses_left for r in rows} == {2} and {r.segment for r in rows} == {"at_risk"}
    # A clerk issuing it again to one of them gets the same one back.
    again = offers.issue_to_customer(offer, people[0], staff=world["clerk"])
    assert again.customer_id == people[0].id and again.issued_via == "segment"


def test_a_clerk_issues_only_their_markets_running_offers(world):
    dk_offer = define(world, market="DK", staff=world["dk"])
    with pytest.raises(Exception) as refused:
        offers.issue_to_customer(dk_offer, world["customer"], staff=world["clerk"])
    assert refused.value.code == "not_found"


# --- redeeming ----------------------------------------------------------------------------------------------


def draft_with(world, *variants, quantity=1):
    draft = order_drafts.start_draft(world["clerk"], customer_id=world["customer"].id)
    for variant in variants:
        order_drafts.set_line(draft, variant.id, quantity, staff=world["clerk"])
    order_drafts.choose_fulfilment(draft, "pickup", staff=world["clerk"], pickup_location_id=world["ham"].id)
    return draft


def test_a_draft_redeems_its_offer_once_and_the_lines_keep_the_discount(world):
    offer = define(world, scope="category", category="Jackets", value="15")
    issued = offers.issue_to_customer(offer, world["customer"], staff=world["clerk"])
    draft = draft_with(world, world["jacket"], world["boot"], quantity=1)
    order_discounts.apply_offer(draft, f" {issued.code.lower()[:6]}-{issued.code.lower()[6:]} ", staff=world["clerk"])
    state = order_drafts.draft_state(draft)
    preview = order_discounts.draft_discount(draft, state.proposal)
    assert preview.total_minor == 1500 and not preview.problem
    order = ordering.place(draft, staff=world["clerk"])
    by_variant = {li.variant_id: li for li in order.lines}
    assert by_variant[world["jacket"].id].discount_minor == 1500 and by_variant[world["boot"].id].discount_minor == 0
    assert order.total_minor == 15000 - 1500
    assert ordering.shipping_fee_minor(order) == 0
    db.session.refresh(issued)
    assert issued.uses_left == 0
    # The same offer on a second draft: refused at the field, nothing placed.
    second = draft_with(world, world["jacket"])
    with pytest.raises(ValidationFailed) as refused:
        order_discounts.apply_offer(second, issued.code, staff=world["clerk"])
    assert "used already" in refused.value.fields["offer"]
    # Cancelling the order gives the use back (the one cancel verb), once.
    cancelling.cancel(order, staff=world["manager"], reason="Customer changed their mind")
    db.session.refresh(issued)
    assert issued.uses_left == 1
    redemption = db.session.scalar(select(OfferRedemption).where(OfferRedemption.order_id == order.id))
    assert redemption.released_at is not None and redemption.discount_minor == 1500
    db.session.refresh(order)
    assert order.lines[0].discount_minor + order.lines[1].discount_minor == 1500  # lines keep what they sold at


def test_an_offer_is_refused_outside_its_dates_market_or_customer(world, make):
    other = make.customer(email="other@example.test")
    future = define(world, valid_from=(TODAY + timedelta(days=2)).isoformat())
    issued = offers.issue_to_customer(future, world["customer"], staff=world["clerk"])
    draft = draft_with(world, world["jacket"])
    with pytest.raises(ValidationFailed, match="starts on"):
        order_discounts.apply_offer(draft, issued.code, staff=world["clerk"])
    running = define(world)
    mine = offers.issue_to_customer(running, other, staff=world["clerk"])
    with pytest.raises(ValidationFailed, match="this customer"):
        order_discounts.apply_offer(draft, mine.code, staff=world["clerk"])
    dk = define(world, market="DK", staff=world["dk"])
    dk_issued = offers.issue_to_customers(dk, [world["customer"].id], staff=world["dk"], via="clerk")
    assert dk_issued == 1
    code = db.session.scalar(select(IssuedOffer.code).where(IssuedOffer.offer_id == dk.id))
    with pytest.raises(ValidationFailed, match="DK market"):
        order_discounts.apply_offer(draft, code, staff=world["clerk"])
    shoes_only = define(world, scope="category", category="Shoes")
    shoe_offer = offers.issue_to_customer(shoes_only, world["customer"], staff=world["clerk"])
    order_discounts.apply_offer(draft, shoe_offer.code, staff=world["clerk"])
    preview = order_discounts.draft_discount(draft, order_drafts.draft_state(draft).proposal)
    assert preview.total_minor == 0 and "does not apply" in preview.problem
    with pytest.raises(ValidationFailed):
        ordering.place(draft, staff=world["clerk"])
    # An expired one (the day after its last) is refused when placing, too.
    with pytest.raises(ValidationFailed, match="ended on"):
        offers.check_usable(
            shoe_offer,
            customer_id=world["customer"].id,
            market_code="DE",
            today=shoes_only.valid_until + timedelta(days=1),
        )


def test_a_several_use_offer_is_used_up_after_its_uses(world):
    offer = define(world, uses_per_customer="2", kind="amount", value="10")
    issued = offers.issue_to_customer(offer, world["customer"], staff=world["clerk"])
    for _ in range(2):
        draft = draft_with(world, world["boot"])
        order_discounts.apply_offer(draft, issued.code, staff=world["clerk"])
        assert ordering.place(draft, staff=world["clerk"]).total_minor == 4000
    draft = draft_with(world, world["boot"])
    with pytest.raises(ValidationFailed, match="used already"):
        order_discounts.apply_offer(draft, issued.code, staff=world["clerk"])


def test_a_web_order_redeems_its_offer_code_and_a_bad_code_is_refused(world):
    offer = define(world, kind="amount", value="20")
    issued = offers.issue_to_customer(offer, world["customer"], staff=world["clerk"])

    def web(code, key):
        return ordering.place(
            ordering.PlaceOrder(
                channel="web",
                customer_id=world["customer"].id,
                lines=(order_rules.LineRequest(world["jacket"].id, 1),),
                fulfilment="pickup",
                payment_state="paid",
                pickup_location_id=world["ham"].id,
                offer_code=code,
            ),
            idempotency_key=key,
            staff=world["clerk"],
        )

    with pytest.raises(ValidationFailed) as refused:
        web("ZZZZ", "k0")
    assert "offer_code" in refused.value.fields
    first = web(issued.code, "k1")
    assert first.total_minor == 8000 and web(issued.code, "k1").id == first.id  # the key replayed: one use
    with pytest.raises(ValidationFailed):
        web(issued.code, "k2")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


# --- two tablets at once --------------------------------------------------------------------------------------


def run_in_threads(app, count, work):
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                outcomes[i] = work(i)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def test_two_tablets_redeeming_a_one_use_offer_at_once_place_one_discounted_order(app, world):
    offer = define(world, kind="amount", value="10")
    issued = offers.issue_to_customer(offer, world["customer"], staff=world["clerk"])
    drafts = [draft_with(world, world["boot"]) for _ in range(4)]
    for draft in drafts:
        order_discounts.apply_offer(draft, issued.code, staff=world["clerk"])
    tokens = [d.token for d in drafts]
    clerk_id = world["clerk"].id

    def work(i):
        from omnistore.stores.models import Staff

        clerk = db.session.get(Staff, clerk_id)
        return ordering.place(order_drafts.draft_for(tokens[i], clerk), staff=clerk).total_minor

    outcomes = run_in_threads(app, 4, work)
    placed = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert placed == [4000], outcomes
    assert len(refused) == 3 and all(isinstance(e, ValidationFailed | Conflict) for e in refused), outcomes
    db.session.expire_all()
    assert db.session.get(IssuedOffer, issued.id).uses_left == 0
    assert db.session.scalar(select(func.count()).select_from(OfferRedemption)) == 1
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_two_segment_issues_at_once_issue_each_customer_once(app, world, make):
    offer = define(world)
    for i in range(20):
        make.customer(email=f"seg{i}@example.test")
    offer_id, manager_id = offer.id, world["manager"].id

    def work(_i):
        from omnistore.stores.models import Staff

        return offers.issue_to_customers(
            db.session.get(Offer, offer_id), select(Customer.id), staff=db.session.get(Staff, manager_id), via="segment"
        )

    outcomes = run_in_threads(app, 3, work)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == 21
    assert db.session.scalar(select(func.count()).select_from(IssuedOffer)) == 21


# --- loyalty --------------------------------------------------------------------------------------------------


def test_loyalty_points_buy_a_reward_only_when_the_chain_turns_it_on(app, world):
    customer = world["customer"]
    customer.loyalty_points = 1200
    db.session.commit()
    with pytest.raises(Forbidden):
        offers.loyalty_reward(customer, staff=world["clerk"])
    app.config["OMNISTORE_LOYALTY_REWARD_POINTS"] = 500
    reward = offers.loyalty_reward(customer, staff=world["clerk"])
    assert customer.loyalty_points == 700
    assert (reward.offer.kind, reward.offer.value, reward.offer.origin, reward.uses_left) == (
        "percent",
        10,
        "loyalty",
        1,
    )
    offers.loyalty_reward(customer, staff=world["clerk"])
    with pytest.raises(ValidationFailed, match="500 points"):
        offers.loyalty_reward(customer, staff=world["clerk"])
    db.session.refresh(customer)
    assert customer.loyalty_points == 200
    draft = draft_with(world, world["jacket"])
    order_discounts.apply_offer(draft, reward.code, staff=world["clerk"])
    assert ordering.place(draft, staff=world["clerk"]).total_minor == 9000
    assert date.today() <= reward.offer.valid_until


# --- personal data: export, erase, merge ----------------------------------------------------------------------


def test_the_gdpr_export_erase_and_merge_cover_offers(world, make):
    from omnistore.clienteling import erasure, export, merging

    used_offer, spare_offer = define(world, kind="amount", value="10"), define(world, name="Spare")
    customer = world["customer"]
    used = offers.issue_to_customer(used_offer, customer, staff=world["clerk"])
    offers.issue_to_customer(spare_offer, customer, staff=world["clerk"])
    draft = draft_with(world, world["boot"])
    order_discounts.apply_offer(draft, used.code, staff=world["clerk"])
    order = ordering.place(draft, staff=world["clerk"])

    data = export.export_data(customer, staff=world["manager"])
    exported = {row["offer"]: row for row in data["offers"]}
    assert set(exported) == {used_offer.name, "Spare"}
    assert exported[used_offer.name]["uses"][0]["order_id"] == order.id
    assert exported[used_offer.name]["uses"][0]["discount_minor"] == 1000
    assert data["orders"][0]["lines"][0]["discount_minor"] == 1000

    # Merge: the other profile's offers move; one both have keeps the survivor's row with both uses.
    twin = make.customer(email="twin@example.test")
    offers.issue_to_customer(spare_offer, twin, staff=world["clerk"])
    only_twin = define(world, name="Twin only")
    offers.issue_to_customer(only_twin, twin, staff=world["clerk"])
    record = merging.merge_customers(customer, twin, staff=world["manager"])
    assert record.moved["offers"] == 1
    mine = {row.offer.name: row for row in offers.customer_offers(customer)}
    assert set(mine) == {used_offer.name, "Spare", "Twin only"} and mine["Spare"].uses_left == 2

    # Erase: unused offers go, the used one stays without uses (the order keeps its discount).
    erasure.erase_customer(customer, staff=world["manager"], confirmation="ERASE")
    db.session.expire_all()
    left = db.session.scalars(select(IssuedOffer).where(IssuedOffer.customer_id.in_([customer.id, twin.id]))).all()
    assert [(row.offer_id, row.uses_left) for row in left] == [(used_offer.id, 0)]
    assert db.session.get(Order, order.id).total_minor == 4000
    assert db.session.scalar(select(func.count()).select_from(OfferRedemption)) == 1


def test_a_big_segment_is_issued_by_one_statement(world):
    """A segment of thousands is one INSERT … SELECT (no row-by-row work in Python), and again adds nobody."""
    from sqlalchemy import event, insert

    db.session.execute(
        insert(Customer),
        [
            {"first_name": "P", "last_name": str(i), "email": f"bulk{i}@example.test", "search_name": "p"}
            for i in range(3000)
        ],
    )
    db.session.commit()
    offer = define(world)
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        if "issued_offer" in statement and statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        everyone = select(Customer.id).where(Customer.email.like("bulk%"))
        assert offers.issue_to_customers(offer, everyone, staff=world["manager"], via="segment") == 3000
        assert offers.issue_to_customers(offer, everyone, staff=world["manager"], via="segment") == 0
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 2
    assert db.session.scalar(select(func.count(func.distinct(IssuedOffer.code)))) == 3000


def test_the_managers_endless_aisle_sales_are_net_of_the_discount(world, make):
    from omnistore.reviews import dashboard
    from omnistore.reviews import scope as review_scope

    ber = make.location("BER")
    belt = make.variant(make.product(name="Belt", category="Belts"), price_minor=6000)
    make.stock(belt, ber, 3)
    offer = define(world, kind="amount", value="10")
    issued = offers.issue_to_customer(offer, world["customer"], staff=world["clerk"])
    draft = draft_with(world, belt)
    order_discounts.apply_offer(draft, issued.code, staff=world["clerk"])
    order = ordering.place(draft, staff=world["clerk"])
    assert order.lines[0].source_location_id == ber.id and order.total_minor == 5000
    result = dashboard.review(review_scope.scope_for(world["manager"], period="today"))
    assert result.saved == {"EUR": 5000}
