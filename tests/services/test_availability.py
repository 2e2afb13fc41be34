"""The read side of stock: the network panel, distances, opening hours, in transit, totals, fingerprint."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from omnistore.core.extensions import db
from omnistore.orders.models import Transfer
from omnistore.stock import availability, ledger
from omnistore.stock.availability import product_view, variant_totals
from omnistore.stock.network_panel import fingerprint, network_panel
from omnistore.stock.search import catalogue_query
from omnistore.stores.locations import distance_km, opening_status
from tests.helpers import count_statements

# Monday 9 March 2026; Europe/Berlin and Europe/Copenhagen are UTC+1 in winter, UTC+2 from 29 March.
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


def at(day, hour, minute=0, base=MONDAY):
    """UTC time on the `day`-th day after the Monday above (0 = Monday, 6 = Sunday)."""
    return base + timedelta(days=day, hours=hour, minutes=minute)


def place(lat, lon, tz="Europe/Berlin", hours=None):
    return SimpleNamespace(latitude=lat, longitude=lon, timezone=tz, opening_hours=hours or {})


# --- distance --------------------------------------------------------------------------------------------------


def test_great_circle_distances():
    ham, cph, ber = place(53.5511, 9.9937), place(55.6761, 12.5683), place(52.5200, 13.4050)
    assert distance_km(ham, cph) == pytest.approx(288, abs=1.5)
    assert distance_km(ham, ber) == pytest.approx(255, abs=1.5)
    assert distance_km(ham, ham) == 0
    assert distance_km(ham, cph) == pytest.approx(distance_km(cph, ham))
    # the far side of the world, and across the date line: no math domain errors
    assert distance_km(place(0, 0), place(0, 180)) == pytest.approx(20015, abs=10)
    assert distance_km(place(10, 179.9), place(10, -179.9)) < 25


# --- opening hours ---------------------------------------------------------------------------------------------

WEEK = {day: [["09:30", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")} | {"sun": []}


@pytest.mark.parametrize(
    ("when", "open_now", "closes_at", "opens_at"),
    [
        (at(0, 8, 29), False, None, "09:30"),  # 09:29 in Hamburg
        (at(0, 8, 30), True, "20:00", None),  # 09:30: open
        (at(0, 18, 59), True, "20:00", None),  # 19:59
        (at(0, 19, 0), False, None, None),  # 20:00: closed, nothing later today
        (at(6, 12), False, None, None),  # Sunday noon: closed all day
    ],
)
def test_open_now_in_the_locations_time_zone(when, open_now, closes_at, opens_at):
    status = opening_status(place(53.55, 9.99, "Europe/Berlin", WEEK), when)
    assert (status.open_now, status.closes_at, status.opens_at) == (open_now, closes_at, opens_at)


def test_sunday_is_closed_today():
    status = opening_status(place(53.55, 9.99, "Europe/Berlin", WEEK), at(6, 10))
    assert not status.open_now and status.today == ()


def test_the_same_moment_differs_by_time_zone():
    hours = {day: [["10:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    moment = at(0, 8, 30)  # 09:30 in Copenhagen and Berlin, 08:30 in London, 10:30 in Helsinki
    assert not opening_status(place(55.67, 12.56, "Europe/Copenhagen", hours), moment).open_now
    assert opening_status(place(60.17, 24.94, "Europe/Helsinki", hours), moment).open_now
    summer = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # 10:30 in Copenhagen (UTC+2)
    assert opening_status(place(55.67, 12.56, "Europe/Copenhagen", hours), summer).open_now


def test_midnight_and_intervals_past_midnight():
    late = {"fri": [["18:00", "02:00"]], "sat": [["10:00", "24:00"]]}
    berlin = place(52.52, 13.40, "Europe/Berlin", late)
    friday_2330 = at(4, 22, 30)
    saturday_0130, saturday_0230 = at(4, 24 + 0, 30), at(4, 24 + 1, 30)
    assert opening_status(berlin, friday_2330).open_now
    assert opening_status(berlin, saturday_0130).open_now  # 01:30 Saturday: Friday's late hours
    status = opening_status(berlin, saturday_0230)  # 02:30 Saturday: closed, opens at 10:00
    assert (status.open_now, status.opens_at) == (False, "10:00")
    saturday_2359 = at(5, 22, 59)
    assert opening_status(berlin, saturday_2359).open_now  # "24:00" closes at midnight
    sunday_0000 = at(5, 23, 0)
    assert not opening_status(berlin, sunday_0000).open_now


@pytest.mark.parametrize(
    "hours",
    [
        None,
        {},
        [],
        "09-18",
        {"mon": "09:00-18:00"},
        {"mon": [["9", "18"]]},
        {"mon": [["25:00", "26:00"]]},
        {"mon": [["10:00"]]},
        {"mon": [[None, 3]]},
        {"mon": [["10:00", "10:00"]]},
    ],
)
def test_malformed_opening_hours_are_closed_not_a_crash(hours):
    status = opening_status(SimpleNamespace(timezone="Europe/Berlin", opening_hours=hours), at(0, 12))
    assert not status.open_now


def test_an_unknown_time_zone_falls_back_to_utc():
    hours = {"mon": [["09:00", "10:00"]]}
    assert opening_status(SimpleNamespace(timezone="Mars/Olympus", opening_hours=hours), at(0, 9, 30)).open_now
    assert opening_status(SimpleNamespace(timezone="", opening_hours=hours), at(0, 9, 30)).open_now


# --- the network panel -----------------------------------------------------------------------------------------


@pytest.fixture
def network(app, make):
    locations = {code: make.location(code) for code in ("HAM", "BER", "CPH", "AAR", "WH1")}
    variant = make.variant(make.product(name="Fjord Parka"), size="XL", colour="Navy")
    return SimpleNamespace(variant=variant, **locations)


def codes(rows):
    return [row.location.code for row in rows]


def test_panel_rows_nearest_first_with_warehouse_and_totals(network, make):
    n = network
    make.stock(n.variant, n.CPH, on_hand=2)
    make.stock(n.variant, n.BER, on_hand=5, allocated=1)
    make.stock(n.variant, n.AAR, on_hand=3, allocated=3)  # all promised: not available, not listed
    make.stock(n.variant, n.WH1, on_hand=40)
    panel = network_panel(n.variant.id, n.HAM, now=at(0, 12))
    assert panel.here.location.code == "HAM" and panel.here.available == 0  # shown, though it has none
    assert codes(panel.stores) == ["BER", "CPH"]  # 255 km, then 289 km
    assert [round(row.distance_km) for row in panel.stores] == [255, 289]
    assert codes(panel.warehouses) == ["WH1"]
    assert (panel.total_here, panel.total_network, panel.total_in_transit) == (0, 2 + 4 + 40, 0)
    assert codes(panel.locations) == ["HAM", "BER", "CPH", "WH1"]


def test_panel_from_copenhagen(network, make):
    n = network
    for location, quantity in ((n.HAM, 1), (n.BER, 1), (n.CPH, 4), (n.AAR, 1)):
        make.stock(n.variant, location, on_hand=quantity)
    panel = network_panel(n.variant.id, n.CPH, now=at(0, 12))
    assert panel.here.available == 4 and panel.here.is_here
    assert codes(panel.stores) == ["AAR", "HAM", "BER"]


def test_low_stock_is_flagged_at_or_below_the_threshold(network, make):
    n = network
    make.stock(n.variant, n.HAM, on_hand=2)
    make.stock(n.variant, n.BER, on_hand=3)
    make.stock(n.variant, n.CPH, on_hand=5, allocated=4)
    panel = network_panel(n.variant.id, n.HAM, low_threshold=2, now=at(0, 12))
    low = {row.location.code: row.low for row in panel.locations}
    assert low == {"HAM": True, "BER": False, "CPH": True}
    assert not any(row.low for row in network_panel(n.variant.id, n.HAM, low_threshold=0).locations)


def test_open_now_per_row(network, make):
    n = network
    make.stock(n.variant, n.CPH, on_hand=1)
    n.CPH.opening_hours = {"sun": [["11:00", "16:00"]]}
    db.session.commit()
    sunday_noon = at(6, 11)  # 12:00 in Hamburg and Copenhagen
    panel = network_panel(n.variant.id, n.HAM, now=sunday_noon)
    assert not panel.here.opening.open_now  # Hamburg: closed on Sundays
    assert panel.stores[0].opening.open_now and panel.stores[0].opening.closes_at == "16:00"


def transfer(make, variant, quantity, source, destination, status="shipped", line_status="shipped"):
    order = make.order(destination, lines=[(variant, quantity, source)], status="in_transit")
    moving = Transfer(
        order_id=order.id,
        source_location_id=source.id,
        destination_location_id=destination.id if destination else None,
        status=status,
    )
    db.session.add(moving)
    db.session.flush()
    for line in order.lines:
        line.transfer_id, line.status = moving.id, line_status
    db.session.commit()
    return moving


def test_in_transit_per_destination(network, make):
    n = network
    other = make.variant(n.variant.product, size="L", colour="Navy")
    make.stock(n.variant, n.HAM, on_hand=1)
    transfer(make, n.variant, 2, n.WH1, n.HAM)
    transfer(make, n.variant, 1, n.CPH, n.HAM, status="requested", line_status="allocated")
    transfer(make, n.variant, 3, n.WH1, n.BER, status="picked", line_status="picked")
    transfer(make, n.variant, 5, n.WH1, n.AAR, status="received", line_status="allocated")  # arrived
    transfer(make, n.variant, 7, n.WH1, n.AAR, status="cancelled", line_status="released")
    transfer(make, n.variant, 4, n.WH1, n.CPH, status="shipped", line_status="short")  # nothing sent
    transfer(make, other, 9, n.WH1, n.HAM)  # another variant
    panel = network_panel(n.variant.id, n.HAM, now=at(0, 12))
    assert [(item.destination.code, item.quantity) for item in panel.in_transit] == [("HAM", 3), ("BER", 3)]
    assert panel.total_in_transit == 6
    assert panel.here.arriving == 3
    make.stock(n.variant, n.CPH, on_hand=1)
    make.stock(n.variant, n.BER, on_hand=1)
    nearest = network_panel(n.variant.id, n.HAM, now=at(0, 12), nearest=1)  # BER is not listed, but expects 3
    assert [row.location.code for row in nearest.stores] == ["BER"] and nearest.store_count == 2
    nearest = network_panel(n.variant.id, n.CPH, now=at(0, 12), nearest=1)
    assert [row.location.code for row in nearest.stores] == ["HAM"]
    assert [(item.destination.code, item.quantity) for item in nearest.in_transit] == [("HAM", 3), ("BER", 3)]


def test_inactive_locations_are_left_out(network, make):
    n = network
    make.stock(n.variant, n.BER, on_hand=5)
    make.stock(n.variant, n.CPH, on_hand=1)
    n.BER.active = False
    db.session.commit()
    panel = network_panel(n.variant.id, n.HAM, now=at(0, 12))
    assert codes(panel.stores) == ["CPH"] and panel.total_network == 1


def test_ranking_and_distances_match_the_great_circle_on_both_databases(app, make):
    """Whether the database ranks (PostgreSQL) or Python does: the distances of locations.distance_km, nearest
    first, equal distances by name (code point order); `nearest` cuts the list, not the counts."""
    import random

    rng = random.Random(7)
    here = make.location("HAM")
    variant = make.variant(make.product())
    stores = []
    for number in range(30):
        store = make.location(
            f"R{number:02d}",
            name=f"{'ab'[number % 2]}{'AB'[number % 3 % 2]} store {number}",
            latitude=rng.uniform(47, 55),
            longitude=rng.uniform(6, 15),
        )
        make.stock(variant, store, on_hand=number % 4)
        stores.append(store)
    twins = [
        make.location(code, name=name, latitude=52.0, longitude=10.0)
        for code, name in (("TW1", "b twin"), ("TW2", "B twin"), ("TW3", "a twin"))
    ]
    for twin in twins:
        make.stock(variant, twin, on_hand=1)
    make.stock(variant, here, on_hand=5)
    wanted = sorted(
        (
            (distance_km(here, loc), loc.name, loc.code)
            for loc in stores + twins
            if loc in twins or stores.index(loc) % 4
        ),
        key=lambda entry: entry[:2],
    )
    panel = network_panel(variant.id, here.id)
    assert [row.location.code for row in panel.stores] == [code for _km, _name, code in wanted]
    assert [row.distance_km for row in panel.stores] == pytest.approx([km for km, _n, _c in wanted], abs=1e-9)
    assert panel.store_count == len(wanted) and panel.total_network == 5 + 3 + sum(n % 4 for n in range(30))
    near = network_panel(variant.id, here.id, nearest=4)
    assert [row.location.code for row in near.stores] == [code for _km, _name, code in wanted[:4]]
    assert (near.store_count, near.total_network, near.total_here) == (panel.store_count, panel.total_network, 5)


def test_unknown_variant_is_none(network):
    assert network_panel(999_999, network.HAM) is None


def test_panel_query_count_does_not_grow_with_the_network(app, make):
    here = make.location("HAM")
    variant = make.variant(make.product())
    for number in range(40):
        store = make.location(f"S{number:03d}", latitude=48 + number / 10, longitude=8 + number / 10)
        make.stock(variant, store, on_hand=number % 5)
    variant_id = variant.id
    db.session.expire_all()
    here = db.session.get(type(here), here.id)
    with count_statements("SELECT") as seen:
        panel = network_panel(variant_id, here)
        _ = [(row.location.name, row.opening.open_now) for row in panel.locations]
    assert len(seen) == 2, "\n\n".join(seen)  # variant + product + fingerprint; locations with stock + transit
    assert len(panel.stores) == 32


# --- the fingerprint -------------------------------------------------------------------------------------------


def test_fingerprint_changes_with_any_change_anywhere(network, make):
    n = network
    now = at(0, 12)
    empty = fingerprint(n.variant.id, now)
    make.stock(n.variant, n.BER, on_hand=2)
    first = fingerprint(n.variant.id, now)
    assert first != empty
    assert fingerprint(n.variant.id, now) == first  # stable while nothing changes
    ledger.correct(ledger.StockChange(n.variant.id, n.BER.id, 3, "found one"), None)
    second = fingerprint(n.variant.id, now)
    assert second != first
    make.stock(n.variant, n.CPH, on_hand=1)  # a new row elsewhere
    assert fingerprint(n.variant.id, now) != second
    other = make.variant(n.variant.product, size="S")
    before = fingerprint(n.variant.id, now)
    make.stock(other, n.HAM, on_hand=9)  # another variant's stock does not matter
    assert fingerprint(n.variant.id, now) == before


def test_fingerprint_turns_over_each_quarter_hour_for_opening_hours(network):
    n = network
    assert fingerprint(n.variant.id, at(0, 9, 14)) == fingerprint(n.variant.id, at(0, 9, 0))
    assert fingerprint(n.variant.id, at(0, 9, 15)) != fingerprint(n.variant.id, at(0, 9, 14))


def test_fingerprint_is_one_query(network):
    with count_statements("SELECT") as seen:
        fingerprint(network.variant.id)
    assert len(seen) == 1 and "variant_stock" in seen[0]


# --- the product page and the search's figures ------------------------------------------------------------------


def test_product_view_matrix(app, make):
    ham, ber = make.location("HAM"), make.location("BER")
    prod = make.product(name="Runner", category="Sneakers")
    variants = {
        (size, colour): make.variant(prod, size=size, colour=colour)
        for colour in ("White", "Black")
        for size in ("42", "38", "40.5", "9")
    }
    make.stock(variants[("42", "White")], ham, on_hand=3, allocated=1)
    make.stock(variants[("42", "White")], ber, on_hand=4)
    make.stock(variants[("38", "Black")], ber, on_hand=1)
    view = product_view(prod.id, ham.id)
    assert view.sizes == ["9", "38", "40.5", "42"] and view.colours == ["White", "Black"]
    white_42 = view.cell("White", "42")[0]
    assert (white_42.totals.here, white_42.totals.network) == (2, 6)
    black_38 = view.cell("Black", "38")[0]
    assert (black_38.totals.here, black_38.totals.network) == (0, 1)
    assert view.cell("Black", "9")[0].totals == availability.Totals(0, 0)
    assert view.cell("Green", "42") == []
    assert view.totals == availability.Totals(2, 7)
    assert product_view(999_999, ham.id) is None


def test_product_view_of_a_product_without_variants(app, make):
    ham, prod = make.location("HAM"), make.product(name="Gift Card")
    view = product_view(prod.id, ham.id)
    assert view.product.name == "Gift Card" and view.product.variants == []
    assert (view.sizes, view.colours, view.totals, view.price_range) == (
        [],
        [],
        availability.Totals(0, 0),
        (None, None),
    )


def test_search_totals_count_the_matching_variants(app, make):
    ham, ber = make.location("HAM"), make.location("BER")
    prod = make.product(name="Storm Coat")
    small, large = make.variant(prod, size="S"), make.variant(prod, size="L")
    make.stock(small, ham, on_hand=2)
    make.stock(large, ham, on_hand=1)
    make.stock(large, ber, on_hand=5)
    page = availability.search(catalogue_query("storm", here_id=ham.id))
    assert page.hits[0].totals == availability.Totals(3, 8)
    page = availability.search(catalogue_query("storm", size="L", here_id=ham.id))
    assert page.hits[0].totals == availability.Totals(1, 6) and page.hits[0].variant.id == large.id
    assert variant_totals([], ham.id) == {}
    ber.active = False  # a closed store's stock counts nowhere
    db.session.commit()
    assert variant_totals([large.id], ham.id) == {large.id: availability.Totals(1, 1)}
