"""The worker: runs every periodic job on its schedule and delivers the outbox as soon as something is queued.

In production it is its own process, `flask --app app worker` (one or more, on any machines), and the web
processes only enqueue. On a laptop (OMNISTORE_IN_PROCESS_WORKER, on for the default SQLite) each web process
runs the same worker in background threads, so `flask run` does everything by itself.

Threads: one per job (a slow job never delays another), one that delivers the outbox, one heartbeat.

Delivery is woken by PostgreSQL's LISTEN/NOTIFY: queueing a message sends `pg_notify('omnistore_outbox')` in
the queueing transaction (core/outbox.py), which PostgreSQL delivers on commit and drops on rollback, so the
worker hears of exactly the committed messages, without polling and without another server. In the laptop
mode a commit that queued something wakes the process's own delivery thread. Either way the outbox's sweep
(the job `outbox.deliver`, every OMNISTORE_OUTBOX_POLL_SECONDS) delivers retries and anything a lost wake-up
left. Several workers may hear the same wake-up: the claims (FOR UPDATE SKIP LOCKED) hand each its own messages.
"""

import logging
import os
import secrets
import socket
import threading

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from omnistore.core import outbox, outbox_delivery, periodic
from omnistore.core.extensions import db

log = logging.getLogger("omnistore.worker")

LISTEN_RECONNECT_SECONDS = 5.0
DB_TROUBLE_WAIT_SECONDS = 10.0  # after an error outside a job (the database away): wait, then try again
MAX_SLEEP_SECONDS = 60.0  # a job thread looks at its due time at least this often


class Worker:
    def __init__(self, app, jobs, *, kind="worker", listen=None):
        self.app = app
        self.jobs = tuple(jobs)
        self.kind = kind
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:120]
        with app.app_context():
            postgres = db.engine.dialect.name == "postgresql"
        self.listen = postgres and kind == "worker" if listen is None else listen
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._threads = []

    # --- the process's side ----------------------------------------------------------------------------------

    def start(self):
        """Start the threads and return."""
        names = [job.name for job in self.jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"two jobs with one name in {names}")
        targets = [(f"job {job.name}", self._job_loop, (job,)) for job in self.jobs]
        targets += [("outbox delivery", self._delivery_loop, ()), ("heartbeat", self._heartbeat_loop, ())]
        for name, target, args in targets:
            thread = threading.Thread(target=target, args=args, name=f"omnistore {name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "worker %s started (%s): %s; outbox woken by %s",
            self.id,
            self.kind,
            ", ".join(f"{job.name} every {job.interval(self.app.config)}" for job in self.jobs),
            "LISTEN/NOTIFY" if self.listen else "commits in this process",
        )

    def run(self):
        """Start, and block until stop_soon() (the CLI calls it on SIGTERM/SIGINT); then stop cleanly."""
        self.start()
        while not self.stopping.wait(1.0):
            pass
        self.stop()

    def stop_soon(self):
        """Ask the threads to stop (safe from a signal handler)."""
        self.stopping.set()
        self._wake.set()

    def stop(self, timeout=30.0):
        """Stop and wait for the threads: a job that is running finishes its current round first."""
        self.stop_soon()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        running = [thread.name for thread in self._threads if thread.is_alive()]
        with self.app.app_context():
            try:
                periodic.gone(self.id)
            except Exception:  # noqa: BLE001 — the database away: the heartbeat simply ages
                log.exception("worker %s: could not sign off", self.id)
            finally:
                db.session.remove()
        if running:
            log.warning("worker %s stopped; still busy: %s", self.id, ", ".join(running))
        else:
            log.info("worker %s stopped", self.id)

    def wake(self):
        """Something was queued in the outbox (a commit in this process)."""
        self._wake.set()

    def alive(self):
        return bool(self._threads) and not self.stopping.is_set() and all(t.is_alive() for t in self._threads)

    # --- the threads -----------------------------------------------------------------------------------------

    def _job_loop(self, job):
        while not self.stopping.is_set():
            with self.app.app_context():
                try:
                    periodic.run_job(job, worker_id=self.id)
                    wait = periodic.seconds_until_due(job)
                except Exception:  # noqa: BLE001 — e.g. the database away: log, wait, try again
                    log.exception("job %s: could not check or record its run", job.name)
                    wait = DB_TROUBLE_WAIT_SECONDS
                finally:
                    db.session.remove()
            self.stopping.wait(min(max(wait, 0.2), MAX_SLEEP_SECONDS))

    def _deliver(self):
        with self.app.app_context():
            try:
                report = outbox_delivery.deliver_all_due()
                if report.sent or report.retrying or report.failed:
                    log.info("outbox: %s", report)
            except Exception:  # noqa: BLE001 — the sweep job tries again
                log.exception("outbox: delivery round failed")
            finally:
                db.session.remove()

    def _delivery_loop(self):
        if self.listen:
            self._listen_loop()
            return
        while not self.stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if not self.stopping.is_set():
                self._deliver()

    def _listen_loop(self):
        import psycopg

        url = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
        connection = None
        while not self.stopping.is_set():
            try:
                if connection is None:
                    connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
                    connection.execute(f"LISTEN {outbox.WAKE_CHANNEL}")
                    self._deliver()  # whatever was queued while no one listened
                woken = any(True for _ in connection.notifies(timeout=1.0, stop_after=1))
                if woken or self._wake.is_set():
                    self._wake.clear()
                    if not self.stopping.is_set():
                        self._deliver()
            except psycopg.Error as error:
                log.warning("outbox: lost the LISTEN connection (%s); again in %s s", error, LISTEN_RECONNECT_SECONDS)
                if connection is not None:
                    connection.close()
                connection = None
                self.stopping.wait(LISTEN_RECONNECT_SECONDS)
        if connection is not None:
            connection.close()

    def _heartbeat_loop(self):
        while True:
            with self.app.app_context():
                try:
                    periodic.beat(self.id, self.kind)
                except Exception:  # noqa: BLE001 — the database away: the status shows the heartbeat ageing
                    log.exception("worker %s: heartbeat failed", self.id)
                finally:
                    db.session.remove()
            if self.stopping.wait(periodic.HEARTBEAT.total_seconds()):
                return


# --- the laptop mode: the worker inside each web process ---------------------------------------------------


class InProcess:
    """A web process's own worker, started by its first request or commit: after a fork (gunicorn), each
    process starts its own."""

    def __init__(self, app, jobs):
        self.app = app
        self.jobs = jobs
        self._lock = threading.Lock()
        self._worker = None
        self._pid = None

    def ensure(self) -> Worker:
        with self._lock:
            if self._worker is None or self._pid != os.getpid() or not self._worker.alive():
                if self._worker is not None and self._pid == os.getpid():
                    self._worker.stop_soon()
                self._pid = os.getpid()
                self._worker = Worker(self.app, self.jobs, kind="web", listen=False)
                self._worker.start()
            return self._worker

    def wake(self):
        self.ensure().wake()

    def stop(self, timeout=10.0):
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None and self._pid == os.getpid():
            worker.stop(timeout)


EXTENSION = "omnistore_worker"


JOBS_EXTENSION = "omnistore_jobs"  # the registry (omnistore/jobs.py), for the screens that show the status


def init_app(app, jobs, *, serving):
    """Note the jobs; and the laptop mode, when OMNISTORE_IN_PROCESS_WORKER is on in a process that serves
    requests (`serving`: never in the `flask worker` process or another command); in tests only when a test
    asks for it."""
    app.extensions[JOBS_EXTENSION] = tuple(jobs)
    enabled = (
        serving
        and app.config["OMNISTORE_IN_PROCESS_WORKER"]
        and (not app.testing or app.config.get("OMNISTORE_IN_PROCESS_WORKER_IN_TESTS"))
    )
    in_process = InProcess(app, jobs) if enabled else None
    app.extensions[EXTENSION] = in_process
    if in_process is not None:
        app.before_request(lambda: in_process.ensure() and None)


@event.listens_for(Session, "after_commit")
def _wake_worker(session):
    if session.info.pop("outbox_queued", False) and has_app_context():
        in_process = current_app.extensions.get(EXTENSION)
        if in_process is not None:
            in_process.wake()


@event.listens_for(Session, "after_rollback")
def _forget_queued(session):
    session.info.pop("outbox_queued", None)
