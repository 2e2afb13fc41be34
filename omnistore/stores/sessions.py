"""Staff sessions kept on the server: started at sign-in, ended at sign-out, the idle timeout and the lifetime.

The signed cookie holds a random key; the server keeps its hash with the times that decide whether the session
still holds. A copy of the cookie is worth nothing once the session ended here, whatever the copy says.

- `last_seen_at` moves in steps (at most one conditional UPDATE per session and `step`), so a tablet in use
  writes about once a minute and a live poll writes nothing.
- A pickup desk's visible queue counts as presence (the desk screen is meant to stay open all day), but only
  for a clerk (the desk tablet's account) and only for `Limits.desk` after sign-in (a shift): after that the
  ordinary idle timeout applies to it too. A manager's or admin's session has more rights than a desk needs,
  so it keeps the ordinary idle timeout whatever it has on screen.
- No session outlives `Limits.lifetime` after sign-in, used or not.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from omnistore.core import live
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.types import utcnow
from omnistore.stores.models import Location, Staff, StaffSession

MAX_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class Limits:
    idle: timedelta  # without activity (or desk presence) for longer than this: signed out
    desk: timedelta  # desk presence keeps a session open at most this long after sign-in
    lifetime: timedelta  # no session lives longer than this after sign-in

    @property
    def step(self):
        """How far last_seen_at may lag behind: a minute, or less for a short idle timeout."""
        return min(MAX_STEP, self.idle / 10)


@dataclass(frozen=True)
class Signed:
    """What a request needs to know about its session (a plain snapshot: no ORM object to keep in step)."""

    id: int
    staff_id: int
    role: str
    started_at: object
    last_seen_at: object


def hash_key(key):
    return hashlib.sha256((key or "").encode()).hexdigest()


def start(staff, limits):
    """A new session for `staff`; returns the key for the cookie (only its hash is kept). The staff member's
    sessions that can no longer hold (ended, or past their lifetime) are deleted on the way."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    with transaction() as session:
        session.execute(
            delete(StaffSession)
            .where(
                StaffSession.staff_id == staff.id,
                or_(StaffSession.ended_at.is_not(None), StaffSession.started_at < now - limits.lifetime),
            )
            .execution_options(synchronize_session=False)
        )
        session.add(StaffSession(key_hash=hash_key(key), staff_id=staff.id, started_at=now, last_seen_at=now))
    return key


def end(key):
    """Sign-out: the session with this key ends on the server (a copy of the cookie no longer opens anything)."""
    if not key:
        return
    with transaction() as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.key_hash == hash_key(key), StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        live.note(session, session_topic(key))  # its open streams end at once (core/live.py)


def end_all(staff_id):
    """Every open session of a staff member ends (disable, password change); call inside their transaction."""
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    live.note(db.session, staff_topic(staff_id))


def session_topic(key):
    """The live topic that ends the open streams of the session with this key (sign-out)."""
    return f"session:{hash_key(key)[:32]}"


def staff_topic(staff_id):
    """The live topic that ends every open stream of a staff member (disabled, password changed)."""
    return f"staff:{staff_id}"


# Built once, with the session's values bound at each call: every request runs `load`, and building a statement
# and its cache key cost more than reading the row.
_OPEN = (
    Staff.id == bindparam("staff_id"),
    Staff.session_generation == bindparam("generation"),
    Staff.active.is_(True),
    StaffSession.key_hash == bindparam("key_hash"),
    StaffSession.ended_at.is_(None),
)
# The staff member's store and its market come along: nearly every page shows prices in that market, and two
# lazy loads per request cost more than the join.
_LOAD = (
    select(Staff, StaffSession.id, StaffSession.started_at, StaffSession.last_seen_at)
    .join(StaffSession, StaffSession.staff_id == Staff.id)
    .options(joinedload(Staff.location).joinedload(Location.market))
    .where(*_OPEN)
)
_TIMES = (
    select(StaffSession.started_at, StaffSession.last_seen_at)
    .join(Staff, StaffSession.staff_id == Staff.id)
    .where(*_OPEN)
)


def _values(staff_id, generation, key):
    return {"staff_id": staff_id, "generation": generation, "key_hash": hash_key(key)}


def load(staff_id, generation, key):
    """(staff, Signed) for an open session with this key of this active staff member and generation, or None.
    One statement; whether the session is still fresh enough is `verdict`'s question."""
    if not key:
        return None
    row = db.session.execute(_LOAD, _values(staff_id, generation, key)).first()
    if row is None:
        return None
    staff, session_id, started_at, last_seen_at = row
    return staff, Signed(session_id, staff_id, staff.role, started_at, last_seen_at)


def times(staff_id, generation, key):
    """(started_at, last_seen_at) of the same open session as `load`'s, or None: what an open live stream checks
    again and again, read as two columns (no staff member, store and market made each time)."""
    if not key:
        return None
    return db.session.execute(_TIMES, _values(staff_id, generation, key)).first()


def verdict(started_at, last_seen_at, limits, now=None):
    """None while the session holds, else why it does not: "idle" or "expired" (older than its lifetime)."""
    now = now or utcnow()
    if now - started_at > limits.lifetime:
        return "expired"
    if now - last_seen_at > limits.idle:
        return "idle"
    return None


DESK_ROLES = ("clerk",)  # a desk tablet signs in as a clerk; more powerful sessions never outlast the idle timeout


def counts_as_presence(signed, limits, now=None):
    """Whether a desk's visible queue may still keep this session open: a clerk's, within a shift after sign-in."""
    return signed.role in DESK_ROLES and (now or utcnow()) - signed.started_at <= limits.desk


def touch(signed, limits, now=None):
    """Note activity: last_seen_at moves on if it lags by a step or more. The UPDATE is conditional, so
    several requests (and app processes) at once write it once; an ended session is not revived."""
    now = now or utcnow()
    if now - signed.last_seen_at < limits.step:
        return False
    with transaction() as session:
        session.execute(
            update(StaffSession)
            .where(
                StaffSession.id == signed.id,
                StaffSession.ended_at.is_(None),
                StaffSession.last_seen_at < now - limits.step,
            )
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    return True


def expire(signed):
    """The idle timeout or the lifetime ended this session: it stays ended (a copy cannot revive it)."""
    with transaction() as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.id == signed.id, StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
