"""Making and changing a location (stores/locations.save_location): the chain's master data, one verb."""

import threading

from sqlalchemy import func, select

from omnistore.core.audit import AuditEvent
from omnistore.core.errors import DomainError
from omnistore.core.extensions import db
from omnistore.stores import locations
from omnistore.stores.models import Location


def test_four_saves_of_one_new_code_at_once_make_one_location(app):
    barrier = threading.Barrier(4)
    outcomes = [None] * 4

    def run(i):
        with app.app_context():
            try:
                details = locations.LocationDetails(
                    "AAR", name=f"Aarhus {i}", market="DK", postcode="8000", latitude=56.15, longitude=10.2
                )
                barrier.wait(timeout=60)
                _location, made = locations.save_location(details)
                outcomes[i] = "made" if made else "changed"
            except DomainError as error:
                outcomes[i] = "refused" if "meanwhile" in error.message else error
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes.count("made") == 1 and set(outcomes) <= {"made", "changed", "refused"}, outcomes
    assert db.session.scalar(select(func.count()).select_from(Location).where(Location.code == "AAR")) == 1
    created = select(func.count()).where(AuditEvent.action == "location.created")
    assert db.session.scalar(created) == 1
    # The name is the last saver's that got through: a refused save changed nothing
    name = db.session.scalar(select(Location.name).where(Location.code == "AAR"))
    assert name in {f"Aarhus {i}" for i, outcome in enumerate(outcomes) if outcome != "refused"}
