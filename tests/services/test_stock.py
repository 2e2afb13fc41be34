"""The stock service: every rule of receive, correct, allocate, release and import, the ledger invariant
(property-based), concurrent changes with real threads, and reading the ERP's CSV files."""

import threading
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Conflict, Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock import bulk_import, feed, inputs, reads
from omnistore.stock import ledger as stock
from omnistore.stock.feed import ImportRow
from omnistore.stock.ledger import StockChange
from omnistore.stock.models import StockLevel, StockMovement, VariantStock
from omnistore.stock.summaries import rebuild_summaries


@pytest.fixture
def ham(make):
    return make.location("HAM")


@pytest.fixture
def cph(make):
    return make.location("CPH")


@pytest.fixture
def variant(make):
    return make.variant()


@pytest.fixture
def clerk(make, ham):
    return make.staff("clerk", ham)


@pytest.fixture
def manager(make, ham):
    return make.staff("manager", ham)


def level(variant_id, location_id):
    db.session.expire_all()
    return db.session.scalar(
        select(StockLevel).where(StockLevel.variant_id == variant_id, StockLevel.location_id == location_id)
    )


def ledger(variant_id, location_id):
    """(sum of on_hand_delta, sum of allocated_delta, number of movements) of one level."""
    return tuple(
        db.session.execute(
            select(
                func.coalesce(func.sum(StockMovement.on_hand_delta), 0),
                func.coalesce(func.sum(StockMovement.allocated_delta), 0),
                func.count(),
            ).where(StockMovement.variant_id == variant_id, StockMovement.location_id == location_id)
        ).one()
    )


def assert_ledger_explains_every_level():
    db.session.expire_all()
    for lvl in db.session.scalars(select(StockLevel)):
        on_hand, allocated, _count = ledger(lvl.variant_id, lvl.location_id)
        assert (lvl.on_hand, lvl.allocated) == (on_hand, allocated), lvl
        assert 0 <= lvl.allocated <= lvl.on_hand <= stock.MAX_ON_HAND
    assert_summaries_match_levels()


def summaries():
    """{variant id: (on_hand, allocated, versions, levels)} as kept in the summary rows."""
    return {
        row.variant_id: tuple(row[1:])
        for row in db.session.execute(
            select(
                VariantStock.variant_id,
                VariantStock.on_hand,
                VariantStock.allocated,
                VariantStock.versions,
                VariantStock.levels,
            )
        )
    }


def assert_summaries_match_levels():
    """Each variant's summary row holds exactly the sums over its levels (and a variant without levels none)."""
    aggregated = {
        row.variant_id: tuple(row[1:])
        for row in db.session.execute(
            select(
                StockLevel.variant_id,
                func.sum(StockLevel.on_hand),
                func.sum(StockLevel.allocated),
                func.sum(StockLevel.version),
                func.count(),
            ).group_by(StockLevel.variant_id)
        )
    }
    assert summaries() == aggregated


def change(variant, location, quantity, reason="delivery", **extra):
    return StockChange(variant.id, location.id, quantity, reason, **extra)


# --- receive ----------------------------------------------------------------------------------------------


def test_first_receipt_creates_the_level_then_adds(variant, ham, clerk):
    state = stock.receive(change(variant, ham, 3, reference="LS-1"), clerk)
    assert (state.on_hand, state.allocated, state.version, state.delta) == (3, 0, 1, 3)
    state = stock.receive(change(variant, ham, "2"), clerk)
    assert (state.on_hand, state.version, state.delta) == (5, 2, 2)
    movement = db.session.scalar(select(StockMovement).order_by(StockMovement.id))
    assert (movement.kind, movement.on_hand_delta, movement.staff_id, movement.reference) == (
        "receipt",
        3,
        clerk.id,
        "LS-1",
    )
    assert ledger(variant.id, ham.id) == (5, 0, 2)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.received").order_by(AuditEvent.id))
    assert event.staff_id == clerk.id and event.location_id == ham.id and event.detail["quantity"] == 3


@pytest.mark.parametrize(
    "quantity",
    [
        0,
        -1,
        "-3",
        "0",
        "",
        "   ",
        None,
        "abc",
        "2.5",
        "2,5",
        "1e3",
        "0x10",
        "１２",
        "٣",
        2.0,
        3.5,
        True,
        False,
        1_000_001,
        "1000001",
        "99999999999999999999",
        [],
        {"n": 1},
    ],
)
def test_a_receipt_needs_a_whole_positive_sane_quantity(variant, ham, clerk, quantity):
    stock.receive(change(variant, ham, 1), clerk)
    with pytest.raises(ValidationFailed) as failure:
        stock.receive(change(variant, ham, quantity), clerk)
    assert set(failure.value.fields) == {"quantity"}
    assert failure.value.fields["quantity"]
    assert level(variant.id, ham.id).on_hand == 1 and ledger(variant.id, ham.id)[2] == 1


@pytest.mark.parametrize("quantity", [1, "7", " 12 ", "+4", 1_000_000, "1000000"])
def test_good_quantities(variant, ham, clerk, quantity):
    assert stock.receive(change(variant, ham, quantity), clerk).on_hand == int(str(quantity).strip())


@pytest.mark.parametrize(
    ("reason", "reference", "field"),
    [
        ("", "", "reason"),
        ("   \n ", "", "reason"),
        (None, "", "reason"),
        ("x" * 501, "", "reason"),
        ("ok", "r" * 101, "reference"),
        ("bad\x00nul", "", "reason"),
        ("bell\x07", "", "reason"),
        (42, "", "reason"),
    ],
)
def test_a_receipt_needs_a_reason_within_bounds(variant, ham, clerk, reason, reference, field):
    with pytest.raises(ValidationFailed) as failure:
        stock.receive(StockChange(variant.id, ham.id, 1, reason, reference), clerk)
    assert field in failure.value.fields
    assert level(variant.id, ham.id) is None


def test_reasons_keep_unicode_and_html_as_typed(variant, ham, clerk):
    stock.receive(change(variant, ham, 1, "  Lieferung  Größe ✓ <b>Ærø</b> 🧥 "), clerk)
    assert db.session.scalar(select(StockMovement.reason)) == "Lieferung Größe ✓ <b>Ærø</b> 🧥"
    stock.receive(change(variant, ham, 1, "x" * 500), clerk)  # exactly the limit is fine


def test_receipts_for_unknown_variants_or_locations_are_not_found(variant, ham, clerk):
    with pytest.raises(NotFound):
        stock.receive(StockChange(999_999, ham.id, 1, "x"), clerk)
    with pytest.raises(NotFound):
        stock.receive(StockChange(variant.id, 999_999, 1, "x"), clerk)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_on_hand_has_an_upper_bound(variant, ham, monkeypatch):
    monkeypatch.setattr(stock, "MAX_ON_HAND", 10)
    stock.receive(change(variant, ham, 10), None)
    with pytest.raises(ValidationFailed) as failure:
        stock.receive(change(variant, ham, 1), None)
    assert "quantity" in failure.value.fields
    assert level(variant.id, ham.id).on_hand == 10


# --- correct ----------------------------------------------------------------------------------------------


def test_a_correction_sets_the_count_and_records_the_difference(variant, ham, clerk, make):
    make.stock(variant, ham, 10)
    state = stock.correct(change(variant, ham, "7", "damaged"), clerk)
    assert (state.on_hand, state.delta, state.version) == (7, -3, 2)
    state = stock.correct(change(variant, ham, 9, "found"), clerk)
    assert (state.on_hand, state.delta) == (9, 2)
    movements = db.session.scalars(
        select(StockMovement).where(StockMovement.kind == "adjustment").order_by(StockMovement.id)
    ).all()
    assert [(m.on_hand_delta, m.reason, m.staff_id) for m in movements] == [
        (-3, "damaged", clerk.id),
        (2, "found", clerk.id),
    ]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.corrected").order_by(AuditEvent.id))
    assert (event.detail["before"], event.detail["after"]) == (10, 7)
    assert_ledger_explains_every_level()


def test_a_count_of_zero_is_fine(variant, ham, clerk, make):
    make.stock(variant, ham, 4)
    assert stock.correct(change(variant, ham, 0, "stolen"), clerk).on_hand == 0


def test_a_matching_count_writes_nothing(variant, ham, clerk, make):
    make.stock(variant, ham, 4)
    state = stock.correct(change(variant, ham, 4, "stocktake"), clerk)
    assert (state.on_hand, state.delta, state.version) == (4, 0, 1)
    assert ledger(variant.id, ham.id)[2] == 1 and level(variant.id, ham.id).version == 1


def test_a_count_where_nothing_was_ever_stocked_creates_the_level(variant, ham, clerk):
    assert stock.correct(change(variant, ham, 0, "stocktake"), clerk).version == 0
    assert level(variant.id, ham.id) is None  # zero on zero: nothing to write
    state = stock.correct(change(variant, ham, 2, "found", seen_version=0), clerk)
    assert (state.on_hand, state.version) == (2, 1)
    assert ledger(variant.id, ham.id) == (2, 0, 1)


def test_a_count_below_what_is_allocated_is_refused_with_the_reason(variant, ham, clerk, make):
    make.stock(variant, ham, 5, allocated=3)
    with pytest.raises(ValidationFailed) as failure:
        stock.correct(change(variant, ham, 2, "stocktake"), clerk)
    assert "Reserved for customer orders: 3. The count cannot be lower" in failure.value.fields["quantity"]
    assert level(variant.id, ham.id).on_hand == 5
    assert stock.correct(change(variant, ham, 3, "stocktake"), clerk).on_hand == 3  # exactly allocated is fine


@pytest.mark.parametrize("quantity", [-1, "-1", "x", "1.5", 1_000_001, None])
def test_a_count_must_be_a_whole_number_from_zero(variant, ham, clerk, make, quantity):
    make.stock(variant, ham, 5)
    with pytest.raises(ValidationFailed) as failure:
        stock.correct(change(variant, ham, quantity, "stocktake"), clerk)
    assert "quantity" in failure.value.fields
    assert level(variant.id, ham.id).on_hand == 5


def test_a_correction_needs_a_reason(variant, ham, clerk, make):
    make.stock(variant, ham, 5)
    with pytest.raises(ValidationFailed) as failure:
        stock.correct(change(variant, ham, 4, ""), clerk)
    assert "reason" in failure.value.fields


def test_a_count_made_on_figures_that_changed_meanwhile_is_refused(variant, ham, clerk, make):
    seen = make.stock(variant, ham, 5).version
    stock.receive(change(variant, ham, 2), None)  # another tablet, in between
    with pytest.raises(Conflict) as conflict:
        stock.correct(change(variant, ham, 4, "stocktake", seen_version=seen), clerk)
    assert "now 7" in conflict.value.message
    assert conflict.value.detail == {"on_hand": 7, "allocated": 0, "version": seen + 1}
    assert level(variant.id, ham.id).on_hand == 7
    assert stock.correct(change(variant, ham, 4, "stocktake", seen_version=seen + 1), clerk).on_hand == 4


def test_a_nonsense_seen_version_is_a_validation_error(variant, ham, clerk, make):
    make.stock(variant, ham, 5)
    with pytest.raises(ValidationFailed) as failure:
        stock.correct(change(variant, ham, 4, "stocktake", seen_version="abc"), clerk)
    assert "version" in failure.value.fields


# --- allocate and release ------------------------------------------------------------------------------------


def test_allocate_and_release(variant, ham, make):
    make.stock(variant, ham, 5)
    state = stock.allocate(change(variant, ham, 3, "", reference="OS-26-000001"))
    assert (state.on_hand, state.allocated, state.available, state.version) == (5, 3, 2, 2)
    with pytest.raises(InsufficientStock) as failure:
        stock.allocate(change(variant, ham, 3, ""))
    assert failure.value.detail == {"available": 2, "requested": 3}
    state = stock.release(change(variant, ham, 1, "cancelled"))
    assert (state.allocated, state.version) == (2, 3)
    with pytest.raises(InvalidTransition):
        stock.release(change(variant, ham, 3, ""))
    assert level(variant.id, ham.id).allocated == 2
    kinds = db.session.execute(
        select(StockMovement.kind, StockMovement.allocated_delta, StockMovement.reference).order_by(StockMovement.id)
    ).all()
    assert [tuple(k) for k in kinds] == [("receipt", 0, ""), ("allocation", 3, "OS-26-000001"), ("release", -1, "")]
    assert_ledger_explains_every_level()


def test_reserved_goods_travel_out_of_a_source_into_a_pickup_store_and_to_the_customer(variant, ham, make):
    cph = make.location("CPH")
    make.stock(variant, ham, 5, allocated=2)
    sent = stock.dispatch(change(variant, ham, 2, "", reference="OS-26-000007"))
    assert (sent.on_hand, sent.allocated, sent.delta) == (3, 0, -2)
    arrived = stock.arrive(change(variant, cph, 2, "", reference="OS-26-000007"))
    assert (arrived.on_hand, arrived.allocated, arrived.version) == (2, 2, 1)  # CPH never had it: created
    handed = stock.hand_over(change(variant, cph, 1, "", reference="OS-26-000007"))
    assert (handed.on_hand, handed.allocated) == (1, 1)
    with pytest.raises(InvalidTransition):  # only reserved goods travel or leave with a customer
        stock.dispatch(change(variant, ham, 1, ""))
    with pytest.raises(InvalidTransition):
        stock.hand_over(change(variant, cph, 2, ""))
    kinds = db.session.execute(
        select(StockMovement.kind, StockMovement.on_hand_delta, StockMovement.allocated_delta)
        .where(StockMovement.kind != "receipt")
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(k) for k in kinds][-3:] == [("transfer_out", -2, -2), ("transfer_in", 2, 2), ("handover", -1, -1)]
    assert_ledger_explains_every_level()


def test_allocating_where_nothing_is_stocked_is_insufficient(variant, ham):
    with pytest.raises(InsufficientStock):
        stock.allocate(change(variant, ham, 1, ""))
    assert level(variant.id, ham.id) is None


@pytest.mark.parametrize("quantity", [0, -1, "1.5", "x", 1_000_001])
def test_allocations_need_a_positive_whole_quantity(variant, ham, make, quantity):
    make.stock(variant, ham, 5)
    with pytest.raises(ValidationFailed):
        stock.allocate(change(variant, ham, quantity, ""))
    with pytest.raises(ValidationFailed):
        stock.release(change(variant, ham, quantity, ""))


def test_an_allocation_inside_a_failed_transaction_is_rolled_back(variant, ham, make):
    from omnistore.core.db import transaction

    make.stock(variant, ham, 5)
    with pytest.raises(RuntimeError), transaction():
        stock.allocate(change(variant, ham, 2, ""))
        raise RuntimeError("the order could not be saved")
    assert (level(variant.id, ham.id).allocated, ledger(variant.id, ham.id)[2]) == (0, 1)


# --- the ledger invariant, property-based ------------------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "receive",
                "correct",
                "count",
                "allocate",
                "release",
                "import",
                "dispatch",
                "arrive",
                "hand_over",
                "take_back",
                "write_off",
                "write_off_reserved",
            ]
        ),
        st.integers(0, 1),  # which variant
        st.integers(0, 1),  # which location
        st.one_of(st.integers(-3, 12), st.sampled_from(["4", "x", "2.5", "", 1_000_001])),
    ),
    max_size=12,
)


@pytest.fixture
def places(make):
    """Two variants at two locations (created once; hypothesis then runs every example on them)."""
    locations = [make.location("HAM"), make.location("CPH")]
    variants = [make.variant(), make.variant()]
    manager = make.staff("manager", locations[0], email="invariant@example.test")
    return [v.id for v in variants], [v.sku for v in variants], [loc.id for loc in locations], manager


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_ledger_explains_every_level_after_any_sequence(places, operations):
    """After any sequence of changes (some refused), on_hand and allocated equal the sums of their movements,
    0 <= allocated <= on_hand, and each change did what a simple model of the rules says it would."""
    variants, skus, locations, manager = places
    model = {}
    for variant_id in variants:
        for location_id in locations:
            lvl = level(variant_id, location_id)
            model[variant_id, location_id] = [lvl.on_hand, lvl.allocated, lvl.version] if lvl else [0, 0, 0]
    for kind, v, loc, quantity in operations:
        key = (variants[v], locations[loc])
        on_hand, allocated, version = model[key]
        whole = quantity if isinstance(quantity, int) else (int(quantity) if quantity.isdigit() else None)
        item = StockChange(key[0], key[1], quantity, "reason")
        try:
            if kind == "receive":
                state = stock.receive(item, manager)
                expected = (on_hand + whole, allocated)
            elif kind == "correct":
                state = stock.correct(item, manager)
                expected = (whole, allocated)
            elif kind == "count":
                state = stock.post_count(item, manager)
                expected = (whole, allocated)
            elif kind == "allocate":
                state = stock.allocate(item)
                expected = (on_hand, allocated + whole)
            elif kind == "release":
                state = stock.release(item)
                expected = (on_hand, allocated - whole)
            elif kind in ("dispatch", "hand_over", "write_off_reserved"):
                state = getattr(stock, kind)(item)
                expected = (on_hand - whole, allocated - whole)
            elif kind == "arrive":
                state = stock.arrive(item)
                expected = (on_hand + whole, allocated + whole)
            elif kind == "take_back":  # a customer's return (returns/)
                state = stock.take_back(item, manager)
                expected = (on_hand + whole, allocated)
            elif kind == "write_off":  # a returned unit damaged or defective
                state = stock.write_off(item, manager)
                expected = (on_hand - whole, allocated)
            else:
                code = "HAM" if loc == 0 else "CPH"
                result = bulk_import.import_on_hand([ImportRow(1, skus[v], code, quantity)], None, "property")
                row = result.results[0]
                if row.status == "error":
                    raise ValidationFailed(row.errors[0].message)
                state = reads.level_at(*key)
                expected = (whole, allocated)
        except (ValidationFailed, InsufficientStock, InvalidTransition):
            # Refused: allowed only when the model says the change breaks a rule.
            valid = whole is not None and 0 <= whole <= inputs.MAX_QUANTITY
            if kind in (
                "receive",
                "allocate",
                "release",
                "dispatch",
                "arrive",
                "hand_over",
                "take_back",
                "write_off",
                "write_off_reserved",
            ):
                valid = valid and whole >= 1
            if kind in ("allocate", "write_off"):
                valid = valid and whole <= on_hand - allocated
            if kind in ("release", "dispatch", "hand_over", "write_off_reserved"):
                valid = valid and whole <= allocated
            if kind in ("correct", "count", "import"):
                valid = valid and whole >= allocated
            assert not valid, (kind, quantity, model[key])
            continue
        assert (state.on_hand, state.allocated) == expected, (kind, quantity)
        changed = expected != (on_hand, allocated)
        assert state.version == version + (1 if changed else 0), kind
        model[key] = [state.on_hand, state.allocated, state.version]
    assert_ledger_explains_every_level()


SUMMARY_OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "receive",
                "correct",
                "count",
                "allocate",
                "release",
                "write_off_reserved",
                "import",
                "order",
                "failed order",
                "take_back",
                "write_off",
            ]
        ),
        st.integers(0, 2),  # which variant
        st.integers(0, 1),  # which location
        st.integers(0, 6),
    ),
    max_size=15,
)


@pytest.fixture
def summary_places(make):
    """Three variants at two locations, as (id, sku) and (id, code) pairs (created once per test)."""
    variants = [make.variant() for _ in range(3)]
    locations = [make.location(code) for code in ("HAM", "CPH")]
    return [(v.id, v.sku) for v in variants], [(loc.id, loc.code) for loc in locations]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=SUMMARY_OPERATIONS)
def test_the_summary_equals_the_sums_over_the_levels_after_any_sequence(summary_places, operations):
    """Whatever happens (changes, refusals, several allocations in one transaction, a transaction that fails
    after its changes), each variant's summary row equals the sums over its levels, after every step."""
    from omnistore.core.db import transaction

    variants, locations = summary_places
    for kind, v, loc, quantity in operations:
        item = StockChange(variants[v][0], locations[loc][0], quantity, "reason")
        others = [StockChange(variants[(v + n) % 3][0], locations[(loc + n) % 2][0], 1, "") for n in (1, 2)]
        try:
            if kind == "receive":
                stock.receive(item, None)
            elif kind == "correct":
                stock.correct(item, None)
            elif kind == "count":
                stock.post_count(item, None)
            elif kind == "allocate":
                stock.allocate(item)
            elif kind == "release":
                stock.release(item)
            elif kind == "write_off_reserved":
                stock.write_off_reserved(item)
            elif kind == "take_back":
                stock.take_back(item, None)
            elif kind == "write_off":
                stock.write_off(item, None)
            elif kind == "import":
                bulk_import.import_on_hand([(variants[v][1], locations[loc][1], quantity)], None, "summary")
            else:  # an order: several allocations in one transaction, which fails after them
                with transaction():
                    for line in (item, *others):
                        stock.allocate(line)
                    if kind == "failed order":
                        raise RuntimeError("the order could not be saved")
        except (ValidationFailed, InsufficientStock, InvalidTransition, RuntimeError):
            pass
        assert_summaries_match_levels()


def test_a_summary_rebuilt_from_the_levels_changes_nothing_that_was_kept(variant, ham, cph, make):
    make.stock(variant, ham, 4, allocated=1)
    stock.receive(change(variant, cph, 3), None)
    stock.allocate(change(variant, cph, 2, ""))
    kept = summaries()
    rebuild_summaries()
    assert summaries() == kept == {variant.id: (7, 3, 3, 2)}
    db.session.execute(StockLevel.__table__.delete())
    db.session.commit()
    rebuild_summaries([variant.id])
    assert summaries() == {}


# --- concurrency: real threads, one app context (and one database connection) each -------------------------


def run_in_threads(app, count, work):
    """Start `count` threads at once, each running work(i) in its own app context; returns results/errors."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def run(i):
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                outcomes[i] = work(i)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_sixteen_threads_allocating_the_last_five_units(app, variant, ham, make):
    make.stock(variant, ham, 5)
    ids = (variant.id, ham.id)
    outcomes = run_in_threads(app, 16, lambda i: stock.allocate(StockChange(*ids, 1, "", reference=f"T{i}")))
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"LevelState": 5, "InsufficientStock": 11}, outcomes
    lvl = level(*ids)
    assert (lvl.on_hand, lvl.allocated, lvl.version) == (5, 5, 6)
    assert_ledger_explains_every_level()


def test_concurrent_receipts_all_count(app, variant, ham, make):
    make.stock(variant, ham, 1)
    ids = (variant.id, ham.id)
    outcomes = run_in_threads(app, 16, lambda i: stock.receive(StockChange(*ids, 2, "delivery"), None))
    assert all(isinstance(outcome, stock.LevelState) for outcome in outcomes), outcomes
    lvl = level(*ids)
    assert (lvl.on_hand, lvl.version) == (33, 17)
    assert sorted(outcome.version for outcome in outcomes) == list(range(2, 18))
    assert_ledger_explains_every_level()


def test_concurrent_first_receipts_create_one_level(app, variant, ham):
    ids = (variant.id, ham.id)
    outcomes = run_in_threads(app, 8, lambda i: stock.receive(StockChange(*ids, 1, "delivery"), None))
    assert all(isinstance(outcome, stock.LevelState) for outcome in outcomes), outcomes
    assert (level(*ids).on_hand, level(*ids).version) == (8, 8)


def test_two_tablets_counting_the_same_figure_at_once(app, variant, ham, make):
    """Both saw version 1; exactly one count is saved, the other is told the figure changed meanwhile."""
    seen = make.stock(variant, ham, 10).version
    ids = (variant.id, ham.id)
    outcomes = run_in_threads(
        app, 8, lambda i: stock.correct(StockChange(*ids, 20 + i, "stocktake", seen_version=seen), None)
    )
    saved = [outcome for outcome in outcomes if isinstance(outcome, stock.LevelState)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert len(saved) == 1 and len(refused) == 7, outcomes
    assert level(*ids).on_hand == saved[0].on_hand
    assert_ledger_explains_every_level()


def test_counts_without_a_seen_version_and_receipts_interleave_without_losing_any(app, variant, ham, make):
    make.stock(variant, ham, 10)
    ids = (variant.id, ham.id)

    def work(i):
        if i % 2:
            return stock.receive(StockChange(*ids, 1, "delivery"), None)
        return stock.correct(StockChange(*ids, 50 + i, "stocktake"), None)

    outcomes = run_in_threads(app, 12, work)
    assert all(isinstance(outcome, stock.LevelState) for outcome in outcomes), outcomes
    assert_ledger_explains_every_level()
    # Every change counted once (a count that found the figure it set, after receipts, changed nothing).
    assert level(*ids).version == 1 + sum(1 for outcome in outcomes if outcome.delta)
    assert sorted(o.version for o in outcomes if o.delta) == list(range(2, 2 + sum(1 for o in outcomes if o.delta)))


def test_an_import_and_allocations_running_at_once_keep_the_rules(app, make, ham):
    variants = [make.variant() for _ in range(20)]
    for v in variants:
        make.stock(v, ham, 3)
    rows = [ImportRow(n, v.sku, "HAM", 1) for n, v in enumerate(variants, 1)]

    def work(i):
        if i == 0:
            return bulk_import.import_on_hand(rows, None, "feed")
        v = variants[i % len(variants)]
        return stock.allocate(StockChange(v.id, ham.id, 1, ""))

    outcomes = run_in_threads(app, 12, work)
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, InsufficientStock)], outcomes
    assert_ledger_explains_every_level()


@pytest.mark.parametrize("stocked", [0, 8])
def test_imports_running_at_once_creating_and_changing_the_same_levels(app, make, ham, cph, stocked):
    """Each import sends the same 30 levels (all or some of them new) in its own order, with its own figures."""
    variants = [make.variant() for _ in range(15)]
    for v in variants[:stocked]:
        make.stock(v, ham, 1)
    pairs = [(v.sku, code) for v in variants for code in ("HAM", "CPH")]

    def work(i):
        ordered = pairs[::-1] if i % 2 else pairs
        return bulk_import.import_on_hand([(sku, code, 10 + i) for sku, code in ordered], None, f"feed {i}")

    outcomes = run_in_threads(app, 6, work)
    assert all(isinstance(outcome, bulk_import.ImportResult) for outcome in outcomes), outcomes
    assert all(outcome.summary["errors"] == 0 for outcome in outcomes), [o.bad_rows for o in outcomes]
    levels = db.session.scalars(select(StockLevel)).all()
    assert len(levels) == 30 and len({lvl.on_hand for lvl in levels}) == 1  # one import was the last for all
    assert_ledger_explains_every_level()


def test_orders_allocating_the_same_variants_in_opposite_orders_never_deadlock(app, make):
    """Each thread is an order: one transaction allocating three variants, each at its own store (so no two
    threads share a level), half of them in the opposite order. The summary rows the threads share are
    written at commit in variant order, so no two transactions wait on each other in a circle."""
    from omnistore.core.db import transaction

    variants = [make.variant() for _ in range(3)]
    stores = [make.location(f"T{n:02d}") for n in range(8)]
    for v in variants:
        for store in stores:
            make.stock(v, store, 20)

    def order(i):
        lines = variants if i % 2 else variants[::-1]
        for _round in range(5):
            with transaction():
                for v in lines:
                    stock.allocate(StockChange(v.id, stores[i].id, 1, "", reference=f"O{i}"))
        return "ok"

    outcomes = run_in_threads(app, len(stores), order)
    assert outcomes == ["ok"] * len(stores), outcomes
    assert {key: value[1] for key, value in summaries().items()} == {v.id: 5 * len(stores) for v in variants}
    assert_ledger_explains_every_level()


def test_many_writers_on_one_variant_keep_its_summary(app, make):
    """Receipts, counts, allocations, releases and imports from 12 threads at once on one variant's levels."""
    v = make.variant()
    stores = [make.location(f"W{n:02d}") for n in range(4)]
    for store in stores:
        make.stock(v, store, 10)

    def work(i):
        store = stores[i % len(stores)]
        done = 0
        for step in range(6):
            try:
                match (i + step) % 5:
                    case 0:
                        stock.receive(StockChange(v.id, store.id, 2, "delivery"), None)
                    case 1:
                        stock.correct(StockChange(v.id, store.id, 8 + step, "stocktake"), None)
                    case 2:
                        stock.allocate(StockChange(v.id, store.id, 1, ""))
                    case 3:
                        stock.release(StockChange(v.id, store.id, 1, ""))
                    case _:
                        bulk_import.import_on_hand([(v.sku, store.code, 9 + i)], None, "feed")
                done += 1
            except (InsufficientStock, InvalidTransition, ValidationFailed):
                pass
        return done

    outcomes = run_in_threads(app, 12, work)
    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    assert_ledger_explains_every_level()


# --- history ------------------------------------------------------------------------------------------------


def test_history_is_newest_first_with_the_figure_after_each_entry(variant, ham, clerk, make):
    from omnistore.stores.staff import create_api_client

    client_actor, _token = create_api_client("erp")
    stock.receive(change(variant, ham, 5, "first"), clerk)
    stock.correct(change(variant, ham, 3, "damaged"), clerk)
    stock.allocate(change(variant, ham, 2, "", reference="OS-1"))
    bulk_import.import_on_hand([(variant.sku, "HAM", 9)], client_actor, "API")
    page = reads.history(variant.id, ham.id, page=1, per_page=3)
    assert (page.total, page.pages, page.page, page.has_next, page.has_prev) == (4, 2, 1, True, False)
    assert [(e.movement.kind, e.on_hand_after) for e in page.items] == [
        ("import", 9),
        ("allocation", 3),
        ("adjustment", 3),
    ]
    assert page.items[0].actor_name == "Integration erp"
    assert page.items[1].actor_name == "System"
    assert page.items[2].actor_name == clerk.name
    older = reads.history(variant.id, ham.id, page=2, per_page=3)
    assert [(e.movement.kind, e.on_hand_after) for e in older.items] == [("receipt", 5)]
    assert reads.history(variant.id, ham.id, page=99, per_page=3).page == 2
    assert reads.history(variant.id, ham.id, page=-4, per_page=3).page == 1
    empty = reads.history(variant.id, 999_999)
    assert (empty.total, empty.pages, empty.items) == (0, 1, [])


def test_network_stock_lists_every_active_location(variant, ham, cph, make):
    make.location("WH1")
    make.location("OLD", active=False)
    make.stock(variant, cph, 4, allocated=1)
    found, levels = reads.network_stock(variant.sku)
    assert found.id == variant.id
    assert [(x.location.code, x.on_hand, x.allocated, x.available) for x in levels] == [
        ("CPH", 4, 1, 3),
        ("HAM", 0, 0, 0),
        ("WH1", 0, 0, 0),
    ]
    for sku in ("NOPE", "", "x" * 65, None):
        with pytest.raises(NotFound):
            reads.network_stock(sku)


# --- import ---------------------------------------------------------------------------------------------------


@pytest.fixture
def network(make, ham, cph):
    variants = [make.variant(sku=f"SKU-{n}") for n in range(1, 5)]
    make.stock(variants[0], ham, 5, allocated=2)
    make.stock(variants[1], ham, 7)
    return variants


def statuses(result):
    return [(r.line, r.status, [p.code for p in r.errors]) for r in result.results]


def test_import_applies_good_rows_and_reports_bad_ones(network, manager, ham):
    rows = [
        ImportRow(2, "SKU-1", "ham", "8"),  # updated (lower-case code is fine)
        ImportRow(3, "SKU-3", "HAM", "4"),  # created: first stock here
        ImportRow(4, "SKU-2", "HAM", "7"),  # unchanged
        ImportRow(5, "NOPE", "HAM", "1"),
        ImportRow(6, "SKU-4", "XXX", "1"),
        ImportRow(7, "X-7", "HAM", "-1"),  # a row with a bad figure is not looked up any further
        ImportRow(8, "X-8", "HAM", "abc"),
        ImportRow(9, "X-9", "HAM", "2.5"),
        ImportRow(10, "X-10", "HAM", "1000001"),
        ImportRow(11, "SKU-1", "CPH", "1"),  # another store: out of scope for a HAM manager
        ImportRow(12, "", "HAM", "1"),
        ImportRow(13, "X-13", "HAM", ""),
        ImportRow(14, empty=True),
        ImportRow(15, "SKU-4", "", "3"),
    ]
    result = bulk_import.import_on_hand(rows, manager, "erp.csv")
    assert statuses(result) == [
        (2, "updated", []),
        (3, "created", []),
        (4, "unchanged", []),
        (5, "error", ["unknown_sku"]),
        (6, "error", ["unknown_location"]),
        (7, "error", ["negative"]),
        (8, "error", ["not_a_number"]),
        (9, "error", ["not_a_whole_number"]),
        (10, "error", ["too_large"]),
        (11, "error", ["out_of_scope"]),
        (12, "error", ["required"]),
        (13, "error", ["required"]),
        (14, "skipped", []),
        (15, "error", ["required"]),
    ]
    assert result.summary == {"created": 1, "updated": 1, "unchanged": 1, "errors": 10, "skipped": 1}
    assert [(r.previous, r.on_hand) for r in result.results[:3]] == [(5, 8), (0, 4), (7, 7)]
    assert level(network[0].id, ham.id).on_hand == 8
    assert level(network[2].id, ham.id).on_hand == 4
    movements = db.session.scalars(select(StockMovement).where(StockMovement.kind == "import")).all()
    assert sorted(m.on_hand_delta for m in movements) == [3, 4]
    assert {(m.reason, m.reference, m.staff_id) for m in movements} == {("erp.csv", result.reference, manager.id)}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.imported").order_by(AuditEvent.id))
    assert event.entity_id == result.reference and event.detail["summary"] == result.summary
    assert len(event.detail["problems"]) == 10
    assert_ledger_explains_every_level()


def test_duplicates_refuse_every_line_involved(network, manager, ham):
    rows = [
        ImportRow(2, "SKU-2", "HAM", 1),
        ImportRow(3, "SKU-1", "HAM", 9),
        ImportRow(4, "SKU-2", "ham", 2),
        ImportRow(5, "SKU-2", "HAM", 3),
    ]
    result = bulk_import.import_on_hand(rows, manager, "x")
    assert statuses(result) == [
        (2, "error", ["duplicate"]),
        (3, "updated", []),
        (4, "error", ["duplicate"]),
        (5, "error", ["duplicate"]),
    ]
    assert "also at 4, 5" in result.results[0].errors[0].message
    assert level(network[1].id, ham.id).on_hand == 7


def test_an_import_below_allocated_is_refused_for_that_row(network, manager, ham):
    result = bulk_import.import_on_hand([ImportRow(2, "SKU-1", "HAM", 1)], manager, "x")
    assert statuses(result) == [(2, "error", ["below_allocated"])]
    assert "Reserved for customer orders here: 2, so on_hand cannot be 1." in result.results[0].errors[0].message
    assert level(network[0].id, ham.id).on_hand == 5


def test_importing_zero_where_nothing_is_stocked_writes_nothing(network, manager, ham):
    result = bulk_import.import_on_hand([ImportRow(2, "SKU-4", "HAM", 0)], manager, "x")
    assert statuses(result) == [(2, "unchanged", [])]
    assert level(network[3].id, ham.id) is None


def test_resending_the_same_rows_changes_nothing(network, manager, ham):
    rows = [("SKU-1", "HAM", 3), ("SKU-2", "HAM", 0), ("SKU-3", "HAM", 6)]
    first = bulk_import.import_on_hand(rows, manager, "x")
    assert first.summary["errors"] == 0
    versions = {v.id: level(v.id, ham.id).version for v in network[:3]}
    count = db.session.scalar(select(func.count()).select_from(StockMovement))
    again = bulk_import.import_on_hand(rows, manager, "x")
    assert again.summary == {"created": 0, "updated": 0, "unchanged": 3, "errors": 0, "skipped": 0}
    assert {v.id: level(v.id, ham.id).version for v in network[:3]} == versions
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == count


def test_only_managers_admins_and_integrations_import(network, make, ham, cph, clerk):
    with pytest.raises(Forbidden):
        bulk_import.import_on_hand([("SKU-1", "HAM", 9)], clerk, "x")
    admin = make.staff("admin", ham)
    assert bulk_import.import_on_hand([("SKU-1", "CPH", 9)], admin, "x").summary["created"] == 1
    from omnistore.stores.staff import create_api_client

    api_client, _token = create_api_client("erp")
    result = bulk_import.import_on_hand([("SKU-2", "CPH", 4)], api_client, "API")
    assert result.summary["created"] == 1
    movement = db.session.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
    assert (movement.api_client_id, movement.staff_id) == (api_client.id, None)


def test_inactive_locations_are_unknown_to_imports(network, make, manager):
    make.location("OLD", active=False)
    result = bulk_import.import_on_hand([("SKU-1", "OLD", 9)], None, "x")
    assert statuses(result) == [(1, "error", ["unknown_location"])]


def test_too_many_rows_are_refused_before_anything_is_written(network, manager, monkeypatch):
    monkeypatch.setattr(feed, "MAX_IMPORT_ROWS", 3)
    with pytest.raises(feed.TooManyRows):
        bulk_import.import_on_hand([("SKU-1", "HAM", 9)] * 4, manager, "x")
    with pytest.raises(feed.TooManyRows):
        feed.rows_from_json([{}] * 4)
    with pytest.raises(feed.TooManyRows):
        feed.read_csv(b"a;HAM;1\n" * 4)


def test_a_large_import_is_set_based(app, make, ham):
    """2,000 rows: a handful of statements, not one per row."""
    from omnistore.catalog.models import Variant
    from tests.factories import ean
    from tests.helpers import count_statements

    variants = [{"sku": f"BULK-{n:05d}"} for n in range(2000)]
    product = make.product()
    db.session.execute(
        db.insert(Variant),
        [dict(v, product_id=product.id, ean=ean(900_000 + n), price_minor=100) for n, v in enumerate(variants)],
    )
    db.session.commit()
    with count_statements() as statements:
        result = bulk_import.import_on_hand([(v["sku"], "HAM", n % 7) for n, v in enumerate(variants)], None, "bulk")
    assert result.summary["errors"] == 0
    assert result.summary["created"] == sum(1 for n in range(2000) if n % 7)
    assert len(statements) < 40, len(statements)
    assert_ledger_explains_every_level()


# --- the API's rows ------------------------------------------------------------------------------------------


def test_rows_from_json_checks_types_and_fields(network, manager):
    rows = feed.rows_from_json(
        [
            {"sku": "SKU-1", "location": "HAM", "on_hand": 9},
            "not an object",
            {"sku": "SKU-2", "location": "HAM", "on_hand": "5"},
            {"sku": "SKU-3", "location": "HAM", "on_hand": 5.0},
            {"sku": "SKU-4", "location": "HAM", "on_hand": True},
            {"sku": "SKU-3", "location": "CPH", "on_hand": 1, "extra": 1},
            {"sku": 17, "location": "HAM", "on_hand": 1},
            {"location": "HAM", "on_hand": 1},
        ]
    )
    result = bulk_import.import_on_hand(rows, None, "API")
    assert statuses(result) == [
        (0, "updated", []),
        (1, "error", ["invalid_type"]),
        (2, "error", ["invalid_type"]),
        (3, "error", ["invalid_type"]),
        (4, "error", ["invalid_type"]),
        (5, "error", ["unknown_field"]),
        (6, "error", ["invalid_type"]),
        (7, "error", ["required"]),
    ]
    with pytest.raises(ValidationFailed):
        feed.rows_from_json({"sku": "x"})


# --- reading CSV files -------------------------------------------------------------------------------------------


def csv_rows(data):
    return [(r.line, r.sku, r.location, r.on_hand, r.empty, [p.code for p in r.problems]) for r in feed.read_csv(data)]


def test_csv_with_a_header_commas_and_crlf():
    assert csv_rows(b"sku,location,on_hand\r\nA-1,HAM,3\r\nB-2,CPH,0\r\n") == [
        (2, "A-1", "HAM", "3", False, []),
        (3, "B-2", "CPH", "0", False, []),
    ]


def test_csv_excel_style_semicolons_bom_and_quotes():
    data = '\ufeff"SKU";"Location";"On hand"\n"A;1";HAM;3\n'.encode()
    assert csv_rows(data) == [(2, "A;1", "HAM", "3", False, [])]


def test_csv_header_columns_in_any_order_and_extra_columns():
    data = b"Bestand;Beschreibung;Filiale;Artikelnummer\n4;Parka Navy XL;HAM;A-1\n"
    assert csv_rows(data) == [(2, "A-1", "HAM", "4", False, [])]


def test_csv_without_a_header_and_with_tabs():
    assert csv_rows(b"A-1\tHAM\t3\n") == [(1, "A-1", "HAM", "3", False, [])]


def test_csv_blank_lines_are_skipped_and_lines_keep_their_numbers():
    data = b'sku;location;on_hand\n\nA-1;HAM;3\n;;\n"B\nwith newline";HAM;1\nC;HAM;2\n'
    rows = csv_rows(data)
    assert [(line, empty) for line, *_rest, empty, _p in rows] == [
        (2, True),
        (3, False),
        (4, True),
        (5, False),
        (7, False),
    ]


def test_csv_missing_and_extra_columns_are_row_problems():
    assert csv_rows(b"A-1;HAM\nB;HAM;1;surplus\nC;HAM;1;;\n") == [
        (1, None, None, None, False, ["missing_column"]),
        (2, None, None, None, False, ["too_many_columns"]),
        (3, "C", "HAM", "1", False, []),
    ]


def test_csv_windows_1252_and_utf16_are_read():
    assert csv_rows("Größe-1;HAM;3\n".encode("cp1252"))[0][1] == "Größe-1"
    assert csv_rows("sku;location;on_hand\nÆ-1;CPH;3\n".encode("utf-16"))[0][1] == "Æ-1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"PK\x03\x04...", "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1...", "Excel workbook"),
        (b"A;HAM;\x00\x001\n", "binary"),
        (b"sku;on_hand\nA;1\n", "lacks location"),
        (b"sku;location;on_hand\n", "no rows"),
        (b'"A;HAM;1\n', "could not be read"),
        (b'A"x;HAM;1\n"', "could not be read"),
    ],
)
def test_csv_files_that_cannot_be_used(data, message):
    with pytest.raises(ValidationFailed) as failure:
        feed.read_csv(data)
    assert message in failure.value.message or message in failure.value.fields["file"]
    assert "file" in failure.value.fields


def test_csv_over_the_size_limit(monkeypatch):
    monkeypatch.setattr(feed, "MAX_IMPORT_BYTES", 10)
    with pytest.raises(feed.TooManyRows):
        feed.read_csv(b"A-1;HAM;3\nB-1;HAM;4\n")
