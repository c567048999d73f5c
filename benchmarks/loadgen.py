"""A lean HTTP load generator: many connections in one process, one event loop, raw sockets.

The mixed load test must leave the two cores to the server: a driver built on http.client
spends about 0.9 ms of CPU per request on this machine (four processes to keep two workers
busy), this one about a tenth of that, so the figures measure the server rather than the
clients. Each virtual client sends one request on a new connection (as gunicorn's sync
workers close every connection, and as calendar clients and RCP software do), reads the
whole answer, records its latency under the operation's name, and starts the next.

Requests are built by a callable ``next_request(client, serial) -> Request``; answers go to
an optional ``on_answer(request, status, headers)`` (the load test keeps the ETags that feeds
answer with). Not a general HTTP client: HTTP/1.1 on 127.0.0.1, bodies read to the end of the
connection or to Content-Length.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One request to send: the operation's name for the report, and the bytes on the wire."""

    op: str
    data: bytes
    meta: Any = None


@dataclass
class PhaseResult:
    """What a phase measured: latencies (seconds) and statuses per operation, CPU used."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    cpu_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def build(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> bytes:
    """The bytes of an HTTP/1.1 request to the local server (``Connection: close``)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _parse_head(buffer: bytes) -> tuple[str, dict[str, str], int] | None:
    """Status, headers (lower-case names) and where the body starts, once the head is in."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].decode("latin-1").split("\r\n")
    status = head[0].split(" ", 2)[1]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, end + 4


class _Client:
    __slots__ = ("buffer", "head", "index", "request", "sent", "sock", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.sock: socket.socket | None = None
        self.request: Request | None = None
        self.started = 0.0
        self.sent = 0
        self.buffer = b""
        self.head: tuple[str, dict[str, str], int] | None = None


def run_phase(
    port: int,
    next_request: Callable[[int, int], Request],
    *,
    concurrency: int,
    seconds: float,
    on_answer: Callable[[Request, str, dict[str, str]], None] | None = None,
    timeout: float = 30.0,
) -> PhaseResult:
    """Keep ``concurrency`` requests in flight for ``seconds``; requests in flight at the end
    are finished (their latency counts) but no new one starts."""
    selector = selectors.DefaultSelector()
    result = PhaseResult(seconds=seconds)
    serial = 0
    cpu_started = time.process_time()
    stop_at = time.perf_counter() + seconds
    active = 0

    def finish(client: _Client, status: str, headers: dict[str, str]) -> None:
        request = client.request
        assert request is not None
        result.latencies[request.op].append(time.perf_counter() - client.started)
        result.statuses[request.op][status] += 1
        if on_answer is not None:
            on_answer(request, status, headers)

    def close(client: _Client) -> None:
        nonlocal active
        if client.sock is not None:
            selector.unregister(client.sock)
            client.sock.close()
            client.sock = None
            active -= 1

    def start(client: _Client) -> None:
        nonlocal serial, active
        if time.perf_counter() >= stop_at:
            return
        client.request = next_request(client.index, serial)
        serial += 1
        client.sent = 0
        client.buffer = b""
        client.head = None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        client.started = time.perf_counter()
        code = sock.connect_ex(("127.0.0.1", port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            finish(client, f"connect: {errno.errorcode.get(code, code)}", {})
            start(client)
            return
        client.sock = sock
        active += 1
        selector.register(sock, selectors.EVENT_WRITE, client)

    def on_writable(client: _Client) -> None:
        assert client.sock is not None
        assert client.request is not None
        try:
            client.sent += client.sock.send(client.request.data[client.sent :])
        except OSError as error:
            close(client)
            finish(client, type(error).__name__, {})
            start(client)
            return
        if client.sent >= len(client.request.data):
            selector.modify(client.sock, selectors.EVENT_READ, client)

    def on_readable(client: _Client) -> None:
        assert client.sock is not None
        try:
            chunk = client.sock.recv(65536)
        except OSError as error:
            close(client)
            finish(client, type(error).__name__, {})
            start(client)
            return
        if chunk:
            client.buffer += chunk
            if client.head is None:
                client.head = _parse_head(client.buffer)
            if client.head is None:
                return
            status, headers, body_at = client.head
            length = headers.get("content-length")
            if length is None or len(client.buffer) - body_at < int(length):
                return  # more to come (or until the server closes)
        elif client.head is None:
            close(client)
            finish(client, "closed without an answer", {})
            start(client)
            return
        status, headers, _ = client.head
        close(client)
        finish(client, status, headers)
        start(client)

    clients = [_Client(index) for index in range(concurrency)]
    for client in clients:
        start(client)
    while active:
        events = selector.select(timeout=1.0)
        now = time.perf_counter()
        for key, mask in events:
            client = key.data
            if mask & selectors.EVENT_WRITE:
                on_writable(client)
            else:
                on_readable(client)
        for client in clients:
            if client.sock is not None and now - client.started > timeout:
                close(client)
                finish(client, "timeout", {})
                start(client)
    selector.close()
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank); 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0
