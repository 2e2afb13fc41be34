"""The API fuzzer: Schemathesis generates valid and invalid requests from /api/v1/openapi.json for every
operation and runs every check against the answers, in-process (WSGI, no network), on PostgreSQL.

Derandomized (the same cases on every run) and bounded per operation, so it fits the suite's time budget;
the case count is printed. A failure names the operation, the check and a curl line to replay it.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from omnistore.api import openapi
from omnistore.stores.staff import create_api_client

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

MAX_EXAMPLES = 15  # per operation and generation mode; the whole run stays well under a minute on 2 cores
CASES = {"count": 0}

# Two refusals the document states but no JSON schema can express, so the checks are told of them here:
# - a request of the right shape may still name records that do not exist (an order's SKUs and pickup
#   store), an email address or phone number that is not real, or an EAN whose check digit is wrong: 422,
#   documented on those operations (positive_data_acceptance would otherwise expect 2xx for them);
# - a list longer than its maxItems is 413 (too_many_products / too_many_rows), as documented.
# With a valid network-wide token, a 401 or 403 is never a right answer to valid data, nor a 404 for a search;
# createOrder may also run out of stock (409 insufficient_stock, or a key reused by an earlier case).
ACCEPTED = {
    "searchProducts": ["2xx", "422"],
    "createOrder": ["2xx", "409", "422"],
    "validateOffer": ["2xx", "422"],  # an order body with a code that is not this customer's: 422 at offer_code
}
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "seed": 20261204,
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    "400",
                    "401",
                    "403",
                    "404",
                    "405",
                    "406",
                    "409",
                    "413",
                    "414",
                    "415",
                    "422",
                    "428",
                    "429",
                ]
            },
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404"]},
        },
        "operations": [
            {
                "include-operation-id": operation_id,
                "checks": {"positive_data_acceptance": {"expected-statuses": statuses}},
            }
            for operation_id, statuses in ACCEPTED.items()
        ],
    }
)


@pytest.fixture
def app_config():
    return {"OMNISTORE_API_RATE_LIMIT": "1000000/minute"}  # the fuzzer is one client sending thousands


@pytest.fixture
def network(app, make):
    """A small demo-like network: two stores, a warehouse, a product in three sizes, stock, two orders."""
    ham, cph, wh1 = make.location("HAM"), make.location("CPH"), make.location("WH1")
    product = make.product()
    variants = [make.variant(product, size=size, sku=f"NW-RJ-{size}") for size in ("S", "M", "L")]
    for variant in variants:
        for location in (ham, cph, wh1):
            make.stock(variant, location, 50)
    web = make.order(ham, [(variants[0], 1, ham)], channel="web")
    make.pickup(web)
    make.order(cph, [(variants[1], 1, cph)], channel="store", origin_location_id=cph.id)
    return ham


@pytest.fixture
def auth(network):
    """A network-wide token made the product's way, allowed every channel and every status URL."""
    _client, token = create_api_client("fuzzer", channels=("web", "store", "app", "phone"), all_status_urls=True)
    return {"Authorization": f"Bearer {token}"}


def _wsgi(environ, start_response):
    """The test's app (one per test, on its own database) behind one WSGI callable the schema can hold."""
    return CURRENT["app"].wsgi_app(environ, start_response)


CURRENT = {}
# The document the app serves at /api/v1/openapi.json (a test in test_api.py checks they are the same).
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)
schema.app = _wsgi


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_the_api_does_what_its_document_says(case, app, auth):
    CASES["count"] += 1
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    CASES[mode] = CASES.get(mode, 0) + 1
    CURRENT["app"] = app
    case.call_and_validate(headers=auth)


@pytest.fixture(autouse=True)
def _report_case_count(request):
    """How many cases this test ran, on its report: tests/conftest.py prints the sum at the end of every run
    (with pytest-xdist the tests ran in worker processes, whose output nobody sees)."""
    before = dict(CASES)
    yield
    request.node.user_properties.append(
        ("api_fuzz_cases", {mode: count - before.get(mode, 0) for mode, count in CASES.items()})
    )
