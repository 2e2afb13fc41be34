"""`flask bench-capacity`: how many tablets one app box and its database carry through a store day.

1. Seeds the synthetic network or reuses it (network.py; 200 stores × 25,000 variants by default).
2. Writes a plan from it: the stores the tablets work in (`--per-store` tablets each, the first at the pickup
   desk), their clerks, a sample of variants (with those each store has enough of to sell), search words,
   customers, an API token for the ERP's stock feed.
3. For each N tried: starts `gunicorn app:app` (sync workers, one per core unless `--workers`; behind a proxy as
   the README recommends, so each tablet has its own address), runs the tablets in a process of their own
   (tablets.py, locust with gevent) with sessions made by the sign-in verb (kept for the next N), lets them
   settle, then measures for `--seconds`: client latency and the Server-Timing figure per kind of request, the
   panels' freshness, and the CPU that gunicorn's processes, the database's backends and the load generator
   used (from /proc).
4. N passes when every action kind's p95 client latency is ≤ 150 ms, every change the ERP made to a variant
   shown on an open panel was seen by that panel within 2 s (the maximum, not a percentile), no request failed
   and every tablet signed in. With `--search` it goes up from the first N while N passes (× `--step`) and down
   while it fails, and reports the largest passing N with PASS/FAIL against the target of 1,000 tablets.
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
from omnistore_tools.bench.report import _cores, _load, _load_text
from omnistore_tools.bench.scenarios import DEFAULT_PRODUCTS, DEFAULT_STORES, _sample_workload
from omnistore_tools.bench.served import Gunicorn

TARGET_TABLETS = 1000  # 200 stores × 5
ACTION_P95_MS = 150.0
FRESHNESS_LIMIT_S = 2.0
POLL_PREFIX = "poll"


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
@click.option("--workers", type=click.IntRange(1, 256), default=_cores(), show_default=True)
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
    workers,
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
        workers=workers,
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
    from omnistore_tools.seed import SEED_DOMAIN, SEED_MARK

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


def _run_tablets(app, plan, tablets, settings, echo):
    """Gunicorn and the tablets for one N: returns the tablets' result with the CPU figures added."""
    engine = db.engine if db.engine.dialect.name == "postgresql" else None
    refresh = settings["refresh"] or app.config["OMNISTORE_LIVE_REFRESH_SECONDS"]
    env = {
        "OMNISTORE_TRUSTED_PROXIES": "1",  # behind the proxy: each tablet has its own address
        "OMNISTORE_LIVE_REFRESH_SECONDS": str(refresh),
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
    with Gunicorn(app, settings["workers"], 1, env=env) as server, tempfile.TemporaryDirectory() as folder:
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
                "poll": name.startswith(POLL_PREFIX),
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
    polls = sum(k["requests"] for k in kinds if k["poll"])
    requests = sum(k["requests"] for k in kinds)
    return {
        "tablets": result["tablets"],
        "refresh_seconds": result["refresh_seconds"],
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
    lines = [
        f"N = {run['tablets']:,} tablets ({run['seconds']:.0f} s measured, panels poll every "
        f"{run['refresh_seconds']:g} s; all signed in after {run['signed_in_seconds']:.0f} s "
        f"({run['resumed_sessions']} with a session made beforehand); "
        f"{run['requests_per_second']} req/s, {100 * (run['polls_share'] or 0):.0f} % "
        f"of them polls; {run['orders_placed']} counter orders placed, {run['handed_over']} handed over): "
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


def capacity_run(app, *, stores, products, customers, tried, search, step, max_runs, echo, **settings):
    from omnistore.stores import staff as staff_service

    started = time.monotonic()
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
    try:
        queue = list(tried)
        while queue and len(runs) < max_runs:
            tablets = queue.pop(0)
            if any(run["tablets"] == tablets for run in runs):
                continue
            echo(f"N = {tablets}: starting gunicorn and the tablets ({_load_text(_load())})")
            run = judge(_run_tablets(app, plan, tablets, settings, echo))
            runs.append(run)
            echo(_run_text(run))
            if search and not queue:
                queue.append(_next(runs, step))
    finally:
        with contextlib.suppress(Exception):
            staff_service.revoke_api_client(api_name)
        db.session.remove()
    passing = [run["tablets"] for run in runs if run["passed"]]
    largest = max(passing) if passing else None
    verdict = "PASS" if largest is not None and largest >= TARGET_TABLETS else "FAIL"
    header = [
        f"Capacity: {network.describe()}",
        f"gunicorn app:app, {settings['workers']} sync workers behind a proxy (one address per tablet); "
        f"{settings['per_store']} tablets per store, the first at the pickup desk; think "
        f"{settings['think'][0]:g}–{settings['think'][1]:g} s; ERP batch of {settings['feed_rows']} rows every "
        f"{settings['feed_seconds']:g} s; {_cores()} cores shared by app, database and load generator; "
        f"{_load_text(load_at_start)} at the start",
        "",
    ]
    footer = [
        "",
        f"Largest passing N: {largest if largest is not None else 'none'} of "
        f"{', '.join(str(run['tablets']) for run in runs)} tried "
        f"(action p95 ≤ {ACTION_P95_MS:.0f} ms, every change on every open panel within {FRESHNESS_LIMIT_S:g} s)",
        f"Target ≥ {TARGET_TABLETS:,} tablets: {verdict}",
        f"({time.monotonic() - started:.0f} s in all)",
    ]
    text = "\n".join(header + ["\n\n".join(_run_text(run) for run in runs)] + footer)
    data = {
        "database": network.__dict__,
        "runs": runs,
        "largest_passing": largest,
        "target": TARGET_TABLETS,
        "verdict": verdict,
        "load_at_start": load_at_start,
        "settings": settings | {"think": list(settings["think"])},
    }
    return {"text": text, "data": data}


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
