"""Following a Fedify account (issue 8, defect 5): ``coopfed follow --as alice
acct:fedi@127.0.0.1:PORT`` looks the account up with the peer's WebFinger (http: dev mode),
sends a Follow that Fedify verifies and accepts, the follow shows as accepted on alice's
"Following" page and in her ``following`` collection, and alice's unfollow button sends an
Undo that Fedify applies. The calls Group follows the same account by its URL. What the
followed account then posts reaches the node and is not stored as a call or a member.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from federation.iri import host_of
from federation.models import Following, InboxItem
from node.cli.follows import follow, following, unfollow
from profiles.models import Call, Member

from .conftest import FedifyPeer, ServedNode, add_member

pytestmark = pytest.mark.slow

AP = {"Accept": "application/activity+json"}


def cli(node: ServedNode, command: Any, *args: str) -> str:
    result = CliRunner().invoke(command, list(args), obj={"state": node.state})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def follow_state(node: ServedNode, local: str, remote: str) -> str | None:
    with node.state.session() as s:
        row = s.scalar(
            select(Following).where(
                Following.local_actor == local, Following.remote_actor == remote
            )
        )
        return None if row is None else row.state


def test_a_member_and_the_calls_group_follow_a_fedify_account(
    serve_node: Any, fedify: FedifyPeer
) -> None:
    node = serve_node()
    node.app.config["WTF_CSRF_ENABLED"] = False
    alice = add_member(node.state, "alice")
    calls = node.federation.coop.calls_iri
    handle = f"acct:fedi@{host_of(fedify.actor)}"

    # 1. The CLI: WebFinger on the peer, a Follow queued; the worker delivers it, Fedify checks
    # its signature and proof, accepts, and our inbox moves the follow to "accepted".
    said = cli(node, follow, "--as", "alice", handle)
    assert "pending" in said, said
    assert follow_state(node, alice, fedify.actor) == "pending"
    node.pump(lambda: follow_state(node, alice, fedify.actor) == "accepted")
    assert alice in fedify.state()["followers"]
    (post,) = [p for p in fedify.state()["posts"] if p["type"] == "Follow"]
    assert post["status"] == 202 and post["proofVerified"] is True, fedify.said()

    # 2. The calls Group follows the same account by its URL.
    cli(node, follow, "--as", "calls", fedify.actor)
    node.pump(lambda: follow_state(node, calls, fedify.actor) == "accepted")
    assert calls in fedify.state()["followers"]
    assert f"accepted\t@fedi@{host_of(fedify.actor)}" in cli(node, following, "--as", "calls")

    # 3. Alice's UI and her following collection show the accepted follow.
    client = node.app.test_client()
    login = client.post("/login", data={"username": "alice", "password": "correct horse battery"})
    assert login.status_code == 302
    page = client.get("/following").get_data(as_text=True)
    assert f"@fedi@{host_of(fedify.actor)}" in page and "Fedify peer" in page
    assert "follow-accepted" in page
    path = alice.removeprefix(node.base)
    head = client.get(f"{path}/following", headers=AP).get_json(force=True)
    assert head["totalItems"] == 1
    listed = client.get(f"{path}/following?page=1", headers=AP).get_json(force=True)
    assert listed["orderedItems"] == [fedify.actor]

    # 4. The followed account posts: it reaches alice's inbox and is processed, and nothing is
    # stored as a member or a call of the node (the relationship only).
    created = fedify.create("<p>Looking for a sound engineer in Malmö</p>")
    assert alice in created["to"]
    node.pump()
    with node.state.session() as s:
        item = s.scalar(select(InboxItem).where(InboxItem.activity_id == created["create"]))
        assert item is not None and item.state == "done", item and item.error
        host = host_of(fedify.actor)
        assert s.scalar(select(func.count()).select_from(Member).where(Member.node == host)) == 0
        assert s.scalar(select(func.count()).select_from(Call).where(Call.node == host)) == 0

    # 5. Alice's unfollow button: an Undo(Follow) that Fedify applies; the row is gone.
    response = client.post("/following/unfollow", data={"actor": fedify.actor})
    assert response.status_code == 302
    assert follow_state(node, alice, fedify.actor) is None
    node.pump(lambda: alice not in fedify.state()["followers"])
    assert "You follow nobody yet." in client.get("/following").get_data(as_text=True)
    assert client.get(f"{path}/following", headers=AP).get_json(force=True)["totalItems"] == 0

    # 6. The Group unfollows through the CLI, by handle.
    cli(node, unfollow, "--as", "calls", f"@fedi@{host_of(fedify.actor)}")
    node.pump(lambda: fedify.state()["followers"] == [])
    assert "calls follows nobody" in cli(node, following, "--as", "calls")
    errors = [e for e in fedify.errors() if e["level"] in ("error", "fatal")]
    assert not errors, fedify.said()
