"""`flask bench-ordering` on a tiny network: the sourcing and placement figures are there, nothing oversold."""

import json

from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore.orders.models import Order
from omnistore.stock.models import StockLevel


def test_sourcing_and_placement_figures_then_the_orders_are_cancelled(app, tmp_path):
    figures = tmp_path / "ordering.json"
    result = app.test_cli_runner().invoke(
        args=[
            "bench-ordering",
            "--stores",
            "3",
            "--products",
            "40",
            "--proposals",
            "30",
            "--clients",
            "3",
            "--seconds",
            "1",
            "--json",
            str(figures),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Sourcing proposal (30 pickup requests" in result.stdout and "target p95 ≤ 50 ms" in result.stdout
    assert "Order placement (3 concurrent clients" in result.stdout and "ledger consistent" in result.stdout
    data = json.loads(figures.read_text())
    assert data["sourcing"]["timing_ms"]["n"] == 30 and data["sourcing"]["timing_ms"]["p95"] > 0
    assert data["placement"]["orders"] > 0 and data["placement"]["errors"] == {}
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order).where(Order.status != "cancelled")) == 0
    assert db.session.scalar(select(func.sum(StockLevel.allocated))) == 0
