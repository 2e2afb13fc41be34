"""`flask bench-capacity` on a tiny network for a few seconds: the store day's wiring, not its speed.

The tablets sign in, search, scan, open products, panels and customers, place counter orders that the desk
tablet hands over, the open panels and the desk poll (poll mode) or hold a stream and fetch when told (push
mode, the same run, behind gunicorn's gevent workers as the README recommends), and the ERP's changes reach the
open panels; no request fails. Nothing here asserts on a latency.
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
    poll, push = data["runs"]
    assert (poll["mode"], push["mode"]) == ("poll", "push") and poll["tablets"] == push["tablets"] == 6
    for run in (poll, push):
        assert run["signed_in"] == 6 and run["sign_in_failures"] == {}
        kinds = {kind["name"]: kind for kind in run["kinds"]}
        for name in ("erp: stock feed", "search", "network panel (tap a size)"):
            assert kinds[name]["requests"] > 0, (name, sorted(kinds))
        for kind in run["kinds"]:
            assert kind["errors"] == {}, kind
            assert all(int(status) < 400 for status in kind["statuses"]), kind
        assert run["freshness"]["changes"] > 0
        assert run["freshness"]["seen"] + run["freshness"]["closed_before_seen"] + run["freshness"]["missed"] > 0
        assert all(
            failure.startswith(tuple(kinds)) or "panel" in failure or "desk" in failure for failure in run["failures"]
        ), run
        assert set(run["cpu_ms_per_tablet_minute"]) >= {"app", "load generator"}
    poll_kinds = {kind["name"]: kind for kind in poll["kinds"]}
    push_kinds = {kind["name"]: kind for kind in push["kinds"]}
    assert poll_kinds["poll: network panel"]["requests"] > 0 and poll_kinds["poll: desk queue"]["requests"] > 0
    assert {int(status) for status in poll_kinds["poll: network panel"]["statuses"]} <= {200, 204}
    assert not any(name.startswith(("stream", "push")) for name in poll_kinds)  # push off: nobody streams
    if app.database_kind != "postgresql":  # no NOTIFY: the stream says 204 and the tablets keep polling
        assert set(push_kinds["stream: open"]["statuses"]) == {"204"}
        assert push_kinds["poll: network panel"]["requests"] > 0
    else:
        # push: every tablet with an open panel or desk holds a stream, and fetches when it says so
        assert push_kinds["stream: open"]["statuses"] == {"200": push_kinds["stream: open"]["requests"]}
        assert push_kinds["push: network panel"]["requests"] > 0
        assert push["streams"]["open_at_start"] > 0 and push["freshness"]["seen"] > 0
        # while its stream is open a panel does not poll (the push refresh is 60 s; the run is 8 s)
        polled = push_kinds.get("poll: network panel", {"requests": 0})["requests"]
        assert polled < poll_kinds["poll: network panel"]["requests"]

    text = result.stdout
    assert "N = 6 tablets, poll" in text and "N = 6 tablets, push" in text and "panel freshness:" in text
    assert "desk freshness:" in text and "CPU per tablet-minute: app" in text and "Side by side" in text
    assert "gevent workers" in text and "Kept: " in text
    assert ("Target ≥ 1,000 tablets: FAIL" in text) != ("Target ≥ 1,000 tablets: PASS" in text)


def test_sync_workers_cannot_hold_streams_so_push_falls_back_to_polling(app, tmp_path):
    figures = tmp_path / "capacity.json"
    args = [*TINY, "--modes", "push", "--worker-class", "sync", "--seconds", "4", "--json", str(figures)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    (run,) = json.loads(figures.read_text())["runs"]
    kinds = {kind["name"]: kind for kind in run["kinds"]}
    assert set(kinds["stream: open"]["statuses"]) == {"204"}  # no push here: the tablets poll
    assert kinds["poll: network panel"]["requests"] > 0 and "push: network panel" not in kinds


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


def test_a_late_desk_fails_the_run_and_the_faster_mode_is_kept():
    late = _result(desk_freshness_s=[0.3, 2.5], desk_changes=2)
    assert capacity.judge(late)["failures"] == ["a desk saw a new order after 2.50 s > 2 s"]
    assert not capacity.judge(_result(desk_missed=1))["passed"]
    poll = capacity.judge(_result(mode="poll")) | {"load_before": {"1min": 0}, "load_after": {"1min": 0}}
    push = capacity.judge(_result(mode="push", cpu={"server": 3.0, "db": 1.0, "wall": 60.0}))
    push |= {"load_before": {"1min": 0}, "load_after": {"1min": 0}}
    assert capacity._kept([poll, push], ["poll", "push"], {"poll": 10, "push": 10}) == "push"  # cheaper at equal N
    assert capacity._kept([poll, push], ["poll", "push"], {"poll": 10, "push": None}) == "poll"  # the larger N
    assert "N =    10 push" in capacity._comparison([poll, push], ["poll", "push"])
    slow = _result(mode="poll", cpu={"server": 1.0, "db": 0.5, "wall": 60.0})
    slow["samples"]["search"]["client_ms"] = [900.0] * 20  # saturated: little work done, so little CPU
    slow = capacity.judge(slow)
    faster = capacity.judge(_result(mode="push", missed=1))
    assert capacity._kept([slow, faster], ["poll", "push"], {"poll": None, "push": None}) == "push"


def test_the_search_goes_up_while_n_passes_and_between_once_it_fails():
    assert capacity._next([{"tablets": 1000, "passed": True}], 1.5) == 1500
    assert capacity._next([{"tablets": 1000, "passed": False}], 1.5) == 666
    runs = [{"tablets": 1000, "passed": True}, {"tablets": 1500, "passed": False}]
    assert capacity._next(runs, 1.5) == 1250
