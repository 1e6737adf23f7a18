"""Structured logs and request ids.

Every request gets an id: the ``X-Request-Id`` the client (nginx: ``$request_id``) sent if it is
sane, else a fresh one; it is echoed in the response's ``X-Request-Id`` and added to every log
record written while the request runs. With ``log_json`` each record is one JSON object per line
(time, level, logger, message, request_id, exception), and every request is logged once
(method, path, status, duration) — the access log, so gunicorn's own can be turned off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from node.settings import Settings

HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
access_log = logging.getLogger("coopfed.access")


# The id of a request served outside Flask's request context (the shared inbox's WSGI path,
# node.ap.inbox.SharedInboxPath); per thread of a gthread worker, as contexts are.
_OUTSIDE_FLASK: ContextVar[str | None] = ContextVar("coopfed_request_id", default=None)


def request_id() -> str | None:
    """The current request's id, or None outside a request."""
    rid = _OUTSIDE_FLASK.get()
    if rid is not None:
        return rid
    if has_request_context():
        return g.get("request_id")
    return None


def new_request_id(given: str) -> str:
    """The id of a request that sent ``given`` as its X-Request-Id: that one if sane."""
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


@contextlib.contextmanager
def request_scope(rid: str) -> Iterator[None]:
    """Log records written inside carry ``rid`` (for requests outside Flask's context)."""
    token = _OUTSIDE_FLASK.set(rid)
    try:
        yield
    finally:
        _OUTSIDE_FLASK.reset(token)


def log_access(method: str, path: str, status: int, started: float | None) -> None:
    """The access log's line for one request (``started``: its ``time.perf_counter()``)."""
    ms = (time.perf_counter() - started) * 1000 if started else None
    access_log.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "fields": {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(ms, 2) if ms is not None else None,
            }
        },
    )


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` ("-" outside requests) for formatters to use."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extra fields given with ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Root logging for a node's process (gunicorn app, ``coopfed run``/``worker``): INFO to
    stderr, JSON or plain text with the request id. Replaces handlers set by earlier calls."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.set_name("coopfed")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "coopfed"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def install(app: Flask, settings: Settings) -> None:
    """Request ids on every request; the JSON access log when ``log_json`` is on."""

    @app.before_request
    def _request_id() -> None:
        g.request_id = new_request_id(request.headers.get(HEADER, ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def _echo(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[HEADER] = rid
        if settings.log_json:
            log_access(request.method, request.path, response.status_code, g.get("request_started"))
        return response
