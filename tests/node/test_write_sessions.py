"""SQLite write sessions (issue 14): a transaction that reads, then writes, waits for the write
lock (``BEGIN IMMEDIATE``) instead of failing with "database is locked"; a write session opened
inside another in the same thread is refused at once (it would wait for itself)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from node.db import NestedWriteError
from profiles.models import NodeMeta


@pytest.fixture
def state(make_node: Any) -> Any:
    state = make_node().extensions["coopfed"]
    if state.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock: runs in the SQLite pass")
    return state


def _read_then_write(session: Any, started: threading.Event, go: threading.Event) -> None:
    session.scalar(select(NodeMeta).where(NodeMeta.key == "x"))  # reads first
    started.set()
    go.wait(5)
    session.add(NodeMeta(key=f"t{threading.get_ident()}", value="1"))
    session.commit()


def _race(open_session: Any) -> list[BaseException]:
    """Two threads read, then write, interleaved as the worker and an inbox POST are."""
    errors: list[BaseException] = []
    go = threading.Event()

    def run() -> None:
        started = threading.Event()
        try:
            with open_session() as session:
                _read_then_write(session, started, go)
        except BaseException as exc:
            errors.append(exc)
        finally:
            started.set()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    go.set()
    for t in threads:
        t.join(20)
    return errors


def test_write_sessions_that_read_then_write_wait_their_turn(state: Any) -> None:
    errors = _race(state.write_session_factory)
    assert errors == []
    with state.read_session() as s:
        assert len(s.scalars(select(NodeMeta).where(NodeMeta.key.startswith("t"))).all()) == 2


def test_plain_deferred_sessions_do_fail(state: Any) -> None:
    """The bug the write sessions fix (kept as a witness: if it stops failing, SQLite changed)."""
    errors = _race(state.session)
    assert len(errors) == 1
    assert all(isinstance(e, OperationalError) and "locked" in str(e) for e in errors)


def test_nested_write_session_is_refused(state: Any) -> None:
    with state.write_session() as outer:
        outer.scalar(select(NodeMeta))
        with pytest.raises(NestedWriteError), state.write_session():
            pass
        inner = state.write_session_factory()
        with pytest.raises(NestedWriteError):
            inner.scalar(select(NodeMeta))
        inner.close()
        with state.read_session() as reader:  # reading alongside is fine (WAL)
            reader.scalar(select(NodeMeta))
    with state.write_session() as again:  # the mark is gone once the outer one ended
        again.add(NodeMeta(key="after", value="1"))
    with state.read_session() as s:
        assert s.get(NodeMeta, "after") is not None


def test_get_pages_that_record_a_view_take_a_write_session(make_node: Any) -> None:
    """Opening a notification or a thread marks it read (a GET that writes by design): such a
    page gets a write session like a POST, every other GET a read session."""
    from node.db import BEGIN_MODE
    from node.web import db

    app = make_node()

    def mode(path: str) -> str | None:
        with app.test_request_context(path, method="GET"):
            session = db()
            return session.get_bind().get_execution_options().get(BEGIN_MODE)

    assert mode("/notifications/1") == "IMMEDIATE"
    assert mode("/responses/1") == "IMMEDIATE"
    assert mode("/calls/x/responses") == "IMMEDIATE"
    assert mode("/calls") != "IMMEDIATE"


def test_partner_sync_reads_without_locking_and_marks_under_the_write_lock(state: Any) -> None:
    """The worker's partner sync (every round): a read when no partner is due; the marking in a
    write transaction (it read first, then wrote, in a deferred one: "database is locked" now
    and then in the worker's log)."""
    from datetime import timedelta

    from sqlalchemy import event

    from federation.db import utcnow
    from profiles.models import Partnership

    begins: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    with state.write_session() as s:
        s.add(Partnership(actor="https://b.test/actor", domain="b.test", state="active"))
    fed = state.federation_service()
    event.listen(state.engine, "before_cursor_execute", record)
    try:
        with state.write_session() as s:
            s.scalar(select(Partnership)).backfilled_at = utcnow()
        begins.clear()
        assert fed.job_partner_sync(state) == 0
        assert begins == ["BEGIN"]  # a read: no write lock taken
        with state.write_session() as s:
            s.scalar(select(Partnership)).backfilled_at = utcnow() - timedelta(hours=7)
        begins.clear()
        assert fed.job_partner_sync(state) == 1
        assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    finally:
        event.remove(state.engine, "before_cursor_execute", record)
    with state.read_session() as s:
        assert s.scalar(select(Partnership.backfill_due)) is True
