"""A request whose database connection is cut (the server restarting, here: its backend
terminated by the server, as ``pg_ctl restart -m fast`` does to every backend) is run again if
it committed nothing, and answered normally; one that committed a write is not run twice."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from node import web
from tests.conftest import PG_URL


class Cutter:
    """The database server ending a connection: once armed, the next statement matching
    ``where`` runs on a backend the server has just terminated."""

    def __init__(self, app: Flask) -> None:
        self.engine = app.extensions["coopfed"].engine
        self.admin = create_engine(PG_URL or "", poolclass=NullPool)
        self.where: str | None = None
        self.cuts = 0
        event.listen(self.engine, "before_cursor_execute", self._before)

    def arm(self, where: str) -> None:
        self.where = where

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.where is None or self.where not in statement:
            return
        self.where = None
        pid = conn.connection.dbapi_connection.info.backend_pid
        with self.admin.begin() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        self.cuts += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        self.admin.dispose()


@pytest.fixture
def cutter(app: Flask):
    if not (PG_URL and PG_URL.startswith("postgresql")):
        # Not a missing resource: this suite is the SQLite pass. CI runs the whole suite
        # again on PostgreSQL (.ci/run), where this test must run.
        pytest.skip("PostgreSQL only: runs in the PostgreSQL pass (COOPFED_TEST_DATABASE_URL)")
    app.config["TESTING"] = False  # a failure is a 500 answer, as in production
    app.config["WTF_CSRF_ENABLED"] = False  # the test routes post no form
    c = Cutter(app)
    yield c
    c.close()


def test_a_get_cut_off_by_the_database_is_answered(app, client, cutter):
    assert client.get("/calls").status_code == 200
    cutter.arm("SELECT")
    response = client.get("/calls")
    assert cutter.cuts == 1
    assert response.status_code == 200


def _counting_route(app: Flask, commit_first: bool) -> list[int]:
    runs: list[int] = []

    @app.post("/_test/write")
    def write() -> str:
        runs.append(1)
        session = web.db()
        session.execute(text("CREATE TABLE IF NOT EXISTS t_retry (n int)"))
        session.execute(text("INSERT INTO t_retry VALUES (1)"))
        if commit_first:
            session.commit()
        session.execute(text("SELECT count(*) AS marker_count FROM t_retry")).scalar()
        session.commit()
        return "ok"

    return runs


def _rows(app: Flask) -> int:
    with app.extensions["coopfed"].engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t_retry")).scalar_one())


def test_a_write_cut_off_before_its_commit_is_run_again_once(app, cutter):
    runs = _counting_route(app, commit_first=False)
    client = app.test_client()
    cutter.arm("marker_count")
    response = client.post("/_test/write")
    assert (response.status_code, len(runs), cutter.cuts) == (200, 2, 1)
    assert _rows(app) == 1  # the first attempt's INSERT went with its connection


def test_a_request_that_committed_a_write_is_not_run_twice(app, cutter):
    runs = _counting_route(app, commit_first=True)
    client = app.test_client()
    cutter.arm("marker_count")
    response = client.post("/_test/write")
    assert (response.status_code, len(runs), cutter.cuts) == (500, 1, 1)
    assert _rows(app) == 1


def _count_pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_moments_ago_is_not_pinged(app, client, cutter, monkeypatch):
    pings = _count_pings(cutter.engine, monkeypatch)
    for _ in range(3):
        assert client.get("/calls").status_code == 200
    assert pings == []  # no round trip before each request's first statement


def test_a_connection_cut_while_idle_is_replaced_before_use(
    app, client, cutter, monkeypatch, caplog
):
    import node.db

    assert client.get("/calls").status_code == 200
    with cutter.engine.connect() as conn:  # the pooled connection the next request gets
        pid = conn.connection.dbapi_connection.info.backend_pid
    with cutter.admin.begin() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    monkeypatch.setattr(node.db, "PING_AFTER_IDLE", 0.0)  # every pooled connection "sat idle"
    pings = _count_pings(cutter.engine, monkeypatch)
    response = client.get("/calls")
    assert response.status_code == 200
    assert pings  # pinged, found dead, replaced by the pool: not a failed statement
    assert "request retried" not in caplog.text
