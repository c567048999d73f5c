"""A small fixed-window rate limiter (per process) answering 429 with Retry-After."""

from __future__ import annotations

import re
import threading
import time

from core.errors import TooManyRequests

_PERIODS = {"second": 1, "minute": 60, "hour": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/minute"`` -> (30, 60)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour)\s*", rate)
    if not match:
        raise ValueError(f"rate must look like '30/minute', not {rate!r}")
    return int(match[1]), _PERIODS[match[2]]


class RateLimiter:
    """Counts hits per key in fixed windows; each gunicorn worker keeps its own counters.

    Per-process counting is a deliberate trade-off: with W workers the effective limit is at
    most W times the configured one, which is enough to stop credential stuffing and runaway
    feed pollers without a shared store.
    """

    def __init__(self, rate: str, *, max_keys: int = 100_000) -> None:
        self.limit, self.period = parse_rate(rate)
        self.max_keys = max_keys
        self._hits: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        window = int(now // self.period)
        with self._lock:
            if len(self._hits) > self.max_keys:
                self._hits = {k: v for k, v in self._hits.items() if v[0] == window}
            start, count = self._hits.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._hits[key] = (start, count)
        if count > self.limit:
            retry_after = max(1, int((window + 1) * self.period - now))
            raise TooManyRequests(
                f"more than {self.limit} requests per {self.period} s; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
