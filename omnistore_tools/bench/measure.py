"""Measuring: samples and results, percentiles, the Server-Timing header, CPU shares, and the in-process mode."""

from __future__ import annotations

import math
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from time import perf_counter

import click
from flask import Flask
from sqlalchemy import text

from omnistore_tools.bench.scenarios import POOL_MAX, SEED_CLERK_STORE, Scenario, Workload

# --- measuring --------------------------------------------------------------------------------------


@dataclass
class Sample:
    status: int
    client_ms: float
    server_ms: float | None


@dataclass
class Result:
    scenario: Scenario
    requests: int = 0
    wall_seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    server_ms: list = field(default_factory=list)
    client_ms: list = field(default_factory=list)
    first_unexpected: str = ""
    skipped: str = ""
    note: str = ""
    cpu: dict | None = None  # CPU seconds while measuring: bench, server (gunicorn), db, rest; and wall

    @property
    def cpu_percent(self):
        """{who: % of one core} while measuring."""
        if not self.cpu:
            return None
        return {name: round(100 * seconds / self.cpu["wall"]) for name, seconds in self.cpu.items() if name != "wall"}

    @property
    def cpu_per_request(self):
        """CPU ms per request of the app (gunicorn's workers; in-process the bench, test client included) and of
        the database's backends: what a request costs whatever else runs (waits for a busy CPU excluded)."""
        if not self.cpu or not self.requests:
            return None
        app = self.cpu.get("server", self.cpu["bench"])
        figures = {"app": app} | ({"db": self.cpu["db"]} if "db" in self.cpu else {})
        return {name: round(1000 * seconds / self.requests, 2) for name, seconds in figures.items()}

    relative: float | None = None
    targets: list = field(default_factory=list)  # [(label, passed or None when not judged here)]

    def add(self, sample: Sample, body: bytes = b""):
        self.requests += 1
        self.statuses[sample.status] += 1
        self.client_ms.append(sample.client_ms)
        if sample.server_ms is not None:
            self.server_ms.append(sample.server_ms)
        if sample.status != self.scenario.expect and not self.first_unexpected:
            snippet = body[:200].decode("utf-8", "replace").replace("\n", " ")
            self.first_unexpected = f"{sample.status}: {snippet}"

    @property
    def ok(self):
        return self.statuses[self.scenario.expect]

    @property
    def throughput(self):
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0

    def server(self, p):
        return percentile(sorted(self.server_ms), p)

    def client(self, p):
        return percentile(sorted(self.client_ms), p)

    def as_dict(self):
        def figures(values):
            ordered = sorted(values)
            return {f"p{p}": _round(percentile(ordered, p)) for p in (50, 95, 99)} | {
                "mean": _round(sum(ordered) / len(ordered)) if ordered else None
            }

        return {
            "name": self.scenario.name,
            "endpoint": self.scenario.endpoint,
            "about": self.scenario.about,
            "expected_status": self.scenario.expect,
            "skipped": self.skipped or None,
            "note": self.note or None,
            "requests": self.requests,
            "expected_responses": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "first_unexpected": self.first_unexpected or None,
            "seconds": _round(self.wall_seconds),
            "server_ms": figures(self.server_ms),
            "client_ms": figures(self.client_ms),
            "throughput_rps": _round(self.throughput),
            "relative_throughput": _round(self.relative, 3),
            "cpu_percent_of_one_core": self.cpu_percent,
            "cpu_ms_per_request": self.cpu_per_request,
            "targets": [{"target": label, "pass": passed} for label, passed in self.targets],
        }


def percentile(ordered, p):
    """Linear interpolation between closest ranks (numpy's default) over an already sorted list."""
    if not ordered:
        return None
    k = (len(ordered) - 1) * p / 100
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _round(value, digits=2):
    return None if value is None else round(value, digits)


_SERVER_TIMING = re.compile(r"(?:^|,)\s*app;dur=([0-9.]+)")


def _server_ms(value):
    match = _SERVER_TIMING.search(value or "")
    return float(match.group(1)) if match else None


_CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


def _login_csrf(page: str):
    for tag in _CSRF_INPUT.findall(page):
        if match := _VALUE.search(tag):
            return match.group(1)
    raise click.ClickException("No CSRF token on the sign-in page.")


def _clerk_email():
    from omnistore_tools.seed import SEED_DOMAIN, store_code

    return f"clerk.{store_code(SEED_CLERK_STORE).lower()}@{SEED_DOMAIN}"


@dataclass
class Run:
    """Everything one mode needs: the scenarios, how to make their requests, and the credentials."""

    app: Flask
    workload: Workload
    scenarios: list
    requests: int
    warmup: int
    seconds: float | None
    email: str
    password: str
    api_token: str | None
    random_seed: int
    engine: object = None  # PostgreSQL's engine, for the CPU of its backends; None on SQLite
    admin_email: str | None = None  # for scenarios with auth="admin"
    _pools: dict = field(default_factory=dict)

    def pool(self, scenario: Scenario, fresh=False):
        """The scenario's requests (the same ones in both modes; a volatile scenario's made anew each time).

        Made inside a request context of their own, which is popped again before any request is sent."""
        if fresh or scenario.volatile or scenario.name not in self._pools:
            rng = random.Random(f"{self.random_seed}:{scenario.name}")
            with self.app.test_request_context():
                self.workload.fingerprints.clear()
                self._pools[scenario.name] = [
                    scenario.make(self.workload, rng) for _ in range(min(POOL_MAX, self.requests))
                ]
        return self._pools[scenario.name]

    def measure(self, scenario, send, echo, label, meter):
        """Warm up, then measure with `send(pool, count, result)`; a volatile scenario whose requests went
        stale meanwhile (the panel fingerprint turns over every quarter hour) is measured once more."""
        for attempt in (1, 2):
            pool = self.pool(scenario)
            send(pool, self.warmup, None)
            result = Result(scenario)
            before = meter.snapshot()
            result.wall_seconds = send(pool, self.requests, result)
            result.cpu = meter.share(before, meter.snapshot())
            if result.ok == result.requests or not scenario.volatile or attempt == 2:
                break
            echo(
                f"  {label} {scenario.name}: {result.requests - result.ok} unexpected answers; "
                "measuring once more with fresh requests"
            )
            result.note = "measured twice: the first run's requests went stale"
        echo(f"  {label} {scenario.name:<15} {result.requests:>6} requests in {result.wall_seconds:6.1f} s")
        return result


class CpuMeter:
    """CPU used while a scenario is measured, in % of one core: this process (b: the clients, and in-process
    the app too), gunicorn's process group (g), the PostgreSQL backends serving this database (db), and the
    rest of the machine (r). On a machine shared with other work, r says how far to trust the figures.
    Reads /proc (Linux); elsewhere it measures nothing."""

    TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, group=None, engine=None):
        self.group = group  # gunicorn's process group id
        self.engine = engine  # PostgreSQL only: its backends for this database are counted apart

    def snapshot(self):
        try:
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        return (
            time.monotonic(),
            busy,
            time.process_time(),
            self._group_ticks(),
            {pid: self._ticks(pid) or 0 for pid in self._database_pids()},
        )

    @staticmethod
    def _stat(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None

    def _ticks(self, pid):
        fields = self._stat(pid)
        return int(fields[11]) + int(fields[12]) if fields else None  # utime + stime

    def _group_ticks(self):
        if self.group is None:
            return {}
        found = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (fields := self._stat(entry.name)) and int(fields[2]) == self.group:
                found[entry.name] = int(fields[11]) + int(fields[12])
        return found

    def _database_pids(self):
        if self.engine is None:
            return []
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                ).scalars()
            )

    def share(self, before, after):
        if before is None or after is None or after[0] <= before[0]:
            return None
        wall = after[0] - before[0]

        def grown(old, new):  # processes that appeared meanwhile count from zero
            return sum(ticks - old.get(pid, 0) for pid, ticks in new.items()) / self.TICKS

        figures = {"bench": after[2] - before[2]}
        if self.group is not None:
            figures["server"] = grown(before[3], after[3])
        if self.engine is not None:
            figures["db"] = grown(before[4], after[4])
        figures["rest"] = max((after[1] - before[1]) / self.TICKS - sum(figures.values()), 0.0)
        return figures | {"wall": wall}

    def legend(self):
        return (
            "cpu "
            + "/".join(
                ["b", *(["g"] if self.group is not None else []), *(["db"] if self.engine is not None else []), "r"]
            )
            + " %"
        )


# --- mode 1: in-process -----------------------------------------------------------------------------


def run_inprocess(app: Flask, run: Run, echo):
    """Every request through the test client, one at a time, in a thread of its own: without the CLI's app
    context, each request pushes and tears down its own (fresh `g`, fresh database session), as in a server."""
    outcome = {}

    def work():
        try:
            outcome["results"] = _inprocess(app, run, echo)
        except BaseException as error:  # noqa: BLE001 — handed back to the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=work, name="bench-inprocess")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


def _inprocess(app, run, echo):
    anonymous = app.test_client()
    staff = app.test_client()
    page = staff.get("/login").get_data(as_text=True)
    response = staff.post(
        "/login", data={"email": run.email, "password": run.password, "csrf_token": _login_csrf(page)}
    )
    if response.status_code != 303:
        raise click.ClickException(f"In-process sign-in as {run.email} failed ({response.status_code}).")
    clients = {
        None: (anonymous, {}),
        "staff": (staff, {}),
        "api": (anonymous, {"Authorization": f"Bearer {run.api_token}"}),
    }
    if any(s.auth == "admin" for s in run.scenarios):
        admin = app.test_client()
        page = admin.get("/login").get_data(as_text=True)
        response = admin.post(
            "/login", data={"email": run.admin_email, "password": run.password, "csrf_token": _login_csrf(page)}
        )
        if response.status_code != 303:
            raise click.ClickException(f"In-process sign-in as {run.admin_email} failed ({response.status_code}).")
        clients["admin"] = (admin, {})
    results = []
    for scenario in run.scenarios:
        client, auth_headers = clients[scenario.auth]

        def send(pool, count, result, client=client, auth_headers=auth_headers):
            deadline = perf_counter() + run.seconds if run.seconds and result is not None else None
            started = perf_counter()
            for i in range(count):
                req = pool[i % len(pool)]
                began = perf_counter()
                try:
                    response = client.open(
                        req.path,
                        method=req.method,
                        data=req.body or None,
                        headers={**auth_headers, **dict(req.headers)},
                    )
                except Exception as error:  # noqa: BLE001 — with TESTING on, Flask re-raises instead of a 500
                    status, body, server = 500, f"{type(error).__name__}: {error}".encode(), None
                else:
                    status, body = response.status_code, response.get_data()
                    server = _server_ms(response.headers.get("Server-Timing"))
                    response.close()
                elapsed = (perf_counter() - began) * 1000
                if result is not None:
                    result.add(Sample(status, elapsed, server), body)
                if deadline and perf_counter() >= deadline:
                    break
            return perf_counter() - started

        results.append(run.measure(scenario, send, echo, "in-process", CpuMeter(engine=run.engine)))
    return results
