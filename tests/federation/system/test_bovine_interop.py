"""Interop with an independent implementation: bovine's test server (``bovine.testing``,
Quart, served by hypercorn on 127.0.0.1 in a subprocess) against a real coopfed node served by
werkzeug.

What bovine does with its own code: resolves ``acct:calls@HOST`` by WebFinger, fetches our
Group with a signed GET, POSTs a Follow signed by its client; verifies (its
``build_validate_http_signature``, fetching our key) every POST our worker delivers to its
inbox: the Accept of its Follow, the Announce of a public call, our Follow. It also sends an
unsigned POST, a tampered one (signed for another body) and a correctly signed control to our
inbox.

What bovine.testing cannot do, and so is not tested here: it never answers a Follow (no Accept
comes back), its actor is a ``Person`` (our partnership path only follows coops, i.e.
``Organization`` actors: our follow goes through the engine's ``follow_remote`` instead), and
it has no outbox to publish from.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from federation import vocab

PEER = r'''
import asyncio, json, sys
from email.utils import formatdate
from urllib.parse import urlsplit

import aiohttp
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import request

from bovine.clients import lookup_uri_with_webfinger
from bovine.crypto import generate_rsa_public_private_key
from bovine.crypto.helper import content_digest_sha256
from bovine.crypto.http_signature import build_signature
from bovine.crypto.types import CryptographicSecret
from bovine.testing.server import ServerConfig, create_app

port = int(sys.argv[1])
public, private = generate_rsa_public_private_key()
config = ServerConfig(
    protocol="http", hostname=f"127.0.0.1:{port}", handle_name="buttercup",
    public_key=public, private_key=private,
)
app = create_app(config)


def emit(**event):
    print("@@" + json.dumps(event), flush=True)


@app.after_request
async def record(response):
    # Observe only: the inbox's own verifier has already decided the status.
    if request.method == "POST" and request.path == "/inbox":
        body = await request.get_data()
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        emit(event="inbox", status=response.status_code, activity=doc)
    return response


def signed_headers(url, body):
    """bovine's own draft-cavage signing (what its SignedHttpClient does)."""
    parts = urlsplit(url)
    date = formatdate(usegmt=True)
    digest = content_digest_sha256(body)
    signature = (
        build_signature(parts.netloc, "post", parts.path)
        .with_field("date", date)
        .with_field("digest", digest)
        .sign_for_http_draft(CryptographicSecret.from_pem(f"{config.actor_id}#main-key", private))
    )
    return {
        "date": date, "digest": digest, "signature": signature,
        "content-type": "application/activity+json",
    }


def note_create(text):
    oid = config.make_id()
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": config.make_id(), "type": "Create", "actor": config.actor_id,
        "object": {"id": oid, "type": "Note", "attributedTo": config.actor_id, "content": text},
    }


async def command(line, session, actor):
    name, _, arg = line.strip().partition(" ")
    if name == "follow":
        domain = arg.split("@", 1)[1]
        actor_id, _ = await lookup_uri_with_webfinger(session, arg, domain=f"http://{domain}")
        target = await actor.get(actor_id)
        follow = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": config.make_id(), "type": "Follow",
            "actor": config.actor_id, "object": actor_id,
        }
        try:
            response = await actor.post(target["inbox"], follow)
            status = response.status
        except aiohttp.ClientResponseError as exc:
            status = exc.status
        emit(event="follow", actor_id=actor_id, target=target, follow=follow, status=status)
    elif name in ("signed", "tampered", "unsigned"):
        body = json.dumps(note_create("moo")).encode()
        headers = signed_headers(arg, body)
        if name == "tampered":
            body = json.dumps(note_create("a different moo")).encode()
        if name == "unsigned":
            headers = {"content-type": "application/activity+json"}
        async with session.post(arg, data=body, headers=headers) as response:
            emit(event=name, status=response.status, text=await response.text())
    else:
        emit(event="error", text=f"unknown command {name}")


async def main():
    cfg = Config()
    cfg.bind = [f"127.0.0.1:{port}"]
    cfg.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, cfg, shutdown_trigger=stop.wait))
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        actor = config.create_actor()
        await actor.init(session=session)
        emit(event="ready", actor=config.actor_id)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "quit":
                break
            try:
                await command(line, session, actor)
            except Exception as exc:
                emit(event="error", text=repr(exc))
    stop.set()
    await server

asyncio.run(main())
'''


class Peer:
    """The bovine subprocess: commands on stdin, ``@@{json}`` events on stdout."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PEER, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@"):
                self.events.put(json.loads(line[2:]))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 15, pump: Any = None
    ) -> dict[str, Any]:
        for event in self.seen:
            if match(event):
                self.seen.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pump is not None:
                pump()
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if event.get("event") == "error":
                pytest.fail(f"bovine peer: {event['text']}")
            if match(event):
                return event
            self.seen.append(event)
        pytest.fail(f"no matching event from the bovine peer; seen: {self.seen}")

    def close(self) -> None:
        try:
            self.send("quit")
            self.proc.wait(10)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_member(state: Any, username: str) -> None:
    from profiles import members as member_service

    with state.session() as s:
        v = state.vocabulary.get(s)
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")[:2]
        profile = member_service.ProfileData(
            name=username.title(),
            visibility="public",
            country="SE",
            skills=skills,
            languages=[("sv", "native")],
        )
        member_service.create_member(
            s,
            state.ctx,
            username=username,
            password="correct horse battery",
            profile=profile,
            vocab=v,
        )
        s.commit()


def add_call(state: Any, author: str, title: str) -> None:
    from profiles import calls as call_service
    from profiles import members as member_service

    with state.session() as s:
        v = state.vocabulary.get(s)
        member = member_service.get_local(s, state.ctx, author)
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")[:1]
        data = call_service.CallData(
            title=title,
            description="<p>We need help</p>",
            country="SE",
            city="Malmö",
            skills_required=skills,
            languages=["en"],
            visibility="public",
        )
        call_service.create_call(s, state.ctx, member, data, v)
        s.commit()


@pytest.mark.slow
def test_bovine_peer_follows_calls_and_verifies_our_deliveries(make_node, serve_wsgi) -> None:
    from federation.errors import BadRequest
    from federation.models import Follower, Following
    from federation.outbox import follow_remote
    from node.worker import Worker

    port = free_port()
    app = make_node(domain=f"127.0.0.1:{port}", name="Coop A", country="SE")
    serve_wsgi(app, port)
    state = app.extensions["coopfed"]
    fed = state.federation_service()
    base = f"http://127.0.0.1:{port}"
    calls = f"{base}/groups/calls"
    add_member(state, "alice")

    def pump() -> None:
        Worker(state).run_once()

    peer = Peer(free_port())
    try:
        ready = peer.wait(lambda e: e["event"] == "ready", timeout=30)
        bovine_actor = ready["actor"]

        # 1. bovine resolves @calls@HOST by WebFinger, fetches the Group, POSTs a signed Follow.
        peer.send(f"follow acct:calls@127.0.0.1:{port}")
        followed = peer.wait(lambda e: e["event"] == "follow")
        assert followed["actor_id"] == calls
        assert followed["target"]["type"] == "Group"
        assert followed["status"] == 202

        # 2. Our worker processes it and delivers the Accept; bovine's verifier accepts it.
        accept = peer.wait(
            lambda e: e["event"] == "inbox" and (e["activity"] or {}).get("type") == "Accept",
            pump=pump,
        )
        assert accept["status"] == 202, "bovine refused the signature of our Accept"
        assert accept["activity"]["actor"] == calls
        assert accept["activity"]["object"]["id"] == followed["follow"]["id"]
        with state.session() as s:
            row = s.query(Follower).filter_by(local_actor=calls, follower=bovine_actor).one()
            assert row.accepted
        # Control: bovine's verifier is live (an unsigned copy of our Accept is refused).
        unsigned = requests.post(
            row.follower_inbox,
            data=json.dumps(accept["activity"]),
            headers={"Content-Type": vocab.ACTIVITY_JSON},
            timeout=10,
        )
        assert unsigned.status_code == 401
        peer.wait(lambda e: e["event"] == "inbox" and e["status"] == 401)

        # 3. A public call: the Group announces it to its followers, bovine verifies it.
        add_call(state, "alice", "Sound engineer wanted")
        announce = peer.wait(
            lambda e: e["event"] == "inbox" and (e["activity"] or {}).get("type") == "Announce",
            pump=pump,
        )
        assert announce["status"] == 202, "bovine refused the signature of our Announce"
        assert announce["activity"]["actor"] == calls
        assert announce["activity"]["object"]["type"] == "Page"
        assert announce["activity"]["object"]["name"] == "Sound engineer wanted"
        assert vocab.PUBLIC in announce["activity"]["to"]

        # 4. Our node follows it. The product's follow is a coop partnership, which only
        # accepts Organization actors; bovine.testing's actor is a Person.
        with state.session() as s:
            with pytest.raises(BadRequest):
                fed.coop.request_partnership(s, fed.actors(s), bovine_actor)
            s.rollback()
        # So the engine's follow, signed by our instance actor and delivered by our worker.
        with state.session() as s:
            follow = follow_remote(
                s,
                local_actor=fed.coop.instance_iri,
                remote_actor=bovine_actor,
                remote_inbox=followed["follow"]["actor"].removesuffix("/actor") + "/inbox",
                follow_id=f"{fed.coop.instance_iri}#follows/bovine",
            )
            s.commit()
        ours = peer.wait(
            lambda e: e["event"] == "inbox" and (e["activity"] or {}).get("type") == "Follow",
            pump=pump,
        )
        assert ours["status"] == 202, "bovine refused the signature of our Follow"
        assert ours["activity"]["id"] == follow["id"]
        with state.session() as s:
            pending = s.query(Following).filter_by(remote_actor=bovine_actor).one()
            assert pending.state == "pending"  # bovine.testing never answers a Follow

        # 5. Our inbox: bovine-signed POST accepted; unsigned and tampered ones refused.
        peer.send(f"signed {base}/inbox")
        assert peer.wait(lambda e: e["event"] == "signed")["status"] == 202
        peer.send(f"unsigned {base}/inbox")
        assert peer.wait(lambda e: e["event"] == "unsigned")["status"] == 401
        peer.send(f"tampered {base}/inbox")
        assert peer.wait(lambda e: e["event"] == "tampered")["status"] == 401
    finally:
        peer.close()
