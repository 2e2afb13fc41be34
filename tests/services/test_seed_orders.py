"""Seed orders for the manager's review: repeatable, re-runnable, and what the review counts adds up."""

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import Conflict
from omnistore.core.extensions import db
from omnistore.orders.models import Order, OrderEvent, OrderLine, Pickup
from omnistore.pickups import handover as pickup_handover
from omnistore.reviews import dashboard, figures
from omnistore.reviews import scope as review_scope
from omnistore.stores.models import Staff
from omnistore_tools import seed


def test_seed_orders_grow_to_the_asked_number_and_review_consistently(app):
    with pytest.raises(Conflict):
        seed.seed_pickup_orders(10)  # no seed network yet
    seed.seed_network(3, 5)
    first = seed.seed_pickup_orders(300)
    assert (first.created, first.total) == (300, 300)
    again = seed.seed_pickup_orders(320)
    assert (again.created, again.total) == (20, 320)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 320
    assert db.session.scalar(select(func.count()).select_from(OrderLine)) >= 320
    pickups = db.session.scalar(select(func.count()).select_from(Order).where(Order.fulfilment == "pickup"))
    assert db.session.scalar(select(func.count()).select_from(Pickup)) == pickups
    # The desk's own rules: every seeded code is one it accepts, every token one a QR could carry.
    for code, token in db.session.execute(select(Pickup.short_code, Pickup.token)):
        assert pickup_handover.parse_short_code(code) == code and len(token) >= 20
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.kind == "placed")) == 320
    admin = db.session.scalar(select(Staff).where(Staff.email == seed.SEED_ADMIN_EMAIL))
    assert admin.role == "admin"
    # Each counted figure of the network for the year equals the length of its order list.
    scope = review_scope.scope_for(
        admin,
        store="network",
        period="custom",
        first=(admin_today := review_scope.scope_for(admin, period="today").first_day)
        .replace(year=admin_today.year - 1)
        .isoformat(),
        last=admin_today.isoformat(),
    )
    result = dashboard.review(scope)
    assert result.counts["placed"] == pickups
    assert result.counts["collected"] > 0 and result.counts["expired"] > 0 and result.counts["endless_aisle"] > 0
    for figure in figures.COUNTED:
        assert figures.orders_for_figure(scope, figure).total == result.counts[figure], figure
    league = dashboard.league(scope)
    assert sum(row.collected for row in league) == result.counts["collected"]
