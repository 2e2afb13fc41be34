"""Email and phone numbers as people type them, stored in one form (lower-cased; E.164)."""

import pytest

from omnistore.core.errors import ValidationFailed
from omnistore.customers.contact import format_phone, normalize_email, normalize_phone, phone_candidates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Juergen.Mueller@Example.DE ", "juergen.mueller@example.de"),
        ("søren@kjær.dk", "søren@kjær.dk"),
        ("a+b@test.example.com", "a+b@test.example.com"),
    ],
)
def test_emails_are_lower_cased_and_checked(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "juergen", "a@b", "a@@b.de", "a b@c.de", "x" * 250 + "@a.de", "<a>@b.de"])
def test_bad_emails_are_refused_with_a_message_for_the_field(raw):
    with pytest.raises(ValidationFailed) as failure:
        normalize_email(raw)
    assert "email" in failure.value.fields and str(failure.value.message)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0151 2345 6789", "DE", "+4915123456789"),
        ("0151/23456789", "DE", "+4915123456789"),
        ("+49 (0)151 2345-6789", "DE", "+4915123456789"),
        ("0049 151 23456789", "DK", "+4915123456789"),
        ("040 3250 1200", "DE", "+494032501200"),
        ("33 12 45 80", "DK", "+4533124580"),
        ("+45 33 12 45 80", "DE", "+4533124580"),
        ("0045 20 12 34 56", "DE", "+4520123456"),
    ],
)
def test_german_and_danish_numbers_in_any_common_notation_become_e164(raw, country, expected):
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    "raw", ["", "12", "0151", "abc", "0151 2345 6789 0000 1111", "+49 151 abc", "+999 1234567", "1" * 60]
)
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationFailed) as failure:
        normalize_phone(raw)
    assert "phone" in failure.value.fields


def test_search_reads_a_number_without_country_code_as_german_and_danish():
    assert set(phone_candidates("20 12 34 56")) == {"+4920123456", "+4520123456"}
    assert phone_candidates("müller") == [] and phone_candidates("12") == []
    assert format_phone("+4915123456789") == "+49 1512 3456789" and format_phone("+4533124580") == "+45 33 12 45 80"
