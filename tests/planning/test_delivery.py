"""Webhook signatures and retry backoff."""

from __future__ import annotations

import datetime as dt

from planning import delivery


def test_signature_covers_timestamp_and_body():
    body = delivery.body_of({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    signature = delivery.sign("s3cret", 1700000000, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert delivery.verify("s3cret", 1700000000, body, signature)
    assert not delivery.verify("s3cret", 1700000001, body, signature)
    assert not delivery.verify("other", 1700000000, body, signature)
    assert not delivery.verify("s3cret", 1700000000, body + b" ", signature)


def test_headers_carry_event_delivery_timestamp_and_signature():
    body = b"{}"
    headers = delivery.headers_for(
        secret="k", event="registration.accepted", delivery_id="d1", body=body, timestamp=5
    )
    assert headers["X-DCC-Event"] == "registration.accepted"
    assert headers["X-DCC-Delivery"] == "d1"
    assert headers["X-DCC-Timestamp"] == "5"
    assert delivery.verify("k", 5, body, headers["X-DCC-Signature"])


def test_backoff_doubles_and_is_capped():
    assert delivery.backoff(1) == dt.timedelta(seconds=30)
    assert delivery.backoff(2) == dt.timedelta(seconds=60)
    assert delivery.backoff(4) == dt.timedelta(seconds=240)
    assert delivery.backoff(30) == delivery.MAX_DELAY


def test_http_transport_reports_unreachable_endpoints():
    outcome = delivery.http_transport("http://127.0.0.1:9/none", b"{}", {})
    assert not outcome.ok and outcome.status_code is None and outcome.error
