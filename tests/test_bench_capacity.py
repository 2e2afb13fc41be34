"""`flask bench-capacity` on a tiny network for a few seconds: the store day's wiring, not its speed.

The tablets sign in, search, scan, open products, panels and customers, place counter orders that the desk
tablet hands over, the open panels and the desk poll, and the ERP's changes reach the open panels; no request
fails. Nothing here asserts on a latency.
"""

import json

from omnistore_tools.bench import capacity

TINY = [
    "bench-capacity",
    "--stores",
    "2",
    "--products",
    "30",
    "--customers",
    "5",
    "--tablets",
    "6",
    "--per-store",
    "3",
    "--seconds",
    "8",
    "--warmup",
    "1",
    "--spawn-seconds",
    "1",
    "--think",
    "0.2",
    "0.8",
    "--refresh",
    "0.5",
    "--feed-seconds",
    "0.3",
    "--feed-rows",
    "3",
    "--workers",
    "1",
]


def test_a_store_day_runs_through_gunicorn_and_every_request_is_answered(app, tmp_path):
    figures = tmp_path / "capacity.json"
    result = app.test_cli_runner().invoke(args=[*TINY, "--json", str(figures)])
    assert result.exit_code == 0, result.output

    data = json.loads(figures.read_text())
    assert (data["database"]["stores"], data["database"]["variants"]) == (2, 30)
    (run,) = data["runs"]
    assert run["tablets"] == 6 and run["signed_in"] == 6 and run["sign_in_failures"] == {}
    kinds = {kind["name"]: kind for kind in run["kinds"]}
    for name in ("poll: network panel", "poll: desk queue", "erp: stock feed", "search", "network panel (tap a size)"):
        assert kinds[name]["requests"] > 0, (name, sorted(kinds))
    for kind in run["kinds"]:
        assert kind["errors"] == {}, kind
        assert all(int(status) < 400 for status in kind["statuses"]), kind
    assert {int(status) for status in kinds["poll: network panel"]["statuses"]} <= {200, 204}
    assert run["freshness"]["changes"] > 0
    assert run["freshness"]["seen"] + run["freshness"]["closed_before_seen"] + run["freshness"]["missed"] > 0
    assert all(failure.startswith(tuple(kinds)) or "panel" in failure for failure in run["failures"]), run
    assert set(run["cpu_ms_per_tablet_minute"]) >= {"app", "load generator"}

    text = result.stdout
    assert "N = 6 tablets" in text and "panel freshness:" in text and "CPU per tablet-minute: app" in text
    assert ("Target ≥ 1,000 tablets: FAIL" in text) != ("Target ≥ 1,000 tablets: PASS" in text)


def _result(**overrides):
    base = {
        "tablets": 10,
        "refresh_seconds": 1.5,
        "measured_from": 100.0,
        "measured_to": 160.0,
        "signed_in": 10,
        "signed_in_seconds": 3.0,
        "sign_in_failures": {},
        "samples": {
            "search": {
                "client_ms": [10.0] * 19 + [400.0],
                "server_ms": [5.0] * 20,
                "statuses": {"200": 20},
                "errors": {},
            },
            "poll: network panel": {"client_ms": [900.0] * 5, "server_ms": [], "statuses": {"204": 5}, "errors": {}},
            "sign-in: post": {"client_ms": [2000.0], "server_ms": [], "statuses": {"303": 1}, "errors": {}},
        },
        "freshness_s": [0.4, 1.2, 1.9],
        "closed_before_seen": 0,
        "missed": 0,
        "changes": 3,
        "placed": 0,
        "handed_over": 0,
        "cpu": {"server": 6.0, "db": 3.0, "generator": 1.0, "rest": 0.0, "bench": 0.0, "wall": 60.0},
    }
    return base | overrides


def test_a_run_passes_on_its_actions_and_freshness_only():
    run = capacity.judge(_result())
    assert run["passed"], run["failures"]  # the slow poll and the sign-in are not actions
    assert run["cpu_ms_per_tablet_minute"] == {"app": 600.0, "database": 300.0, "load generator": 100.0, "rest": 0.0}
    assert run["freshness"]["max_s"] == 1.9


def test_a_slow_action_a_late_panel_or_a_missed_change_fails_the_run():
    slow = _result()
    slow["samples"]["search"]["client_ms"] = [200.0] * 20
    assert capacity.judge(slow)["failures"] == ["search: p95 200 ms > 150 ms"]
    assert capacity.judge(_result(freshness_s=[0.5, 2.4]))["failures"] == ["a panel saw a change after 2.40 s > 2 s"]
    assert not capacity.judge(_result(missed=1))["passed"]
    assert not capacity.judge(_result(signed_in=9))["passed"]
    broken = _result()
    broken["samples"]["search"]["statuses"] = {"200": 19, "500": 1}
    assert not capacity.judge(broken)["passed"]


def test_the_search_goes_up_while_n_passes_and_between_once_it_fails():
    assert capacity._next([{"tablets": 1000, "passed": True}], 1.5) == 1500
    assert capacity._next([{"tablets": 1000, "passed": False}], 1.5) == 666
    runs = [{"tablets": 1000, "passed": True}, {"tablets": 1500, "passed": False}]
    assert capacity._next(runs, 1.5) == 1250
