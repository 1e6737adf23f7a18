"""Members and the calls Group following fediverse accounts, against a fake Mastodon-like
server (WebFinger, an actor, a profile page, an inbox that records what it gets and answers
with signed Accepts and Rejects of its own): every state a follow goes through, the refusals,
and what the node does with the followed account's posts (nothing is stored).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from federation import signatures, vocab
from federation.keys import generate_rsa_keypair
from federation.models import Following, InboxItem
from profiles import members as member_service
from profiles.models import Call, Member

from .conftest import Node, free_port, pump

AP = {"Accept": "application/activity+json"}
PASSWORD = "correct horse battery"


class FakeAccount:
    """``@bob@127.0.0.1:PORT``: WebFinger (acct: and profile URL resources), the actor at
    ``/users/bob``, the profile page ``/@bob`` (AP JSON with the ``/users/bob`` id, like
    Mastodon, or HTML when asked for it), ``/about/bob`` (HTML only), inboxes that record."""

    def __init__(self) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"
        self.actor_id = f"{self.base}/users/bob"
        self.public_pem, self.private_pem = generate_rsa_keypair()
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                wants_ap = "activity+json" in self.headers.get("Accept", "")
                if url.path == "/.well-known/webfinger":
                    resource = parse_qs(url.query).get("resource", [""])[0]
                    known = (f"acct:bob@{fake.host}", f"{fake.base}/@bob", f"{fake.base}/about/bob")
                    if resource not in known:
                        self.answer(404, b"{}", "application/jrd+json")
                        return
                    jrd = {
                        "subject": f"acct:bob@{fake.host}",
                        "links": [
                            {"rel": "self", "type": vocab.ACTIVITY_JSON, "href": fake.actor_id}
                        ],
                    }
                    self.answer(200, json.dumps(jrd).encode(), "application/jrd+json")
                elif url.path in ("/users/bob", "/@bob") and (wants_ap or url.path != "/@bob"):
                    self.answer(200, json.dumps(fake.actor()).encode(), vocab.ACTIVITY_JSON)
                elif url.path in ("/@bob", "/about/bob"):
                    self.answer(200, b"<html><body>Bob</body></html>", "text/html")
                else:
                    self.answer(404, b"", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.received.append(json.loads(body))
                self.answer(202, b"", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def actor(self) -> dict[str, Any]:
        return {
            "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
            "id": self.actor_id,
            "type": "Service",  # any actor type may be followed
            "preferredUsername": "bob",
            "name": "Bob's bot",
            "url": f"{self.base}/@bob",
            "inbox": f"{self.actor_id}/inbox",
            "outbox": f"{self.actor_id}/outbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": f"{self.actor_id}#main-key",
                "owner": self.actor_id,
                "publicKeyPem": self.public_pem,
            },
        }

    def post(self, url: str, activity: dict[str, Any]) -> int:
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST",
            url,
            {"Content-Type": vocab.ACTIVITY_JSON},
            body,
            f"{self.actor_id}#main-key",
            self.private_pem,
        )
        return requests.post(url, data=body, headers=headers, timeout=5).status_code

    def answer_follow(
        self, kind: str, follow: dict[str, Any], n: int, *, by_id: bool = False
    ) -> int:
        """Accept or Reject ``follow`` (as received), to the follower's inbox; ``by_id``: the
        Follow named by its id only, as Pleroma does."""
        return self.post(
            f"{follow['actor']}/inbox",
            {
                "@context": vocab.AS_CONTEXT,
                "id": f"{self.actor_id}#{kind.lower()}s/{n}",
                "type": kind,
                "actor": self.actor_id,
                "object": follow["id"] if by_id else follow,
            },
        )

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.received if a["type"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Any:
    account = FakeAccount()
    yield account
    account.close()


def add_member(node: Node, username: str, visibility: str = "public") -> str:
    state = node.state
    with state.session() as s:
        member = member_service.create_member(
            s,
            state.ctx,
            username=username,
            password=PASSWORD,
            profile=member_service.ProfileData(name=username.title(), visibility=visibility),
            vocab=state.vocabulary.get(s),
        )
        s.commit()
        return str(member.ap_id)


def signed_in(node: Node, username: str) -> Any:
    node.app.config["WTF_CSRF_ENABLED"] = False
    client = node.app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code
    return client


def state_of(node: Node, local: str) -> list[str]:
    with node.session() as s:
        return list(s.scalars(select(Following.state).where(Following.local_actor == local)))


def test_follow_rejected_refollowed_accepted_and_undone(nodes: Any, fake: FakeAccount) -> None:
    (a,) = nodes(1)
    alice = add_member(a, "alice")
    client = signed_in(a, "alice")

    # Follow by handle from the web page: a signed Follow to the account's own inbox.
    response = client.post("/following", data={"account": f"@bob@{fake.host}"})
    assert response.status_code == 302
    pump(a)
    (first,) = fake.of_type("Follow")
    assert first["actor"] == alice and first["object"] == fake.actor_id
    assert first["proof"]["verificationMethod"] == f"{alice}#ed25519-key"
    page = client.get("/following").get_data(as_text=True)
    assert "Bob&#39;s bot" in page and f"@bob@{fake.host}" in page and "follow-pending" in page

    # Rejected: shown as such.
    assert fake.answer_follow("Reject", first, 1) == 202
    pump(a)
    assert state_of(a, alice) == ["rejected"]
    assert "follow-rejected" in client.get("/following").get_data(as_text=True)

    # Asking again sends a new Follow; this one is accepted.
    client.post("/following", data={"account": fake.actor_id})
    pump(a)
    second = fake.of_type("Follow")[-1]
    assert second["id"] != first["id"] and state_of(a, alice) == ["pending"]
    assert fake.answer_follow("Accept", second, 2, by_id=True) == 202
    pump(a)
    assert state_of(a, alice) == ["accepted"]
    follows = client.get("/following").get_data(as_text=True)
    assert "follow-accepted" in follows
    collection = client.get("/members/alice/following?page=1", headers=AP).get_json(force=True)
    assert collection["orderedItems"] == [fake.actor_id]
    # Following an accepted account again changes nothing.
    client.post("/following", data={"account": f"acct:bob@{fake.host}"})
    pump(a)
    assert len(fake.of_type("Follow")) == 2

    # The account's posts reach the node; a Page that looks like a call and a Note are not
    # stored: only partner coops' calls and members are.
    for n, obj_type in enumerate(("Page", "Note")):
        obj = {
            "id": f"{fake.actor_id}/posts/{n}",
            "type": obj_type,
            "attributedTo": fake.actor_id,
            "name": "Sound engineer wanted",
            "content": "<p>Paid gig</p>",
            "to": [vocab.PUBLIC],
        }
        create = {
            "@context": vocab.AS_CONTEXT,
            "id": f"{fake.actor_id}/posts/{n}/activity",
            "type": "Create",
            "actor": fake.actor_id,
            "object": obj,
            "to": [vocab.PUBLIC],
        }
        assert fake.post(f"{a.base}/inbox", create) == 202
    pump(a)
    with a.session() as s:
        states = s.scalars(select(InboxItem.state).where(InboxItem.actor == fake.actor_id))
        assert set(states) == {"done"}
        assert s.scalar(select(func.count()).select_from(Call).where(Call.local.is_(False))) == 0
        remote = select(func.count()).select_from(Member).where(Member.local.is_(False))
        assert s.scalar(remote) == 0

    # Unfollow: an Undo embedding the accepted Follow, the row gone.
    assert client.post("/following/unfollow", data={"actor": fake.actor_id}).status_code == 302
    pump(a)
    (undo,) = fake.of_type("Undo")
    assert undo["object"]["id"] == second["id"] and undo["object"]["object"] == fake.actor_id
    assert state_of(a, alice) == []
    assert client.get("/members/alice/following", headers=AP).get_json()["totalItems"] == 0


def test_follow_by_profile_url(nodes: Any, fake: FakeAccount) -> None:
    (a,) = nodes(1)
    add_member(a, "alice")
    coop = a.state.federation_service()
    calls = coop.coop.calls_iri
    with a.session() as s:
        # Mastodon's /@user: the actor document, whose id is /users/user (fetched again there)
        followed = coop.follow(s, "calls", f"{fake.base}/@bob")
        # an HTML-only page: WebFinger with the URL as resource
        again = coop.follow(s, "alice", f"{fake.base}/about/bob")
        s.commit()
    assert followed.actor == again.actor == fake.actor_id
    assert followed.handle == f"@bob@{fake.host}" and followed.actor_type == "Service"
    pump(a)
    assert {f["actor"] for f in fake.of_type("Follow")} == {calls, f"{a.base}/members/alice"}


def test_refusals(nodes: Any, fake: FakeAccount) -> None:
    from profiles.ap.following import FollowRefused

    (a,) = nodes(1)
    add_member(a, "alice")
    add_member(a, "carol", visibility="coop")
    fed = a.state.federation_service()

    def reason(who: str, target: str) -> str:
        with a.session() as s:
            with pytest.raises(FollowRefused) as refused:
                fed.follow(s, who, target)
            s.rollback()
        return refused.value.reason

    assert reason("alice", "bob") == "invalid"
    assert reason("alice", f"@nobody@{fake.host}") == "not_found"
    assert reason("alice", f"@alice@{a.domain}") == "own_node"
    assert reason("carol", f"@bob@{fake.host}") == "not_federated"
    assert reason("dave", f"@bob@{fake.host}") == "no_actor"
    assert reason("alice", f"@bob@127.0.0.1:{free_port()}") == "unreachable"
    with a.session() as s:
        fed.block_actor(s, fake.actor_id)
        s.commit()
    assert reason("alice", f"@bob@{fake.host}") == "blocked"
    with a.session() as s:
        fed.unblock_actor(s, fake.actor_id)
        fed.block_host(s, "127.0.0.1")
        s.commit()
    assert reason("alice", f"@bob@{fake.host}") == "blocked"
    assert fake.received == []

    # The web page says why, in the member's language.
    client = signed_in(a, "alice")
    response = client.post("/following?lang=de", data={"account": f"@bob@{fake.host}"})
    assert response.status_code == 422
    assert "auf diesem Knoten gesperrt" in response.get_data(as_text=True)
    coop_only = signed_in(a, "carol").get("/following").get_data(as_text=True)
    assert "visible to your coop only" in coop_only


def test_a_partners_only_members_following_is_hidden_from_the_public(
    nodes: Any, fake: FakeAccount
) -> None:
    (a,) = nodes(1)
    add_member(a, "pat", visibility="partners")
    fed = a.state.federation_service()
    with a.session() as s:
        follow = fed.follow(s, "pat", f"@bob@{fake.host}")
        s.commit()
    pump(a)
    (sent,) = fake.of_type("Follow")
    fake.answer_follow("Accept", sent, 1)
    pump(a)
    assert follow.state == "pending"
    with a.session() as s:  # the account pat followed may answer pat's inbox
        assert [f.state for f in fed.following(s, "pat")] == ["accepted"]
    client = a.app.test_client()
    # Issue 10: a partners-only member does not exist for the public, collections included.
    assert client.get("/members/pat/following", headers=AP).status_code == 404
    assert client.get("/members/pat/following?page=1", headers=AP).status_code == 404
