"""A request cut off by the database going away is run again, bounded, instead of answering 500.

When PostgreSQL restarts (an upgrade, a failover, ``pg_ctl restart -m fast``) every open
connection is cut and new ones are refused for a second or two. The pool (node.db) pings a
connection that sat idle before handing it out, but a request whose query was running at that
moment, that got a connection used moments before the restart, or that asked for a connection
while the server was starting, fails with a transient error (:mod:`federation.transient`).
Such a request is dispatched again — same request, fresh database session — for up to
:data:`RETRY_SECONDS` after its first failure (at most :data:`MAX_ATTEMPTS` times), with
backoff, *if it committed no write*: its writes were rolled back with the lost connection,
and the node's effects on the outside world happen after commit (mail and deliveries are
queued in the database), so running it again is running it once. A request that began
committing a write (its ``COMMIT`` may or may not have reached the server) is never run again:
it fails as before.

Writes are noticed per connection (any statement but a ``SELECT`` or transaction control,
conservatively: a ``WITH`` counts) and a
commit of a connection that wrote marks the request (``g``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc

from federation import transient

log = logging.getLogger("coopfed.db")

# Longer than a PostgreSQL restart (about a second here), shorter than gunicorn's timeout (30 s).
RETRY_SECONDS = 15.0
MAX_ATTEMPTS = 8
_WROTE = "coopfed_wrote"
_COMMITTED = "coopfed_committed_write"
_DB_ERRORS = (
    sa_exc.DBAPIError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    sa_exc.PendingRollbackError,
)


_READS = frozenset({"SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "SHOW", "PRAGMA"})


def _info(conn: Any) -> dict[Any, Any] | None:
    try:
        return conn.info
    except sa_exc.SQLAlchemyError:  # invalidated with the lost connection
        return None


def _note_statement(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    words = statement.split(None, 1)
    info = _info(conn)
    if info is not None and (not words or words[0].upper() not in _READS):
        info[_WROTE] = True


def _note_commit(conn: Any) -> None:
    info = _info(conn)
    wrote = True if info is None else info.pop(_WROTE, False)  # unknown: assume it did
    if wrote and has_request_context():
        setattr(g, _COMMITTED, True)


def _note_rollback(conn: Any) -> None:
    info = _info(conn)
    if info is not None:
        info.pop(_WROTE, None)


def retryable(exc: BaseException) -> bool:
    """A database failure that a fresh connection may well not have (restart, lost link), or
    a session still holding the transaction such a failure broke (code that caught the error
    and carried on: "Can't reconnect until invalid transaction is rolled back")."""
    if isinstance(exc, sa_exc.PendingRollbackError):
        return True
    return isinstance(exc, _DB_ERRORS) and transient.is_transient(exc)


def install(app: Flask, engine: Engine) -> None:
    """Run ``app``'s requests again on a transient database failure (see the module doc)."""
    event.listen(engine, "before_cursor_execute", _note_statement)
    event.listen(engine, "commit", _note_commit)
    event.listen(engine, "rollback", _note_rollback)
    dispatch = app.full_dispatch_request

    def full_dispatch_request() -> Any:
        give_up: float | None = None  # RETRY_SECONDS after the first failure
        delay = 0.1
        before = set(g)  # what the request had before dispatch (the app context's own)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            setattr(g, _COMMITTED, False)
            try:
                return dispatch()
            except _DB_ERRORS as exc:
                # Bounded from the first failure, not from the request's start: a long request
                # (publishing to thousands of followers) cut off late still gets its retries.
                give_up = give_up or time.monotonic() + RETRY_SECONDS
                if (
                    not retryable(exc)
                    or g.get(_COMMITTED)
                    or attempt == MAX_ATTEMPTS
                    or time.monotonic() + delay > give_up
                ):
                    raise
                log.warning("request retried after a database failure: %s", transient.reason(exc))
                _forget_attempt(before)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable: the last attempt returns or raises")

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]


def _forget_attempt(before: set[str]) -> None:
    """Drop what the failed attempt kept on ``g``: its session (bound to a dead connection),
    the member and vocabulary it loaded through it."""
    session = g.pop("db", None)
    if session is not None:
        with contextlib.suppress(Exception):  # the connection is gone: closing may fail too
            session.close()
    for name in set(g) - before:
        g.pop(name, None)
