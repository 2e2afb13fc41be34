"""Login throttling holds across app processes when they share a Redis storage."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import missing

REDIS_URL = os.environ.get("OMNISTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# One "app process": a few sign-in attempts, printing the status codes it got.
ATTEMPTS = """
import json, re, sys
from omnistore import create_app
config = json.loads(sys.argv[1])
client = create_app(config).test_client()
codes = []
for password in json.loads(sys.argv[2]):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    codes.append(client.post("/login", data={"email": config["email"], "password": password,
                                             "csrf_token": token}).status_code)
print(json.dumps(codes))
"""


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        missing(
            f"Redis is not reachable at {REDIS_URL} ({type(error).__name__}); "
            "set OMNISTORE_TEST_REDIS_URL to run this test"
        )
    return REDIS_URL


def _attempts(config, passwords):
    result = subprocess.run(
        [sys.executable, "-c", ATTEMPTS, json.dumps(config), json.dumps(passwords)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_app_processes_share_the_login_limit(app, make, database_url, redis_url):
    clerk = make.staff("clerk", make.location("HAM"))
    config = {
        "TESTING": True,
        "SECRET_KEY": "shared",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "OMNISTORE_AUTO_SETUP": False,
        "RATELIMIT_STORAGE_URI": redis_url,
        "OMNISTORE_LOGIN_RATE_LIMIT": "4 per minute",
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "email": clerk.email,
    }
    assert _attempts(config, ["wrong", "wrong"]) == [422, 422]
    # The second process has made no attempt of its own, yet the shared count stops it after two more.
    assert _attempts(config, ["wrong", "wrong", "correct-horse-battery"]) == [422, 422, 429]
