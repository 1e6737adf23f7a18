"""A fake Mastodon account (a tiny HTTP server with its own key) follows @calls on a real node:
it gets a signed Accept, then a signed Announce(Page) when a public call is created."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from federation import signatures, vocab
from federation.keys import generate_rsa_keypair
from federation.signatures import PublicKeyInfo

from .conftest import free_port, pump
from .test_partnership import add_call, add_member


class FakeMastodon:
    """Serves one actor document and records POSTs to its inbox (headers and body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.actor_id = f"{self.base}/users/alice"
        self.public_pem, self.private_pem = generate_rsa_keypair()
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/users/alice":
                    self.send_error(404)
                    return
                body = json.dumps(fake.actor()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/activity+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.received.append((self.path, dict(self.headers.items()), body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def actor(self) -> dict[str, Any]:
        return {
            "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
            "id": self.actor_id,
            "type": "Person",
            "preferredUsername": "alice",
            "inbox": f"{self.actor_id}/inbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": f"{self.actor_id}#main-key",
                "owner": self.actor_id,
                "publicKeyPem": self.public_pem,
            },
        }

    def post(self, url: str, activity: dict[str, Any]) -> requests.Response:
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST",
            url,
            {"Content-Type": vocab.ACTIVITY_JSON},
            body,
            f"{self.actor_id}#main-key",
            self.private_pem,
        )
        return requests.post(url, data=body, headers=headers, timeout=5)

    def activities(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _path, _h, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(url: str, headers: dict[str, str], body: bytes) -> signatures.VerifiedSignature:
    """Verify as a receiving server would: fetch the signer's key from its actor document."""

    def lookup(key_id: str, *, refresh: bool = False) -> PublicKeyInfo:
        actor = requests.get(
            key_id.split("#")[0], headers={"Accept": vocab.ACTIVITY_JSON}, timeout=5
        ).json()
        key = actor["publicKey"]
        assert key["id"] == key_id
        return PublicKeyInfo(key_id=key["id"], owner=key["owner"], public_pem=key["publicKeyPem"])

    return signatures.verify_request("POST", url, headers, body, lookup)


def test_mastodon_user_follows_calls_group(nodes) -> None:
    (a,) = nodes(1)
    fake = FakeMastodon()
    try:
        add_member(a, "alice", "public")
        group = f"{a.base}/groups/calls"
        follow = {
            "@context": vocab.AS_CONTEXT,
            "id": f"{fake.actor_id}#follows/1",
            "type": "Follow",
            "actor": fake.actor_id,
            "object": group,
        }
        assert fake.post(f"{group}/inbox", follow).status_code == 202
        pump(a)
        [accept] = fake.activities()
        assert accept["type"] == "Accept" and accept["actor"] == group
        assert accept["object"]["id"] == follow["id"]
        path, headers, body = fake.received[0]
        assert verify(f"{fake.base}{path}", headers, body).key_id == f"{group}#main-key"
        followers = requests.get(
            f"{group}/followers", headers={"Accept": vocab.ACTIVITY_JSON}, timeout=5
        ).json()
        assert followers["totalItems"] == 1

        add_call(a, "alice", "Partners only", visibility="partners")
        add_call(a, "alice", "Light designer wanted")
        pump(a)
        announces = [x for x in fake.activities() if x["type"] == "Announce"]
        assert len(announces) == 1  # the partners-only call is not announced
        announce = announces[0]
        assert announce["actor"] == group
        assert announce["object"]["type"] == "Page"  # the object itself, not Create(Page)
        assert announce["object"]["name"] == "Light designer wanted"
        assert vocab.PUBLIC in announce["to"]
        index = next(i for i, x in enumerate(fake.activities()) if x["type"] == "Announce")
        path, headers, body = fake.received[index]
        assert path == "/inbox"  # the shared inbox
        assert verify(f"{fake.base}{path}", headers, body).key_id == f"{group}#main-key"

        # Undo(Follow): no more announces.
        undo = {
            "@context": vocab.AS_CONTEXT,
            "id": f"{fake.actor_id}#undo/1",
            "type": "Undo",
            "actor": fake.actor_id,
            "object": follow,
        }
        assert fake.post(f"{a.base}/inbox", undo).status_code == 202
        pump(a)
        before = len(fake.received)
        add_call(a, "alice", "Another call")
        pump(a)
        assert len(fake.received) == before
    finally:
        fake.close()
