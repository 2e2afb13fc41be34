"""Periodic jobs: running one when it is due, once across every worker and machine; when each last ran and how
it went; which workers are alive. The list of jobs is `omnistore/jobs.py` (it names verbs of every domain, so it
sits above them all); this module knows none of them.

One run of a job (`run_job`):

1. On PostgreSQL, a session advisory lock for the job, on a connection of its own (`pg_try_advisory_lock`): the
   same job never runs twice at once anywhere, even when a run outlasts its interval, and a crashed worker's
   lock goes with its connection. Taken by someone else: skip, they are running it.
2. The due time is claimed: `UPDATE periodic_job SET next_due_at = now + every WHERE name = … AND
   next_due_at <= now`, whose row count says who won. So each due time is run once, on SQLite too.
3. The verb is called with `now`. It owns its transactions, and its own claims (SKIP LOCKED, conditional
   updates) stay the real guarantee: two runs at once would still do each thing once.
4. The outcome is recorded and logged: ok with the verb's report, or failed with the error. A failure is
   retried at the next due time; it never stops the worker or the other jobs.
"""

import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, String, Text, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.types import UTCDateTime, utcnow

log = logging.getLogger("omnistore.worker")

HEARTBEAT = timedelta(seconds=15)  # how often a worker says it is alive
ALIVE_WITHIN = timedelta(seconds=60)  # a worker not heard from for this long is taken for dead
FORGET_AFTER = timedelta(days=1)  # heartbeat rows of workers gone this long are deleted


@dataclass(frozen=True)
class Job:
    """A periodic job: its name (as shown and logged), how often it runs, and the verb it calls with `now`.

    `every` is a timedelta, or a function of the app's config giving one (for an interval that is a setting).
    The verb returns a report whose str() is logged and shown (e.g. "3 reminders sent, 1 orders expired")."""

    name: str
    every: timedelta | Callable[[dict], timedelta]
    run: Callable[[datetime], object]
    what: str = ""

    def interval(self, config) -> timedelta:
        return self.every(config) if callable(self.every) else self.every


class JobState(db.Model):
    """One row per job: when it is next due, and how its last run went."""

    __tablename__ = "periodic_job"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str] = mapped_column(String(8), default="")  # "", "ok", "failed"
    last_report: Mapped[str] = mapped_column(String(500), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_worker: Mapped[str] = mapped_column(String(120), default="")  # the worker that ran it
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)


class WorkerBeat(db.Model):
    """A worker (the `flask worker` process, or a web process doing the work itself on a laptop): its
    heartbeat, written every HEARTBEAT; a clean stop notes the time it stopped."""

    __tablename__ = "worker_heartbeat"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid:random
    kind: Mapped[str] = mapped_column(String(8))  # "worker" or "web"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _insert(table):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# --- running a job -------------------------------------------------------------------------------------------


def run_job(job: Job, *, worker_id="", now=None, config=None) -> str | None:
    """Run `job` if it is due and no one else is running it: "ok" or "failed", or None when it was not run."""
    config = config if config is not None else current_app.config
    now = now or utcnow()
    with _job_lock(job.name) as locked:
        if not locked or not _claim(job, now, job.interval(config), worker_id):
            return None
        started = time.monotonic()
        try:
            report = job.run(now)
            summary = str(report if report is not None else "")[:500]
        except Exception as error:  # noqa: BLE001 — any failure is recorded, logged and retried next time
            db.session.rollback()
            seconds = time.monotonic() - started
            log.exception("job %s failed after %.1f s", job.name, seconds)
            _record(job.name, outcome="failed", error=f"{type(error).__name__}: {error}"[:2000])
            return "failed"
        finally:
            db.session.remove()
        seconds = time.monotonic() - started
        log.info("job %s ok in %.1f s: %s", job.name, seconds, summary)
        _record(job.name, outcome="ok", report=summary)
        return "ok"


@contextmanager
def _job_lock(name):
    """PostgreSQL: an advisory lock for the job on a connection of its own, held while it runs (None when
    another worker holds it). SQLite: one machine; the due-time claim alone decides."""
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.blake2b(f"omnistore.job:{name}".encode(), digest_size=8).digest(), "big", signed=True)
    connection = db.engine.connect()
    try:
        locked = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield locked
        finally:
            if locked:
                connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
    except BaseException:
        connection.invalidate()  # never return a connection that may still hold the lock to the pool
        raise
    finally:
        connection.close()


def _claim(job, now, every, worker_id) -> bool:
    with transaction() as session:
        session.execute(
            _insert(JobState.__table__).values(name=job.name, next_due_at=now).on_conflict_do_nothing()
        )  # a job seen for the first time is due now
        won = session.execute(
            update(JobState)
            .where(JobState.name == job.name, JobState.next_due_at <= now)
            .values(
                next_due_at=now + every,
                last_started_at=now,
                last_worker=worker_id[:120],
                runs=JobState.runs + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return won == 1


def _record(name, *, outcome, report="", error=""):
    values = {"last_outcome": outcome, "last_finished_at": utcnow(), "last_report": report, "last_error": error}
    values["failures_in_a_row"] = JobState.failures_in_a_row + 1 if outcome == "failed" else 0
    with transaction() as session:
        session.execute(
            update(JobState).where(JobState.name == name).values(**values).execution_options(synchronize_session=False)
        )


def seconds_until_due(job: Job, now=None) -> float:
    """How long until the job is next due (0 when it is due, or has never run)."""
    due = db.session.scalar(select(JobState.next_due_at).where(JobState.name == job.name))
    db.session.commit()
    if due is None:
        return 0.0
    return max(0.0, (due - (now or utcnow())).total_seconds())


# --- heartbeats ----------------------------------------------------------------------------------------------


def beat(worker_id, kind, now=None):
    """Say this worker is alive (and forget workers gone for a day)."""
    now = now or utcnow()
    with transaction() as session:
        statement = _insert(WorkerBeat.__table__).values(id=worker_id, kind=kind, started_at=now, seen_at=now)
        session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"seen_at": now}))
        session.execute(delete(WorkerBeat).where(WorkerBeat.seen_at < now - FORGET_AFTER))


def gone(worker_id, now=None):
    """A clean stop: this worker is no longer running."""
    now = now or utcnow()
    with transaction() as session:
        session.execute(update(WorkerBeat).where(WorkerBeat.id == worker_id).values(seen_at=now, stopped_at=now))


# --- what the status shows -----------------------------------------------------------------------------------


@dataclass
class JobStatus:
    job: Job
    every: timedelta
    state: JobState | None

    @property
    def late(self):
        """Due for longer than one more interval (and a minute): no one is running it."""
        return self.state is not None and self.state.next_due_at < utcnow() - self.every - timedelta(minutes=1)


@dataclass
class WorkerStatus:
    jobs: list
    alive: list  # WorkerBeat rows heard from within ALIVE_WITHIN
    last_seen: datetime | None  # the last heartbeat of any worker, alive or not

    @property
    def ok(self):
        return bool(self.alive)


def status(jobs, config, now=None) -> WorkerStatus:
    now = now or utcnow()
    states = {state.name: state for state in db.session.scalars(select(JobState))}
    beats = db.session.scalars(select(WorkerBeat).order_by(WorkerBeat.seen_at.desc())).all()
    db.session.commit()
    return WorkerStatus(
        jobs=[JobStatus(job, job.interval(config), states.get(job.name)) for job in jobs],
        alive=[beat for beat in beats if beat.stopped_at is None and beat.seen_at >= now - ALIVE_WITHIN],
        last_seen=beats[0].seen_at if beats else None,
    )
