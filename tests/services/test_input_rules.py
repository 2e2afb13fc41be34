"""Every whole-number and text check goes through core/validation.py: the same input means the same
thing in a stock form, an order line, a catalogue search and the API (14.11); only the words differ."""

import pytest

from omnistore.catalog import feed
from omnistore.catalog import lookups as catalog
from omnistore.core.errors import ValidationFailed
from omnistore.orders import order_rules
from omnistore.stock import inputs


def _stock(value):
    return inputs._whole_number(value, 0, inputs.MAX_QUANTITY)[0]


def _quantity(value):
    try:
        return order_rules.check_quantity(value)
    except ValidationFailed:
        return None


@pytest.mark.parametrize(
    "typed, number",
    [("12", 12), (" 7 ", 7), ("+12", 12), ("١٢", None), ("1_0", None), ("1.5", None), ("", None), (True, None)],
)
def test_every_whole_number_check_reads_input_the_same_way(app, typed, number):
    assert [_stock(typed), _quantity(typed)] == [number] * 2


def test_the_catalogue_search_takes_ints_from_code_not_text_or_bools(app):
    assert catalog._whole_number(12, "limit", 0, 1000, {}) == 12
    assert catalog._whole_number("12", "limit", 0, 1000, {}) is None
    assert catalog._whole_number(True, "limit", 0, 1000, {}) is None


def test_a_one_line_api_field_still_refuses_a_tab_but_a_note_takes_it_as_a_space(app):
    assert feed._bad_character("a\tb", multiline=False) == "\t"
    assert feed._bad_character("a\tb", multiline=True) is None
    assert inputs._bad_character("a\x00b") == "\x00"
