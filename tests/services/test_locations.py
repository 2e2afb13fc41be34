"""Making and changing a location (stores/locations.save_location): the chain's master data, one verb."""

import pytest
from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import DomainError, ValidationFailed
from omnistore.core.extensions import db
from omnistore.stores import locations
from omnistore.stores.models import Location
from tests.helpers import at_once


def test_four_saves_of_one_new_code_at_once_make_one_location(app):
    def save(i):
        details = locations.LocationDetails(
            "AAR",
            name=f"Aarhus {i}",
            market="DK",
            postcode="8000",
            latitude=56.15,
            longitude=10.2,
            opening_hours={"mon": "10:00-18:00"},
        )
        try:
            _location, made = locations.save_location(details)
        except DomainError as error:
            return "refused" if "meanwhile" in error.message else error
        return "made" if made else "changed"

    outcomes = at_once(app, save)
    assert outcomes.count("made") == 1 and set(outcomes) <= {"made", "changed", "refused"}, outcomes
    assert db.session.scalar(select(func.count()).select_from(Location).where(Location.code == "AAR")) == 1
    created = select(func.count()).where(AuditEvent.action == "location.created")
    assert db.session.scalar(created) == 1
    # The name is the last saver's that got through: a refused save changed nothing
    name = db.session.scalar(select(Location.name).where(Location.code == "AAR"))
    assert name in {f"Aarhus {i}" for i, outcome in enumerate(outcomes) if outcome != "refused"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Ham\udcff"), ("name", "Ham\x00burg"), ("street", "Weg\x1b[31m 1"), ("postcode", "1\x002"), ("city", 7)],
)
def test_text_that_cannot_be_stored_is_refused_at_its_field(app, make, field, value):
    """The one text rule of the product (core/validation.text): what PostgreSQL cannot store, or a terminal would
    run, is refused with a message at the field, not a database error."""
    ham = make.location("HAM")
    with pytest.raises(ValidationFailed) as refused:
        locations.save_location(locations.LocationDetails("HAM", **{field: value}))
    assert set(refused.value.fields) == {field}
    db.session.expire_all()
    assert db.session.get(Location, ham.id).name == ham.name and not db.session.scalar(
        select(func.count()).where(AuditEvent.action.like("location.%"))
    )
