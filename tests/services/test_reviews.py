"""The review figures against a hand-computed fixture: Hamburg (Europe/Berlin, UTC+1 in November) on
Sunday 22 November 2026 at 13:00 local (12:00 UTC). "Today" is 21 Nov 23:00 UTC – 22 Nov 23:00 UTC.

    order  placed (UTC)   ready (UTC)   collected (UTC)  promised       status / notes
    A      21 Nov 23:30   22 Nov 01:30  22 Nov 05:30     22 Nov 10:00   collected (checked in 05:00, qr) — placed
                                                                         00:30 local: inside today
    B      21 Nov 22:30   22 Nov 02:30  —                22 Nov 01:00   ready, pickup by 22 Nov 10:00: overdue, late
                                                                         — placed 23:30 local on the 21st: outside
    C      22 Nov 09:00   —             —                —              placed
    D      15 Nov 10:00   16 Nov 10:00  —                —              expired 22 Nov 06:00
    E      20 Nov 10:00   21 Nov 10:00  —                —              cancelled 22 Nov 08:00 after ready
    F      (Copenhagen)   22 Nov 08:00  22 Nov 09:00                    collected — network only
    H      22 Nov 20:59   22 Nov 22:59  —                —              ready (23:59 local), pickup by 29 Nov
    I      20 Nov 10:00   21 Nov 12:00  22 Nov 23:00                    collected at 00:00 local on the 23rd: outside
    J      22 Nov 10:00   —             —                               sold by HAM, pickup HAM, lines HAM + 2 × BER
    K      22 Nov 11:00   —             —                               sold by HAM, delivery, line CPH, cancelled
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from omnistore.core.errors import Forbidden, NotFound, OutOfScope, ValidationFailed
from omnistore.reviews import dashboard, figures
from omnistore.reviews import handovers as handover_log
from omnistore.reviews import scope as review_scope
from omnistore.reviews import timeline as order_timeline

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def at(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def shop(make):
    ham, cph, ber = make.location("HAM"), make.location("CPH"), make.location("BER")
    manager = make.staff("manager", ham, email="manager@example.test", name="Mia Manager")
    clerk = make.staff("clerk", ham, email="clerk@example.test", name="Jonas Weber")
    admin = make.staff("admin", ham, email="admin@example.test")
    cph_manager = make.staff("manager", cph, email="cph@example.test")
    variant = make.variant(price_minor=8995)
    line = [(variant, 1, ham)]
    orders = {}

    def order(name, location=ham, lines=line, **fields):
        orders[name] = make.order(location, lines, **fields)
        return orders[name]

    a = order("A", status="collected", placed_at=at(21, 23, 30), promised_at=at(22, 10))
    make.pickup(
        a,
        ready_at=at(22, 1, 30),
        checked_in_at=at(22, 5),
        collected_at=at(22, 5, 30),
        collected_by_staff_id=clerk.id,
        verification="qr",
    )
    b = order("B", status="ready", placed_at=at(21, 22, 30), promised_at=at(22, 1))
    make.pickup(b, ready_at=at(22, 2, 30), pickup_by=at(22, 10))
    c = order("C", placed_at=at(22, 9))
    make.pickup(c)
    d = order("D", status="expired", placed_at=at(15, 10))
    make.pickup(d, ready_at=at(16, 10), pickup_by=at(21, 10))
    make.event(d, "expired", at(22, 6), from_status="ready", to_status="expired")
    e = order("E", status="cancelled", placed_at=at(20, 10))
    make.pickup(e, ready_at=at(21, 10))
    make.event(
        e, "cancelled", at(22, 8), staff=clerk, from_status="ready", to_status="cancelled", reason="customer called"
    )
    f = order("F", location=cph, lines=[(variant, 1, cph)], status="collected", placed_at=at(22, 7))
    make.pickup(f, ready_at=at(22, 8), collected_at=at(22, 9), verification="code_name")
    h = order("H", status="ready", placed_at=at(22, 20, 59))
    make.pickup(h, ready_at=at(22, 22, 59), pickup_by=at(29, 22))
    i = order("I", status="collected", placed_at=at(20, 10))
    make.pickup(i, ready_at=at(21, 12), collected_at=at(22, 23), verification="id")
    j = order(
        "J",
        lines=[(variant, 1, ham), (variant, 2, ber)],
        placed_at=at(22, 10),
        origin_location_id=ham.id,
        channel="store",
    )
    make.pickup(j)
    order(
        "K",
        lines=[(variant, 1, cph)],
        fulfilment="delivery",
        status="cancelled",
        placed_at=at(22, 11),
        origin_location_id=ham.id,
        channel="store",
    )
    return dict(
        ham=ham, cph=cph, ber=ber, manager=manager, clerk=clerk, admin=admin, cph_manager=cph_manager, orders=orders
    )


def numbers(page):
    return sorted(order.number for order in page.items)


def names(shop, *letters):
    return sorted(shop["orders"][letter].number for letter in letters)


def test_today_at_the_store_matches_the_hand_computed_figures(shop):
    scope = review_scope.scope_for(shop["manager"], period="today", now=NOW)
    assert (scope.start, scope.end) == (at(21, 23), at(22, 23))
    result = dashboard.review(scope)
    assert {k: result.counts[k] for k in figures.COUNTED} == {
        "placed": 4,
        "ready": 3,
        "collected": 1,
        "expired": 1,
        "cancelled": 1,
        "waiting": 2,
        "overdue": 1,
        "on_time": 1,
        "late": 1,
        "checked_in": 1,
        "endless_aisle": 2,
    }
    assert result.on_time_rate == 0.5
    assert result.no_show_rate == 0.5
    # order → ready: A 2 h, B 4 h, H 2 h; ready → collected: A 4 h; desk wait: A 30 min.
    assert (result.to_ready.count, result.to_ready.median, result.to_ready.p90) == (3, 7200, pytest.approx(12960))
    assert (result.to_collect.count, result.to_collect.median, result.to_collect.p90) == (1, 14400, 14400)
    assert (result.desk_wait.count, result.desk_wait.median) == (1, 1800)
    assert dict(result.to_ready.buckets)[4] == 2 and dict(result.to_ready.buckets)[12] == 1
    # Endless aisle: J from Berlin (2 × 89,95 still sold), K from Copenhagen (cancelled: nothing saved).
    assert [(s.code, s.orders, s.saved) for s in result.sources] == [("BER", 1, {"EUR": 17990}), ("CPH", 1, {"EUR": 0})]
    assert result.saved == {"EUR": 17990}
    # Charts: one day; A collected 06:30 local on a Sunday.
    assert result.daily == [
        (date(2026, 11, 22), {"placed": 4, "ready": 3, "collected": 1, "expired": 1, "cancelled": 1})
    ]
    assert result.heat[6][6] == 1 and result.heat_max == 1


@pytest.mark.parametrize(
    ("figure", "letters"),
    [
        ("placed", "ACHJ"),
        ("ready", "ABH"),
        ("collected", "A"),
        ("expired", "D"),
        ("cancelled", "E"),
        ("cancelled_after_ready", "E"),
        ("waiting", "BH"),
        ("overdue", "B"),
        ("on_time", "A"),
        ("late", "B"),
        ("checked_in", "A"),
        ("endless_aisle", "JK"),
    ],
)
def test_every_figure_lists_exactly_the_orders_it_counts(shop, figure, letters):
    scope = review_scope.scope_for(shop["manager"], period="today", now=NOW)
    page = figures.orders_for_figure(scope, figure)
    assert numbers(page) == names(shop, *letters)
    assert page.total == len(letters)


def test_endless_aisle_by_source_lists_that_sources_orders(shop):
    scope = review_scope.scope_for(shop["manager"], period="today", now=NOW)
    assert numbers(figures.orders_for_figure(scope, "endless_aisle", source="BER")) == names(shop, "J")
    with pytest.raises(NotFound):
        figures.orders_for_figure(scope, "endless_aisle", source="XXX")
    with pytest.raises(NotFound):
        figures.orders_for_figure(scope, "no-such-figure")


def test_seven_days_take_in_the_order_placed_before_local_midnight(shop):
    scope = review_scope.scope_for(shop["manager"], period="7d", now=NOW)
    assert (scope.first_day, scope.last_day) == (date(2026, 11, 16), date(2026, 11, 22))
    result = dashboard.review(scope)
    # + B (21st local), E and I (20th); D was placed on the 15th, before the period: still counted as expired.
    assert result.counts["placed"] == 7
    assert result.counts["ready"] == 6  # A B H + D (16th) E (21st) I (21st)
    assert len(result.daily) == 7


def test_the_collection_at_local_midnight_belongs_to_the_next_day(shop):
    tomorrow = review_scope.scope_for(shop["manager"], period="custom", first="2026-11-23", last="2026-11-23", now=NOW)
    assert tomorrow.start == at(22, 23)
    assert numbers(figures.orders_for_figure(tomorrow, "collected")) == names(shop, "I")
    assert dashboard.review(tomorrow).heat[0][0] == 1  # Monday 00:00 local


def test_an_empty_period_has_zeros_and_no_rates(shop):
    scope = review_scope.scope_for(shop["manager"], period="custom", first="2025-01-01", last="2025-01-07", now=NOW)
    result = dashboard.review(scope)
    assert all(result.counts[k] == 0 for k in figures.COUNTED if k not in ("waiting", "overdue"))
    assert (result.counts["waiting"], result.counts["overdue"]) == (2, 1)  # "now" does not depend on the period
    assert result.on_time_rate is None and result.no_show_rate is None
    assert result.to_ready.median is None and result.to_collect.p90 is None and result.desk_wait.median is None
    assert result.sources == [] and result.saved == {}
    assert [counts["placed"] for _day, counts in result.daily] == [0] * 7
    assert result.heat_max == 0


def test_the_network_adds_every_store(shop):
    scope = review_scope.scope_for(shop["admin"], store="network", period="today", now=NOW)
    assert scope.is_network
    result = dashboard.review(scope)
    assert result.counts["collected"] == 2  # A + F in Copenhagen
    assert result.counts["placed"] == 5
    league = {row.code: row for row in dashboard.league(scope)}
    assert (league["HAM"].placed, league["HAM"].collected, league["HAM"].expired, league["HAM"].overdue) == (4, 1, 1, 1)
    assert league["HAM"].no_show_rate == 0.5 and league["HAM"].median_to_ready == 7200
    assert (league["CPH"].collected, league["CPH"].no_show_rate, league["CPH"].median_to_collect) == (1, 0.0, 3600)
    assert [row.code for row in dashboard.league(scope, "no_show_rate")][:2] == ["HAM", "CPH"]
    assert [row.code for row in dashboard.league(scope, "on_time_rate")][0] == "HAM"


def test_scope_rules(shop):
    manager, admin, clerk = shop["manager"], shop["admin"], shop["clerk"]
    assert review_scope.scope_for(manager, store="ham", now=NOW).location == shop["ham"]
    with pytest.raises(OutOfScope):
        review_scope.scope_for(manager, store="CPH", now=NOW)
    with pytest.raises(Forbidden):
        review_scope.scope_for(manager, store="network", now=NOW)
    with pytest.raises(Forbidden):
        review_scope.scope_for(clerk, now=NOW)
    assert review_scope.scope_for(admin, store="CPH", now=NOW).location == shop["cph"]
    with pytest.raises(NotFound):
        review_scope.scope_for(admin, store="NOPE", now=NOW)
    cph = review_scope.scope_for(shop["cph_manager"], period="today", now=NOW)
    assert numbers(figures.orders_for_figure(cph, "collected")) == names(shop, "F")


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-11-10", "2026-11-01"),
        ("nonsense", "2026-11-01"),
        ("2020-01-01", "2026-01-01"),
        ("1900-01-01", "1900-01-02"),
    ],
)
def test_a_bad_custom_period_is_refused(shop, first, last):
    with pytest.raises(ValidationFailed):
        review_scope.scope_for(shop["manager"], period="custom", first=first, last=last, now=NOW)


def test_a_day_when_the_clocks_go_back_has_25_hours(shop):
    scope = review_scope.scope_for(shop["manager"], period="custom", first="2026-10-25", last="2026-10-25", now=NOW)
    assert scope.end - scope.start == timedelta(hours=25)
    assert scope.start == datetime(2026, 10, 24, 22, tzinfo=UTC)


def test_handover_log_and_exceptions(shop, make):
    scope = review_scope.scope_for(shop["manager"], period="7d", now=NOW)
    page = handover_log.handovers(scope)
    items, total = page.items, page.total
    assert total == 1 and items[0].order.number == shop["orders"]["A"].number
    assert (items[0].staff_name, items[0].verification, items[0].partial) == ("Jonas Weber", "qr", False)
    assert handover_log.handovers(scope, method="id").total == 0
    assert handover_log.handovers(scope, staff_id=shop["clerk"].id).total == 1
    with pytest.raises(ValidationFailed):
        handover_log.handovers(scope, method="fingerprint")
    # A partial handover: one line of A refused.
    from omnistore.core.extensions import db

    shop["orders"]["A"].lines[0].status = "refused"
    db.session.commit()
    assert handover_log.handovers(scope).items[0].partial is True
    from omnistore.core import audit

    audit.record("pickup.code_failed", staff=shop["clerk"]).created_at = at(22, 11)
    db.session.commit()
    kinds = sorted(row.kind for row in handover_log.exceptions(scope))
    assert kinds == ["cancelled_after_ready", "code_failed", "expired", "partial"]
    counts = handover_log.exception_counts(scope)
    assert counts == {"expired": 1, "cancelled_after_ready": 1, "partial": 1, "code_failed": 1}


def test_timeline_names_the_actors(shop):
    entries = order_timeline.timeline(shop["orders"]["E"])
    assert [(e.kind, e.actor, e.location, e.detail.get("reason")) for e in entries] == [
        ("cancelled", "Jonas Weber", "Hamburg", "customer called")
    ]
