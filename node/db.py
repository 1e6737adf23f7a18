"""Engine, sessions and migrations. One MetaData (federation.db.Base) for the whole node.

SQLite (embedded mode) has one writer at a time. A transaction that began with a plain (deferred)
``BEGIN``, read, and then writes cannot wait for the write lock: if another connection committed
since its first read, the write fails at once with "database is locked" — ``busy_timeout`` does
not apply to that upgrade (sqlite.org/isolation.html, SQLITE_BUSY_SNAPSHOT). So every *write*
transaction takes the lock up front with ``BEGIN IMMEDIATE`` (to which busy_timeout applies: it
waits its turn); *read* transactions keep a deferred ``BEGIN`` and never wait (WAL). A session's
kind is chosen by the engine it is bound to: :func:`write_engine` / :func:`read_engine`
(``NodeState.write_session()`` / ``read_session()``); a plain session (``NodeState.session()``)
stays deferred, as before. PostgreSQL ignores all this: plain transactions.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

import federation.models  # noqa: F401  (registers federation's tables on Base)
import node.ops.models  # noqa: F401  (operations snapshots)
import profiles.api_tokens  # noqa: F401  (API tokens)
import profiles.collab.models  # noqa: F401  (responses, invitations, messages…)
import profiles.invitations  # noqa: F401  (member invitations)
import profiles.mail  # noqa: F401  (mail queue and preferences)
import profiles.models  # noqa: F401  (registers the domain's tables on Base)
import profiles.tokens  # noqa: F401  (used one-time tokens)
from federation.db import Base

MIGRATIONS = Path(__file__).parent / "migrations"

# Execution option naming the BEGIN a connection's transactions use on SQLite.
BEGIN_MODE = "coopfed_begin"
# SQLite write transactions open now: id of the DBAPI connection -> id of the thread holding it.
# Keyed by connection (not a per-thread counter) so that a connection invalidated or returned to
# the pool without a Connection-level commit/rollback event cannot leave a stale mark.
_open_writes: dict[int, int] = {}
_open_lock = threading.Lock()
# A pooled (PostgreSQL) connection idle this long is pinged before use (see _ping_after_idle).
PING_AFTER_IDLE = 5.0
_IDLE_SINCE = "coopfed_idle_since"


class NestedWriteError(RuntimeError):
    """A write transaction was begun while this thread already holds one (SQLite): the inner
    ``BEGIN IMMEDIATE`` would wait for the outer one, i.e. for itself, until busy_timeout."""


def write_engine(engine: Engine) -> Engine:
    """``engine`` whose transactions begin with ``BEGIN IMMEDIATE`` on SQLite (same pool)."""
    return engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})


def read_engine(engine: Engine) -> Engine:
    """``engine`` whose transactions begin deferred (readers under WAL never wait)."""
    return engine.execution_options(**{BEGIN_MODE: "DEFERRED"})


def write_transactions_open() -> int:
    """How many SQLite write transactions the calling thread holds (0 or 1)."""
    me = threading.get_ident()
    with _open_lock:
        return sum(1 for thread in _open_writes.values() if thread == me)


def _mark(dbapi_conn: Any) -> None:
    with _open_lock:
        _open_writes[id(dbapi_conn)] = threading.get_ident()


def _unmark(dbapi_conn: Any, *_args: Any) -> None:
    with _open_lock:
        _open_writes.pop(id(dbapi_conn), None)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs (begin_nested() could
            # commit the outer transaction): let SQLAlchemy emit BEGIN itself, as its docs advise
            # (docs.sqlalchemy.org/en/20/dialects/sqlite.html, "Serializable isolation /
            # Savepoints / Transactional DDL").
            dbapi_conn.isolation_level = None
            # WAL lets the worker thread write while web threads read; foreign keys are off by
            # default in SQLite and our cascades rely on them.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url != "sqlite://":
                cur.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: no fsync per commit (only at checkpoints); never corrupts, and
                # survives a crash of the node; a power cut may roll back the last commits.
                # GoToSocial's default for the same reason (docs.gotosocial.org, "Replicating
                # SQLite"); under disk contention per-commit fsync was most of an inbox POST.
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(BEGIN_MODE) != "IMMEDIATE":
                conn.exec_driver_sql("BEGIN")
                return
            if write_transactions_open():
                raise NestedWriteError("a write transaction is already open in this thread")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            _mark(conn.connection.dbapi_connection)

        def _end(conn: Any) -> None:
            _unmark(conn.connection.dbapi_connection)

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)
        for name in ("checkin", "reset", "invalidate", "close"):
            event.listen(engine.pool, name, _unmark)

        return engine
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle :data:`PING_AFTER_IDLE`
    seconds or more (a server restart, an idle timeout or a firewall may have cut it meanwhile).

    ``pool_pre_ping`` pings at every checkout: a round trip per request, a fifth of an
    accepted inbox POST's database time. A connection checked in moments ago worked moments
    ago; if the server went away since, its first statement fails as a disconnect, SQLAlchemy
    invalidates the whole pool, and the request runs again on a fresh connection
    (:mod:`node.request_retry`, the inbox's own retry in ``NodeFederation.receive``, the
    worker's next round) — as it must anyway for a restart between the ping and the statement.
    """
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # a new connection, or one in use moments ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                # The pool drops every connection older than now and retries with a new one.
                raise sa_exc.InvalidatePoolError(str(exc)) from exc
            raise


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def create_all(engine: Engine) -> None:
    """Tests only: create every table straight from the models (faster than migrating)."""
    Base.metadata.create_all(engine)
