"""Issue 10, leak 4: a fediverse follower (a Mastodon-style server) loses what leaves public.

- a profile changed from public to partners-only: the follower gets ``Delete`` of the actor and
  is no follower any more; the actor then answers 404 to it;
- a public call listed in the Group's outbox, published before anybody followed: when it
  leaves public, the Group's later follower gets its ``Delete``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from federation import vocab
from federation.models import Follower
from profiles import calls as call_service
from profiles import members as member_service
from profiles.models import Call

from .conftest import Node, pump
from .test_mastodon_follow import FakeMastodon
from .test_partnership import add_call, add_member

AP = {"Accept": vocab.ACTIVITY_JSON}


def _follow(fake: FakeMastodon, target: str, n: int) -> None:
    follow = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{fake.actor_id}#follows/{n}",
        "type": "Follow",
        "actor": fake.actor_id,
        "object": target,
    }
    assert fake.post(f"{target}/inbox", follow).status_code == 202


def _set_profile_visibility(node: Node, username: str, vis: str) -> None:
    with node.session() as s:
        member = member_service.get_local(s, node.state.ctx, username)
        data = member_service.profile_data(member)
        data.visibility = vis
        member_service.update_profile(s, member, data, node.state.vocabulary.get(s))
        s.commit()


def _set_call_visibility(node: Node, public_id: str, vis: str) -> None:
    with node.session() as s:
        call = s.scalar(select(Call).where(Call.public_id == public_id))
        data = call_service.call_data(call)
        data.visibility = vis
        call_service.update_call(s, call, call.author, data, node.state.vocabulary.get(s))
        s.commit()


def test_a_profile_leaving_public_is_deleted_at_its_fediverse_followers(nodes: Any) -> None:
    (a,) = nodes(1)
    fake = FakeMastodon()
    try:
        add_member(a, "alice", "public")
        alice = f"{a.base}/members/alice"
        _follow(fake, alice, 1)
        pump(a)
        assert [x["type"] for x in fake.activities()] == ["Accept"]

        _set_profile_visibility(a, "alice", "partners")
        pump(a)
        deletes = [x for x in fake.activities() if x["type"] == "Delete"]
        assert len(deletes) == 1
        assert deletes[0]["actor"] == alice and deletes[0]["object"] == alice
        with a.session() as s:
            assert s.scalars(select(Follower).where(Follower.local_actor == alice)).all() == []
        assert a.app.test_client().get("/members/alice", headers=AP).status_code == 404

        # Back to public and partners again: nobody follows any more, nothing more is sent.
        _set_profile_visibility(a, "alice", "public")
        _set_profile_visibility(a, "alice", "partners")
        pump(a)
        assert len([x for x in fake.activities() if x["type"] == "Delete"]) == 1
    finally:
        fake.close()


def test_a_group_outbox_call_leaving_public_is_deleted_at_later_followers(nodes: Any) -> None:
    (a,) = nodes(1)
    fake = FakeMastodon()
    try:
        add_member(a, "alice", "public")
        public_id = add_call(a, "alice", "Listed before anyone followed")
        pump(a)
        group = f"{a.base}/groups/calls"
        _follow(fake, group, 1)
        pump(a)
        outbox = a.app.test_client().get("/groups/calls/outbox?page=1", headers=AP).get_json()
        assert [i["object"]["name"] for i in outbox["orderedItems"]] == [
            "Listed before anyone followed"
        ]

        _set_call_visibility(a, public_id, "partners")
        pump(a)
        deletes = [x for x in fake.activities() if x["type"] == "Delete"]
        assert len(deletes) == 1
        assert deletes[0]["object"]["id"] == f"{a.base}/calls/{public_id}"
        assert deletes[0]["actor"] in (f"{a.base}/members/alice", group)
    finally:
        fake.close()


def test_a_public_call_by_a_partners_only_author_is_the_groups(nodes: Any) -> None:
    """Leak 2 on the wire: a public call of a hidden author names only the Group."""
    (a,) = nodes(1)
    fake = FakeMastodon()
    try:
        add_member(a, "pat", "partners")
        group = f"{a.base}/groups/calls"
        _follow(fake, group, 1)
        pump(a)
        add_call(a, "pat", "Anonymous call")
        pump(a)
        got = [x for x in fake.activities() if x["type"] in ("Create", "Announce")]
        assert got
        for activity in got:
            assert activity["actor"] == group
            assert activity["object"]["attributedTo"] == group
            assert "/members/pat" not in str(activity)
    finally:
        fake.close()
