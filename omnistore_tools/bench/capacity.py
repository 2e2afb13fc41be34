"""`flask bench-capacity`: how many tablets one app box and its database carry through a store day.

1. Seeds the synthetic network or reuses it (network.py; 200 stores × 25,000 variants by default).
2. Writes a plan from it: the stores the tablets work in (`--per-store` tablets each, the first at the pickup
   desk), their clerks, a sample of variants (with those each store has enough of to sell), search words,
   customers, an API token for the ERP's stock feed.
3. For each N tried: starts `gunicorn app:app` (the workers the README recommends unless `--workers`; behind a
   proxy as it recommends, so each tablet has its own address), runs the tablets in a process of their own
   (tablets.py, locust with gevent) with sessions made by the sign-in verb (kept for the next N), lets them
   settle, then measures for `--seconds`: client latency and the Server-Timing figure per kind of request, the
   panels' freshness, and the CPU that gunicorn's processes, the database's backends and the load generator
   used (from /proc).
   Each N runs in each of `--modes` (default both, one after the other on the same network and sessions):
   poll — the open panels and desks poll; push — they hold the live stream and fetch when it says so
   (core/live.py). gunicorn runs as the README recommends (gevent workers, `--worker-class`).
4. N passes when every action kind's p95 client latency is ≤ 150 ms, every change the ERP made to a variant
   shown on an open panel was seen by that panel within 2 s (the maximum, not a percentile), every counter order
   placed for collection was seen by its store's open desk within 2 s, no request failed
   and every tablet signed in. With `--search` it goes up from the first N while N passes (× `--step`) and down
   while it fails (an N passes when either mode passes), and reports the largest passing N of each mode with
   PASS/FAIL against the target of 1,000 tablets, the two side by side, and which is kept: the larger passing N,
   at equal N the one with less app + database CPU per tablet-minute.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from omnistore import ROOT
from omnistore.core.extensions import db
from omnistore_tools.bench.measure import CpuMeter, percentile
from omnistore_tools.bench.network import ensure_network
from omnistore_tools.bench.report import _cores, _load, _load_text, _python_speed
from omnistore_tools.bench.scenarios import DEFAULT_PRODUCTS, DEFAULT_STORES, _sample_workload
from omnistore_tools.bench.served import Gunicorn

TARGET_TABLETS = 1000  # 200 stores × 5
ACTION_P95_MS = 150.0
FRESHNESS_LIMIT_S = 2.0
POLL_PREFIX = "poll"
LIVE_PREFIXES = ("poll", "push", "stream")  # the live components keeping themselves up to date: not actions
MODES = ("poll", "push")
RECOMMENDED_WORKER_CLASS = "gevent"  # README, Production: what the benchmark measures by default
RECOMMENDED_WORKER_CONNECTIONS = 2000


def recommended_workers(worker_class):
    """README, Production: gevent workers one per core and one more, since each request keeps its worker while it
    waits for PostgreSQL (core/db.py) and the extra one uses the core meanwhile; sync workers one per core."""
    return _cores() + 1 if worker_class == "gevent" else _cores()


@click.command("bench-capacity")
@click.option("--stores", type=click.IntRange(1, 9999), default=DEFAULT_STORES, show_default=True)
@click.option("--products", type=click.IntRange(1, 9_999_999), default=DEFAULT_PRODUCTS, show_default=True)
@click.option(
    "--customers",
    type=click.IntRange(1, 9_999_999),
    default=10_000,
    show_default=True,
    help="Seed customers the tablets search for, open and order for.",
)
@click.option(
    "--tablets",
    "tried",
    type=click.IntRange(1, 100_000),
    multiple=True,
    help="Tablets to try (repeatable); default: the target, 1,000.",
)
@click.option("--search", is_flag=True, help="From the first --tablets, go up while N passes and down while it fails.")
@click.option("--step", type=click.FloatRange(1.05, 4), default=1.5, show_default=True, help="Factor between Ns.")
@click.option("--max-runs", type=click.IntRange(1, 20), default=4, show_default=True, help="Runs at most (--search).")
@click.option("--per-store", type=click.IntRange(1, 100), default=5, show_default=True, help="Tablets per store.")
@click.option("--seconds", type=click.FloatRange(1), default=60, show_default=True, help="Measured seconds per N.")
@click.option(
    "--spawn-seconds",
    type=click.FloatRange(0),
    default=None,
    help="Seconds over which the tablets come on and sign in (default: N / 50, at least 2).",
)
@click.option("--warmup", type=click.FloatRange(0), default=10, show_default=True, help="Settling seconds per N.")
@click.option(
    "--think",
    type=(click.FloatRange(0), click.FloatRange(0)),
    default=(10.0, 40.0),
    show_default=True,
    help="A clerk's think time between actions, in seconds (uniform between the two).",
)
@click.option(
    "--refresh",
    type=click.FloatRange(0.5),
    default=None,
    help="The live components' poll interval in seconds (OMNISTORE_LIVE_REFRESH_SECONDS; default the app's).",
)
@click.option(
    "--feed-seconds",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Seconds between the ERP's stock batches (0: no feed).",
)
@click.option("--feed-rows", type=click.IntRange(1, 5000), default=20, show_default=True, help="Rows per batch.")
@click.option(
    "--modes",
    type=click.Choice(["both", *MODES]),
    default="both",
    show_default=True,
    help="poll: open panels and desks poll; push: they hold a stream and fetch when told (both: side by side).",
)
@click.option(
    "--push-refresh",
    type=click.FloatRange(1),
    default=None,
    help="Push mode: seconds between an open component's own refreshes (OMNISTORE_LIVE_PUSH_REFRESH_SECONDS).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help=f"gunicorn's workers [default: as the README recommends: {_cores() + 1} gevent or {_cores()} sync workers].",
)
@click.option(
    "--worker-class",
    type=click.Choice(["gevent", "sync"]),
    default=RECOMMENDED_WORKER_CLASS,
    show_default=True,
    help="gunicorn's worker class (the README recommends gevent; sync workers cannot hold streams).",
)
@click.option("--worker-connections", type=click.IntRange(1), default=RECOMMENDED_WORKER_CONNECTIONS, show_default=True)
@click.option("--seed", "random_seed", type=int, default=1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), default=None)
@with_appcontext
def bench_capacity(
    stores,
    products,
    customers,
    tried,
    search,
    step,
    max_runs,
    per_store,
    seconds,
    spawn_seconds,
    warmup,
    think,
    refresh,
    feed_seconds,
    feed_rows,
    modes,
    push_refresh,
    workers,
    worker_class,
    worker_connections,
    random_seed,
    json_path,
):
    """Replay a store day across N simulated tablets and report the largest N the box carries.

    Each tablet signs in as its store's clerk; the pickup desk's queue and the open network panels poll as
    in the browser; the ERP's stock feed runs beside them. N passes when every action's p95 client latency
    is ≤ 150 ms and every stock change reaches every open panel of its variant within 2 s. Point
    OMNISTORE_DATABASE_URL at a scratch PostgreSQL database: the network is seeded once and kept.
    """
    from flask import current_app

    def echo(message):
        click.echo(message, err=True)

    if think[0] > think[1]:
        raise click.BadParameter("the first think time must not be larger than the second", param_hint="--think")
    app = current_app._get_current_object()
    report = capacity_run(
        app,
        stores=stores,
        products=products,
        customers=customers,
        tried=list(tried) or [TARGET_TABLETS],
        search=search,
        step=step,
        max_runs=max_runs,
        per_store=per_store,
        seconds=seconds,
        spawn_seconds=spawn_seconds,
        warmup=warmup,
        think=think,
        refresh=refresh,
        feed_seconds=feed_seconds,
        feed_rows=feed_rows,
        modes=list(MODES) if modes == "both" else [modes],
        push_refresh=push_refresh,
        workers=workers or recommended_workers(worker_class),
        worker_class=worker_class,
        worker_connections=worker_connections,
        random_seed=random_seed,
        echo=echo,
    )
    click.echo(report["text"])
    if json_path:
        Path(json_path).write_text(json.dumps(report["data"], indent=2, ensure_ascii=False) + "\n")


# --- the plan --------------------------------------------------------------------------------------------


def _plan(app, network_stores, products, per_store, largest, random_seed, api_token):
    """What the tablets need, from the seeded network: stores and clerks, variants, words, customers."""
    from omnistore.demo_logins import DEMO_PASSWORD
    from omnistore.stock.models import StockLevel
    from omnistore.stores.models import Location
    from omnistore_tools.seed import SEED_DOMAIN, SEED_MARK, variant_sku

    workload = _sample_workload(app, random.Random(random_seed), products)
    customers = workload.customer_sample()
    count = min(network_stores, math.ceil(largest / per_store))
    rows = db.session.execute(
        select(Location.id, Location.code)
        .where(Location.notes == SEED_MARK, Location.pickup_enabled.is_(True))
        .order_by(Location.code)
        .limit(count)
    ).all()
    if not rows:
        raise click.ClickException("The seed network has no pickup stores.")
    sample = {v.id: v for v in workload.variants}
    sellable = {location_id: [] for location_id, _ in rows}
    for location_id, variant_id in db.session.execute(
        select(StockLevel.location_id, StockLevel.variant_id).where(
            StockLevel.location_id.in_(sellable),
            StockLevel.variant_id.in_(sample),
            StockLevel.on_hand - StockLevel.allocated >= 3,
        )
    ):
        sellable[location_id].append(_variant(sample[variant_id]))
    locations = list(db.session.scalars(select(Location.code).where(Location.notes == SEED_MARK)))
    db.session.rollback()
    return {
        "password": DEMO_PASSWORD,
        "seed": random_seed,
        "stores": [
            {
                "code": code,
                "email": f"clerk.{code.lower()}@{SEED_DOMAIN}",
                "variants": sorted(sellable[location_id], key=lambda v: v["id"]),
            }
            for location_id, code in rows
        ],
        "variants": [_variant(v) for v in workload.variants],
        "sku_of": {str(v.id): v.sku for v in workload.variants},
        "catalogue_skus": [variant_sku(number) for number in range(1, products + 1)],  # the ERP's whole feed
        "queries": workload.queries,
        "customers": customers.ids,
        "customer_queries": customers.queries,
        "api_token": api_token,
        "feed_locations": locations,
    }


def _variant(v):
    return {"id": v.id, "product_id": v.product_id, "ean": v.ean, "sku": v.sku}


# --- the tablets' sessions ----------------------------------------------------------------------------------

TABLET_USER_AGENT = "omnistore-tablet"


def tablet_address(index):
    """Tablet `index`'s own address, as the proxy in front of the app names it (X-Forwarded-For)."""
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def store_of(index, per_store, stores):
    """Which of the plan's stores tablet `index` works in: the same whatever N is, so sessions carry over."""
    return (index // per_store) % stores


def _prepare_sessions(app, plan, tablets, per_store, echo):
    """A session for every tablet that has none yet, made by the product's own sign-in verb (login.sign_in:
    the server-side session and the signed cookie, for the tablet's address and browser) rather than the
    sign-in form, whose password hash is slow on purpose: a thousand tablets signing in through it took
    minutes of the two cores, which is not what a store day is about. The form's path stays in the tablets
    (tablets.py signs in through it when a session is refused)."""
    from flask import session

    from omnistore.stores import login
    from omnistore.stores.models import Staff

    sessions = plan.setdefault("sessions", {})
    missing = [index for index in range(tablets) if str(index) not in sessions]
    if not missing:
        return
    started = time.monotonic()
    emails = {store["email"] for store in plan["stores"]}
    staff = {s.email: s.id for s in db.session.scalars(select(Staff).where(Staff.email.in_(emails)))}
    db.session.rollback()
    for index in missing:
        store = plan["stores"][store_of(index, per_store, len(plan["stores"]))]
        with app.test_request_context(
            "/login",
            method="POST",
            environ_base={"REMOTE_ADDR": tablet_address(index)},
            headers={"User-Agent": TABLET_USER_AGENT},
        ):
            login.sign_in(db.session.get(Staff, staff[store["email"]]))
            response = app.response_class()
            app.session_interface.save_session(app, session, response)
            cookies = []
            for header in response.headers.getlist("Set-Cookie"):
                name, _, value = header.split(";", 1)[0].partition("=")
                cookies.append([name.strip(), value.strip(), "127.0.0.1", "/"])
        sessions[str(index)] = cookies
        db.session.remove()
    echo(f"  {len(missing)} tablets signed in by the sign-in verb in {time.monotonic() - started:.1f} s")


# --- one run -------------------------------------------------------------------------------------------


def _ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def _run_tablets(app, plan, tablets, settings, echo, mode="poll"):
    """Gunicorn and the tablets for one N and mode: returns the tablets' result with the CPU figures added."""
    engine = db.engine if db.engine.dialect.name == "postgresql" else None
    refresh = settings["refresh"] or app.config["OMNISTORE_LIVE_REFRESH_SECONDS"]
    push_refresh = settings.get("push_refresh") or app.config["OMNISTORE_LIVE_PUSH_REFRESH_SECONDS"]
    env = {
        "OMNISTORE_TRUSTED_PROXIES": "1",  # behind the proxy: each tablet has its own address
        "OMNISTORE_LIVE_REFRESH_SECONDS": str(refresh),
        # the desk's queue polls like the panel (its own setting; 2 s by default)
        "OMNISTORE_PICKUP_QUEUE_REFRESH_SECONDS": str(refresh),
        "OMNISTORE_LIVE_PUSH": "1" if mode == "push" else "0",
        "OMNISTORE_LIVE_PUSH_REFRESH_SECONDS": str(push_refresh),
    }
    _prepare_sessions(app, plan, tablets, settings["per_store"], echo)
    spawn = settings["spawn_seconds"]
    if spawn is None:
        spawn = max(2.0, tablets / 50)
    run_plan = plan | {
        "tablets": tablets,
        "store_of": [store_of(index, settings["per_store"], len(plan["stores"])) for index in range(tablets)],
        "desk": [index % settings["per_store"] == 0 for index in range(tablets)],  # the first of each store
        "refresh_seconds": refresh,
        "mode": mode,
        "push_refresh_seconds": push_refresh,
        "think_seconds": list(settings["think"]),
        "spawn_seconds": spawn,
        "warmup_seconds": settings["warmup"],
        "seconds": settings["seconds"],
        "freshness_limit": FRESHNESS_LIMIT_S,
        "sign_in_concurrency": settings["workers"],
        "sessions": plan.get("sessions", {}),
        "addresses": [tablet_address(index) for index in range(tablets)],
        "user_agent": TABLET_USER_AGENT,
        "feed": {
            "seconds": settings["feed_seconds"],
            "rows": settings["feed_rows"],
            "locations": plan["feed_locations"],
        },
    }
    server = Gunicorn(
        app,
        settings["workers"],
        1,
        env=env,
        worker_class=settings.get("worker_class", "sync"),
        worker_connections=settings.get("worker_connections", RECOMMENDED_WORKER_CONNECTIONS),
    )
    with server, tempfile.TemporaryDirectory() as folder:
        run_plan["host"] = f"http://127.0.0.1:{server.port}"
        plan_path, out_path = Path(folder) / "plan.json", Path(folder) / "result.json"
        plan_path.write_text(json.dumps(run_plan))
        meter = CpuMeter(server.process.pid, engine=engine)
        log = (Path(folder) / "tablets.log").open("w+")
        with (
            log,
            subprocess.Popen(
                [sys.executable, "-m", "omnistore_tools.bench.tablets", str(plan_path), str(out_path)],
                cwd=str(ROOT),
                env=dict(
                    os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
                ),
                stdout=subprocess.PIPE,
                stderr=log,  # a file, not a pipe: locust may log more than a pipe holds
                text=True,
            ) as process,
        ):
            try:
                before = generator_before = after = generator_after = None
                for line in process.stdout:
                    with contextlib.suppress(ValueError):
                        message = json.loads(line)
                        if "measuring" in message:
                            before, generator_before = meter.snapshot(), _ticks(process.pid)
                            echo(f"  {tablets} tablets at work; measuring {settings['seconds']:.0f} s")
                        elif "measured" in message:
                            after, generator_after = meter.snapshot(), _ticks(process.pid)
                if process.wait() != 0 or not out_path.exists():
                    log.seek(0)
                    raise click.ClickException(
                        f"The tablets' process failed ({process.returncode}):\n{log.read()[-3000:]}"
                    )
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        result = json.loads(out_path.read_text())
    plan["sessions"] = plan.get("sessions", {}) | result.pop("sessions", {})  # the next N resumes them
    cpu = meter.share(before, after) if before and after else None
    if cpu and generator_before is not None and generator_after is not None:
        generator = (generator_after - generator_before) / CpuMeter.TICKS
        cpu["generator"] = generator
        cpu["rest"] = max(cpu["rest"] - generator, 0.0)
    result["cpu"] = cpu
    result["tablets"] = tablets
    result["refresh_seconds"] = refresh
    result["push_refresh_seconds"] = push_refresh
    result["mode"] = mode
    return result


# --- judging and reporting ----------------------------------------------------------------------------------


def _figures(result):
    """Per request kind: count, p50/p95 client ms, p95 server ms, statuses, errors; actions and polls apart."""
    kinds = []
    for name, sample in sorted(result["samples"].items()):
        client = sorted(sample["client_ms"])
        server = sorted(sample["server_ms"])
        kinds.append(
            {
                "name": name,
                "poll": name.startswith(LIVE_PREFIXES),
                "feed": name.startswith("erp"),
                "sign_in": name.startswith("sign-in"),
                "requests": sum(sample["statuses"].values()),
                "statuses": sample["statuses"],
                "errors": sample["errors"],
                "client_p50_ms": _round(percentile(client, 50)),
                "client_p95_ms": _round(percentile(client, 95)),
                "server_p95_ms": _round(percentile(server, 95)),
                "server_total_s": round(sum(server) / 1000, 3),
            }
        )
    return kinds


def judge(result):
    kinds = _figures(result)
    measured = [kind for kind in kinds if not kind["sign_in"]]  # the sign-ins came before the measuring
    total_server = sum(kind["server_total_s"] for kind in measured) or 1
    for kind in kinds:
        kind["server_share"] = round(kind["server_total_s"] / total_server, 3) if kind in measured else None
    fresh = sorted(result["freshness_s"])
    wall = result["measured_to"] - result["measured_from"]
    tablet_minutes = result["tablets"] * wall / 60
    cpu = result.get("cpu") or {}
    per_tablet_minute = {
        who: round(1000 * cpu[key] / tablet_minutes, 1)
        for who, key in (("app", "server"), ("database", "db"), ("load generator", "generator"), ("rest", "rest"))
        if key in cpu
    }
    failures = []
    for kind in kinds:
        if kind["errors"] or any(int(status) >= 500 or int(status) == 0 for status in kind["statuses"]):
            failures.append(f"{kind['name']}: failed requests {kind['statuses']} {kind['errors']}")
        if _is_action(kind) and (kind["client_p95_ms"] or 0) > ACTION_P95_MS:
            failures.append(f"{kind['name']}: p95 {kind['client_p95_ms']:.0f} ms > {ACTION_P95_MS:.0f} ms")
    if result["signed_in"] < result["tablets"]:
        failures.append(f"only {result['signed_in']} of {result['tablets']} tablets signed in")
    if fresh and fresh[-1] > FRESHNESS_LIMIT_S:
        failures.append(f"a panel saw a change after {fresh[-1]:.2f} s > {FRESHNESS_LIMIT_S:.0f} s")
    if result["missed"]:
        failures.append(f"{result['missed']} changes not seen by an open panel within {FRESHNESS_LIMIT_S:.0f} s")
    if result["changes"] and not fresh:
        failures.append("no panel saw any of the ERP's changes")
    desk_fresh = sorted(result.get("desk_freshness_s", []))
    if desk_fresh and desk_fresh[-1] > FRESHNESS_LIMIT_S:
        failures.append(f"a desk saw a new order after {desk_fresh[-1]:.2f} s > {FRESHNESS_LIMIT_S:.0f} s")
    if result.get("desk_missed"):
        failures.append(
            f"{result['desk_missed']} new orders not seen by their open desk within {FRESHNESS_LIMIT_S:.0f} s"
        )
    polls = sum(k["requests"] for k in kinds if k["poll"])
    requests = sum(k["requests"] for k in kinds)
    return {
        "tablets": result["tablets"],
        "mode": result.get("mode", "poll"),
        "refresh_seconds": result["refresh_seconds"],
        "push_refresh_seconds": result.get("push_refresh_seconds"),
        "streams": result.get("streams"),
        "desk_freshness": {
            "seen": len(desk_fresh),
            "p50_s": _round(percentile(desk_fresh, 50)),
            "p95_s": _round(percentile(desk_fresh, 95)),
            "max_s": _round(desk_fresh[-1] if desk_fresh else None),
            "changes": result.get("desk_changes", 0),
            "closed_before_seen": result.get("desk_closed_before_seen", 0),
            "missed": result.get("desk_missed", 0),
        },
        "seconds": round(wall, 1),
        "passed": not failures,
        "failures": failures,
        "kinds": kinds,
        "requests_per_second": round(requests / wall, 1) if wall else None,
        "polls_share": round(polls / requests, 3) if requests else None,
        "freshness": {
            "seen": len(fresh),
            "p50_s": _round(percentile(fresh, 50)),
            "p95_s": _round(percentile(fresh, 95)),
            "max_s": _round(fresh[-1] if fresh else None),
            "changes": result["changes"],
            "closed_before_seen": result["closed_before_seen"],
            "missed": result["missed"],
        },
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_tablet_minute": per_tablet_minute,
        "orders_placed": result["placed"],
        "handed_over": result["handed_over"],
        "signed_in": result["signed_in"],
        "signed_in_seconds": _round(result["signed_in_seconds"], 1),
        "resumed_sessions": result.get("resumed", 0),
        "sign_in_failures": result["sign_in_failures"],
    }


def _is_action(kind):
    """A clerk's action (judged), not a poll, the ERP's feed or the sign-in at the start of the shift."""
    return not (kind["poll"] or kind["feed"] or kind["sign_in"])


def _round(value, digits=2):
    return None if value is None else round(value, digits)


def _run_text(run):
    live = (
        f"push: panels and desks hold a stream and fetch when told, refresh every {run['push_refresh_seconds']:g} s, "
        f"poll every {run['refresh_seconds']:g} s while the stream is down"
        if run.get("mode") == "push"
        else f"poll: panels and desks poll every {run['refresh_seconds']:g} s"
    )
    lines = [
        f"N = {run['tablets']:,} tablets, {live} ({run['seconds']:.0f} s measured; all signed in after "
        f"{run['signed_in_seconds']:.0f} s "
        f"({run['resumed_sessions']} with a session made beforehand); "
        f"{run['requests_per_second']} req/s, {100 * (run['polls_share'] or 0):.0f} % "
        f"of them live refreshes; {run['orders_placed']} counter orders placed, {run['handed_over']} handed over): "
        + ("PASS" if run["passed"] else "FAIL"),
        f"  {'request kind':<32} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'server p95':>10} {'app time':>8}  statuses",
    ]
    for kind in run["kinds"]:
        mark = "" if not _is_action(kind) else (" ≤150" if (kind["client_p95_ms"] or 0) <= ACTION_P95_MS else " >150")
        statuses = " ".join(f"{code}×{count}" for code, count in sorted(kind["statuses"].items()))
        lines.append(
            f"  {kind['name']:<32} {kind['requests']:>7} {_ms(kind['client_p50_ms']):>8} "
            f"{_ms(kind['client_p95_ms']):>8} {_ms(kind['server_p95_ms']):>10} {_share(kind['server_share']):>8}  "
            f"{statuses}{mark}"
        )
    lines.append(
        "  (client ms measured by the tablets; server p95 and the share of the app's time from Server-Timing; "
        "actions marked against 150 ms)"
    )
    fresh = run["freshness"]
    lines.append(
        f"  panel freshness: {fresh['seen']} changes seen by open panels, p50 {_s(fresh['p50_s'])}, "
        f"p95 {_s(fresh['p95_s'])}, max {_s(fresh['max_s'])} (limit {FRESHNESS_LIMIT_S:g} s); "
        f"{fresh['missed']} missed, {fresh['closed_before_seen']} closed before their next poll "
        f"({fresh['changes']} ERP changes to open variants)"
    )
    desk = run.get("desk_freshness")
    if desk:
        lines.append(
            f"  desk freshness: {desk['seen']} new orders seen by their open desk, p50 {_s(desk['p50_s'])}, "
            f"p95 {_s(desk['p95_s'])}, max {_s(desk['max_s'])}; {desk['missed']} missed, "
            f"{desk['closed_before_seen']} while the desk was busy ({desk['changes']} placed with the desk open)"
        )
    streams = run.get("streams")
    if run.get("mode") == "push" and streams:
        drops = ", ".join(f"{why} {count}" for why, count in sorted(streams["drops"].items())) or "none"
        lines.append(
            f"  streams open: {streams['open_at_start']} at the start of the measuring, {streams['open_at_end']} at "
            f"its end; dropped meanwhile: {drops}"
        )
    cpu = run["cpu_ms_per_tablet_minute"]
    if cpu:
        lines.append(
            "  CPU per tablet-minute: "
            + ", ".join(f"{who} {value:.0f} ms" for who, value in cpu.items())
            + f" (CPU seconds in the run: {run['cpu_seconds']})"
        )
        busy = cpu.get("app", 0) + cpu.get("database", 0)
        if busy:
            lines.append(
                f"  at that cost, {_cores()} cores carry about {_cores() * 60_000 / busy:,.0f} tablets for app and "
                f"database alone ({_cores() * 60_000 / (busy + cpu.get('load generator', 0)):,.0f} with this load "
                "generator on the same cores)"
            )
    for failure in run["failures"]:
        lines.append(f"  ✗ {failure}")
    return "\n".join(lines)


def _ms(value):
    return "–" if value is None else f"{value:.1f}"


def _share(value):
    return "–" if value is None else f"{100 * value:.0f}%"


def _s(value):
    return "–" if value is None else f"{value:.2f} s"


# --- the command's run ------------------------------------------------------------------------------------


def capacity_run(app, *, stores, products, customers, tried, search, step, max_runs, echo, modes=("poll",), **settings):
    from omnistore.stores import staff as staff_service

    started = time.monotonic()
    modes = list(modes)
    network = ensure_network(stores, products, customers, echo)
    if network.seeded_seconds is not None:
        echo(f"  {network.seed_summary}")
    api_name = f"omnistore-capacity {time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}"
    _client, api_token = staff_service.create_api_client(api_name)
    largest_tried = max(tried) if not search else int(max(tried) * step ** (max_runs - 1)) + 1
    plan = _plan(
        app, network.stores, products, settings["per_store"], largest_tried, settings["random_seed"], api_token
    )
    db.session.remove()
    runs = []
    load_at_start = _load()
    speed = _python_speed()  # figures from different machines compare only with this beside them
    try:
        queue = list(tried)
        tried_ns = []
        while queue and len(tried_ns) < max_runs:
            tablets = queue.pop(0)
            if tablets in tried_ns:
                continue
            tried_ns.append(tablets)
            for mode in modes:  # side by side: the same N, the same network and sessions, one after the other
                load = _load()
                echo(f"N = {tablets}, {mode}: starting gunicorn and the tablets ({_load_text(load)})")
                run = judge(_run_tablets(app, plan, tablets, settings, echo, mode))
                run["load_before"] = load
                run["load_after"] = _load()
                runs.append(run)
                echo(_run_text(run))
            if search and not queue:
                queue.append(_next(_best_of_each_n(runs), step))
    finally:
        with contextlib.suppress(Exception):
            staff_service.revoke_api_client(api_name)
        db.session.remove()
    largest = {mode: _largest([run for run in runs if run["mode"] == mode]) for mode in modes}
    kept = _kept(runs, modes, largest)
    best = largest[kept]
    verdict = "PASS" if best is not None and best >= TARGET_TABLETS else "FAIL"
    worker_class = settings.get("worker_class", "sync")
    header = [
        f"Capacity: {network.describe()}",
        f"gunicorn app:app, {settings['workers']} {worker_class} workers"
        + (f" ({settings.get('worker_connections')} connections each)" if worker_class == "gevent" else "")
        + f" behind a proxy (one address per tablet); "
        f"{settings['per_store']} tablets per store, the first at the pickup desk; think "
        f"{settings['think'][0]:g}–{settings['think'][1]:g} s; ERP batch of {settings['feed_rows']} rows every "
        f"{settings['feed_seconds']:g} s; {_cores()} cores shared by app, database and load generator "
        f"(Python at {speed:.0f} µs for sum(range(1000)); a current desktop core: ~10); "
        f"{_load_text(load_at_start)} at the start; modes: {', '.join(modes)}",
        "",
    ]
    footer = [""]
    if len(modes) > 1:
        footer.append(_comparison(runs, modes))
    for mode in modes:
        mode_runs = [run for run in runs if run["mode"] == mode]
        mode_best = largest[mode]
        footer.append(
            f"{mode}: largest passing N {mode_best if mode_best is not None else 'none'} of "
            f"{', '.join(str(run['tablets']) for run in mode_runs)} tried; target ≥ {TARGET_TABLETS:,}: "
            + ("PASS" if mode_best is not None and mode_best >= TARGET_TABLETS else "FAIL")
        )
    footer += [
        f"Largest passing N: {best if best is not None else 'none'} ({kept}) "
        f"(action p95 ≤ {ACTION_P95_MS:.0f} ms, every change on every open panel and desk within "
        f"{FRESHNESS_LIMIT_S:g} s)",
        f"Target ≥ {TARGET_TABLETS:,} tablets: {verdict}",
        f"Kept: {kept}" + ("" if len(modes) > 1 else " (the only mode run)"),
        f"({time.monotonic() - started:.0f} s in all; {_load_text(_load())} at the end)",
    ]
    text = "\n".join(header + ["\n\n".join(_run_text(run) for run in runs)] + footer)
    data = {
        "database": network.__dict__,
        "runs": runs,
        "largest_passing": best,
        "largest_passing_by_mode": largest,
        "kept": kept,
        "target": TARGET_TABLETS,
        "verdict": verdict,
        "load_at_start": load_at_start,
        "python_speed_us": round(speed, 1),
        "settings": settings | {"think": list(settings["think"]), "modes": modes},
    }
    return {"text": text, "data": data}


def _largest(runs):
    passing = [run["tablets"] for run in runs if run["passed"]]
    return max(passing) if passing else None


def _busy(run):
    """CPU per tablet-minute of app and database (ms)."""
    cpu = run["cpu_ms_per_tablet_minute"]
    return cpu.get("app", 0) + cpu.get("database", 0)


def _slowest_action(run):
    return max((kind["client_p95_ms"] or 0 for kind in run["kinds"] if _is_action(kind)), default=0)


def _kept(runs, modes, largest):
    """The faster mode: the larger passing N; at equal N (or none), at the largest N both ran: one that passed
    there over one that did not, of two that passed the lower app + database CPU per tablet-minute (headroom),
    of two that failed the lower slowest action p95 (a saturated run does less work, so its CPU says little)."""
    if len(modes) == 1:
        return modes[0]
    ranked = sorted(modes, key=lambda mode: -(largest[mode] or 0))
    if (largest[ranked[0]] or 0) > (largest[ranked[1]] or 0):
        return ranked[0]
    common = [run["tablets"] for run in runs if run["mode"] == modes[0]]
    common = max((n for n in common if any(r["tablets"] == n and r["mode"] == modes[1] for r in runs)), default=None)
    at = {run["mode"]: run for run in runs if run["tablets"] == common}

    def rank(mode):
        run = at.get(mode)
        if run is None:
            return (2, 0)
        return (0, _busy(run)) if run["passed"] else (1, _slowest_action(run))

    return min(modes, key=rank)


def _best_of_each_n(runs):
    """For the search: an N passes when any mode passed at it."""
    best = {}
    for run in runs:
        best[run["tablets"]] = {
            "tablets": run["tablets"],
            "passed": best.get(run["tablets"], {}).get("passed") or run["passed"],
        }
    return list(best.values())


def _comparison(runs, modes):
    """Poll and push at each N, side by side: what decides (the slowest action, freshness) and what it costs."""
    lines = [
        "Side by side (slowest action p95 client ms; panel / desk freshness max s; requests/s; CPU per "
        "tablet-minute app + database ms; load average before → after):"
    ]
    for tablets in sorted({run["tablets"] for run in runs}):
        for mode in modes:
            run = next((r for r in runs if r["tablets"] == tablets and r["mode"] == mode), None)
            if run is None:
                continue
            cpu = run["cpu_ms_per_tablet_minute"]
            load = f"{run['load_before']['1min']:.2f} → {run['load_after']['1min']:.2f}"
            lines.append(
                f"  N = {tablets:>5} {mode:<4}  slowest action {_slowest_action(run):6.0f} ms  freshness "
                f"{_s(run['freshness']['max_s'])} / {_s(run['desk_freshness']['max_s'])}  "
                f"{run['requests_per_second'] or 0:6.1f} req/s  CPU {cpu.get('app', 0):.0f} + "
                f"{cpu.get('database', 0):.0f} ms  load {load}  " + ("PASS" if run["passed"] else "FAIL")
            )
    return "\n".join(lines)


def _next(runs, step):
    """Up from the largest passing N, down from the smallest failing one; between them once they are close."""
    passing = [run["tablets"] for run in runs if run["passed"]]
    failing = [run["tablets"] for run in runs if not run["passed"]]
    if passing and failing and min(failing) > max(passing):
        low, high = max(passing), min(failing)
        middle = (low + high) // 2
        return middle if low < middle < high else high
    if not failing:
        return math.ceil(max(passing) * step)
    return max(1, math.floor(min(failing) / step))
