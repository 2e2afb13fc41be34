"""Lifecycle stages: each boundary of each stage, and one definition — a profile's stage (stage_of) is the
segment it is found in (customer_ids_in_stage), checked against a plain model of the rules."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistore.clienteling import lifecycle
from omnistore.clienteling.lifecycle import STAGES, Stage, customer_ids_in_stage, stage_of
from omnistore.core import config
from omnistore.core.errors import ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers.models import CustomerVisit

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop(make):
    store = make.location("HAM")
    other = make.location("BER")
    jacket = make.variant()
    return store, other, jacket


def buy(make, shop, customer, days_ago, status="collected", at=None, store=None):
    place, _other, jacket = shop
    store = store or place
    return make.order(
        store,
        [(jacket, 1, store)],
        status=status,
        customer=customer,
        placed_at=at or NOW - timedelta(days=days_ago),
        origin_location_id=store.id,
    )


def visit(customer, days_ago, store=None):
    db.session.add(
        CustomerVisit(
            customer_id=customer.id,
            location_id=store.id if store else None,
            created_at=NOW - timedelta(days=days_ago),
        )
    )
    db.session.commit()


def stage(customer, now=NOW):
    return stage_of(db.session, customer, now=now)


def test_a_known_customer_without_a_sale_is_in_acquisition(make, shop):
    nobody = make.customer()
    assert stage(nobody) == Stage.ACQUISITION
    cancelled = make.customer()
    buy(make, shop, cancelled, 3, status="cancelled")
    buy(make, shop, cancelled, 2, status="expired")  # never collected: never a sale
    visit(cancelled, 1)
    assert stage(cancelled) == Stage.ACQUISITION
    future = make.customer()
    buy(make, shop, future, -1)  # placed after the moment asked about
    assert stage(future) == Stage.ACQUISITION
    assert stage(future, now=NOW + timedelta(days=2)) == Stage.FIRST_PURCHASE


def test_one_order_on_any_channel_is_a_first_purchase(make, shop):
    web = make.customer()
    make.order(shop[0], [(shop[2], 1, shop[0])], channel="web", status="placed", customer=web, placed_at=NOW)
    assert stage(web) == Stage.FIRST_PURCHASE


def test_at_risk_after_the_set_days_and_lapsed_after_theirs_strictly(make, shop):
    days = config.default("AT_RISK_DAYS")
    lapsed = config.default("LAPSED_DAYS")
    exactly = make.customer()
    buy(make, shop, exactly, 0, at=NOW - timedelta(days=days))
    beyond = make.customer()
    buy(make, shop, beyond, 0, at=NOW - timedelta(days=days, seconds=1))
    at_lapse = make.customer()
    buy(make, shop, at_lapse, 0, at=NOW - timedelta(days=lapsed))
    past_lapse = make.customer()
    buy(make, shop, past_lapse, 0, at=NOW - timedelta(days=lapsed, seconds=1))
    assert stage(exactly) == Stage.FIRST_PURCHASE
    assert stage(beyond) == Stage.AT_RISK
    assert stage(at_lapse) == Stage.AT_RISK
    assert stage(past_lapse) == Stage.LAPSED


def test_a_visit_ends_the_silence(make, shop):
    person = make.customer()
    buy(make, shop, person, 400)
    assert stage(person) == Stage.LAPSED
    visit(person, 5)
    assert stage(person) == Stage.FIRST_PURCHASE


def test_loyal_from_three_orders_within_twelve_months_or_a_tier(make, shop):
    three = make.customer()
    for days in (60, 40, 20):
        buy(make, shop, three, days)
    two = make.customer()
    for days in (40, 20):
        buy(make, shop, two, days)
    old_third = make.customer()
    buy(make, shop, old_third, 0, at=lifecycle.months_before(NOW, 12) - timedelta(seconds=1))
    for days in (40, 20):
        buy(make, shop, old_third, days)
    visit(old_third, 1)
    edge_third = make.customer()
    buy(make, shop, edge_third, 0, at=lifecycle.months_before(NOW, 12))
    for days in (40, 20):
        buy(make, shop, edge_third, days)
    visit(edge_third, 1)
    silver = make.customer(loyalty_tier="silver")
    buy(make, shop, silver, 10)
    silver_never_bought = make.customer(loyalty_tier="gold")
    assert stage(three) == Stage.LOYAL
    assert stage(two) == Stage.FIRST_PURCHASE
    assert stage(old_third) == Stage.FIRST_PURCHASE
    assert stage(edge_third) == Stage.LOYAL
    assert stage(silver) == Stage.LOYAL
    assert stage(silver_never_bought) == Stage.ACQUISITION


def test_at_risk_when_silent_beyond_their_rhythm_but_never_before_the_floor(make, shop):
    floor = config.default("AT_RISK_FLOOR_DAYS")  # 30; factor 2
    weekly = make.customer()  # rhythm 5 days × 2 = 10 < floor: the floor decides
    last = NOW - timedelta(days=floor)
    for gap in (10, 5, 0):
        buy(make, shop, weekly, 0, at=last - timedelta(days=gap))
    assert stage(weekly) == Stage.LOYAL
    assert stage(weekly, now=NOW + timedelta(minutes=1)) == Stage.AT_RISK
    monthly = make.customer()  # rhythm 40 days × 2 = 80 days
    for days in (80, 40, 0):
        buy(make, shop, monthly, days)
    assert stage(monthly, now=NOW + timedelta(days=79)) == Stage.LOYAL
    assert stage(monthly, now=NOW + timedelta(days=80)) == Stage.LOYAL  # exactly the rhythm: not yet
    assert stage(monthly, now=NOW + timedelta(days=80, minutes=1)) == Stage.AT_RISK
    pair = make.customer()  # two orders make a rhythm: 20 days × 2 = 40
    buy(make, shop, pair, 20)
    buy(make, shop, pair, 0)
    assert stage(pair, now=NOW + timedelta(days=40)) == Stage.FIRST_PURCHASE
    assert stage(pair, now=NOW + timedelta(days=40, minutes=1)) == Stage.AT_RISK
    slow = make.customer()  # rhythm 100 × 2 = 200: the set at-risk days (120) come first
    buy(make, shop, slow, 100)
    buy(make, shop, slow, 0)
    assert stage(slow, now=NOW + timedelta(days=120)) == Stage.FIRST_PURCHASE
    assert stage(slow, now=NOW + timedelta(days=120, minutes=1)) == Stage.AT_RISK


def test_thresholds_are_settings(app, make, shop):
    person = make.customer()
    buy(make, shop, person, 11)
    assert stage(person) == Stage.FIRST_PURCHASE
    app.config["OMNISTORE_AT_RISK_DAYS"] = 10
    assert stage(person) == Stage.AT_RISK
    app.config["OMNISTORE_LAPSED_DAYS"] = 10
    assert stage(person) == Stage.LAPSED
    app.config["OMNISTORE_LAPSED_DAYS"] = 365
    app.config["OMNISTORE_AT_RISK_DAYS"] = 120
    app.config["OMNISTORE_LOYAL_ORDERS"] = 1
    assert stage(person) == Stage.LOYAL


@pytest.mark.parametrize(
    "name, bad", [("LOYAL_ORDERS", "0"), ("LAPSED_DAYS", "-3"), ("AT_RISK_RHYTHM_FACTOR", "0.5"), ("LOYAL_MONTHS", "x")]
)
def test_a_bad_threshold_is_refused_at_start(name, bad):
    with pytest.raises(config.SettingError, match=f"OMNISTORE_{name}"):
        config.read(config.setting(name), {f"OMNISTORE_{name}": bad})


def test_erased_and_merged_profiles_have_no_stage(make, shop):
    gone = make.customer(erased_at=NOW)
    merged_into = make.customer()
    merged = make.customer(merged_into_id=merged_into.id)
    assert stage(gone) is None and stage(merged) is None
    assert customer_ids_in_stage(db.session, "acquisition", now=NOW) == [merged_into.id]


def test_a_store_segment_holds_the_stores_customers(make, shop):
    store, other, _jacket = shop
    preferred = make.customer(preferred_location_id=store.id)
    bought_here = make.customer()
    buy(make, shop, bought_here, 200, store=store)
    bought_there = make.customer()
    buy(make, shop, bought_there, 200, store=other)
    visited = make.customer()
    visit(visited, 3, store=store)
    assert customer_ids_in_stage(db.session, "acquisition", now=NOW, location_id=store.id) == sorted(
        [preferred.id, visited.id]
    )
    assert customer_ids_in_stage(db.session, Stage.AT_RISK, now=NOW, location_id=store.id) == [bought_here.id]
    assert customer_ids_in_stage(db.session, "at_risk", now=NOW, location_id=other.id) == [bought_there.id]
    assert customer_ids_in_stage(db.session, "at_risk", now=NOW) == sorted([bought_here.id, bought_there.id])


@pytest.mark.parametrize("bad", ["", "vip", "AT_RISK", "at_risk\x00", "ø" * 500, None])
def test_an_unknown_stage_is_refused(app, bad):
    with pytest.raises(ValidationFailed):
        customer_ids_in_stage(db.session, bad, now=NOW)


def test_months_before_keeps_the_day_or_the_months_last():
    assert lifecycle.months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert lifecycle.months_before(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    assert lifecycle.months_before(datetime(2024, 2, 29, tzinfo=UTC), 12) == datetime(2023, 2, 28, tzinfo=UTC)


# --- one definition: the profile's stage is the segment it is in, and both follow the rules -----------------


def model_stage(orders, visits, tier, t):
    """The rules written plainly: orders as (days ago, sold?), visits as days ago; None when nothing counts."""
    sold = sorted(days for days, is_sale in orders if is_sale and days >= 0)
    if not sold:
        return Stage.ACQUISITION
    seen = [d for d in visits if d >= 0]
    silent = min(sold + seen) + 1 / 48  # every order and visit is half an hour past its whole days
    if silent > t.lapsed_days:
        return Stage.LAPSED
    rhythm = (sold[-1] - sold[0]) / (len(sold) - 1) if len(sold) >= 2 else None
    if silent > t.at_risk_days or (rhythm is not None and silent > max(rhythm * t.rhythm_factor, t.floor_days)):
        return Stage.AT_RISK
    since = (NOW - lifecycle.months_before(NOW, t.loyal_months)).days
    if sum(1 for d in sold if d < since) >= t.loyal_orders or tier != "basic":
        return Stage.LOYAL
    return Stage.FIRST_PURCHASE


HISTORY = st.tuples(
    st.lists(st.tuples(st.integers(-5, 500), st.booleans()), max_size=6),
    st.lists(st.integers(-5, 500), max_size=3),
    st.sampled_from(["basic", "basic", "silver"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(HISTORY, min_size=1, max_size=5))
def test_stage_of_agrees_with_the_segments_and_the_rules(make, shop, histories):
    thresholds = lifecycle.Thresholds.current()
    expected = {}
    for orders, visits, tier in histories:
        person = make.customer(loyalty_tier=tier)
        for days, is_sale in orders:
            # whole days plus half an hour, so no order sits exactly on a boundary
            buy(
                make,
                shop,
                person,
                0,
                status="collected" if is_sale else "cancelled",
                at=NOW - timedelta(days=days, minutes=30),
            )
        for days in visits:
            db.session.add(CustomerVisit(customer_id=person.id, created_at=NOW - timedelta(days=days, minutes=30)))
        db.session.commit()
        expected[person.id] = model_stage(orders, visits, tier, thresholds)
    segments = {s: set(customer_ids_in_stage(db.session, s, now=NOW)) for s in STAGES}
    everyone = [id_ for ids in segments.values() for id_ in ids]
    assert len(everyone) == len(set(everyone)), "a customer in two segments"
    for person_id, wanted in expected.items():
        person = db.session.get(lifecycle.Customer, person_id)
        found = stage(person)
        assert found == wanted
        assert person_id in segments[found]
    assert lifecycle.stages_of(db.session, list(expected), now=NOW) == expected
