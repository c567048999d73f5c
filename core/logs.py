"""Structured request logs with a request id; no query string, body or secret is ever logged."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: Path segments that are secrets (private feed tokens) are masked before logging.
_SECRET_PATHS = [re.compile(r"^(/feeds/)[^/]+")]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("dcc")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def redact_path(path: str) -> str:
    for pattern in _SECRET_PATHS:
        path = pattern.sub(r"\1***", path)
    return path


def init_request_logging(app: Flask) -> None:
    log = logging.getLogger("dcc.request")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        if not log.isEnabledFor(logging.INFO):
            return response  # WARNING and above: no request line to build
        started = g.get("request_started")
        principal = g.get("principal")
        fields = {
            "request_id": request_id,
            "method": request.method,
            "path": redact_path(request.path),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }
        if principal is not None:
            fields["role"] = principal.role.value
            fields["subject"] = principal.subject
        log.info(
            "%s %s %s",
            request.method,
            fields["path"],
            response.status_code,
            extra={"fields": fields},
        )
        return response
