"""Transient or permanent: how the worker treats a failure.

- **transient** — the same work may well succeed later, unchanged: the database was busy or
  locked (SQLite "database is locked"), restarting or unreachable (PostgreSQL admin shutdown,
  lost connection), a serialization failure or deadlock; a peer timed out, refused the
  connection, answered 5xx or 429. Retried *without* using up an attempt (with backoff).
- **permanent** — the same input will be refused again: a refusal (:class:`Forbidden`,
  :class:`BadRequest`, a 4xx from a peer) or invalid content. Recorded once, with its reason.
- anything else is a bug: attempts count, and the item fails after a few.

The domain layer marks its own refusals permanent with a class attribute ``permanent = True``
(``federation`` imports none of ours, so it cannot list the domain's exception types).
"""

from __future__ import annotations

from typing import Literal

import requests
from sqlalchemy import exc as sa_exc

from federation.errors import FederationError, RemoteRefused, TransportError

Kind = Literal["transient", "permanent", "error"]

# SQLSTATE classes/codes of PostgreSQL meaning "try again": connection exceptions (08),
# serialization failure and deadlock (40001, 40P01), operator intervention: admin/crash
# shutdown, cannot connect now (57P01-57P03), insufficient resources (53), lock_timeout (55P03).
_PG_TRANSIENT_PREFIXES = ("08", "40001", "40P01", "57P01", "57P02", "57P03", "53", "55P03")
_DB_TRANSIENT_WORDS = (
    "database is locked",
    "database is busy",
    "database table is locked",
    "deadlock detected",
    "could not serialize",
    "terminating connection",
    "server closed the connection",
    "connection refused",
    "connection reset",
    "the database system is",  # … starting up / shutting down / in recovery mode
    "ssl connection has been closed",
)


def _db_transient(exc: sa_exc.DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_TRANSIENT_PREFIXES):
        return True
    text = str(exc.orig).lower()
    return any(word in text for word in _DB_TRANSIENT_WORDS)


def classify(exc: BaseException) -> Kind:
    """``"transient"``, ``"permanent"`` or ``"error"`` (a bug) for a worker's failure."""
    if isinstance(exc, sa_exc.DBAPIError):
        return "transient" if _db_transient(exc) else "error"
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return "transient"  # the pool could not give a (live) connection in time
    if isinstance(exc, RemoteRefused):
        status = exc.remote_status
        if status is None or status >= 500 or status in (408, 429):
            return "transient"
        return "permanent"
    if isinstance(exc, TransportError):
        return "transient"  # network failure, timeout, cannot resolve
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return "transient"
    if isinstance(exc, FederationError):
        return "permanent"  # Forbidden, BadRequest, NotFound, Gone, SignatureInvalid…
    if getattr(exc, "permanent", False) is True:
        return "permanent"  # e.g. the domain's ValidationError, PermissionDenied
    return "error"


def is_transient(exc: BaseException) -> bool:
    return classify(exc) == "transient"


def reason(exc: BaseException) -> str:
    """A short one-line reason for the operator: ``Type: message`` (at most 500 chars)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__
