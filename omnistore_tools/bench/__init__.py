"""`flask --app app bench`: how fast the staff pages answer on a large network, in-process and through gunicorn.

What it does
1. Seeds the synthetic network (omnistore_tools/seed.py) or reuses one at least as big: 200 stores × 25,000 variants
   by default (5,000,000 stock rows).
2. Picks a repeatable sample from the seeded catalogue (texts, EANs, products, variants; `--seed`) and turns
   every scenario into a pool of requests, built once and replayed in both modes.
3. In-process: the WSGI app through the Flask test client, one request at a time, signed in as a seed clerk;
   server time from the `Server-Timing: app;dur=…` header every response carries.
4. Through gunicorn: `gunicorn app:app` on 127.0.0.1 (a socket bound here and handed over, so no port race),
   a real sign-in POST for the session cookie, then C concurrent keep-alive clients (asyncio) per scenario;
   client latency measured here, server time read from the header. gunicorn is stopped in all cases.
5. A table per mode (p50/p95/p99 server ms, p95 client ms, req/s, throughput relative to the trivial route),
   the issue's targets marked PASS/FAIL, and `--json FILE` with the same figures.

A scenario is one declarative entry in SCENARIOS: a name, the Flask endpoint it needs, a factory that makes
one request from the sample (`Workload`), the status every response must have, and its targets. Entries
whose endpoint the app does not have yet are listed as skipped, so later issues can add theirs up front.
The exit status is 1 when any response had another status than expected (or, with `--check`, when a
target is missed); slow is never an error without `--check`.
"""
