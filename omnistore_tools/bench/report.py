"""Targets and the report: PASS/FAIL per scenario, the tables, the machine's load, the JSON figures."""

from __future__ import annotations

import os
import sys

from omnistore_tools.bench.measure import _round

# --- targets and the report -------------------------------------------------------------------------


def judge(results, mode):
    """Throughput relative to the trivial route, and each target PASS/FAIL (None: not judged in this mode)."""
    baseline = next((r for r in results if r.scenario.baseline and r.requests), None)
    for result in results:
        result.targets = []
        if not result.requests:
            continue
        scenario = result.scenario
        if baseline is not None and baseline.throughput:
            result.relative = result.throughput / baseline.throughput
        if scenario.p95_ms is not None:
            result.targets.append((f"p95 ≤ {scenario.p95_ms:g} ms", result.server(95) <= scenario.p95_ms))
        if scenario.min_share is not None and result.relative is not None:
            # One request at a time in one thread puts pure Python cost side by side; the share is
            # about serving (HTTP, several workers, concurrent clients), so it is judged through gunicorn.
            passed = result.relative >= scenario.min_share if mode == "gunicorn" else None
            result.targets.append((f"≥ {_fraction(scenario.min_share)} trivial", passed))


def _fraction(share):
    return "1/3" if abs(share - 1 / 3) < 1e-9 else f"{share:.2f}"


def _ms(value):
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def format_table(title, results, mode, cpu_legend):
    header = [
        "scenario",
        "expect",
        "ok/sent",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p95 client" if mode == "gunicorn" else "p95 call",
        "req/s",
        "× trivial",
        cpu_legend,
        "cpu ms/req",
        "targets",
    ]
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.scenario.name, str(r.scenario.expect), "skipped", *[""] * 8, r.skipped])
            continue
        marks = ", ".join(f"{label} {'–' if ok is None else 'PASS' if ok else 'FAIL'}" for label, ok in r.targets)
        rows.append(
            [
                r.scenario.name,
                str(r.scenario.expect),
                f"{r.ok}/{r.requests}",
                _ms(r.server(50)),
                _ms(r.server(95)),
                _ms(r.server(99)),
                _ms(r.client(95)),
                f"{r.throughput:.0f}",
                "–" if r.relative is None else f"{r.relative:.2f}",
                "/".join(str(v) for v in r.cpu_percent.values()) if r.cpu else "–",
                "+".join(_ms(v) for v in r.cpu_per_request.values()) if r.cpu else "–",
                marks,
            ]
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {2, 3, 4, 5, 6, 7, 8, 9, 10}

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [title, line(header), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    for r in results:
        if r.note:
            out.append(f"  ~ {r.scenario.name}: {r.note}")
        if r.requests and r.ok != r.requests:
            statuses = ", ".join(f"{status or 'no answer'} ×{count}" for status, count in sorted(r.statuses.items()))
            out.append(
                f"  ! {r.scenario.name}: expected {r.scenario.expect} every time, got {statuses}; "
                f"first: {r.first_unexpected}"
            )
    return "\n".join(out)


def _load():
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2)}


def _load_text(load):
    return f"load average {load['1min']:.2f}, {load['5min']:.2f}, {load['15min']:.2f}"


def _python_speed():
    """µs for sum(range(1000)), best of a few: how fast this machine runs Python (a current desktop core: ~10)."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=200, repeat=7)) / 200 * 1e6


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _report(network, reports, load_at_start, cores, seconds, speed):
    lines = [
        f"omnistore bench — {network.describe()}",
        (
            f"Seeded in {network.seeded_seconds:.1f} s."
            if network.seeded_seconds is not None
            else "Reused the seeded network."
        ),
        f"Machine: {cores} cores, Python {sys.version.split()[0]} ({speed:.0f} µs for sum(range(1000)); a current "
        f"desktop core: ~10); {_load_text(load_at_start)} at the start.",
        "Targets (issue 3, on PostgreSQL): search and network panel p95 ≤ 30 ms, idle refresh p95 ≤ 3 ms; "
        "throughput ≥ 1/3 of the trivial route's, judged through gunicorn; (issue 7) the manager's network "
        "dashboard p95 ≤ 300 ms.",
        "Times are server time from the Server-Timing header (the app's own time per request) unless labelled "
        "client; cpu: % of one core used meanwhile by the bench (b), gunicorn (g), the database's PostgreSQL "
        "backends (db) and the rest of the machine (r: other work, which slows every figure); cpu ms/req: CPU "
        "per request of the app (+ its database backends), which other work on the machine does not inflate.",
    ]
    if network.kind != "postgresql":
        lines.append(f"Note: the targets are set for PostgreSQL; on {network.kind} they are shown for comparison.")
    failed, unexpected = [], []
    data_modes = []
    for report in reports:
        s = report["settings"]
        limit = f", at most {seconds:g} s each" if seconds else ""
        if report["mode"] == "inprocess":
            title = (
                f"\nIn-process (Flask test client, one request at a time): {s['requests']} requests per "
                f"scenario after {s['warmup']} warm-up{limit}; {_load_text(report['load_before'])}"
            )
        else:
            threads = f" × {s['threads']} threads" if s["threads"] > 1 else ""
            title = (
                f"\nThrough gunicorn ({s['workers']} {s['worker_class']} workers{threads}, "
                f"{s['clients']} concurrent clients): {s['requests']} requests per scenario after "
                f"{s['warmup']} warm-up{limit}; {_load_text(report['load_before'])}"
            )
        lines.append(format_table(title, report["results"], report["mode"], report["cpu_legend"]))
        lines.append(f"  {_load_text(report['load_after'])} at the end")
        for r in report["results"]:
            failed += [f"{report['mode']} {r.scenario.name} ({label})" for label, ok in r.targets if ok is False]
            if r.requests and r.ok != r.requests:
                unexpected.append(f"{report['mode']} {r.scenario.name}")
        data_modes.append(
            {
                "mode": report["mode"],
                "settings": s,
                "load_before": report["load_before"],
                "load_after": report["load_after"],
                "scenarios": [r.as_dict() for r in report["results"]],
            }
        )
    verdict = "All targets met." if not failed else "Targets missed: " + "; ".join(failed)
    lines.append("\n" + verdict)
    data = {
        "database": {
            "kind": network.kind,
            "version": network.version,
            "url": network.url,
            "stores": network.stores,
            "variants": network.variants,
            "stock_rows": network.stock_rows,
            "customers": network.customers,
            "orders": network.orders,
            "size_bytes": network.size_bytes,
            "seeded_seconds": _round(network.seeded_seconds, 1),
        },
        "machine": {
            "cores": cores,
            "python": sys.version.split()[0],
            "sum_range_1000_us": round(speed, 1),
            "load_at_start": load_at_start,
        },
        "modes": data_modes,
        "targets_failed": failed,
        "unexpected_statuses": unexpected,
    }
    return {"text": "\n".join(lines), "data": data}
