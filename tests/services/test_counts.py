"""Counts: count tasks raised by rejections, count sessions scanned item by item, the variance review and
posting through the ledger as `count` movements."""

import pytest
from sqlalchemy import func, select

from omnistore.core import webhooks
from omnistore.core.errors import Conflict, Forbidden, InsufficientStock, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.stock import counts, ledger
from omnistore.stock.models import CountTask, StockCount, StockLevel, StockMovement
from omnistore.stores.models import Staff


@pytest.fixture
def cph(make):
    return make.location("CPH")


@pytest.fixture
def variant(make):
    return make.variant()


@pytest.fixture
def clerk(make, cph):
    return make.staff("clerk", cph)


def test_a_count_task_is_raised_once_while_open(variant, cph, clerk):
    first = counts.raise_count_task(cph.id, variant.id, "not_found", clerk, reference="OS-26-000001")
    again = counts.raise_count_task(cph.id, variant.id, "wrong_item", None)
    assert again.id == first.id
    assert again.times == 2
    assert again.reason == "wrong_item"
    assert again.reference == "OS-26-000001"  # kept when the second raise names none
    assert db.session.scalar(select(func.count()).select_from(CountTask)) == 1
    assert [task.id for task in counts.open_tasks(cph.id)] == [first.id]


def test_a_count_task_needs_a_reason_a_variant_and_a_location(variant, cph, clerk):
    with pytest.raises(ValidationFailed):
        counts.raise_count_task(cph.id, variant.id, "  ", clerk)
    with pytest.raises(NotFound):
        counts.raise_count_task(cph.id, 999_999, "not_found", clerk)
    with pytest.raises(NotFound):
        counts.raise_count_task(999_999, variant.id, "not_found", clerk)
    assert counts.open_tasks(cph.id) == []


# --- count sessions ---------------------------------------------------------------------------------------


@pytest.fixture
def manager(make, cph):
    return make.staff("manager", cph)


@pytest.fixture
def jackets(make, cph, clerk):
    """Three jackets stocked at København (3, 5 and 10 on hand), received through the ledger."""
    product = make.product("Rain Jacket", category="Jackets")
    variants = [make.variant(product, size=size) for size in ("S", "M", "L")]
    for variant, on_hand in zip(variants, (3, 5, 10), strict=True):
        ledger.receive(ledger.StockChange(variant.id, cph.id, on_hand, reason="delivery"), clerk)
    return variants


def on_hand(variant, location):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel.on_hand).where(StockLevel.variant_id == variant.id, StockLevel.location_id == location.id)
    )


def ledger_sum(variant, location):
    return db.session.scalar(
        select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0)).where(
            StockMovement.variant_id == variant.id, StockMovement.location_id == location.id
        )
    )


def test_a_blind_category_count_posts_matches_and_sends_big_variances_to_the_manager(
    jackets, cph, clerk, manager, make
):
    small, medium, large = jackets
    make.variant(make.product("Scarf", category="Scarves"))  # another category: not in this count
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)
    assert count.blind and count.status == "counting"
    assert sorted(line.variant_id for line in count.lines) == sorted(v.id for v in jackets)
    for _ in range(5):
        counts.scan(count.id, medium.ean, clerk)
    counts.scan(count.id, large.sku, clerk, quantity=9)  # one missing of ten: 10 % is within the threshold
    # the small jacket is not scanned at all: it counts as zero, a variance of 3 (100 %)
    counts.submit(count.id, clerk)
    db.session.expire_all()
    lines = {line.variant_id: line for line in counts.get_count(count.id).lines}
    assert (lines[medium.id].status, lines[medium.id].posted_delta) == ("posted", 0)
    assert (lines[large.id].status, lines[large.id].expected, lines[large.id].posted_delta) == ("posted", 10, -1)
    assert (lines[small.id].status, lines[small.id].counted, lines[small.id].scans) == ("review", 0, 0)
    assert counts.get_count(count.id).status == "review"
    assert on_hand(large, cph) == 9
    assert on_hand(small, cph) == 3  # nothing posted before the manager decides

    with pytest.raises(Forbidden):
        counts.decide_line(count.id, lines[small.id].id, "approve", clerk)
    counts.decide_line(count.id, lines[small.id].id, "approve", manager)
    assert on_hand(small, cph) == 0
    assert counts.get_count(count.id).status == "posted"
    for variant in jackets:
        assert on_hand(variant, cph) == ledger_sum(variant, cph)
    kinds = db.session.scalars(
        select(StockMovement.kind).where(StockMovement.location_id == cph.id, StockMovement.kind == "count")
    ).all()
    assert len(kinds) == 2  # one count movement per variant that differed, none for the match


def test_scans_outside_the_count_are_refused_with_the_reason(jackets, cph, clerk, make):
    scarf = make.variant(make.product("Scarf", category="Scarves"))
    new_jacket = make.variant(make.product("Rain Jacket", category="Jackets"), size="XL")
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)
    with pytest.raises(ValidationFailed, match="not part of this count"):
        counts.scan(count.id, scarf.ean, clerk)
    with pytest.raises(ValidationFailed, match="No product has the code"):
        counts.scan(count.id, "0000000000000", clerk)
    with pytest.raises(ValidationFailed):
        counts.scan(count.id, " ", clerk)
    # a jacket the system never had here is found on the shelf: it joins the count
    line = counts.scan(count.id, new_jacket.ean, clerk)
    assert (line.variant_id, line.counted) == (new_jacket.id, 1)
    assert len(counts.get_count(count.id).lines) == 4


def test_a_count_resumes_where_it_was_and_a_typed_figure_replaces_the_scans(jackets, cph, clerk):
    small = jackets[0]
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)
    counts.scan(count.id, small.ean, clerk)
    counts.scan(count.id, small.ean, clerk)
    db.session.remove()  # the tablet went to sleep: everything was written per scan
    resumed = counts.get_count(count.id, clerk)
    line = next(line for line in resumed.lines if line.variant_id == small.id)
    assert (line.counted, line.scans) == (2, 2)
    counts.set_counted(count.id, line.id, "3", clerk)
    with pytest.raises(ValidationFailed):
        counts.set_counted(count.id, line.id, "-1", clerk)
    with pytest.raises(ValidationFailed):
        counts.set_counted(count.id, line.id, "2.5", clerk)
    db.session.expire_all()
    assert counts.get_count(count.id).lines[0].counted == 3


def test_a_count_can_be_submitted_once(jackets, cph, clerk):
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)
    for variant, n in zip(jackets, (3, 5, 10), strict=True):
        counts.scan(count.id, variant.ean, clerk, quantity=n)
    assert counts.submit(count.id, clerk).status == "posted"
    with pytest.raises(Conflict):
        counts.submit(count.id, clerk)
    with pytest.raises(Conflict):
        counts.scan(count.id, jackets[0].ean, clerk)


def test_a_count_never_drops_on_hand_below_what_orders_reserve(jackets, cph, clerk, manager, make):
    small = jackets[0]
    ledger.allocate(ledger.StockChange(small.id, cph.id, 2, reference="OS-26-000001"))
    count = counts.start_count(cph.id, counts.CountScope("variants", codes=small.sku), clerk)
    counts.scan(count.id, small.ean, clerk)  # 1 found; 2 are reserved for an order
    counts.submit(count.id, clerk)
    line = counts.get_count(count.id).lines[0]
    assert line.status == "review"  # 1 of 3: above the threshold
    counts.decide_line(count.id, line.id, "approve", manager)
    db.session.expire_all()
    line = counts.get_count(count.id).lines[0]
    assert line.status == "blocked"
    assert on_hand(small, cph) == 3
    # the order gives its units back (e.g. the line is rejected and re-sourced): now it posts
    ledger.release(ledger.StockChange(small.id, cph.id, 2))
    counts.decide_line(count.id, line.id, "approve", manager)
    assert on_hand(small, cph) == 1
    assert counts.get_count(count.id).status == "posted"


def test_a_second_count_replaces_the_first_and_a_kept_line_posts_nothing(jackets, cph, clerk, manager):
    small, medium, _large = jackets
    count = counts.start_count(cph.id, counts.CountScope("variants", codes=f"{small.sku}, {medium.ean}"), clerk)
    counts.submit(count.id, clerk)  # nothing scanned: both zero, both far off
    lines = {line.variant_id: line for line in counts.get_count(count.id).lines}
    counts.decide_line(count.id, lines[small.id].id, "recount", manager)
    counts.decide_line(count.id, lines[medium.id].id, "keep", manager)
    assert counts.get_count(count.id).status == "counting"
    counts.scan(count.id, small.ean, clerk, quantity=3)
    counts.submit(count.id, clerk)
    db.session.expire_all()
    lines = {line.variant_id: line for line in counts.get_count(count.id).lines}
    assert (lines[small.id].status, lines[small.id].first_counted, lines[small.id].counted) == ("posted", 0, 3)
    assert lines[medium.id].status == "kept"
    assert on_hand(medium, cph) == 5
    assert counts.get_count(count.id).status == "posted"


def test_a_count_of_the_open_tasks_closes_them(jackets, cph, clerk):
    small = jackets[0]
    task = counts.raise_count_task(cph.id, small.id, "not_found", clerk, reference="OS-26-000007")
    count = counts.start_count(cph.id, counts.CountScope("tasks"), clerk)
    assert [line.variant_id for line in count.lines] == [small.id]
    counts.scan(count.id, small.ean, clerk, quantity=3)
    counts.submit(count.id, clerk)
    db.session.expire_all()
    task = db.session.get(CountTask, task.id)
    assert (task.status, task.closed_by_count_id) == ("closed", count.id)
    assert counts.open_tasks(cph.id) == []
    with pytest.raises(ValidationFailed):
        counts.start_count(cph.id, counts.CountScope("tasks"), clerk)
    # raised again later: a new task
    assert counts.raise_count_task(cph.id, small.id, "wrong_item", clerk).id != task.id


def test_starting_a_count_checks_its_scope_and_the_store(jackets, cph, clerk, make):
    with pytest.raises(ValidationFailed):
        counts.start_count(cph.id, counts.CountScope("category", category=""), clerk)
    with pytest.raises(ValidationFailed):
        counts.start_count(cph.id, counts.CountScope("category", category="Nothing"), clerk)
    with pytest.raises(ValidationFailed, match="NOPE"):
        counts.start_count(cph.id, counts.CountScope("variants", codes=f"{jackets[0].sku} NOPE"), clerk)
    with pytest.raises(ValidationFailed):
        counts.start_count(cph.id, counts.CountScope("zone"), clerk)
    ham = make.location("HAM")
    with pytest.raises(Forbidden):
        counts.start_count(ham.id, counts.CountScope("category", category="Jackets"), clerk)
    assert db.session.scalar(select(func.count()).select_from(StockCount)) == 0


def test_posted_counts_reach_the_erp_as_a_webhook(jackets, cph, clerk):
    webhooks.add_endpoint("erp", "https://erp.example.com/hooks", ["stock.counted"])
    count = counts.start_count(cph.id, counts.CountScope("variants", codes=jackets[2].sku), clerk)
    counts.scan(count.id, jackets[2].ean, clerk, quantity=9)
    counts.submit(count.id, clerk)
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "stock.counted")).one()
    assert message.payload["count"]["location"] == "CPH"
    assert message.payload["count"]["lines"] == [{"sku": jackets[2].sku, "counted": 9, "expected": 10, "delta": -1}]


@pytest.mark.parametrize(
    ("counted", "expected", "above"),
    [(5, 5, False), (9, 10, False), (8, 10, True), (0, 3, True), (1, 0, True), (97, 100, True), (99, 100, False)],
)
def test_the_variance_threshold_is_units_or_percent(counted, expected, above):
    assert counts.above_threshold(counted, expected, (2, 10)) is above


# --- concurrency: real threads --------------------------------------------------------------------------


def test_a_count_posting_while_orders_allocate_never_oversells(app, jackets, cph, clerk, manager):
    """A manager posts a count of 4 (10 on hand) while eight orders each try to reserve one unit: whichever
    comes first, nothing is reserved beyond what is on hand, and on_hand is the sum of the movements."""
    from tests.services.test_stock import run_in_threads

    large = jackets[2]
    count = counts.start_count(cph.id, counts.CountScope("variants", codes=large.sku), clerk)
    counts.scan(count.id, large.ean, clerk, quantity=4)
    counts.submit(count.id, clerk)
    line_id = counts.get_count(count.id).lines[0].id
    ids = (large.id, cph.id, count.id, manager.id)

    def work(i):
        if i == 0:
            return counts.decide_line(ids[2], line_id, "approve", db.session.get(Staff, ids[3])).status
        return ledger.allocate(ledger.StockChange(ids[0], ids[1], 1, reference=f"order {i}"))

    outcomes = run_in_threads(app, 9, work)
    reserved = sum(1 for outcome in outcomes[1:] if isinstance(outcome, ledger.LevelState))
    db.session.expire_all()
    level = db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == large.id, StockLevel.location_id == cph.id)
    )
    assert outcomes[0] in ("posted", "blocked"), outcomes
    assert level.allocated == reserved
    assert level.allocated <= level.on_hand
    if outcomes[0] == "posted":
        assert level.on_hand == 4 and reserved <= 4
    else:  # more than 4 were reserved before the count came: it waits for the orders
        assert level.on_hand == 10 and reserved > 4
    assert level.on_hand == ledger_sum(large, cph)
    assert all(isinstance(outcome, ledger.LevelState | InsufficientStock | str) for outcome in outcomes), outcomes


def test_two_tablets_scanning_into_one_count_lose_no_scan(app, jackets, cph, clerk):
    from tests.services.test_stock import run_in_threads

    small = jackets[0]
    count = counts.start_count(cph.id, counts.CountScope("category", category="Jackets"), clerk)
    ids = (count.id, small.ean, clerk.id)
    outcomes = run_in_threads(app, 8, lambda i: counts.scan(ids[0], ids[1], db.session.get(Staff, ids[2])).id)
    assert len(set(outcomes)) == 1, outcomes
    db.session.expire_all()
    line = next(line for line in counts.get_count(count.id).lines if line.variant_id == small.id)
    assert (line.counted, line.scans) == (8, 8)


def test_a_kept_figure_also_closes_the_count_task(jackets, cph, clerk, manager):
    small = jackets[0]
    task = counts.raise_count_task(cph.id, small.id, "wrong_item", clerk)
    count = counts.start_count(cph.id, counts.CountScope("tasks"), clerk)
    counts.submit(count.id, clerk)  # nothing found: 0 of 3, for the manager
    line = counts.get_count(count.id).lines[0]
    assert db.session.get(CountTask, task.id).status == "open"
    counts.decide_line(count.id, line.id, "keep", manager)
    db.session.expire_all()
    assert db.session.get(CountTask, task.id).status == "closed"
    assert on_hand(small, cph) == 3


# --- zones and counts of a zone -------------------------------------------------------------------------------


def test_a_blind_count_of_a_zone_covers_its_items_and_counts_the_unscanned_as_zero(jackets, cph, clerk, manager, make):
    from omnistore.stock import zones

    small, medium, large = jackets
    assert zones.set_zone(small.id, cph.id, "  Shoe   wall ", clerk) == "Shoe wall"  # spaces squeezed
    zones.set_zone(medium.id, cph.id, "Shoe wall", clerk)
    zones.set_zone(large.id, cph.id, "A3", clerk)
    elsewhere = make.variant(make.product("Boot", category="Shoes"))
    ledger.receive(ledger.StockChange(elsewhere.id, cph.id, 2, reason="delivery"), clerk)
    zones.set_zone(elsewhere.id, cph.id, "Shoe wall", clerk)
    empty = make.variant(make.product("Sandal", category="Shoes"))
    ledger.receive(ledger.StockChange(empty.id, cph.id, 1, reason="delivery"), clerk)
    ledger.correct(ledger.StockChange(empty.id, cph.id, 0, reason="sold out"), clerk)
    zones.set_zone(empty.id, cph.id, "Shoe wall", clerk)  # nothing expected on the shelf
    assert zones.zones_here(cph.id) == ["A3", "Shoe wall"]

    count = counts.start_count(cph.id, counts.CountScope("zone", zone="Shoe wall"), clerk)
    assert (count.scope, count.zone, count.named, count.blind) == ("zone", "Shoe wall", "Shoe wall", True)
    assert sorted(line.variant_id for line in count.lines) == sorted((small.id, medium.id, elsewhere.id))
    counts.scan(count.id, small.sku, clerk, quantity=3)
    counts.scan(count.id, empty.ean, clerk)  # in the zone though not expected: a line of its own
    with pytest.raises(ValidationFailed, match="not part of this count"):
        counts.scan(count.id, large.ean, clerk)  # in zone A3
    # medium (5 expected) and the boots (2 expected) are not scanned: they count as zero
    counts.submit(count.id, clerk)
    db.session.expire_all()
    lines = {line.variant_id: line for line in counts.get_count(count.id).lines}
    assert lines[small.id].status == "posted" and lines[empty.id].status == "review"
    assert (lines[medium.id].status, lines[medium.id].expected) == ("review", 5)
    assert (lines[elsewhere.id].status, lines[elsewhere.id].expected) == ("review", 2)
    counts.decide_all(count.id, "approve", manager)
    assert (on_hand(medium, cph), on_hand(elsewhere, cph), on_hand(empty, cph), on_hand(large, cph)) == (0, 0, 1, 10)
    assert ledger_sum(medium, cph) == 0 and ledger_sum(elsewhere, cph) == 0
    assert counts.get_count(count.id).status == "posted"


@pytest.mark.parametrize(
    ("zone", "message"),
    [("", "Choose a zone."), ("Nowhere", "Nothing here is in the zone"), ("A\x07", "control characters")],
)
def test_a_count_of_a_zone_needs_a_zone_with_items(jackets, cph, clerk, zone, message):
    from omnistore.stock import zones

    zones.set_zone(jackets[0].id, cph.id, "A3", clerk)
    with pytest.raises(ValidationFailed) as refused:
        counts.start_count(cph.id, counts.CountScope("zone", zone=zone), clerk)
    assert message in str(refused.value.fields["zone"])
    assert db.session.scalar(select(func.count()).select_from(StockCount)) == 0


@pytest.mark.parametrize(
    ("zone", "field_message"),
    [("A" * 41, "At most 40"), ("A3\x1b[31m", "control characters"), (["A3"], "control characters")],
)
def test_a_bad_zone_is_refused_and_changes_nothing(jackets, cph, clerk, zone, field_message):
    from omnistore.stock import zones

    zones.set_zone(jackets[0].id, cph.id, "A3", clerk)
    with pytest.raises(ValidationFailed) as refused:
        zones.set_zone(jackets[0].id, cph.id, zone, clerk)
    assert field_message in str(refused.value.fields["zone"])
    assert zones.zone_of(jackets[0].id, cph.id) == "A3"


def test_a_zone_is_set_by_the_store_s_staff_on_a_stocked_item_and_audited(jackets, cph, clerk, make):
    from omnistore.core.audit import AuditEvent
    from omnistore.stock import zones

    with pytest.raises(Forbidden):
        zones.set_zone(jackets[0].id, cph.id, "A3", make.staff("clerk", make.location("HAM")))
    with pytest.raises(ValidationFailed, match="never stocked here"):
        zones.set_zone(make.variant(size="XXL").id, cph.id, "A3", clerk)
    zones.set_zone(jackets[0].id, cph.id, "A3", clerk)
    zones.set_zone(jackets[0].id, cph.id, "A3", clerk)  # the same again: nothing to record
    zones.set_zone(jackets[0].id, cph.id, "", clerk)  # out of any zone
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "stock.zone_set")).all()
    assert [(e.detail["before"], e.detail["after"]) for e in events] == [("", "A3"), ("A3", "")]
    assert ledger_sum(jackets[0], cph) == 3  # not a movement


def test_the_erp_sets_zones_with_the_stock_feed(jackets, cph, make):
    from omnistore.stock import bulk_import, feed, zones

    manager = make.staff("manager", cph)
    small, medium, large = jackets
    csv = (
        "sku;location;on_hand;zone\n"
        f"{small.sku};CPH;3;A3\n"  # the figure as it is: only the zone changes
        f"{medium.sku};CPH;6;\n"  # empty: no zone
        f"{large.sku};CPH;10;{'Z' * 41}\n"  # too long: the row is refused
    ).encode()
    result = bulk_import.import_on_hand(feed.read_csv(csv), manager, "erp.csv")
    assert [r.status for r in result.results] == ["unchanged", "updated", "error"]
    assert result.results[2].errors[0].field == "zone"
    assert (zones.zone_of(small.id, cph.id), zones.zone_of(medium.id, cph.id)) == ("A3", "")
    assert on_hand(large, cph) == 10 and zones.zone_of(large.id, cph.id) == ""

    new = make.variant(size="XL")
    rows = feed.rows_from_json(
        [
            {"sku": new.sku, "location": "cph", "on_hand": 4, "zone": "Shoe wall"},  # a new level, with its zone
            {"sku": small.sku, "location": "CPH", "on_hand": 3},  # no zone given: kept
            {"sku": medium.sku, "location": "CPH", "on_hand": 6, "zone": 7},  # not text
        ]
    )
    result = bulk_import.import_on_hand(rows, manager, "api")
    assert [r.status for r in result.results] == ["created", "unchanged", "error"]
    assert (zones.zone_of(new.id, cph.id), zones.zone_of(small.id, cph.id)) == ("Shoe wall", "A3")
