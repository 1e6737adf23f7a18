"""Inbox: what is accepted, what is refused, and that every refusal leaves no trace."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.db import utcnow
from federation.inbox import receive
from federation.models import InboxItem, RemoteActor
from federation.vocab import PUBLIC

from .conftest import INBOX_URL, FakeFediverse, Remote, actor_doc

ALICE = "https://remote.test/users/alice"
MALLORY = "https://evil.test/users/mallory"


@pytest.fixture
def alice(remote_factory: Any, fedi: FakeFediverse) -> Remote:
    r = remote_factory(ALICE, key=1)
    fedi.serve_actor(r)
    return r


@pytest.fixture
def mallory(remote_factory: Any, fedi: FakeFediverse) -> Remote:
    r = remote_factory(MALLORY, key=2)
    fedi.serve_actor(r)
    return r


def create_note(actor: str, n: int = 1, **obj: Any) -> dict[str, Any]:
    host = actor.split("/users/")[0]
    note = {
        "id": f"{host}/notes/{n}",
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>hello</p>",
        "to": [PUBLIC],
    }
    note.update(obj)
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{host}/activities/{n}",
        "type": "Create",
        "actor": actor,
        "object": note,
        "to": [PUBLIC],
    }


def items(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(InboxItem)) or 0


def post(session, actors, policy, body: bytes, headers: dict[str, str], **kw):
    return receive(
        session,
        method="POST",
        url=INBOX_URL,
        headers=headers,
        body=body,
        actors=actors,
        policy=policy,
        **kw,
    )


def signed(remote: Remote, activity: dict[str, Any], **kw: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(activity).encode()
    return body, remote.sign_post(INBOX_URL, body, **kw)


def test_signed_create_is_accepted_and_a_replay_is_deduped(session, actors, policy, alice, fedi):
    body, headers = signed(alice, create_note(ALICE))
    assert post(session, actors, policy, body, headers) == (202, "accepted")
    assert items(session) == 1
    row = session.scalar(select(InboxItem))
    assert row.activity_id == "https://remote.test/activities/1" and row.state == "pending"
    assert row.actor == ALICE and row.type == "Create"
    # the key was fetched once with a signed GET (servers in secure mode require it)
    gets = [r for r in fedi.requests if r.method == "GET"]
    assert [r.url for r in gets] == [ALICE] and "Signature" in gets[0].headers

    status, message = post(session, actors, policy, body, headers)
    assert (status, message) == (202, "already received")
    assert items(session) == 1
    assert len([r for r in fedi.requests if r.method == "GET"]) == 1  # key served from cache
    assert fedi.posts == []  # nothing is sent from inside a request


def test_unsigned_post_is_401(session, actors, policy, alice, fedi):
    body = json.dumps(create_note(ALICE)).encode()
    status, _ = post(session, actors, policy, body, {"Content-Type": "application/activity+json"})
    assert status == 401
    assert items(session) == 0 and fedi.requests == []


def test_tampered_body_is_401(session, actors, policy, alice):
    body, headers = signed(alice, create_note(ALICE))
    tampered = body.replace(b"hello", b"pwned")
    assert post(session, actors, policy, tampered, headers)[0] == 401
    assert items(session) == 0


def test_stale_date_is_401(session, actors, policy, alice):
    body, headers = signed(alice, create_note(ALICE), now=utcnow() - timedelta(hours=2))
    assert post(session, actors, policy, body, headers)[0] == 401
    assert items(session) == 0


def test_key_of_another_actor_is_refused(session, actors, policy, alice, mallory):
    # mallory signs with her own (valid) key an activity claiming to be alice's
    body, headers = signed(mallory, create_note(ALICE))
    assert post(session, actors, policy, body, headers)[0] in (401, 403)
    assert items(session) == 0
    assert session.scalar(select(func.count()).select_from(RemoteActor)) == 0


def test_oversize_body_is_413(session, actors, policy, alice, fedi):
    activity = create_note(ALICE, content="x" * (1_048_576 + 10))
    body, headers = signed(alice, activity)
    assert post(session, actors, policy, body, headers)[0] == 413
    assert items(session) == 0 and fedi.requests == []


def test_deep_json_is_400(session, actors, policy, alice, fedi):
    deep: Any = "x"
    for _ in range(100):
        deep = {"a": deep}
    body, headers = signed(alice, create_note(ALICE, content=deep))
    assert post(session, actors, policy, body, headers)[0] == 400
    assert items(session) == 0 and fedi.requests == []


def test_wrong_content_type_is_415(session, actors, policy, alice):
    body, headers = signed(alice, create_note(ALICE))
    headers["Content-Type"] = "text/html"
    assert post(session, actors, policy, body, headers)[0] == 415
    assert items(session) == 0


def test_fetched_actor_whose_id_is_not_its_url_is_refused(
    session, actors, policy, remote_factory, fedi
):
    eve = remote_factory("https://remote.test/users/eve", key=2)
    # served at eve's URL, but the document claims to be someone else (origin confusion)
    fedi.serve_json(eve.ap_id, actor_doc(eve, id="https://remote.test/users/alice"))
    body, headers = signed(eve, create_note(eve.ap_id))
    assert post(session, actors, policy, body, headers)[0] == 401
    assert items(session) == 0
    assert session.scalar(select(func.count()).select_from(RemoteActor)) == 0


def test_actor_served_as_html_is_refused(session, actors, policy, remote_factory, fedi):
    eve = remote_factory("https://remote.test/users/eve", key=2)
    fedi.serve_json(eve.ap_id, actor_doc(eve), ctype="text/html")
    body, headers = signed(eve, create_note(eve.ap_id))
    assert post(session, actors, policy, body, headers)[0] == 401
    assert items(session) == 0


@pytest.mark.parametrize(
    "actor", ["https://internal.test/users/x", "https://127.0.0.1/users/x", "https://[::1]/u/x"]
)
def test_ssrf_key_id_is_refused_without_a_request(
    session, actors, policy, remote_factory, fedi, actor
):
    intruder = remote_factory(actor, key=2)
    body, headers = signed(intruder, create_note(actor))
    assert post(session, actors, policy, body, headers)[0] == 401
    assert fedi.requests == []  # not even one request left for the loopback address
    assert items(session) == 0


def test_object_on_another_host_is_refused(session, actors, policy, mallory):
    activity = create_note(MALLORY, id="https://remote.test/notes/99")
    body, headers = signed(mallory, activity)
    assert post(session, actors, policy, body, headers)[0] == 403
    assert items(session) == 0


def test_object_attributed_to_someone_else_is_refused(session, actors, policy, mallory):
    activity = create_note(MALLORY, attributedTo="https://evil.test/users/boss")
    body, headers = signed(mallory, activity)
    assert post(session, actors, policy, body, headers)[0] == 403
    assert items(session) == 0


def test_delete_by_non_owner_is_refused(
    session, actors, policy, alice, mallory, remote_factory, fedi
):
    # alice is known to us
    body, headers = signed(alice, create_note(ALICE))
    assert post(session, actors, policy, body, headers)[0] == 202
    # mallory (another host) tries to delete alice, then one of alice's notes
    for n, obj in enumerate([ALICE, "https://remote.test/notes/1"]):
        delete = {
            "id": f"https://evil.test/activities/del{n}",
            "type": "Delete",
            "actor": MALLORY,
            "object": obj,
        }
        body, headers = signed(mallory, delete)
        assert post(session, actors, policy, body, headers)[0] == 403
    # bob, on alice's own host, may not delete alice either
    bob = remote_factory("https://remote.test/users/bob", key=3)
    fedi.serve_actor(bob)
    delete = {
        "id": "https://remote.test/del/bob",
        "type": "Delete",
        "actor": bob.ap_id,
        "object": ALICE,
    }
    body, headers = signed(bob, delete)
    assert post(session, actors, policy, body, headers)[0] == 403
    assert items(session) == 1  # only alice's Create
    assert session.scalar(select(RemoteActor.gone).where(RemoteActor.ap_id == ALICE)) is False


def test_delete_of_an_unknown_actor_is_acknowledged_without_fetching(
    session, actors, policy, remote_factory, fedi
):
    gone = remote_factory("https://remote.test/users/gone", key=2)
    delete = {
        "id": f"{gone.ap_id}#delete",
        "type": "Delete",
        "actor": gone.ap_id,
        "object": gone.ap_id,
    }
    body, headers = signed(gone, delete)
    assert post(session, actors, policy, body, headers)[0] == 202
    assert fedi.requests == [] and items(session) == 0


def test_blocked_host_is_403_before_any_fetch(session, actors, policy, mallory, fedi):
    policy.block_host("evil.test", reason="spam")
    session.commit()
    body, headers = signed(mallory, create_note(MALLORY))
    assert post(session, actors, policy, body, headers)[0] == 403
    assert fedi.requests == [] and items(session) == 0


def test_blocked_actor_is_403(session, actors, policy, mallory, fedi):
    policy.block_actor(MALLORY)
    session.commit()
    body, headers = signed(mallory, create_note(MALLORY))
    assert post(session, actors, policy, body, headers)[0] == 403
    assert items(session) == 0


def test_foreign_embedded_object_of_an_announce_is_reduced_to_id_and_type(
    session, actors, policy, alice
):
    announce = {
        "id": "https://remote.test/activities/boost1",
        "type": "Announce",
        "actor": ALICE,
        "object": {"id": "https://other.test/notes/7", "type": "Note", "content": "forged"},
    }
    body, headers = signed(alice, announce)
    assert post(session, actors, policy, body, headers)[0] == 202
    stored = json.loads(session.scalar(select(InboxItem.body)))
    assert stored["object"] == {"id": "https://other.test/notes/7", "type": "Note"}


def test_get_to_the_inbox_is_405(session, actors, policy):
    status, _ = receive(
        session, method="GET", url=INBOX_URL, headers={}, body=b"", actors=actors, policy=policy
    )
    assert status == 405


def test_activity_id_on_another_host_is_refused_and_cannot_suppress_the_genuine_one(
    session, actors, policy, alice, mallory, fedi
):
    """Issue 8 defect 7: mallory (evil.test) sends an activity carrying alice's next id
    (remote.test). It is refused before any key fetch, and alice's genuine activity with that
    id is then accepted, not dropped as a replay."""
    forged = create_note(MALLORY, 7)
    forged["id"] = "https://remote.test/activities/7"
    body, headers = signed(mallory, forged)
    status, message = post(session, actors, policy, body, headers)
    assert (status, message) == (403, "the activity id is not on its actor's host")
    assert items(session) == 0
    assert fedi.requests == []  # refused before fetching mallory's key

    body, headers = signed(alice, create_note(ALICE, 7))
    assert post(session, actors, policy, body, headers) == (202, "accepted")
    assert session.scalar(select(InboxItem.actor)) == ALICE


def test_announce_of_a_foreign_activity_keeps_working(session, actors, policy, alice, fedi):
    """Lemmy's community announces a user's activity from another host: the Announce's own id
    is on the announcing actor's host, so it is accepted."""
    announce = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://remote.test/activities/announce/1",
        "type": "Announce",
        "actor": ALICE,
        "object": create_note("https://other.test/users/bob", 3),
        "to": [PUBLIC],
    }
    body, headers = signed(alice, announce)
    assert post(session, actors, policy, body, headers) == (202, "accepted")
