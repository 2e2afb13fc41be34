"""The manager's return figures: rate and reasons by store, channel and product, returns across stores, per
period and store scope; refunds per currency, never added across currencies."""

from datetime import timedelta

import pytest

from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.returns import receiving
from omnistore.returns.models import Return
from omnistore.reviews import returns as review_returns
from omnistore.reviews.scope import scope_for
from tests.services.test_returns import ask, collected_web_order


@pytest.fixture
def shop(make):
    return make.shop(
        "HAM",
        "BER",
        team={
            "clerk": ("clerk", "HAM", "Jonas Weber"),
            "berlin": ("clerk", "BER", "Lea Schmidt"),
            "boss_ber": ("manager", "BER", "Ines Vogel"),
            "boss_ham": ("manager", "HAM", "Ole Brandt"),
            "admin": ("admin", "HAM", "Ada Admin"),
        },
        variants={
            "parka": dict(product="Fjord Parka", size="M", colour="Navy", price_minor=12900, stock={"HAM": 20}),
            "boots": dict(product="Trail Boots", size="42", colour="Brown", price_minor=8900, stock={"HAM": 20}),
        },
    )


def by(groups, key):
    return next(group for group in groups if group.key == key)


def test_rate_reasons_and_returns_across_stores(app, shop):
    first, _client = collected_web_order(shop, quantities=(2, 1))  # 3 units sold, picked up in Hamburg
    second, _client = collected_web_order(shop, quantities=(1, 1))  # 2 more
    receiving.receive_return(first, ask(first, {(shop.parka, "resell"): 1}), staff=shop.berlin)  # in Berlin
    receiving.receive_return(
        second, ask(second, {(shop.boots, "defective"): 1}, reason="defective"), staff=shop.clerk
    )  # in Hamburg
    receiving.receive_return(
        first, ask(first, {(shop.boots, "not_ours"): 1}, reason="wrong_item"), staff=shop.berlin
    )  # refused: no unit counts
    figures = review_returns.figures(scope_for(shop.admin, store="network", period="7d"))
    ham = by(figures.by_store, shop.ham.id)
    assert (ham.sold, ham.returned, ham.return_count) == (5, 2, 3)
    assert ham.rate == pytest.approx(2 / 5)
    assert dict(ham.by_reason) == {"does_not_fit": 1, "defective": 1, "wrong_item": 1}
    assert ham.refunds == {"EUR": 12900 + 8900}
    web = by(figures.by_channel, "web")
    assert (web.sold, web.returned) == (5, 2)
    parka = by(figures.by_product, shop.parka.product_id)
    assert (parka.sold, parka.returned, parka.refunds) == (3, 1, {"EUR": 12900})
    crossings = {(c.bought.code, c.returned_at.code): c for c in figures.across}
    assert crossings["HAM", "BER"].elsewhere and crossings["HAM", "BER"].returned == 1
    assert crossings["HAM", "BER"].return_count == 2  # the refused one came back there too
    assert not crossings["HAM", "HAM"].elsewhere and crossings["HAM", "HAM"].returned == 1
    assert figures.across[0].elsewhere  # bought here, returned there first


def test_store_scope_and_period(app, shop):
    order, _client = collected_web_order(shop, quantities=(1, 0))
    ret = receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    # Berlin's manager sees the return taken back in Berlin (across), none of Hamburg's sales.
    berlin = review_returns.figures(scope_for(shop.boss_ber, period="7d"))
    assert berlin.by_store == [] and [(c.bought.code, c.returned_at.code) for c in berlin.across] == [("HAM", "BER")]
    hamburg = review_returns.figures(scope_for(shop.boss_ham, period="7d"))
    assert by(hamburg.by_store, shop.ham.id).returned == 1
    # Outside the period: nothing.
    db.session.get(Return, ret.id).created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    assert review_returns.figures(scope_for(shop.boss_ham, period="7d")).across == []


def test_refunds_are_kept_per_currency(app, shop, make):
    order, _client = collected_web_order(shop, quantities=(1, 0))
    receiving.receive_return(order, ask(order, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    # A second, Danish sale in kroner (the same order re-labelled: the figures read the return's currency).
    other, _client = collected_web_order(shop, quantities=(1, 0))
    ret = receiving.receive_return(other, ask(other, {(shop.parka, "resell"): 1}), staff=shop.berlin)
    db.session.get(Return, ret.id).currency = "DKK"
    db.session.commit()
    ham = by(review_returns.figures(scope_for(shop.admin, store="network", period="7d")).by_store, shop.ham.id)
    assert ham.refunds == {"EUR": 12900, "DKK": 12900}  # never added up
