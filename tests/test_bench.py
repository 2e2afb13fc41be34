"""`flask bench` on a tiny network: every scenario runs in both modes and answers with the status it expects.

Never asserts on speed, only that the figures are there and that every response had its scenario's status
(so a broken endpoint fails here, not just in a benchmark nobody reads).
"""

import json
import re

import pytest

from omnistore.stores import staff as staff_service
from omnistore_tools.bench import measure, scenarios, served

TINY = [
    "bench",
    "--stores",
    "3",
    "--products",
    "50",
    "--customers",
    "5",
    "--orders",
    "12",
    "--pickup-orders",
    "40",
    "--requests",
    "8",
    "--warmup",
    "1",
]
EVERY_SCENARIO = [arg for scenario in scenarios.SCENARIOS for arg in ("--scenario", scenario.name)]


def test_every_scenario_answers_as_expected_in_process_and_through_gunicorn(app, tmp_path):
    figures = tmp_path / "bench.json"
    result = app.test_cli_runner().invoke(
        args=[*TINY, *EVERY_SCENARIO, "--clients", "2", "--workers", "1", "--json", str(figures)]
    )
    assert result.exit_code == 0, result.output

    data = json.loads(figures.read_text())
    assert data["database"]["kind"] == app.database_kind
    assert (data["database"]["stores"], data["database"]["variants"], data["database"]["stock_rows"]) == (3, 50, 150)
    assert data["unexpected_statuses"] == []
    assert [mode["mode"] for mode in data["modes"]] == ["inprocess", "gunicorn"]
    for mode in data["modes"]:
        assert [s["name"] for s in mode["scenarios"]] == scenarios.SCENARIO_NAMES
        for scenario in mode["scenarios"]:
            where = f"{mode['mode']} {scenario['name']}: {scenario}"
            assert scenario["skipped"] is None, where
            assert scenario["statuses"] == {str(scenario["expected_status"]): 8}, where
            assert all(scenario["server_ms"][p] is not None for p in ("p50", "p95", "p99")), where
            assert scenario["client_ms"]["p95"] > 0 and scenario["throughput_rps"] > 0, where
            assert scenario["relative_throughput"] > 0, where
        assert mode["scenarios"][0]["relative_throughput"] == 1.0

    table = result.stdout
    assert f"{app.database_kind}" in table.lower() and "3 seed stores × 50 seed variants" in table
    assert "In-process" in table and "Through gunicorn (1 sync workers, 2 concurrent clients)" in table
    for scenario in scenarios.SCENARIOS:
        row = rf"^{scenario.name}\s+{scenario.expect}\s+8/8(\s+[0-9.]+){{5}}\s+[0-9.]+\s"
        assert len(re.findall(row, table, re.MULTILINE)) == 2, (scenario.name, table)
    assert re.search(r"idle-refresh .*p95 ≤ 3 ms (PASS|FAIL)", table)


def test_a_wrong_status_fails_the_run_and_says_which(app, monkeypatch):
    real = staff_service.create_api_client
    monkeypatch.setattr(staff_service, "create_api_client", lambda name: (real(name)[0], "os_not-the-token"))

    result = app.test_cli_runner().invoke(args=[*TINY, "--mode", "inprocess", "--scenario", "api-search"])

    assert result.exit_code == 1
    assert "api-search: expected 200 every time, got 401 ×8" in result.stdout
    assert "unexpected status: inprocess api-search" in result.output


def test_a_stale_idle_refresh_is_measured_once_more_then_reported(app, monkeypatch):
    monkeypatch.setattr(scenarios.Workload, "fingerprint", lambda self, variant_id: "0-0-0")

    result = app.test_cli_runner().invoke(args=[*TINY, "--mode", "inprocess", "--scenario", "idle-refresh"])

    assert result.exit_code == 1
    assert "measuring once more with fresh requests" in result.output
    assert "idle-refresh: expected 204 every time, got 200 ×8" in result.stdout


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([4.0], 99, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),
    ],
)
def test_percentile_interpolates_between_ranks(values, p, expected):
    if expected is None:
        assert measure.percentile(values, p) is None
    else:
        assert measure.percentile(values, p) == pytest.approx(expected)


def test_server_timing_header_is_read():
    assert measure._server_ms("app;dur=12.34") == 12.34
    assert measure._server_ms("db;dur=3, app;dur=0.5") == 0.5
    assert measure._server_ms(None) is None and measure._server_ms("app") is None


def test_the_gunicorn_clients_sign_in_with_the_user_agent_they_browse_with(monkeypatch):
    """Flask-Login's session protection compares the browser's address and User-Agent with the sign-in's;
    a bench that changed its User-Agent after signing in would measure a session seen from elsewhere."""
    sent = []

    def fake_http(port, method, path, headers=None, body=None):
        sent.append(headers or {})
        if method == "GET":
            return 200, [("Set-Cookie", "session=a; Path=/")], b'<input name="csrf_token" value="t">'
        return 303, [("Set-Cookie", "session=b; Path=/")], b""

    monkeypatch.setattr(served, "_http", fake_http)
    assert served.http_login(1, "clerk@example.test", "pw") == {"session": "b"}
    browsing = served._raw_request(scenarios.Req("/stock/"), 1, {"session": "b"}, ()).decode()
    assert [headers.get("User-Agent") for headers in sent] == [scenarios.USER_AGENT] * 2
    assert f"\r\nUser-Agent: {scenarios.USER_AGENT}\r\n" in browsing
