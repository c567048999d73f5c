"""Webhook deliveries: HMAC-SHA256 signatures, retry backoff, and the HTTP transport."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-DCC-Signature"
TIMESTAMP_HEADER = "X-DCC-Timestamp"
EVENT_HEADER = "X-DCC-Event"
DELIVERY_HEADER = "X-DCC-Delivery"

#: Attempts before a delivery is marked failed; waits 30 s, 1 min, 2 min, ... up to 6 h.
MAX_ATTEMPTS = 8
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=6)
TIMEOUT_S = 5


def body_of(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed (compact, keys sorted, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>").

    The timestamp is part of the signed text so that a captured delivery cannot be replayed
    later with a fresh timestamp; receivers should refuse timestamps older than a few minutes.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt (exponential, capped)."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


#: A transport posts (url, body, headers) and reports the outcome; tests inject their own.
Transport = Callable[[str, bytes, Mapping[str, str]], Outcome]


def http_transport(url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """POST with urllib; any 2xx is a success, anything else (or no answer) a failure."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            return Outcome(ok=200 <= response.status < 300, status_code=response.status)
    except urllib.error.HTTPError as error:
        return Outcome(ok=False, status_code=error.code, error=f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Outcome(ok=False, error=type(error).__name__ + ": " + str(error)[:200])


def headers_for(
    *, secret: str, event: str, delivery_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "dcc-services-webhooks",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
