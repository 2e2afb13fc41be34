"""Customer profiles: search, quick-create with consent, duplicates, notes, consents, wishlist (both databases)."""

import pytest
from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import Conflict, DuplicateCustomer, NotFound, ValidationFailed
from omnistore.core.extensions import db
from omnistore.customers import finding
from omnistore.customers import services as service
from omnistore.customers.models import Consent, Customer


@pytest.fixture
def clerk(make):
    return make.staff("clerk", make.location("HAM"))


def new(**fields):
    values = dict(
        first_name="Jürgen",
        last_name="Müller",
        email="juergen@example.de",
        phone="0151 2345 6789",
        consents={"email": True, "sms": False},
    )
    values.update(fields)
    return service.NewCustomer(**values)


def test_search_finds_names_partially_and_without_umlauts(app, make):
    juergen = make.customer("Jürgen", "Müller")
    soeren = make.customer("Søren", "Kjær")
    make.customer("Anna", "Schmidt")
    for query in ("mueller", "Müller", "muller", "MÜL", "jurg mul", "juergen", "müller jürgen"):
        assert finding.search_customers(query) == [juergen], query
    for query in ("soren", "søren kjær", "kjaer", "Kjær", "oren"):
        assert finding.search_customers(query) == [soeren], query
    assert finding.search_customers("") == [] and finding.search_customers("zzz") == []
    assert finding.search_customers("100%_") == []


def test_search_by_email_phone_and_loyalty_code(app, make):
    person = make.customer(
        "Mette", "Jensen", email="mette@example.dk", phone="+4520123456", loyalty_number="OSL0012345"
    )
    assert finding.search_customers("Mette@Example.DK") == [person]
    for typed in ("20 12 34 56", "+45 20123456", "0045-20-12-34-56"):
        assert finding.search_customers(typed) == [person], typed
    assert finding.search_customers("osl 0012345") == [person]
    card = finding.loyalty_card_ean("OSL0012345")
    assert len(card) == 13 and finding.search_customers(card) == [person]
    assert finding.find_by_loyalty_code(card[:-1] + str((int(card[-1]) + 1) % 10)) is None  # wrong check digit


def test_search_leaves_out_erased_and_merged_profiles(app, make):
    from omnistore.core.types import utcnow

    make.customer("Jürgen", "Müller", erased_at=utcnow())
    kept = make.customer("Jürgen", "Müller")
    make.customer("Jürgen", "Müller", merged_into_id=kept.id)
    assert finding.search_customers("müller") == [kept]


def test_search_refuses_overlong_queries(app):
    with pytest.raises(ValidationFailed):
        finding.search_customers("x" * 101)
    with pytest.raises(ValidationFailed):
        finding.search_customers("a b c d e f")


def test_create_normalises_contact_data_and_records_consents_with_where_and_who(app, clerk):
    customer = service.create_customer(new(email=" Juergen@Example.DE "), staff=clerk)
    assert (customer.email, customer.phone) == ("juergen@example.de", "+4915123456789")
    assert customer.loyalty_number.startswith("OSL") and customer.created_channel == "store"
    assert customer.locale == "de" and "mueller" in customer.search_name
    consents = service.current_consents(customer)
    assert consents["email"]["granted"] is True and consents["sms"]["granted"] is False
    assert consents["email"]["location"].code == "HAM" and consents["email"]["staff"].id == clerk.id
    assert (
        db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == str(customer.id)))
        == "customer.created"
    )
    assert finding.find_by_contact(email="JUERGEN@example.de") == customer
    assert finding.find_by_contact(phone="0151 23456789") == customer
    assert finding.find_by_contact(email="other@example.de") is None


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"first_name": "", "last_name": ""}, {"last_name"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"phone": "12"}, {"phone"}),
        ({"email": None, "phone": None}, {"email"}),
        ({"consents": {}}, {"consent_email", "consent_sms"}),
        ({"consents": {"email": None, "sms": True}}, {"consent_email"}),
        ({"consents": {"fax": True, "email": True, "sms": True}}, {"consents"}),
        ({"first_name": "x" * 101}, {"first_name"}),
        ({"preferred_location_id": 999999}, {"preferred_location_id"}),
    ],
)
def test_create_refuses_bad_input_and_changes_nothing(app, clerk, fields, errors):
    with pytest.raises(ValidationFailed) as failure:
        service.create_customer(new(**fields), staff=clerk)
    assert errors <= set(failure.value.fields)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0


def test_consent_question_is_not_needed_for_a_contact_not_given_nor_outside_the_store(app, clerk):
    customer = service.create_customer(new(phone=None, consents={"email": False}), staff=clerk)
    assert set(service.current_consents(customer)) == {"email"}
    web = service.create_customer(new(email="web@example.de", phone=None, consents={}), channel="web")
    assert service.current_consents(web) == {} and web.created_channel == "web"


def test_a_duplicate_email_or_phone_offers_the_existing_profile(app, clerk, make):
    existing = make.customer("Jürgen", "Müller", email="juergen@example.de", phone="+4917000000001")
    for fields in ({}, {"email": "other@example.de", "phone": "0170 000 000 01"}):
        with pytest.raises(DuplicateCustomer) as found:
            service.create_customer(new(**fields), staff=clerk)
        assert found.value.existing.id == existing.id and isinstance(found.value, Conflict)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_notes_are_checked_and_kept_as_typed(app, clerk, make):
    customer = make.customer()
    for body, message in (("", "Write a note"), ("  ", "Write a note"), ("x" * 2001, "at most 2000")):
        with pytest.raises(ValidationFailed, match=message):
            service.add_note(customer, body, staff=clerk)
    note = service.add_note(customer, "<b>Likes</b> navy — Größe M ✓", staff=clerk)
    assert note.body == "<b>Likes</b> navy — Größe M ✓" and note.location_id == clerk.location_id


def test_consents_are_appended_never_overwritten(app, clerk, make):
    customer = make.customer()
    service.record_consent(customer, "email", True, staff=clerk)
    service.record_consent(customer, "email", False, staff=clerk)
    assert service.current_consents(customer)["email"]["granted"] is False
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 2
    with pytest.raises(ValidationFailed):
        service.record_consent(customer, "fax", True, staff=clerk)
    no_phone = make.customer(phone="")
    no_phone.phone = None
    db.session.commit()
    with pytest.raises(ValidationFailed):
        service.record_consent(no_phone, "sms", True, staff=clerk)


def test_unknown_customer_ids_are_not_found(app):
    for value in (0, -1, 2**40, 123456):
        with pytest.raises(NotFound):
            finding.get_customer(value)
