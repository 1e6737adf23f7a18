"""Inbox processing: built-in follow handling, domain handlers, Delete of an actor."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from federation import signatures, vocab
from federation.delivery import DeliveryWorker
from federation.inbox import HandlerRegistry, accept_follower, process_pending
from federation.models import Delivery, Follower, Following, InboxItem, RemoteActor
from federation.outbox import follow_remote

from .conftest import LOCAL, LOCAL_KEY_ID, FakeFediverse, Remote, post_signed

ALICE = "https://remote.test/users/alice"


@pytest.fixture
def alice(remote_factory: Any, fedi: FakeFediverse) -> Remote:
    r = remote_factory(ALICE, key=1, shared_inbox="https://remote.test/inbox")
    fedi.serve_actor(r)
    return r


def deliver_in(session, actors, policy, remote: Remote, activity: dict[str, Any]) -> None:
    status, message = post_signed(session, actors, policy, remote, activity)
    assert status == 202, message


def follow(n: int = 1) -> dict[str, Any]:
    return {"id": f"{ALICE}/follows/{n}", "type": "Follow", "actor": ALICE, "object": LOCAL}


def test_follow_is_stored_and_accept_is_delivered_by_the_worker(
    session, session_factory, actors, policy, alice, fedi, transport, local_actors, local_key
):
    registry = HandlerRegistry(local_actors)
    deliver_in(session, actors, policy, alice, follow())
    assert fedi.posts == []  # the Accept is never posted from inside the request
    assert process_pending(session, registry, actors=actors) == 1
    row = session.scalar(select(Follower))
    assert (row.local_actor, row.follower, row.accepted) == (LOCAL, ALICE, True)
    assert row.shared_inbox == "https://remote.test/inbox"
    assert fedi.posts == []  # still nothing: the worker sends

    fedi.inbox(alice.inbox, (202, {}, b""))
    worker = DeliveryWorker(session_factory, transport, local_actors, "w1")
    assert worker.run_once() == 1
    [sent] = fedi.posts_to(alice.inbox)
    accept = json.loads(sent.body)
    assert accept["type"] == "Accept" and accept["actor"] == LOCAL
    assert accept["object"]["id"] == f"{ALICE}/follows/1"
    public_pem = local_key[0]
    verified = signatures.verify_request(
        "POST",
        sent.url,
        sent.headers,
        sent.body,
        lambda key_id, refresh=False: signatures.PublicKeyInfo(key_id, LOCAL, public_pem),
    )
    assert verified.key_id == LOCAL_KEY_ID
    # processed items are not processed again
    assert process_pending(session, registry, actors=actors) == 0
    assert session.scalar(select(InboxItem.state)) == "done"


def test_pending_follow_policy_then_admin_accepts(session, actors, policy, alice, local_actors):
    registry = HandlerRegistry(local_actors, follow_policy=lambda *a: "pending")
    deliver_in(session, actors, policy, alice, follow())
    process_pending(session, registry, actors=actors)
    assert session.scalar(select(Follower.accepted)) is False
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert accept_follower(session, LOCAL, ALICE, alice.inbox)
    session.commit()
    assert session.scalar(select(Follower.accepted)) is True
    assert session.scalar(select(Delivery.inbox_url)) == alice.inbox


def test_undo_follow_removes_the_follower(session, actors, policy, alice, local_actors):
    registry = HandlerRegistry(local_actors)
    deliver_in(session, actors, policy, alice, follow())
    undo = {"id": f"{ALICE}/undo/1", "type": "Undo", "actor": ALICE, "object": follow()}
    deliver_in(session, actors, policy, alice, undo)
    assert process_pending(session, registry, actors=actors) == 2
    assert session.scalar(select(func.count()).select_from(Follower)) == 0


def test_accept_of_our_follow_marks_it_accepted(session, actors, policy, alice, local_actors):
    follow_remote(
        session,
        local_actor=LOCAL,
        remote_actor=ALICE,
        remote_inbox=alice.inbox,
        follow_id=f"{LOCAL}/follows/9",
    )
    session.commit()
    assert session.scalar(select(Following.state)) == "pending"
    assert session.scalar(select(Delivery.inbox_url)) == alice.inbox
    seen: list[str] = []
    registry = HandlerRegistry(local_actors)
    registry.register("Accept", "Follow", lambda s, a, ctx: seen.append(a.id))
    accept = {
        "id": f"{ALICE}/accepts/1",
        "type": "Accept",
        "actor": ALICE,
        "object": {"id": f"{LOCAL}/follows/9", "type": "Follow", "actor": LOCAL, "object": ALICE},
    }
    deliver_in(session, actors, policy, alice, accept)
    process_pending(session, registry, actors=actors)
    assert session.scalar(select(Following.state)) == "accepted"
    assert seen == [f"{ALICE}/accepts/1"]


def test_delete_of_an_actor_purges_it_and_calls_the_domain(
    session, actors, policy, alice, local_actors
):
    deleted: list[str] = []
    registry = HandlerRegistry(local_actors, on_actor_deleted=lambda s, iri: deleted.append(iri))
    deliver_in(session, actors, policy, alice, follow())
    process_pending(session, registry, actors=actors)
    delete = {
        "id": f"{ALICE}#delete",
        "type": "Delete",
        "actor": ALICE,
        "object": ALICE,
        "to": [vocab.PUBLIC],
    }
    deliver_in(session, actors, policy, alice, delete)
    process_pending(session, registry, actors=actors)
    assert deleted == [ALICE]
    assert session.scalar(select(RemoteActor.gone).where(RemoteActor.ap_id == ALICE)) is True
    assert session.scalar(select(func.count()).select_from(Follower)) == 0


def test_dispatch_by_object_type_and_failing_handler_rolls_back(
    session, actors, policy, alice, local_actors
):
    calls: list[tuple[str, str]] = []
    registry = HandlerRegistry(local_actors)
    registry.register("Create", "Note", lambda s, a, ctx: calls.append(("note", a.id)))
    registry.register("Create", None, lambda s, a, ctx: calls.append(("any", a.id)))

    def broken(s, a, ctx):
        s.add(
            Following(
                local_actor=LOCAL,
                remote_actor="https://x.test/a",
                follow_activity_id="https://x.test/f",
            )
        )
        s.flush()
        raise RuntimeError("domain bug")

    registry.register("Create", "Article", broken)
    for n, kind in enumerate(["Note", "Page", "Article"]):
        deliver_in(
            session,
            actors,
            policy,
            alice,
            {
                "id": f"https://remote.test/act/{n}",
                "type": "Create",
                "actor": ALICE,
                "object": {
                    "id": f"https://remote.test/obj/{n}",
                    "type": kind,
                    "attributedTo": ALICE,
                },
            },
        )
    assert process_pending(session, registry, actors=actors) == 2
    assert calls == [("note", "https://remote.test/act/0"), ("any", "https://remote.test/act/1")]
    assert session.scalar(select(func.count()).select_from(Following)) == 0  # rolled back
    for _ in range(2):
        process_pending(session, registry, actors=actors)
    failed = session.scalar(select(InboxItem).where(InboxItem.state == "failed"))
    assert failed.attempts == 3 and "domain bug" in failed.error
