"""A member who leaves the coop's register (``coopfed import members --update`` with
deactivation) leaves the partners too: they are told the profile is gone, the actor answers as
no such member, and a member back in the register comes back at the partners."""

from __future__ import annotations

import json

import requests

from profiles import register

from .conftest import Node, pump
from .test_partnership import add_member, become_partners, remote_members

AP = {"Accept": "application/activity+json"}


def _sync(node: Node, usernames: list[str]) -> register.SyncResult:
    lines = [json.dumps({"username": u, "name": u.title()}) for u in usernames]
    with node.session() as s:
        result = register.sync_members(
            s, node.state.ctx, node.state.vocabulary.get(s), lines, deactivate_missing=True
        )
        s.commit()
    return result


def test_a_member_who_left_the_register_leaves_the_partners_and_comes_back(nodes) -> None:
    a, b = nodes(2)
    add_member(a, "dana", "public")
    add_member(a, "emil", "partners")
    become_partners(a, b)
    assert {"dana", "emil"} <= set(remote_members(b, a.domain))

    assert requests.get(f"{a.base}/members/dana", headers=AP, timeout=5).status_code == 200
    assert _sync(a, ["emil"]).deactivated == ["dana"]
    pump(a, b)
    assert "dana" not in remote_members(b, a.domain)
    assert "emil" in remote_members(b, a.domain)
    for path in ("/members/dana", "/.well-known/webfinger?resource=acct:dana@" + a.domain):
        assert requests.get(f"{a.base}{path}", headers=AP, timeout=5).status_code == 404
    # Nor does the members collection list her (a partner's backfill would bring her back).
    listed = requests.get(f"{a.base}/actor/members?page=1", headers=AP, timeout=5).json()
    assert [m["preferredUsername"] for m in listed["orderedItems"]] == []

    back = _sync(a, ["emil", "dana"])
    assert "dana" in back.changed
    pump(a, b)
    assert "dana" in remote_members(b, a.domain)
    assert requests.get(f"{a.base}/members/dana", headers=AP, timeout=5).status_code == 200
