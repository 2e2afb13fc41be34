"""The sourcing engine's rules, as a table of cases: who supplies each line, why, and by when."""

from datetime import UTC, datetime, timedelta

import pytest

from omnistore.catalog.models import Variant
from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.orders import order_rules, sourcing
from omnistore.orders.models import Order, Transfer
from omnistore.orders.order_rules import LineRequest
from omnistore.orders.sourcing import SourcingRequest
from tests.helpers import count_statements

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Hamburg


@pytest.fixture
def network(make):
    """HAM, BER (255 km from HAM), CPH (288 km), AAR (in DK), WH1 (the warehouse, 2 days lead time)."""
    locations = {code: make.location(code) for code in ("HAM", "BER", "CPH", "AAR")}
    locations["WH1"] = make.location("WH1", lead_time_days=2)
    product = make.product()
    variants = {name: make.variant(product, size=name, price_minor=2000) for name in ("A", "B")}
    return locations, variants


def _propose(network, lines, *, fulfilment="pickup", pickup="HAM", country=None, selling=None, holds=(), reading=None):
    locations, variants = network
    return sourcing.propose(
        reading=reading,
        request=SourcingRequest(
            lines=tuple(LineRequest(variants[name].id, quantity) for name, quantity in lines),
            fulfilment=fulfilment,
            pickup_location_id=locations[pickup].id if pickup else None,
            delivery_country=country,
            selling_location_id=locations[selling].id if selling else None,
            own_holds=tuple((variants[v].id, locations[loc].id, q) for v, loc, q in holds),
            now=NOW,
        ),
    )


CASES = [
    # (name, stock {loc: {variant: n}}, location settings, lines, expected sources, split, reason contains, days)
    (
        "the pickup store's own stock first",
        {"HAM": {"A": 2}, "BER": {"A": 9}},
        {},
        [("A", 1)],
        ["HAM"],
        False,
        "In stock here at Hamburg (2 available)",
        [0],
    ),
    (
        "then the nearest store with enough",
        {"HAM": {"A": 0}, "BER": {"A": 3}, "CPH": {"A": 3}},
        {},
        [("A", 1)],
        ["BER"],
        False,
        "Nearest store with 3 available: Berlin (255 km)",
        [2],
    ),
    (
        "a nearer store without enough is passed over",
        {"BER": {"A": 1}, "CPH": {"A": 4}},
        {},
        [("A", 2)],
        ["CPH"],
        False,
        "Nearest store with 4 available: København",
        [2],
    ),
    (
        "safety stock is not sourced away",
        {"BER": {"A": 3}, "CPH": {"A": 3}},
        {"BER": {"safety_stock": 3}},
        [("A", 1)],
        ["CPH"],
        False,
        "København",
        [2],
    ),
    (
        "safety stock lowers what a store offers",
        {"BER": {"A": 3}},
        {"BER": {"safety_stock": 1}},
        [("A", 1)],
        ["BER"],
        False,
        "Nearest store with 2 available",
        [2],
    ),
    (
        "the pickup store keeps no safety stock from its own customer",
        {"HAM": {"A": 2}, "BER": {"A": 5}},
        {"HAM": {"safety_stock": 5}},
        [("A", 2)],
        ["HAM"],
        False,
        "In stock here",
        [0],
    ),
    (
        "a store excluded from sourcing is skipped",
        {"BER": {"A": 3}, "CPH": {"A": 3}},
        {"BER": {"sourcing_enabled": False}},
        [("A", 1)],
        ["CPH"],
        False,
        "København",
        [2],
    ),
    (
        "a store at its daily transfer capacity is skipped",
        {"BER": {"A": 3}, "CPH": {"A": 3}},
        {"BER": {"transfer_capacity": 0}},
        [("A", 1)],
        ["CPH"],
        False,
        "København",
        [2],
    ),
    (
        "stores before the warehouse",
        {"CPH": {"A": 1}, "WH1": {"A": 50}},
        {},
        [("A", 1)],
        ["CPH"],
        False,
        "København",
        [2],
    ),
    (
        "the warehouse when no store has enough",
        {"BER": {"A": 1}, "WH1": {"A": 50}},
        {},
        [("A", 2)],
        ["WH1"],
        False,
        "From the warehouse Kassel warehouse (50 available, 2 days lead time)",
        [2],
    ),
    (
        "an inactive location supplies nothing",
        {"BER": {"A": 3}, "CPH": {"A": 3}},
        {"BER": {"active": False}},
        [("A", 1)],
        ["CPH"],
        False,
        "København",
        [2],
    ),
    (
        "one location for everything rather than a split",
        {"HAM": {"A": 1}, "BER": {"A": 1, "B": 1}},
        {},
        [("A", 1), ("B", 1)],
        ["BER", "BER"],
        False,
        "Berlin",
        [2, 2],
    ),
    (
        "split by line only when nobody has everything",
        {"HAM": {"A": 1}, "CPH": {"B": 1}},
        {},
        [("A", 1), ("B", 1)],
        ["HAM", "CPH"],
        True,
        "In stock here",
        [0, 2],
    ),
    (
        "two lines of one variant add up",
        {"HAM": {"A": 3}, "BER": {"A": 4}},
        {},
        [("A", 2), ("A", 2)],
        ["BER", "BER"],
        False,
        "Berlin",
        [2, 2],
    ),
    (
        "two lines of one variant split when they must",
        {"HAM": {"A": 3}, "BER": {"A": 2}},
        {},
        [("A", 2), ("A", 2)],
        ["HAM", "BER"],
        True,
        "In stock here",
        [0, 2],
    ),
    (
        "nobody has it",
        {"BER": {"A": 1}},
        {},
        [("A", 2)],
        [None],
        False,
        "Not available: only 1 in the network can be sent, 2 asked for.",
        [None],
    ),
]


@pytest.mark.parametrize(
    ("name", "levels", "settings", "lines", "sources", "split", "reason", "days"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_sourcing_rules(make, network, name, levels, settings, lines, sources, split, reason, days):
    locations, variants = network
    for code, values in settings.items():
        for key, value in values.items():
            setattr(locations[code], key, value)
    db.session.commit()
    for code, per_variant in levels.items():
        for variant_name, on_hand in per_variant.items():
            make.stock(variants[variant_name], locations[code], on_hand)
    proposal = _propose(network, lines)
    assert [line.source.code if line.source else None for line in proposal.lines] == sources
    assert proposal.split is split
    assert reason in proposal.lines[0].reason
    today = NOW.date()
    assert [(line.promised_date - today).days if line.promised_date else None for line in proposal.lines] == days
    assert proposal.complete is (None not in sources)
    if split:
        assert "comes from 2 locations" in proposal.split_reason
    assert proposal.goods_minor == sum(q for _v, q in lines) * 2000
    assert proposal == _propose(network, lines), "the same inputs give the same plan"


def test_ties_in_distance_go_to_the_lower_code(make, network):
    locations, variants = network
    twin_a = make.location("ZZB", latitude=52.52, longitude=13.405)
    twin_b = make.location("ZZA", latitude=52.52, longitude=13.405)
    for loc in (twin_a, twin_b):
        make.stock(variants["A"], loc, 2)
    assert _propose(network, [("A", 1)]).lines[0].source.code == "ZZA"


def test_a_transfer_created_today_counts_against_capacity_one_from_yesterday_does_not(make, network):
    locations, variants = network
    locations["BER"].transfer_capacity = 1
    db.session.commit()
    make.stock(variants["A"], locations["BER"], 3)
    make.stock(variants["A"], locations["CPH"], 3)
    order = make.order(locations["HAM"])
    db.session.add(
        Transfer(
            order_id=order.id,
            source_location_id=locations["BER"].id,
            destination_location_id=locations["HAM"].id,
            created_at=NOW - timedelta(days=1),
        )
    )
    db.session.commit()
    assert _propose(network, [("A", 1)]).lines[0].source.code == "BER"
    db.session.add(
        Transfer(
            order_id=order.id,
            source_location_id=locations["BER"].id,
            destination_location_id=locations["HAM"].id,
            created_at=NOW - timedelta(hours=1),
        )
    )
    db.session.commit()
    assert _propose(network, [("A", 1)]).lines[0].source.code == "CPH"
    db.session.query(Transfer).update({"status": "cancelled"})
    db.session.commit()
    assert _propose(network, [("A", 1)]).lines[0].source.code == "BER", "cancelled transfers do not count"
    assert db.session.query(Order).count() == 1


def test_a_drafts_own_holds_count_as_available_to_it(make, network):
    locations, variants = network
    make.stock(variants["A"], locations["HAM"], 2, allocated=2)  # both held by this very draft
    make.stock(variants["A"], locations["BER"], 5)
    assert _propose(network, [("A", 2)]).lines[0].source.code == "BER"
    assert _propose(network, [("A", 2)], holds=[("A", "HAM", 2)]).lines[0].source.code == "HAM"


def test_proposals_made_together_read_the_network_once_and_plan_as_each_would_alone(make, network):
    """The ways a draft could go (the builder's options, all sold in one market) share one Reading: the same
    plans, the stock, prices, rejections and today's transfers read once; each keeps its own holds."""
    locations, variants = network
    locations["BER"].transfer_capacity = 1
    db.session.commit()
    make.stock(variants["A"], locations["HAM"], 1, allocated=1)
    make.stock(variants["A"], locations["BER"], 3)
    make.stock(variants["A"], locations["CPH"], 3)
    make.stock(variants["B"], locations["WH1"], 4)
    ways = [
        {"pickup": "HAM", "holds": [("A", "HAM", 1)]},
        {"pickup": "BER"},
        {"fulfilment": "delivery", "pickup": None, "country": "DE", "selling": "HAM"},
    ]
    lines = [("A", 2), ("B", 1)]
    alone = [_propose(network, lines, **way) for way in ways]
    reading = sourcing.Reading()
    with count_statements("SELECT") as seen:
        together = [_propose(network, lines, reading=reading, **way) for way in ways]
    assert together == alone
    for table in ("FROM stock_level", "FROM line_rejection", "FROM variant_price", "FROM transfer"):
        assert sum(table in statement for statement in seen) == 1, (table, seen)


@pytest.mark.parametrize(
    ("goods", "fulfilment", "fee"),
    [
        (1, "pickup", 0),
        (1, "delivery", 495),
        (2, "delivery", 495),
        (3, "delivery", 0),
    ],
)
def test_shipping_fee_rule(make, network, goods, fulfilment, fee):
    locations, variants = network
    make.stock(variants["A"], locations["WH1"], 10)
    proposal = _propose(
        network, [("A", goods)], fulfilment=fulfilment, pickup="HAM" if fulfilment == "pickup" else None, country="DE"
    )
    assert proposal.shipping_fee_minor == fee
    assert proposal.total_minor == goods * 2000 + fee
    assert ("Free shipping from" in proposal.shipping_rule) is (fulfilment == "delivery")


def test_shipping_rule_is_configurable(app, make, network):
    """The delivery terms are the market's (stores/markets.py); the days are settings."""
    import dataclasses

    from omnistore.stores.markets import KNOWN_MARKETS, save_market

    locations, variants = network
    make.stock(variants["A"], locations["WH1"], 10)
    save_market(dataclasses.replace(KNOWN_MARKETS["DE"], shipping_fee_minor=900, free_shipping_from_minor=100_000))
    app.config.update(
        OMNISTORE_TRANSFER_DAYS="1000:5,*:9",
        OMNISTORE_DELIVERY_DAYS=1,
    )
    proposal = _propose(network, [("A", 3)], fulfilment="delivery", pickup=None, country="DE")
    assert proposal.shipping_fee_minor == 900
    assert (proposal.promised_date - NOW.date()).days == 3  # lead time 2 + delivery 1
    make.stock(variants["B"], locations["BER"], 1)
    assert (_propose(network, [("B", 1)]).promised_date - NOW.date()).days == 5


def test_web_delivery_ships_from_the_warehouse_first_then_stores_in_the_country(make, network):
    locations, variants = network
    make.stock(variants["A"], locations["CPH"], 5)
    make.stock(variants["A"], locations["BER"], 5)
    assert _propose(network, [("A", 1)], fulfilment="delivery", pickup=None, country="DK").lines[0].source.code == "CPH"
    assert _propose(network, [("A", 1)], fulfilment="delivery", pickup=None, country="DE").lines[0].source.code == "BER"
    make.stock(variants["A"], locations["WH1"], 5)
    line = _propose(network, [("A", 1)], fulfilment="delivery", pickup=None, country="DK").lines[0]
    assert line.source.code == "WH1" and (line.promised_date - NOW.date()).days == 4


def test_delivery_sold_in_a_store_ships_from_that_store_first(make, network):
    locations, variants = network
    make.stock(variants["A"], locations["HAM"], 1)
    make.stock(variants["A"], locations["WH1"], 5)
    line = _propose(network, [("A", 1)], fulfilment="delivery", pickup=None, country="DE", selling="HAM").lines[0]
    assert line.source.code == "HAM" and "shipped from here" in line.reason


@pytest.mark.parametrize("lines", [[("A", 0)], [("A", -1)], [("A", 1000)], [("A", True)], [("A", "2")], []])
def test_bad_quantities_are_refused(network, lines):
    with pytest.raises(ValidationFailed):
        _propose(network, lines)


def test_a_variant_the_session_holds_needs_no_statement_and_an_unknown_one_beside_it_is_still_not_found(network):
    locations, variants = network
    db.session.get(Variant, variants["A"].id)  # loaded, as a draft's lines bring theirs along
    with count_statements("SELECT") as seen:
        proposal = _propose(network, [("A", 1)])
    assert proposal is not None and not [statement for statement in seen if "FROM variant " in statement + " "]
    request = SourcingRequest(
        lines=(LineRequest(variants["A"].id, 1), LineRequest(999_999, 1)),
        fulfilment="pickup",
        pickup_location_id=locations["HAM"].id,
    )
    with pytest.raises(NotFound) as refused:
        sourcing.propose(request)
    assert refused.value.detail == {"field": "lines.1"}


def test_unknown_variant_is_not_found(network):
    locations, _variants = network
    with pytest.raises(NotFound):
        sourcing.propose(
            SourcingRequest(
                lines=(LineRequest(999_999, 1),), fulfilment="pickup", pickup_location_id=locations["HAM"].id
            )
        )


def test_a_store_without_pickup_desk_or_a_warehouse_cannot_be_the_pickup(make, network):
    locations, _variants = network
    locations["BER"].pickup_enabled = False
    db.session.commit()
    for code in ("BER", "WH1"):
        with pytest.raises(ValidationFailed) as error:
            _propose(network, [("A", 1)], pickup=code)
        assert "pickup_location" in error.value.fields
    with pytest.raises(ValidationFailed):
        sourcing.propose(SourcingRequest(lines=(LineRequest(1, 1),), fulfilment="pickup", pickup_location_id=None))


@pytest.mark.parametrize(
    ("address", "field"),
    [
        (
            {
                "name": "Jürgen Ølsen",
                "street": "Große Straße 5",
                "postcode": "20095",
                "city": "Hamburg",
                "country": "de",
            },
            None,
        ),
        (
            {"name": "Søren", "street": "Vesterbrogade 1", "postcode": "1620", "city": "København V", "country": "DK"},
            None,
        ),
        ({"name": "A", "street": "B 1", "postcode": "2009", "city": "Hamburg", "country": "DE"}, "postcode"),
        ({"name": "A", "street": "B 1", "postcode": "16200", "city": "København", "country": "DK"}, "postcode"),
        ({"name": "A", "street": "B 1", "postcode": "2OO95", "city": "Hamburg", "country": "DE"}, "postcode"),
        ({"name": "A", "street": "", "postcode": "20095", "city": "Hamburg", "country": "DE"}, "street"),
        ({"name": "A", "street": "B 1", "postcode": "20095", "city": "  ", "country": "DE"}, "city"),
        ({"street": "B 1", "postcode": "20095", "city": "Hamburg", "country": "DE"}, "name"),
        ({"name": "A", "street": "B 1", "postcode": "75001", "city": "Paris", "country": "FR"}, "country"),
        ({"name": "A\x00", "street": "B 1", "postcode": "20095", "city": "Hamburg", "country": "DE"}, "name"),
        ({"name": "A" * 121, "street": "B 1", "postcode": "20095", "city": "Hamburg", "country": "DE"}, "name"),
        ({"name": 5, "street": "B 1", "postcode": "20095", "city": "Hamburg", "country": "DE"}, "name"),
    ],
)
def test_delivery_addresses(app, make, address, field):
    make.market("DE"), make.market("DK")  # each country's postcode rule is its market's
    if field is None:
        checked = order_rules.check_address(address)
        assert checked.country == address["country"].upper()
        return
    with pytest.raises(ValidationFailed) as error:
        order_rules.check_address(address)
    assert field in error.value.fields


def test_transfer_days_setting_is_parsed():
    assert order_rules.parse_transfer_days("50:1, 400:2, *:3") == ((50.0, 1), (400.0, 2), (None, 3))
    for bad in ("50:1", "x:1,*:2", "*:-1"):
        with pytest.raises(ValueError):
            order_rules.parse_transfer_days(bad)


def test_pickup_stores_by_distance(make, network):
    locations, _variants = network
    locations["AAR"].pickup_enabled = False
    db.session.commit()
    ranked = sourcing.pickup_stores_by_distance(locations["HAM"])
    assert [store.code for store, _km in ranked] == ["HAM", "BER", "CPH"]
    assert ranked[0][1] == 0 and 250 < ranked[1][1] < 260


# --- promises land on days the pickup store is open (Hamburg is closed on Sundays) -----------------------------

FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # Friday 11:00 in Hamburg


def _promise(network, make, stocked, *, now, fulfilment="pickup", country=None, selling=None):
    locations, variants = network
    make.stock(variants["A"], locations[stocked], 3)
    return sourcing.propose(
        SourcingRequest(
            lines=(LineRequest(variants["A"].id, 1),),
            fulfilment=fulfilment,
            pickup_location_id=locations["HAM"].id if fulfilment == "pickup" else None,
            delivery_country=country,
            selling_location_id=locations[selling].id if selling else None,
            now=now,
        )
    )


def test_a_transfer_due_on_a_sunday_is_promised_for_the_monday(make, network):
    proposal = _promise(network, make, "BER", now=FRIDAY)  # 2 days from Berlin: Sunday, Hamburg is closed
    assert proposal.promised_date.isoformat() == "2026-12-07"


def test_ready_today_only_while_the_pickup_store_is_open(make, network):
    assert _promise(network, make, "HAM", now=FRIDAY).promised_date.isoformat() == "2026-12-04"
    after_closing = datetime(2026, 12, 4, 19, 30, tzinfo=UTC)  # 20:30 in Hamburg: closed since 20:00
    proposal = sourcing.propose(
        SourcingRequest(
            lines=(LineRequest(network[1]["A"].id, 1),),
            fulfilment="pickup",
            pickup_location_id=network[0]["HAM"].id,
            now=after_closing,
        )
    )
    assert proposal.promised_date.isoformat() == "2026-12-05"
    assert "ready when the store next opens" in proposal.lines[0].reason
    saturday_night = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # then Sunday is closed: Monday
    proposal = sourcing.propose(
        SourcingRequest(
            lines=(LineRequest(network[1]["A"].id, 1),),
            fulfilment="pickup",
            pickup_location_id=network[0]["HAM"].id,
            now=saturday_night,
        )
    )
    assert proposal.promised_date.isoformat() == "2026-12-07"


def test_a_delivery_is_never_promised_for_a_sunday(make, network):
    proposal = _promise(network, make, "HAM", now=FRIDAY, fulfilment="delivery", country="DE", selling="HAM")
    assert proposal.promised_date.isoformat() == "2026-12-07"  # leaves Friday, 2 days: Sunday → Monday


def test_the_reason_is_stored_as_a_code_and_read_in_the_viewers_language(app, make, network):
    proposal = _promise(network, make, "BER", now=FRIDAY)
    line = proposal.lines[0]
    assert line.reason_code == "nearest_store" and line.reason_params["store"] == "Berlin"
    with app.test_request_context(headers={"Accept-Language": "de"}):
        from flask_babel import force_locale

        with force_locale("de"):
            assert sourcing.reason_text(line.reason_code, line.reason_params).startswith("Nächste Filiale mit 3")
        with force_locale("da"):
            assert sourcing.reason_text(line.reason_code, line.reason_params).startswith("Nærmeste butik med 3")


def test_a_unit_held_back_as_safety_stock_is_named_with_what_the_rules_allow(make, network):
    locations, variants = network
    make.stock(variants["A"], locations["CPH"], 1)
    locations["CPH"].safety_stock = 1
    db.session.commit()
    proposal = _propose(network, [("A", 1)])
    assert not proposal.complete
    assert proposal.lines[0].reason == (
        "København keeps its last unit as safety stock: collect it at København instead."
    )
    # Collected at København itself, the store sells its own last unit.
    assert _propose(network, [("A", 1)], pickup="CPH").lines[0].source.code == "CPH"


def test_a_source_at_its_capacity_is_named_as_the_reason(make, network):
    locations, variants = network
    make.stock(variants["A"], locations["BER"], 299)
    locations["BER"].transfer_capacity = 0
    db.session.commit()
    reason = _propose(network, [("A", 1)]).lines[0].reason
    assert reason == "Berlin has 299 but has paused sending to other stores and customers."  # capacity 0: paused


def test_one_rule_says_who_may_supply_and_why_not():
    """_rank and the held-back explanation share this check (sourcing off, capacity, safety stock)."""
    from types import SimpleNamespace

    store = SimpleNamespace(id=1, sourcing_enabled=True, transfer_capacity=2, safety_stock=1)
    why = sourcing._why_not_eligible
    assert why(store, 3, own=False, used={}) == (None, 2)
    assert why(store, 1, own=False, used={}) == ("safety_stock", 0)
    assert why(store, 1, own=True, used={}) == (None, 1)  # its own customer gets the last unit
    assert why(store, 3, own=False, used={1: 2}) == ("capacity", 0)
    assert why(store, 0, own=True, used={}) == ("no_stock", 0)
    store.sourcing_enabled = False
    assert why(store, 3, own=False, used={}) == ("sourcing_off", 0)
