"""Webhook endpoints and the HMAC-SHA256 signature every delivery carries."""

import time

import pytest

from omnistore.core import webhooks
from omnistore.core.errors import ValidationFailed


def test_a_signature_verifies_only_for_the_same_secret_body_and_a_recent_time():
    secret, body, now = "whsec_test", b'{"event":"order.ready"}', int(time.time())
    header = webhooks.sign(secret, now, body)
    assert header.startswith(f"t={now},v1=")
    assert webhooks.verify(secret, header, body)
    assert not webhooks.verify("whsec_other", header, body)
    assert not webhooks.verify(secret, header, body + b" ")
    assert not webhooks.verify(secret, webhooks.sign(secret, now - 3600, body), body)  # a replay
    for broken in ("", "nonsense", "t=abc,v1=00", f"t={now}", "v1=00"):
        assert not webhooks.verify(secret, broken, body)


def test_endpoints_get_their_own_secret_and_only_the_events_they_asked_for(app):
    shop = webhooks.add_endpoint("shop", "https://shop.example.test/hooks", ["order.ready"])
    erp = webhooks.add_endpoint("erp", "http://erp.internal:8080/omnistore")
    assert shop.secret.startswith("whsec_") and shop.secret != erp.secret and len(shop.secret) > 40
    assert {e.name for e in webhooks.endpoints_for("order.ready")} == {"shop", "erp"}
    assert [e.name for e in webhooks.endpoints_for("order.expired")] == ["erp"]
    webhooks.disable_endpoint("erp")
    assert webhooks.endpoints_for("order.expired") == []


@pytest.mark.parametrize(
    "name, url, events, field",
    [
        ("", "https://a.test/", (), "name"),
        ("x" * 81, "https://a.test/", (), "name"),
        ("shop", "ftp://a.test/", (), "url"),
        ("shop", "javascript:alert(1)", (), "url"),
        ("shop", "https://", (), "url"),
        ("shop", "https://a.test/" + "x" * 500, (), "url"),
        ("shop", "https://a.test/", ("order.placed",), "events"),
    ],
)
def test_bad_endpoints_are_refused_with_the_field_named(app, name, url, events, field):
    with pytest.raises(ValidationFailed) as refused:
        webhooks.add_endpoint(name, url, events)
    assert field in refused.value.fields
    assert webhooks.list_endpoints() == []


def test_the_same_name_twice_is_refused(app):
    webhooks.add_endpoint("shop", "https://a.test/")
    with pytest.raises(ValidationFailed) as refused:
        webhooks.add_endpoint("shop", "https://b.test/")
    assert "name" in refused.value.fields


def test_webhooks_cli_adds_lists_and_disables(app):
    cli = app.test_cli_runner()
    added = cli.invoke(args=["webhooks", "add", "shop", "https://shop.example.test/hooks", "--event", "order.ready"])
    assert added.exit_code == 0, added.output
    assert added.output.strip().startswith("whsec_")
    listing = cli.invoke(args=["webhooks", "list"]).output
    assert "shop" in listing and "order.ready" in listing
    assert cli.invoke(args=["webhooks", "add", "bad", "nope"]).exit_code != 0
    assert cli.invoke(args=["webhooks", "disable", "shop"]).exit_code == 0
    assert "(disabled)" in cli.invoke(args=["webhooks", "list"]).output
    assert cli.invoke(args=["webhooks", "disable", "nobody"]).exit_code != 0
