"""GET requests never write (issue 14): every GET route of a node, as the public, as a member,
as an admin, in HTML and as ActivityPub, runs without one INSERT/UPDATE/DELETE.

The statements are counted on the engine (``before_cursor_execute``), so a write anywhere below
a view — a key made lazily, a cache, a "last seen" — fails the test with the route that did it.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from node.worker import Worker
from profiles.calls import CallData, create_call
from profiles.importers import import_members
from profiles.members import ProfileData, create_member, get_local
from profiles.models import Member

PASSWORD = "a long enough password"
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
AP = "application/activity+json"


@contextmanager
def writes_recorded(engine: Any) -> Iterator[list[str]]:
    seen: list[str] = []
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _WRITE.match(statement):
            with lock:
                seen.append(statement.split("\n")[0][:120])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def node(make_node: Any) -> Any:
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.write_session() as s:
        vocab = state.vocabulary.get(s)
        for name, admin in (("anna", True), ("bert", False)):
            create_member(
                s,
                state.ctx,
                username=name,
                password=PASSWORD,
                is_admin=admin,
                profile=ProfileData(summary="Sound engineer", visibility="public"),
                vocab=vocab,
            )
        author = get_local(s, state.ctx, "anna")
        create_call(s, state.ctx, author, CallData(title="Sound for a tour", country="SE"), vocab)
    row = {"summary": "Light designer", "visibility": "public"}
    lines = "\n".join(json.dumps({"username": f"imported{i}", **row}) for i in range(3))
    with state.write_session() as s:
        import_members(s, state.ctx, state.vocabulary.get(s), io.StringIO(lines))
    return app


def _get_urls(app: Any, values: dict[str, str]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if not all(arg in values for arg in rule.arguments):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{arg}>", values[arg], url)
        urls.append(url)
    return urls


def _values(app: Any) -> dict[str, str]:
    state = app.extensions["coopfed"]
    from profiles.models import Call

    with state.read_session() as s:
        call = s.scalars(select(Call)).first()
        assert call is not None
        return {"username": "bert", "public_id": call.public_id}


def test_no_get_route_writes(node: Any) -> None:
    state = node.extensions["coopfed"]
    urls = _get_urls(node, _values(node))
    assert len(urls) >= 35, urls
    urls += [
        "/members/imported1",  # imported a moment ago: no RSA key yet
        "/.well-known/webfinger?resource=acct:bert@smart.test",
        "/directory?q=sound",
        "/api/v1/taxonomy/search?q=sound",
    ]
    public, member, admin = node.test_client(), node.test_client(), node.test_client()
    assert member.post("/login", data={"username": "bert", "password": PASSWORD}).status_code == 302
    assert admin.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 302
    Worker(state).run_once()  # start-up: the node's keys, the imported members' RSA keys
    statuses: dict[str, int] = {}
    with writes_recorded(state.engine) as writes:
        for url in urls:
            for client in (public, member, admin):
                for accept in ("text/html", AP):
                    before = len(writes)
                    response = client.get(url, headers={"Accept": accept})
                    response.close()  # file responses (favicon, avatars) hold their file
                    statuses[url] = response.status_code
                    # /readyz answers 503 until the match index is built: its answer, no error.
                    ok = response.status_code < 500 or url == "/readyz"
                    assert ok, (url, response.status_code)
                    assert len(writes) == before, (url, accept, writes[before:])
    assert statuses["/members/bert"] == 200
    assert statuses["/actor"] == 200


def test_keys_made_with_the_member_and_by_the_worker_for_imports(node: Any) -> None:
    state = node.extensions["coopfed"]
    with state.read_session() as s:
        bert = s.scalar(select(Member).where(Member.username == "bert"))
        imported = s.scalar(select(Member).where(Member.username == "imported1"))
        assert bert is not None and imported is not None
        assert bert.private_key_pem and bert.ed25519_private_multibase  # created with it
        assert imported.ed25519_private_multibase is None and imported.private_key_pem is None
    doc = node.test_client().get("/members/imported1", headers={"Accept": AP}).get_json()
    assert "publicKey" not in doc and "assertionMethod" not in doc
    Worker(state).run_once()  # start-up: the member_keys job makes the missing RSA keys
    with state.read_session() as s:
        missing = s.scalars(
            select(Member.username).where(Member.local, Member.private_key_pem.is_(None))
        ).all()
        assert missing == []
    doc = node.test_client().get("/members/imported1", headers={"Accept": AP}).get_json()
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert doc["assertionMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
