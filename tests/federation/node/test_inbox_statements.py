"""What an accepted inbox POST costs the database, pinned: a known sender's activity is one
statement, the INSERT of the item — on PostgreSQL in autocommit, so one round trip with no
BEGIN/COMMIT (bench/bench_federation.py measures the rate this buys). A query added to every
POST fails here. And what the senders' key cache must not change: a rotated key is refetched
at once, an old one refused once the new one was seen, a refused POST caches nothing, an
actor's Delete drops its key."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from federation import signatures, vocab
from federation.keys import generate_rsa_keypair
from federation.models import InboxItem

from .test_mastodon_follow import FakeMastodon

BASE = "http://smart.test"


def _create(fake: FakeMastodon, attributed_to: str | None = None) -> dict[str, Any]:
    oid = f"{fake.actor_id}/notes/{secrets.token_hex(6)}"
    note = {
        "id": oid,
        "type": "Note",
        "attributedTo": attributed_to or fake.actor_id,
        "content": "hello",
    }
    return {
        "@context": vocab.AS_CONTEXT,
        "id": f"{oid}/activity",
        "type": "Create",
        "actor": fake.actor_id,
        "object": note,
        "to": [vocab.PUBLIC],
    }


def _post(client: Any, fake: FakeMastodon, activity: dict[str, Any], pem: str = "") -> int:
    body = json.dumps(activity).encode()
    headers = signatures.sign_request(
        "POST",
        f"{BASE}/inbox",
        {"Content-Type": vocab.ACTIVITY_JSON},
        body,
        f"{fake.actor_id}#main-key",
        pem or fake.private_pem,
    )
    headers.pop("Host")
    return int(client.post("/inbox", data=body, headers=headers, base_url=BASE).status_code)


@contextmanager
def _statements(engine: Any) -> Iterator[list[tuple[str, bool | None]]]:
    """Every statement the engine sends, with the DBAPI connection's autocommit flag."""
    seen: list[tuple[str, bool | None]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        autocommit = getattr(conn.connection.dbapi_connection, "autocommit", None)
        seen.append((" ".join(statement.split())[:60], autocommit))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _items(app: Any) -> int:
    with app.extensions["coopfed"].session() as session:
        return int(session.scalar(select(func.count()).select_from(InboxItem)) or 0)


def test_an_accepted_post_from_a_known_sender_is_one_insert(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    client = app.test_client()
    state.federation_service().ensure_node_keys()  # as the worker's first round does
    fake = FakeMastodon()
    try:
        assert _post(client, fake, _create(fake)) == 202  # first contact: fetches the key
        with _statements(state.engine) as seen:
            assert _post(client, fake, _create(fake)) == 202
        statements = [s.split(" (")[0] for s, _auto in seen]
        if state.engine.dialect.name == "sqlite":
            # The write transaction's BEGIN (node.db), then the item.
            assert statements == ["BEGIN", "INSERT INTO fed_inbox_items"]
        else:
            assert statements == ["INSERT INTO fed_inbox_items"]
            assert seen[0][1] is True  # autocommit: its own transaction, no BEGIN/COMMIT
        # 202 means committed: another connection sees both rows.
        assert _items(app) == 2
    finally:
        fake.close()


def test_a_rotated_key_is_refetched_and_the_old_one_refused(make_node) -> None:
    app = make_node()
    client = app.test_client()
    keys = app.extensions["coopfed"].federation_service().inbox_keys
    fake = FakeMastodon()
    try:
        old_pem = fake.private_pem
        assert _post(client, fake, _create(fake)) == 202
        assert len(keys) == 1
        fake.public_pem, fake.private_pem = generate_rsa_keypair()  # the actor rotates
        assert _post(client, fake, _create(fake)) == 202  # the cached key fails: refetched
        assert keys.get(f"{fake.actor_id}#main-key").public_pem == fake.public_pem
        assert _post(client, fake, _create(fake), pem=old_pem) == 401
        assert _items(app) == 2
    finally:
        fake.close()


def test_a_refused_post_caches_no_key(make_node) -> None:
    app = make_node()
    client = app.test_client()
    keys = app.extensions["coopfed"].federation_service().inbox_keys
    fake = FakeMastodon()
    try:
        # Verified signature, then refused: the note is attributed to someone else.
        forged = _create(fake, attributed_to=f"{fake.base}/users/bob")
        assert _post(client, fake, forged) == 403
        assert len(keys) == 0
        assert _items(app) == 0
    finally:
        fake.close()


def test_an_actors_delete_drops_its_cached_key(make_node) -> None:
    app = make_node()
    client = app.test_client()
    keys = app.extensions["coopfed"].federation_service().inbox_keys
    fake = FakeMastodon()
    try:
        assert _post(client, fake, _create(fake)) == 202
        assert len(keys) == 1
        delete = {
            "@context": vocab.AS_CONTEXT,
            "id": f"{fake.actor_id}#delete",
            "type": "Delete",
            "actor": fake.actor_id,
            "object": fake.actor_id,
            "to": [vocab.PUBLIC],
        }
        assert _post(client, fake, delete) == 202
        assert len(keys) == 0
    finally:
        fake.close()


def test_a_first_seen_senders_key_that_lost_the_write_race_is_stored_under_the_write_lock(
    make_node,
) -> None:
    """SQLite: a POST's deferred transaction reads, fetches the new sender's key and writes it;
    if another connection committed meanwhile, the write fails ("database is locked"). Under
    steady writes (the worker) a plain retry lost the same race for 20 s, then answered 500 (2
    of 2,000 POSTs in tests/federation/node/test_stress_integrity.py, once). The retry takes
    the write lock first."""
    import sqlite3

    from node.db import BEGIN_MODE

    app = make_node()
    state = app.extensions["coopfed"]
    if state.engine.dialect.name != "sqlite":
        import pytest

        pytest.skip("SQLite's write lock: runs in the SQLite pass")
    modes: list[str | None] = []

    def lose_the_race_once(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO fed_remote_actors"):
            modes.append(conn.get_execution_options().get(BEGIN_MODE))
            if len(modes) == 1:
                raise sqlite3.OperationalError("database is locked")

    fake = FakeMastodon()
    event.listen(state.engine, "before_cursor_execute", lose_the_race_once)
    try:
        assert _post(app.test_client(), fake, _create(fake)) == 202
    finally:
        event.remove(state.engine, "before_cursor_execute", lose_the_race_once)
        fake.close()
    assert modes == [None, "IMMEDIATE"]
    assert _items(app) == 1
