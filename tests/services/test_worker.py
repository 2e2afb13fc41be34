"""The worker: periodic jobs run once per due time across workers, a failing job stops nothing, the outbox is
delivered by the worker while the web only enqueues (and by the web process itself on a laptop), and
`flask --app app worker` stops cleanly on SIGTERM. Real threads, real processes, both databases."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omnistore import ROOT
from omnistore.core import outbox, periodic, webhooks
from omnistore.core.db import transaction
from omnistore.core.extensions import db
from omnistore.core.outbox import OutboxMessage
from omnistore.core.periodic import Job, JobState, WorkerBeat
from omnistore.core.worker import Worker
from omnistore.jobs import JOBS
from tests.services.test_outbox import receiver  # noqa: F401 — a real webhook receiver (fixture)

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def wait_for(condition, seconds=20.0, what="the condition"):
    """Until `condition()` is true (checked every 50 ms), or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


def state(name):
    db.session.expire_all()
    found = db.session.get(JobState, name)
    db.session.commit()
    return found


class Recorder:
    """A job's verb that records each run (and, when asked, holds the run until released)."""

    def __init__(self, hold=False):
        self.runs = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, now):
        with self.lock:
            self.runs.append(now)
        self.started.set()
        self.release.wait(30)
        return f"run {len(self.runs)}"


def _at_once(app, calls):
    """Run each call in its own thread with its own app context, released together; their results."""
    results = [None] * len(calls)
    errors = []
    start = threading.Barrier(len(calls))

    def run(index, call):
        with app.app_context():
            try:
                start.wait()
                results[index] = call()
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_two_workers_at_once_run_a_job_once_per_due_time(app):
    recorder = Recorder()
    job = Job("test.once", timedelta(minutes=1), recorder)
    for due in (T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)):
        outcomes = _at_once(
            app,
            [lambda due=due, w=w: periodic.run_job(job, worker_id=f"worker {w}", now=due) for w in ("a", "b")],
        )
        assert sorted(outcomes, key=str) == [None, "ok"]
        # Seconds later, still before the next due time: no one runs it.
        later = due + timedelta(seconds=30)
        assert _at_once(app, [lambda later=later: periodic.run_job(job, worker_id="c", now=later)] * 2) == [None] * 2
    assert recorder.runs == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    row = state("test.once")
    assert (row.runs, row.last_outcome, row.last_report, row.failures_in_a_row) == (3, "ok", "run 3", 0)
    assert row.next_due_at == T0 + timedelta(minutes=3) and row.last_worker in {"worker a", "worker b"}


def test_on_postgresql_a_job_never_runs_twice_at_once_even_past_its_next_due_time(app):
    if app.database_kind != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite is one machine")
    recorder = Recorder(hold=True)
    job = Job("test.slow", timedelta(minutes=1), recorder)
    outcomes = []

    def first():
        with app.app_context():
            outcomes.append(periodic.run_job(job, worker_id="a", now=T0))
            db.session.remove()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert recorder.started.wait(20)
        # The run outlasts its interval: another worker finds the next due time come, but the job busy.
        assert _at_once(app, [lambda: periodic.run_job(job, worker_id="b", now=T0 + timedelta(minutes=5))]) == [None]
    finally:
        recorder.release.set()
        thread.join(30)
    assert outcomes == ["ok"] and recorder.runs == [T0]
    assert periodic.run_job(job, worker_id="b", now=T0 + timedelta(minutes=5)) == "ok"
    assert state("test.slow").runs == 2


def test_a_failing_job_is_recorded_and_retried_and_stops_no_other_job(app, caplog):
    def broken(now):
        raise RuntimeError("the ERP is down")

    healthy = Recorder()
    worker = Worker(
        app,
        [Job("test.broken", timedelta(seconds=0.2), broken), Job("test.healthy", timedelta(seconds=0.2), healthy)],
    )
    worker.start()
    try:
        wait_for(lambda: (state("test.broken") or JobState(failures_in_a_row=0)).failures_in_a_row >= 3, what="3 fails")
        wait_for(lambda: len(healthy.runs) >= 3, what="the healthy job's runs")
        assert worker.alive()
    finally:
        worker.stop()
    broken_state = state("test.broken")
    assert broken_state.last_outcome == "failed" and broken_state.last_error == "RuntimeError: the ERP is down"
    assert state("test.healthy").last_outcome == "ok"
    assert "job test.broken failed" in caplog.text and "RuntimeError: the ERP is down" in caplog.text
    # A clean stop signs the worker off: it is no longer counted as alive, and the status says when it stopped.
    [beat] = db.session.scalars(select(WorkerBeat)).all()
    assert beat.id == worker.id and beat.stopped_at is not None
    found = periodic.status([], app.config)
    assert found.alive == [] and found.last_seen == beat.seen_at


def test_the_status_shows_each_job_and_whether_a_worker_is_alive(app):
    assert not periodic.status(JOBS, app.config).ok
    periodic.beat("host:1:abc", "worker", now=datetime.now(UTC) - timedelta(minutes=5))
    found = periodic.status(JOBS, app.config)
    assert not found.ok and found.last_seen is not None  # heard from, but not lately: dead
    periodic.beat("host:2:def", "worker")
    found = periodic.status(JOBS, app.config)
    assert [beat.id for beat in found.alive] == ["host:2:def"]
    assert [row.job.name for row in found.jobs] == [
        "holds.release",
        "pickups.deadlines",
        "pickups.rejections",
        "nearby.notify",
        "submissions.forget",
        "customers.stages",
        "followups.send",
        "outbox.deliver",
    ]
    assert all(row.state is None for row in found.jobs)


def test_web_only_enqueues_and_the_worker_delivers_at_once(app, make, receiver):  # noqa: F811
    """Production: no worker in the web process; the worker hears of the commit (LISTEN/NOTIFY on
    PostgreSQL) long before its sweep, which is set to an hour here."""
    assert app.extensions["omnistore_worker"] is None
    app.config["OMNISTORE_OUTBOX_POLL_SECONDS"] = 3600
    server = receiver()
    webhooks.add_endpoint("shop", server.url)
    worker = Worker(app, JOBS)
    worker.start()
    try:
        wait_for(lambda: state("outbox.deliver") is not None and state("outbox.deliver").last_outcome, what="sweep")
        with transaction():
            outbox.enqueue_webhook("order.ready", url=server.url, payload={"n": 1})
        if app.database_kind == "postgresql":
            wait_for(lambda: len(server.requests) == 1, what="the webhook's delivery")
        else:  # SQLite has no NOTIFY: a laptop's web process wakes its own worker, or the sweep comes
            assert worker.listen is False
            worker.wake()
            wait_for(lambda: len(server.requests) == 1, what="the webhook's delivery")
    finally:
        worker.stop()
    assert json.loads(server.requests[0][1]) == {"n": 1}
    db.session.expire_all()
    assert [m.status for m in db.session.scalars(select(OutboxMessage))] == ["sent"]


@pytest.mark.parametrize(
    "app_config", [{"OMNISTORE_IN_PROCESS_WORKER": True, "OMNISTORE_IN_PROCESS_WORKER_IN_TESTS": True}]
)
def test_on_a_laptop_the_web_process_runs_the_jobs_itself(app, client, make, app_config):
    in_process = app.extensions["omnistore_worker"]
    try:
        assert client.get("/login").status_code == 200  # the first request starts it
        wait_for(lambda: all(state(job.name) and state(job.name).last_outcome == "ok" for job in JOBS), what="jobs")
        # its heartbeat is written on its own turn, not with the jobs' outcomes: wait for it too
        wait_for(lambda: periodic.status(JOBS, app.config).alive, what="the web process's heartbeat")
        kinds = [beat.kind for beat in periodic.status(JOBS, app.config).alive]
        assert kinds == ["web"]
    finally:
        in_process.stop()


# --- the process: `flask --app app worker` ----------------------------------------------------------------


def _worker_process(database_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISTORE_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
            "OMNISTORE_DATABASE_URL": database_url,
            "OMNISTORE_SECRET_KEY": "test-secret-key",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process, sig=signal.SIGTERM):
    process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=45)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"the worker did not stop on {sig.name}:\n{output}") from None
    return process.returncode, output


def test_two_worker_processes_run_each_job_once_and_stop_cleanly_on_sigterm(app, database_url):
    processes = [_worker_process(database_url), _worker_process(database_url)]
    try:
        # Both started together; each job is due at once the first time: exactly one of them ran it.
        wait_for(lambda: len(periodic.status(JOBS, app.config).alive) == 2, seconds=60, what="two heartbeats")
        wait_for(lambda: all(state(job.name) and state(job.name).last_outcome for job in JOBS), what="first runs")
        assert [state(job.name).runs for job in JOBS[:2]] == [1, 1]  # holds every minute, pickups every 15
        assert {state(job.name).last_outcome for job in JOBS} == {"ok"}
        first_sigterm, second_sigint = _stop(processes[0]), _stop(processes[1], signal.SIGINT)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for (code, output), name in ((first_sigterm, "SIGTERM"), (second_sigint, "SIGINT")):
        assert code == 0, output
        assert f"{name}: stopping" in output and "stopped" in output.splitlines()[-1], output
        assert "Traceback" not in output, output
    assert "job holds.release ok" in first_sigterm[1] + second_sigint[1]
    assert periodic.status(JOBS, app.config).alive == []  # both signed off


def test_worker_status_command(app):
    cli = app.test_cli_runner()
    result = cli.invoke(args=["worker", "--status"])
    assert result.exit_code == 1 and "NO WORKER ALIVE (last heard from: never)" in result.output
    assert "holds.release" in result.output and "never ran" in result.output
    periodic.beat("host:9:abc", "worker")
    periodic.run_job(JOBS[0], worker_id="host:9:abc")
    result = cli.invoke(args=["worker", "--status"])
    assert result.exit_code == 0, result.output
    assert "worker host:9:abc (worker): alive" in result.output
    assert "holds.release        every 0:01:00  last 0 s ago: ok — 0 held unit(s) released" in result.output
