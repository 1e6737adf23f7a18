"""The inbox's one write: the accepted item, in as few round trips as the database allows.

Split from :mod:`federation.inbox` (the checks); :func:`store` runs once every check passed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy.orm import Session

from federation import retry
from federation.iri import host_of
from federation.models import InboxItem, dialect_insert

_INSERT: dict[str, Any] = {}


def insert_statement(session: Session) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: a concurrent replay waits for the first and
    inserts nothing. Built once per dialect and run on the connection: building it and the ORM
    execution layer cost more than the INSERT itself."""
    name = session.get_bind().dialect.name
    stmt = _INSERT.get(name)
    if stmt is None:
        columns = ("activity_id", "actor", "type", "body", "received_at")
        stmt = _INSERT[name] = (
            dialect_insert(session, InboxItem)
            .values(**{c: bindparam(c) for c in columns}, state="pending", attempts=0)
            .on_conflict_do_nothing(index_elements=[InboxItem.activity_id])
            .returning(InboxItem.id)
        )
    return stmt


def store(
    session: Session, values: dict[str, Any], health: retry.HostHealth | None
) -> tuple[int, str]:
    """Insert the accepted item (unless a replay) and tell ``health`` its host is alive.

    SQLite: the write gets a transaction of its own. A (WAL) transaction that read first cannot
    wait for the write lock — if another process committed since its first read, the INSERT
    fails at once ("database is locked"); one that starts with the INSERT waits its turn
    (busy_timeout). The commit before it holds only reads, or the verified sender's fetched key.

    PostgreSQL has no such upgrade problem. The host is noted alive first (no query when
    ``health`` knows it, as it does for every sender of the last minute), so that when nothing
    else was read or written (the sender's key came from the cache) the INSERT runs alone in
    autocommit: one round trip instead of BEGIN, INSERT, COMMIT. Otherwise it joins the checks'
    transaction, committed by ``receive``. Either way 202 means committed.
    """
    host, received_at = host_of(values["actor"]), values["received_at"]
    if session.get_bind().dialect.name == "sqlite":
        session.commit()
        inserted = session.connection().execute(insert_statement(session), values).scalar()
        if inserted is None:
            return 202, "already received"
        retry.note_host_alive(session, host, received_at, health)
        return 202, "accepted"
    retry.note_host_alive(session, host, received_at, health)
    if session.in_transaction():
        inserted = session.connection().execute(insert_statement(session), values).scalar()
    else:
        # Nothing read or written so far: the INSERT alone, on a pooled connection of its own,
        # without a Session transaction to begin and end around it (that cost as much CPU as
        # the statement).
        engine = session.get_bind()
        assert isinstance(engine, Engine), "an inbox session is bound to the node's engine"
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            inserted = conn.execute(insert_statement(session), values).scalar()
    return 202, "accepted" if inserted is not None else "already received"
