"""`flask bench`: the command and its run over the selected scenarios and modes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from omnistore.core.extensions import db
from omnistore_tools.bench.measure import CpuMeter, Result, Run, _clerk_email, run_inprocess
from omnistore_tools.bench.network import ensure_network
from omnistore_tools.bench.report import _cores, _load, _load_text, _python_speed, _report, judge
from omnistore_tools.bench.scenarios import (
    DEFAULT_PRODUCTS,
    DEFAULT_STORES,
    SCENARIO_NAMES,
    SCENARIOS,
    _sample_workload,
)
from omnistore_tools.bench.served import run_gunicorn


@click.command("bench")
@click.option(
    "--stores",
    type=click.IntRange(1, 9999),
    default=DEFAULT_STORES,
    show_default=True,
    help="Seed stores in the network (seeded if missing, reused if there).",
)
@click.option(
    "--products",
    type=click.IntRange(1, 9_999_999),
    default=DEFAULT_PRODUCTS,
    show_default=True,
    help="Seed variants (SKUs); every seed store stocks every one.",
)
@click.option(
    "--customers",
    type=click.IntRange(0, 9_999_999),
    default=500_000,
    show_default=True,
    help="Seed customers (the customer scenarios need at least one).",
)
@click.option(
    "--orders",
    type=click.IntRange(0, 99_999_999),
    default=2_000_000,
    show_default=True,
    help="Seed orders of the seed customers (delivered, 1–3 lines each).",
)
@click.option(
    "--pickup-orders",
    type=click.IntRange(0, 50_000_000),
    default=1_000_000,
    show_default=True,
    help="Seed pickup orders the manager scenarios need (seeded if missing; only when one of them runs).",
)
@click.option("--mode", type=click.Choice(["inprocess", "gunicorn", "both"]), default="both", show_default=True)
@click.option(
    "--scenario",
    "chosen",
    multiple=True,
    type=click.Choice(SCENARIO_NAMES),
    help="Run only these scenarios (repeatable); default: all but orders-list and api-search. "
    "The trivial route always runs (the baseline).",
)
@click.option(
    "--requests",
    "requests_",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Measured requests per scenario and mode.",
)
@click.option(
    "--warmup",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Unmeasured requests per scenario first (through gunicorn at least 2 per client).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Stop a scenario after this many seconds even if not all requests are sent.",
)
@click.option(
    "--clients",
    type=click.IntRange(1, 1000),
    default=16,
    show_default=True,
    help="Concurrent keep-alive clients through gunicorn.",
)
# One worker per core: the bench's machine runs PostgreSQL and the clients on the same cores, and more
# workers only take turns on them (measured on 2 cores: 5 workers spent 10–50 % more CPU per request
# than 2, and tripled p95 server time).
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=_cores(),
    show_default=True,
    help="gunicorn worker processes (one per core).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Threads per gunicorn worker (more than 1: the gthread worker, which keeps connections "
    "alive; the default sync worker closes each after its response).",
)
@click.option(
    "--seed",
    "random_seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed of the request sample (the same seed replays the same requests).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the figures to this file as JSON.",
)
@click.option("--check", is_flag=True, help="Exit with status 1 when a target is missed, too.")
@with_appcontext
def bench(
    stores,
    products,
    customers,
    orders,
    pickup_orders,
    mode,
    chosen,
    requests_,
    warmup,
    seconds,
    clients,
    workers,
    threads,
    random_seed,
    json_path,
    check,
):
    """Benchmark the staff pages on a large synthetic network, in-process and through gunicorn.

    Seeds (or reuses) STORES × PRODUCTS stock rows, signs in as the seed clerk of S001 and prints
    p50/p95/p99 server time (the Server-Timing header), p95 client latency and throughput per scenario,
    relative to the trivial route, with the issue's targets (for PostgreSQL) as PASS/FAIL. Point
    OMNISTORE_DATABASE_URL at a scratch database: the seed adds millions of rows and keeps them.
    """

    def echo(message):
        click.echo(message, err=True)

    from flask import current_app

    flask_app = current_app._get_current_object()
    report = bench_run(
        flask_app,
        stores=stores,
        products=products,
        customers=customers,
        orders=orders,
        mode=mode,
        chosen=chosen,
        requests=requests_,
        warmup=warmup,
        seconds=seconds,
        clients=clients,
        workers=workers,
        threads=threads,
        random_seed=random_seed,
        echo=echo,
        pickup_orders=pickup_orders,
    )
    click.echo(report["text"])
    if json_path:
        Path(json_path).write_text(json.dumps(report["data"], indent=2, ensure_ascii=False) + "\n")
    data = report["data"]
    if data["unexpected_statuses"]:
        raise click.ClickException("Some responses had an unexpected status: " + ", ".join(data["unexpected_statuses"]))
    if check and data["targets_failed"]:
        raise click.ClickException("Targets missed: " + ", ".join(data["targets_failed"]))


def bench_run(
    app,
    *,
    stores,
    products,
    customers,
    mode,
    chosen,
    requests,
    warmup,
    seconds,
    clients,
    workers,
    threads,
    random_seed,
    echo,
    orders=0,
    pickup_orders=0,
):
    from omnistore.demo_logins import DEMO_PASSWORD
    from omnistore.stores import staff as staff_service

    speed = _python_speed()
    network = ensure_network(stores, products, customers, echo, orders=orders)
    if network.seeded_seconds is not None:
        echo(f"  {network.seed_summary}")
    wanted = set(chosen) if chosen else {s.name for s in SCENARIOS if s.default}
    selected = [s for s in SCENARIOS if s.name in wanted or s.baseline]
    workload = _sample_workload(app, random.Random(random_seed), products)
    skipped = {s.name: f"no endpoint {s.endpoint} yet" for s in selected if s.endpoint not in app.view_functions}
    runnable = [s for s in selected if s.name not in skipped]
    admin_email = None
    if any(s.pickup_orders for s in runnable):
        from omnistore_tools.seed import SEED_ADMIN_EMAIL, seed_pickup_orders

        result = seed_pickup_orders(pickup_orders)
        echo(f"  {result.summary_text()}")
        db.session.remove()
        admin_email = SEED_ADMIN_EMAIL

    api_name = api_token = None
    if any(s.auth == "api" for s in runnable):
        api_name = f"omnistore-bench {time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}"
        _client, api_token = staff_service.create_api_client(api_name)
    run = Run(
        app,
        workload,
        runnable,
        requests,
        warmup,
        seconds,
        _clerk_email(),
        DEMO_PASSWORD,
        api_token,
        random_seed,
        engine=db.engine if db.engine.dialect.name == "postgresql" else None,
        admin_email=admin_email,
    )
    for scenario in runnable:
        run.pool(scenario)  # a factory that fails, fails before anything is measured
    db.session.remove()

    modes = ["inprocess", "gunicorn"] if mode == "both" else [mode]
    load_at_start = _load()
    reports = []
    saved_limit = app.config.get("OMNISTORE_API_RATE_LIMIT")
    try:
        for current in modes:
            load_before = _load()
            echo(f"{current}: {len(runnable)} scenarios, {_load_text(load_before)}")
            if current == "inprocess":
                app.config["OMNISTORE_API_RATE_LIMIT"] = "1000000 per minute"
                try:
                    results = run_inprocess(app, run, echo)
                finally:
                    app.config["OMNISTORE_API_RATE_LIMIT"] = saved_limit
                settings = {"requests": requests, "warmup": warmup, "threads": 1}
            else:
                results = run_gunicorn(app, run, workers, threads, clients, echo)
                settings = {
                    "requests": requests,
                    "warmup": max(warmup, 2 * clients),
                    "workers": workers,
                    "threads": threads,
                    "clients": clients,
                    "worker_class": "gthread" if threads > 1 else "sync",
                }
            results += [Result(s, skipped=skipped[s.name]) for s in selected if s.name in skipped]
            results.sort(key=lambda r: SCENARIO_NAMES.index(r.scenario.name))
            judge(results, current)
            legend = CpuMeter(0 if current == "gunicorn" else None, run.engine).legend()
            reports.append(
                {
                    "mode": current,
                    "settings": settings,
                    "load_before": load_before,
                    "load_after": _load(),
                    "results": results,
                    "cpu_legend": legend,
                }
            )
    finally:
        if api_name:
            with contextlib.suppress(Exception):
                staff_service.revoke_api_client(api_name)
            db.session.remove()
    return _report(network, reports, load_at_start, cores=_cores(), seconds=seconds, speed=speed)
