"""Public outboxes: what a fediverse user sees on the calls Group and on a member's profile."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from federation.models import Delivery, Follower, OutboxActivity
from profiles import calls as call_service
from profiles import members as member_service
from profiles.models import Call

AP = {"Accept": "application/activity+json"}


def get(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path, headers=AP)
    assert response.status_code == 200, response.data[:300]
    return response.get_json(force=True)


def add_call(app: Any, title: str, visibility: str) -> str:
    state = app.extensions["coopfed"]
    with state.session() as s:
        vocab = state.vocabulary.get(s)
        member = member_service.get_local(s, state.ctx, "alice")
        skill = sorted(i for i, k in vocab.kinds.items() if k == "skill")[0]
        data = call_service.CallData(
            title=title, country="SE", skills_required=[skill], visibility=visibility
        )
        call = call_service.create_call(s, state.ctx, member, data, vocab)
        s.commit()
        return call.public_id


def node_with_alice(make_node: Any, *followers: tuple[str, str]) -> tuple[Any, str]:
    """A node with the public member alice; ``followers``: (whom — ``alice``, ``calls`` or
    ``coop`` —, follower actor IRI), each follower's inbox at ``/inbox`` on its host."""
    app = make_node(domain="smart.test")
    state = app.extensions["coopfed"]
    fed = state.federation_service().coop
    with state.session() as s:
        member = member_service.create_member(
            s,
            state.ctx,
            username="alice",
            profile=member_service.ProfileData(name="Alice", visibility="public", country="SE"),
            vocab=state.vocabulary.get(s),
        )
        s.flush()
        local = {"alice": member.ap_id, "calls": fed.calls_iri, "coop": fed.instance_iri}
        for whom, follower in followers:
            inbox = follower.split("/", 3)[:3]
            s.add(
                Follower(
                    local_actor=local[whom],
                    follower=follower,
                    follower_inbox="/".join(inbox) + "/inbox",
                    accepted=True,
                )
            )
        s.commit()
        return app, member.ap_id


def test_calls_outbox_lists_every_public_call_even_without_followers(make_node) -> None:
    app, _alice = node_with_alice(make_node)
    state = app.extensions["coopfed"]
    first = add_call(app, "Light designer for a summer tour", "public")
    add_call(app, "Partners only: a translator", "partners")
    add_call(app, "Our own coop only", "coop")
    second = add_call(app, "Sound engineer <script>x</script>", "public")
    client = app.test_client()
    calls = get(client, "/groups/calls")["id"]

    head = get(client, "/groups/calls/outbox")
    assert head["type"] == "OrderedCollection" and head["totalItems"] == 2
    page = get(client, "/groups/calls/outbox?page=1")
    items = page["orderedItems"]
    assert [a["id"] for a in items] == [
        f"{calls}/announces/{second}",
        f"{calls}/announces/{first}",
    ]
    newest = items[0]
    assert newest["type"] == "Announce" and newest["actor"] == calls
    assert newest["object"]["type"] == "Page" and "<script" not in newest["object"]["name"]
    assert "https://www.w3.org/ns/activitystreams#Public" in newest["to"]
    assert newest["proof"]["verificationMethod"] == f"{calls}#ed25519-key"

    # A deleted call leaves the outbox at once.
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.public_id == second))
        call_service.delete_call(s, call, call.author)
        s.commit()
    assert get(client, "/groups/calls/outbox")["totalItems"] == 1
    ids = [a["id"] for a in get(client, "/groups/calls/outbox?page=1")["orderedItems"]]
    assert ids == [f"{calls}/announces/{first}"]


def test_member_outbox_counts_and_lists_only_public_activities(make_node) -> None:
    # A partner coop follows the node, a fediverse user follows alice: both kinds of call are
    # published, only the public one is public.
    app, alice = node_with_alice(
        make_node, ("alice", "https://masto.example/users/bob"), ("coop", "https://smart.de/actor")
    )
    state = app.extensions["coopfed"]
    add_call(app, "Public: a light designer", "public")
    add_call(app, "Partners only: a translator", "partners")
    client = app.test_client()
    path = alice.split("smart.test", 1)[1]
    with state.session() as s:
        sent = s.scalars(select(OutboxActivity.body).where(OutboxActivity.actor == alice)).all()
    assert len(sent) == 2  # the partners-only Create was sent too, to the partner
    head = get(client, f"{path}/outbox")
    assert head["totalItems"] == 1
    items = get(client, f"{path}/outbox?page=1")["orderedItems"]
    assert [a["object"]["name"] for a in items] == ["Public: a light designer"]


def test_a_public_call_made_partners_only_is_withdrawn_from_the_public(make_node) -> None:
    app, alice = node_with_alice(
        make_node,
        ("alice", "https://masto.example/users/bob"),
        ("calls", "https://social.example/users/eve"),
        ("coop", "https://smart.de/actor"),
    )
    state = app.extensions["coopfed"]
    fed = state.federation_service().coop
    public_id = add_call(app, "Public at first: a light designer", "public")
    client = app.test_client()
    path = alice.split("smart.test", 1)[1]
    assert get(client, f"{path}/outbox")["totalItems"] == 1
    assert get(client, "/groups/calls/outbox")["totalItems"] == 1

    def edit(visibility: str) -> None:
        with state.session() as s:
            call = s.scalar(select(Call).where(Call.public_id == public_id))
            skill = call.skills[0].concept_iri
            data = call_service.CallData(
                title="Now for partners: a light designer",
                country="SE",
                skills_required=[skill],
                visibility=visibility,
            )
            call_service.update_call(s, call, call.author, data, state.vocabulary.get(s))
            s.commit()

    def sent_since(n: int) -> list[tuple[str, str, list[str]]]:
        with state.session() as s:
            rows = s.scalars(select(OutboxActivity).order_by(OutboxActivity.id)).all()[n:]
            return [
                (
                    r.type,
                    json.loads(r.body)["object"].get("name", ""),
                    sorted(
                        s.scalars(select(Delivery.inbox_url).where(Delivery.activity_id == r.id))
                    ),
                )
                for r in rows
            ]

    with state.session() as s:
        before = len(s.scalars(select(OutboxActivity.id)).all())
    edit("partners")
    public = ["https://masto.example/inbox", "https://social.example/inbox"]
    assert sent_since(before) == [
        ("Delete", "", public),  # the public audience loses it ...
        ("Update", "Now for partners: a light designer", ["https://smart.de/inbox"]),  # ...
    ]
    # ... and nothing of it stays listed publicly.
    assert get(client, f"{path}/outbox")["totalItems"] == 0
    assert get(client, f"{path}/outbox?page=1")["orderedItems"] == []
    assert get(client, "/groups/calls/outbox")["totalItems"] == 0

    # Back to public: a Create for everybody and a fresh Announce the Group's followers get.
    with state.session() as s:
        before = len(s.scalars(select(OutboxActivity.id)).all())
    edit("public")
    sent = sent_since(before)
    assert [(kind, inboxes) for kind, _name, inboxes in sent] == [
        ("Create", ["https://masto.example/inbox", "https://smart.de/inbox", public[1]]),
        ("Announce", ["https://social.example/inbox"]),
    ]
    ids = [a["id"] for a in get(client, "/groups/calls/outbox?page=1")["orderedItems"]]
    assert ids == [f"{fed.calls_iri}/announces/{public_id}/2"]


def test_member_outbox_lists_calls_published_while_nobody_followed(make_node) -> None:
    """Issue 8, defect 6: no follower and no partner when the calls were made, yet the
    member's outbox lists one Create per public call, and totalItems counts them."""
    app, alice = node_with_alice(make_node)
    state = app.extensions["coopfed"]
    first = add_call(app, "Public: a light designer", "public")
    add_call(app, "Partners only: a translator", "partners")
    second = add_call(app, "Public: a sound engineer", "public")
    client = app.test_client()
    path = alice.split("smart.test", 1)[1]
    with state.session() as s:
        assert s.scalar(select(Delivery.id)) is None  # nothing was delivered to anybody

    head = get(client, f"{path}/outbox")
    assert head["totalItems"] == 2
    items = get(client, f"{path}/outbox?page=1")["orderedItems"]
    assert [(a["type"], a["object"]["name"]) for a in items] == [
        ("Create", "Public: a sound engineer"),
        ("Create", "Public: a light designer"),
    ]
    assert all(a["proof"]["verificationMethod"] == f"{alice}#ed25519-key" for a in items)

    # Somebody follows; an edit reaches them as an Update, and the outbox still lists one
    # Create per call.
    with state.session() as s:
        s.add(
            Follower(
                local_actor=alice,
                follower="https://masto.example/users/bob",
                follower_inbox="https://masto.example/inbox",
                accepted=True,
            )
        )
        call = s.scalar(select(Call).where(Call.public_id == first))
        data = call_service.call_data(call)
        data.compensation = "EUR 500 a day"
        call_service.update_call(s, call, call.author, data, state.vocabulary.get(s))
        s.commit()
        sent = s.scalars(
            select(OutboxActivity.type).join(Delivery).where(OutboxActivity.actor == alice)
        ).all()
    assert sent == ["Update"]
    assert get(client, f"{path}/outbox")["totalItems"] == 2

    # Deleted: neither listed nor counted.
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.public_id == second))
        call_service.delete_call(s, call, call.author)
        s.commit()
    assert get(client, f"{path}/outbox")["totalItems"] == 1
