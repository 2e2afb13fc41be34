"""Counts: count tasks raised by rejections, count sessions scanned item by item, the variance review and
posting through the ledger as `count` movements."""

import pytest
from sqlalchemy import func, select

from omnistore.core.errors import NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stock import counts
from omnistore.stock.models import CountTask


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
