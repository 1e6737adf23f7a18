"""Interop with Fedify 2.3.6 (tests/interop/fedify/peer.mjs), an independent implementation
that processes JSON-LD for real, double-knocks (RFC 9421, then draft-cavage) and signs with
FEP-8b32 proofs next to LD signatures — what Ghost, Hollo and other Fedify servers do.

A coopfed node runs in dev mode on 127.0.0.1 (http IRIs with a port: Fedify's
``allowPrivateAddress`` lets it talk to loopback). The TLS production path is
test_tls_production.py's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from federation.models import Follower, Following, InboxItem, OutboxActivity

from .conftest import FedifyPeer, ServedNode, add_call, add_member

pytestmark = pytest.mark.slow


def received(peer: FedifyPeer, kind: str, actor: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in peer.state()["received"]
        if r["type"] == kind and (actor is None or r["actor"] == actor)
    ]


def follower_rows(node: ServedNode, local: str) -> list[Follower]:
    with node.state.session() as s:
        return list(s.scalars(select(Follower).where(Follower.local_actor == local)))


def no_fedify_errors(peer: FedifyPeer) -> None:
    errors = [e for e in peer.errors() if e["level"] in ("error", "fatal")]
    assert not errors, "Fedify reported:\n" + "\n".join(
        f"[{e['category']}] {e['message'][:1500]}" for e in errors
    )


@pytest.fixture
def node(serve_node: Any) -> ServedNode:
    return serve_node()


def test_fedify_follows_a_member_and_the_calls_group_and_receives_a_call(
    node: ServedNode, fedify: FedifyPeer
) -> None:
    """One node and one peer for the whole story (each costs seconds to start)."""
    alice = add_member(node.state, "alice")
    calls = node.federation.coop.calls_iri

    # 1. Fedify fetches and parses our Person and Group, then follows both (first knock:
    # RFC 9421, accepted as is); our worker answers with Accepts that Fedify verifies.
    followed = fedify.follow(alice)
    assert followed["type"] == "Person"
    assert fedify.follow(calls)["type"] == "Group"
    assert [(p.scheme, p.status) for p in node.inbox_posts()] == [("rfc9421", 202)] * 2
    node.pump(lambda: all(f["state"] == "accepted" for f in fedify.state()["following"].values()))
    (row,) = follower_rows(node, alice)
    assert row.follower == fedify.actor and row.accepted
    accepts = [p for p in fedify.state()["posts"] if p["type"] == "Accept"]
    assert len(accepts) == 2
    for accept in accepts:  # verified by the proof alone, next to the HTTP signature
        assert accept["status"] == 202 and accept["proofVerified"] is True

    # 2. A public call: alice's Create and the Group's Announce, parsed by Fedify without error
    # (defect 3: bare dates made Fedify answer 400), proofs verified in Fedify.
    call = add_call(node.state, "alice", "Sound engineer wanted")
    node.pump(lambda: len([p for p in fedify.state()["posts"] if p["type"] != "Accept"]) >= 2)
    posts = {p["type"]: p for p in fedify.state()["posts"]}
    for kind in ("Create", "Announce"):
        answer = f"{posts[kind]['answer']}\nFedify logged:\n{fedify.said()}"
        assert posts[kind]["status"] == 202, f"Fedify refused our {kind}: {answer}"
        assert posts[kind]["proofVerified"] is True, f"our {kind}'s proof fails in Fedify"
    (create,) = received(fedify, "Create", alice)
    (announce,) = received(fedify, "Announce", calls)
    for activity in (create, announce):
        page = activity["object"]
        assert activity["objectError"] is None and page["type"] == "Page"
        assert page["id"] == call and page["name"] == "Sound engineer wanted"
        assert page["startTime"] == "2027-06-01T00:00:00Z"

    # 3. What we serve for fetching parses in Fedify: the Group's outbox with the call in it,
    # and every activity we stored has a proof Fedify verifies.
    group = fedify.lookup(calls)
    assert group["type"] == "Group"
    assert fedify.lookup(group["compact"]["outbox"])["type"] == "OrderedCollection"
    with node.state.session() as s:
        bodies = [json.loads(b) for b in s.scalars(select(OutboxActivity.body))]
    assert {"Accept", "Create", "Announce"} <= {b["type"] for b in bodies}
    for body in bodies:
        assert fedify.verify(body), f"Fedify does not verify our {body['type']} proof"

    # 4. Fedify undoes its follow of alice.
    fedify.undo(alice, followed["follow"])
    node.pump()
    assert follower_rows(node, alice) == []
    assert len(follower_rows(node, calls)) == 1
    no_fedify_errors(fedify)


def test_our_inbox_accepts_fedify_with_both_signature_specs(
    node: ServedNode, fedify: FedifyPeer
) -> None:
    """Fedify's activities under either first knock, each with an FEP-8b32 proof next to an LD
    signature (defect 1: refused with 401 before), accepted and their proofs verified here."""
    from federation import proofs
    from federation.outbox import follow_remote

    fed = node.federation
    # Our instance actor follows the Fedify actor through the engine, so that Fedify delivers
    # its Creates to us (members and the Group follow with `coopfed follow`:
    # test_fedify_following.py).
    with node.state.session() as s:
        follow_remote(
            s,
            local_actor=fed.coop.instance_iri,
            remote_actor=fedify.actor,
            remote_inbox=fedify.state()["inbox"],
            follow_id=f"{fed.coop.instance_iri}#follows/fedify",
        )
        s.commit()

    def accepted() -> bool:
        with node.state.session() as s:
            row = s.scalar(select(Following).where(Following.remote_actor == fedify.actor))
            return row is not None and row.state == "accepted"

    node.pump(accepted)
    for n, (spec, scheme) in enumerate(
        [("rfc9421", "rfc9421"), ("draft-cavage-http-signatures-12", "draft-cavage")]
    ):
        member = add_member(node.state, f"member{n}")
        before = len(node.inbox_posts())
        fedify.follow(member, spec=spec)
        created = fedify.create(f"<p>Hello with {spec}</p>", spec=spec)
        assert created["to"] == [fed.coop.instance_iri]
        # Exactly one POST each: the first knock was accepted, no second knock needed.
        seen = [(p.scheme, p.status) for p in node.inbox_posts()[before:]]
        assert seen == [(scheme, 202), (scheme, 202)], spec

        with node.state.session() as s:
            item = s.scalar(select(InboxItem).where(InboxItem.activity_id == created["create"]))
            assert item is not None, spec
            doc = json.loads(item.body)
            assert "proof" in doc and "signature" in doc  # Fedify sends both
            # The proof was checked, not skipped as unresolvable: check it again as received.
            key = proofs.check_incoming(doc, fedify.actor, fed.actors(s))
            assert key is not None and key.startswith(fedify.actor + "#")
    node.pump()
    no_fedify_errors(fedify)
