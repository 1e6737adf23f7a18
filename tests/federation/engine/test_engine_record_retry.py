"""A delivery the peer accepted is recorded ``sent`` even if the database is locked when the
worker comes to write it (issue 14): the outcome is retried until written, so the activity is
not sent a second time after the lease."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from federation.delivery import DeliveryWorker
from federation.models import Delivery
from federation.outbox import publish

from .conftest import LOCAL, FakeFediverse, _engine_without_node

INBOX = "https://peer.test/inbox"
HOLD = 1.0  # seconds the "other process" holds SQLite's write lock


class LockingPeer(FakeFediverse):
    """The peer answers 202 — and meanwhile another process takes the database's write lock
    (as a web process storing an inbox POST does) and holds it for :data:`HOLD` seconds."""

    db_path: str = ""
    holding = threading.Event()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if request.method == "POST":
            threading.Thread(target=self._hold, daemon=True).start()
            assert self.holding.wait(5)
        return response

    def _hold(self) -> None:
        conn = sqlite3.connect(self.db_path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.holding.set()
        time.sleep(HOLD)
        conn.execute("COMMIT")
        conn.close()


@pytest.fixture
def fedi() -> Iterator[FakeFediverse]:
    fake = LockingPeer()
    fake.inbox(INBOX, (202, {}, b""))
    yield fake


def test_sent_is_recorded_after_the_lock_is_released(throwaway_db, fedi, transport, caplog):
    db = throwaway_db("locked", make_engine=_fast_failing_engine)
    if db.sqlite_path is None:
        pytest.skip("SQLite's write lock: runs in the SQLite pass")
    from federation.db import Base

    Base.metadata.create_all(db.engine)
    fedi.db_path = str(db.sqlite_path)
    factory = sessionmaker(db.engine, expire_on_commit=False)
    with factory() as s:
        publish(
            s,
            {"id": f"{LOCAL}/notes/1", "type": "Create", "actor": LOCAL},
            actor_iri=LOCAL,
            targets=[INBOX],
        )
        s.commit()
    worker = DeliveryWorker(factory, transport, {LOCAL: (f"{LOCAL}#main-key", _key())}.get, "w1")
    with caplog.at_level(logging.INFO):
        assert worker.run_once() == 1
    assert len(fedi.posts_to(INBOX)) == 1
    with factory() as s:
        row = s.scalar(select(Delivery))
        assert (row.state, row.claimed_until, row.attempts) == ("sent", None, 1)
    assert any("recording retried" in r.getMessage() for r in caplog.records)
    assert worker.run_once() == 0  # nothing left to send again
    assert len(fedi.posts_to(INBOX)) == 1


def _fast_failing_engine(url: str, **kw: Any) -> Any:
    if url.startswith("sqlite"):  # busy wait 0.2 s: fails fast while the lock is held
        kw["connect_args"] = {**kw.get("connect_args", {}), "timeout": 0.2}
    return _engine_without_node(url, **kw)


def _key() -> str:
    from federation.keys import generate_rsa_keypair

    return generate_rsa_keypair()[1]
