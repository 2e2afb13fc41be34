"""The running app never imports its tooling (omnistore_tools: the demo, the seed network, the load generator).

Each case starts a fresh Python, as a gunicorn worker or `flask run` does, imports the entry point `app`
(what `gunicorn app:app` imports), answers requests, lists the CLI's commands, and reports which modules
of the tooling got loaded: none may.
"""

import json
import os
import subprocess
import sys

import pytest

from omnistore import ROOT

PROBE = """
import json, sys

import click

import app as entry  # what `gunicorn app:app` imports

client = entry.app.test_client()
statuses = [client.get(path).status_code for path in ("/healthz", "/login", "/stock/")]
context = click.Context(entry.app.cli)
commands = {name: type(entry.app.cli.get_command(context, name)).__name__
            for name in entry.app.cli.list_commands(context)}
print(json.dumps({
    "tooling": sorted(name for name in sys.modules if name.split(".")[0] == "omnistore_tools"),
    "load_generator": sorted(name for name in sys.modules if "bench" in name or name.endswith((".seed", ".demo"))),
    "app_loaded": "omnistore.web" in sys.modules,
    "statuses": statuses,
    "commands": commands,
}))
"""


def probe(database_url, auto_setup):
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISTORE_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
            "OMNISTORE_DATABASE_URL": database_url,
            "OMNISTORE_SECRET_KEY": "test-secret-key",
            "OMNISTORE_AUTO_SETUP": "1" if auto_setup else "0",
            "OMNISTORE_RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def assert_no_tooling(found):
    assert found["app_loaded"]
    assert found["statuses"][0] == 200 and found["statuses"][1] == 200, found["statuses"]
    assert found["tooling"] == [], found["tooling"]
    assert found["load_generator"] == [], found["load_generator"]
    # The tooling's commands are there, each still only a name and a help text.
    assert {"demo", "seed", "bench", "bench-ordering", "bench-capacity"} <= set(found["commands"])


def test_a_web_process_loads_no_tooling(app, database_url):
    found, _log = probe(database_url, auto_setup=False)
    assert_no_tooling(found)


@pytest.mark.parametrize("with_demo_admin", [False, True], ids=["no demo", "demo logins"])
def test_a_later_start_with_auto_setup_loads_no_tooling(app, database_url, make, with_demo_admin):
    """`flask run` on a laptop's database that is set up: it migrates (nothing to do) and prints how to sign
    in, from the app's own module; only the first start of an empty database loads the demo."""
    home = make.location("HAM")
    if with_demo_admin:
        make.staff(email="admin@omnistore-demo.de", role="admin", location=home)
    found, log = probe(database_url, auto_setup=True)
    assert_no_tooling(found)
    expected = "demo logins admin@omnistore-demo.de" if with_demo_admin else "add a login with"
    assert expected in log
