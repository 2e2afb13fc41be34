"""`flask bench-ordering`: the sourcing engine and order placement (issue 5)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from time import perf_counter

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from omnistore.core.extensions import db
from omnistore_tools.bench.measure import _round, percentile
from omnistore_tools.bench.network import ensure_network
from omnistore_tools.bench.report import _cores, _load, _load_text, _ms
from omnistore_tools.bench.scenarios import (
    DEFAULT_PRODUCTS,
    DEFAULT_STORES,
    _sample_workload,
    _seed_customer_ids,
    _seed_store_ids,
)

# --- ordering (issue 5): the sourcing engine and order placement --------------------------------------

SOURCING_P95_MS = 50  # issue 5: "sourcing proposal p95 ≤ 50 ms at 200 stores"


def _timed(values):
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": _round(percentile(ordered, 50)),
        "p95": _round(percentile(ordered, 95)),
        "p99": _round(percentile(ordered, 99)),
        "max": _round(ordered[-1]) if ordered else None,
    }


def bench_sourcing(app, workload, rng, proposals):
    """propose() for `proposals` random pickup requests (1–3 sampled variants at a random seed store)."""
    from omnistore.orders import order_rules, sourcing

    stores = _seed_store_ids()
    times, splits, sources = [], 0, Counter()
    for i in range(proposals):
        lines = tuple(
            order_rules.LineRequest(v.id, rng.choice((1, 1, 2)))
            for v in rng.sample(workload.variants, rng.choice((1, 2, 3)))
        )
        request = sourcing.SourcingRequest(lines=lines, fulfilment="pickup", pickup_location_id=rng.choice(stores))
        began = perf_counter()
        proposal = sourcing.propose(request)
        times.append((perf_counter() - began) * 1000)
        splits += proposal.split
        sources[
            "here"
            if all(line.source and line.source.id == request.pickup_location_id for line in proposal.lines)
            else "elsewhere"
        ] += 1
        if i % 50 == 49:
            db.session.rollback()  # fresh snapshot, as a request would have
    db.session.rollback()
    return {"timing_ms": _timed(times), "split": splits, "sources": dict(sources), "stores": len(stores)}


def bench_placement(app, workload, rng, clients, seconds):
    """`clients` threads placing web pickup orders through ordering.place for `seconds`: orders/s, latency."""
    from omnistore.core.errors import InsufficientStock
    from omnistore.orders import order_rules
    from omnistore.orders import placing as ordering

    stores, customers = _seed_store_ids(), _seed_customer_ids()
    if not customers:
        raise click.ClickException("The seed network has no customers; seed with --customers.")
    variant_ids = [v.id for v in workload.variants]
    db.session.remove()
    barrier = threading.Barrier(clients)
    outcomes = [None] * clients

    def client(index):
        local = random.Random(f"{rng.random()}:{index}")
        times, numbers, short, errors = [], [], 0, Counter()
        with app.app_context():
            barrier.wait()
            deadline = perf_counter() + seconds
            while perf_counter() < deadline:
                request = ordering.PlaceOrder(
                    channel="web",
                    customer_id=local.choice(customers),
                    fulfilment="pickup",
                    payment_state="pay_at_pickup",
                    pickup_location_id=local.choice(stores),
                    lines=tuple(
                        order_rules.LineRequest(v, 1) for v in local.sample(variant_ids, local.choice((1, 1, 2)))
                    ),
                )
                began = perf_counter()
                try:
                    numbers.append(ordering.place(request, api_client=_bench_api_client()).number)
                except InsufficientStock:
                    short += 1
                except Exception as error:  # noqa: BLE001 — counted and reported
                    errors[f"{type(error).__name__}: {str(error)[:160]}"] += 1
                times.append((perf_counter() - began) * 1000)
                db.session.rollback()  # end the read snapshot: the connection goes back to the pool, as after a request
            db.session.remove()
        outcomes[index] = (times, numbers, short, errors)

    # One connection per client, as each server process would have its own pool (the default pool of one
    # process holds 15, fewer than the clients; a client waiting 30 s for one would be the bench's artefact).
    pool = db.engine.pool
    saved_overflow = getattr(pool, "_max_overflow", None)
    if saved_overflow is not None:
        pool._max_overflow = max(saved_overflow, clients + 2)
    started = perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if saved_overflow is not None:
            pool._max_overflow = saved_overflow
    wall = perf_counter() - started
    times = [t for outcome in outcomes for t in outcome[0]]
    numbers = [n for outcome in outcomes for n in outcome[1]]
    errors = sum((outcome[3] for outcome in outcomes), Counter())
    return {
        "clients": clients,
        "seconds": _round(wall, 1),
        "orders": len(numbers),
        "orders_per_second": _round(len(numbers) / wall, 1),
        "insufficient_stock": sum(o[2] for o in outcomes),
        "errors": dict(errors),
        "timing_ms": _timed(times),
        "numbers": numbers,
    }


_BENCH_CLIENT = {}


def _bench_api_client():
    from omnistore.stores.models import ApiClient

    client_id = _BENCH_CLIENT.get("id")
    return db.session.get(ApiClient, client_id) if client_id else None


def _ledger_consistent(variant_ids):
    """Every touched level: on_hand and allocated equal the sums of their movements, 0 ≤ allocated ≤ on_hand."""
    from omnistore.stock.models import StockLevel, StockMovement

    sums = (
        select(
            StockMovement.variant_id,
            StockMovement.location_id,
            func.sum(StockMovement.on_hand_delta).label("on_hand"),
            func.sum(StockMovement.allocated_delta).label("allocated"),
        )
        .where(StockMovement.variant_id.in_(variant_ids))
        .group_by(StockMovement.variant_id, StockMovement.location_id)
        .subquery()
    )
    bad = db.session.scalar(
        select(func.count())
        .select_from(StockLevel)
        .join(sums, (sums.c.variant_id == StockLevel.variant_id) & (sums.c.location_id == StockLevel.location_id))
        .where(
            (sums.c.on_hand != StockLevel.on_hand)
            | (sums.c.allocated != StockLevel.allocated)
            | (StockLevel.allocated > StockLevel.on_hand)
            | (StockLevel.allocated < 0)
        )
    )
    return bad == 0


@click.command("bench-ordering")
@click.option("--stores", type=click.IntRange(1, 9999), default=DEFAULT_STORES, show_default=True)
@click.option("--products", type=click.IntRange(1, 9_999_999), default=DEFAULT_PRODUCTS, show_default=True)
@click.option(
    "--proposals", type=click.IntRange(1), default=1000, show_default=True, help="Sourcing proposals to time."
)
@click.option(
    "--clients", type=click.IntRange(1, 256), default=16, show_default=True, help="Concurrent clients placing orders."
)
@click.option(
    "--seconds",
    type=click.FloatRange(0, min_open=True),
    default=20.0,
    show_default=True,
    help="How long the clients place orders.",
)
@click.option(
    "--keep-orders",
    is_flag=True,
    help="Leave the bench's orders placed (default: cancel them, which gives their stock back).",
)
@click.option("--seed", "random_seed", type=int, default=1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), default=None)
@with_appcontext
def bench_ordering(stores, products, proposals, clients, seconds, keep_orders, random_seed, json_path):
    """Benchmark the sourcing engine (p95 of a proposal; target ≤ 50 ms at 200 stores) and order
    placement (orders per second with CLIENTS concurrent clients; run it on PostgreSQL).

    Seeds (or reuses) the synthetic network like `bench`. Point OMNISTORE_DATABASE_URL at a scratch
    database: the bench places real orders (cancelled again at the end unless --keep-orders).
    For the same through HTTP, run `bench --scenario api-order` (gunicorn, 16 clients by default).
    """
    from omnistore.orders import api_orders, cancelling
    from omnistore.stores import staff as staff_service

    def echo(message):
        click.echo(message, err=True)

    app = current_app._get_current_object()
    network = ensure_network(stores, products, 1000, echo)
    rng = random.Random(random_seed)
    workload = _sample_workload(app, rng, products)
    echo(f"sourcing: {proposals} proposals on {network.describe()}")
    sourcing_figures = bench_sourcing(app, workload, rng, proposals)
    name = f"omnistore-bench-ordering {time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}"
    client, _token = staff_service.create_api_client(name)
    _BENCH_CLIENT["id"] = client.id
    echo(f"placement: {clients} clients for {seconds:g} s")
    try:
        placement = bench_placement(app, workload, rng, clients, seconds)
    finally:
        _BENCH_CLIENT.clear()
    consistent = _ledger_consistent([v.id for v in workload.variants])
    numbers = placement.pop("numbers")
    if not keep_orders:
        echo(f"cancelling the bench's {len(numbers)} orders")
        for number in numbers:
            with contextlib.suppress(Exception):
                api_client = db.session.get(type(client), client.id)
                cancelling.cancel(api_orders.order_for_api(number, api_client), api_client=api_client)
    with contextlib.suppress(Exception):
        staff_service.revoke_api_client(name)
    s, p = sourcing_figures["timing_ms"], placement["timing_ms"]
    ok = s["p95"] is not None and s["p95"] <= SOURCING_P95_MS
    lines = [
        f"omnistore bench-ordering — {network.describe()}",
        f"Machine: {_cores()} cores; {_load_text(_load())}.",
        f"Sourcing proposal ({proposals} pickup requests of 1–3 variants at random seed stores, "
        f"{sourcing_figures['stores']} pickup stores): p50 {_ms(s['p50'])}, p95 {_ms(s['p95'])}, "
        f"p99 {_ms(s['p99'])} ms — target p95 ≤ {SOURCING_P95_MS} ms: {'PASS' if ok else 'FAIL'}; "
        f"{sourcing_figures['sources'].get('here', 0)} from the pickup store, "
        f"{sourcing_figures['sources'].get('elsewhere', 0)} sourced elsewhere, {sourcing_figures['split']} split.",
        f"Order placement ({placement['clients']} concurrent clients, {placement['seconds']} s, "
        f"{network.kind}): {placement['orders']} orders, {placement['orders_per_second']} orders/s; "
        f"latency p50 {_ms(p['p50'])}, p95 {_ms(p['p95'])}, p99 {_ms(p['p99'])} ms; "
        f"{placement['insufficient_stock']} refused for stock, errors: {placement['errors'] or 'none'}; "
        f"ledger {'consistent' if consistent else 'INCONSISTENT'}.",
    ]
    click.echo("\n".join(lines))
    if json_path:
        Path(json_path).write_text(
            json.dumps(
                {
                    "sourcing": sourcing_figures,
                    "placement": placement,
                    "ledger_consistent": consistent,
                    "database": network.kind,
                },
                indent=2,
            )
            + "\n"
        )
    if placement["errors"] or not consistent:
        raise click.ClickException("Placement had errors or the ledger is inconsistent.")
