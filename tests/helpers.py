"""Small helpers shared by the test modules (fixtures live in conftest.py, test data in factories.py)."""

import threading
from contextlib import contextmanager

from sqlalchemy import event

from omnistore.core.extensions import db

WRITES = ("INSERT", "UPDATE", "DELETE")


class Statements(list):
    """The SQL statements run inside a `count_statements()` block, in order."""

    def of(self, *kinds):
        """Only the statements that start with one of `kinds` ("SELECT", "UPDATE", …)."""
        kinds = tuple(kind.upper() for kind in kinds)
        return [s for s in self if s.lstrip().upper().startswith(kinds)]

    @property
    def selects(self):
        return self.of("SELECT")

    @property
    def writes(self):
        return self.of(*WRITES)


@contextmanager
def count_statements(*kinds, engine=None):
    """Collect the SQL statements the database sees inside the block (all of them, or only those starting with
    one of `kinds`, e.g. count_statements("SELECT")):

        with count_statements("SELECT") as seen:
            ...
        assert len(seen) <= 3, seen
    """
    engine = engine if engine is not None else db.engine
    kinds = tuple(kind.upper() for kind in kinds)
    seen = Statements()

    def listener(_connection, _cursor, statement, *_args):
        if not kinds or statement.lstrip().upper().startswith(kinds):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


LOCATION_FIELDS = (
    "name",
    "kind",
    "street",
    "postcode",
    "city",
    "country",
    "phone",
    "latitude",
    "longitude",
    "timezone",
)


def assert_locations_are_ones_the_verb_accepts():
    """Every location (made in bulk by the demo or the seed) is one `location save` accepts as it stands: saving
    its own details again changes nothing and records nothing."""
    from sqlalchemy import func, select

    from omnistore.core.audit import AuditEvent
    from omnistore.stores import locations
    from omnistore.stores.models import WEEKDAYS, Location

    for location in db.session.scalars(select(Location)).all():
        kept = locations.LocationDetails(
            location.code,
            opening_hours={day: locations.format_hours(location.opening_hours.get(day)) for day in WEEKDAYS}
            if any(location.opening_hours.values())
            else None,
            **{name: getattr(location, name) for name in LOCATION_FIELDS},
            market=location.market_code,
        )
        assert locations.save_location(kept) == (location, False), location.code
    assert not db.session.scalar(select(func.count()).where(AuditEvent.action.like("location.%")))


def at_once(app, act, times=4):
    """`act(i)` in `times` threads, each in its own app context and session, started together; returns what
    each returned, or the exception it raised."""
    barrier = threading.Barrier(times)
    outcomes = [None] * times

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                outcomes[i] = act(i)
            except Exception as error:  # noqa: BLE001 — reported to the test
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes
