"""Stress (issue 14): a real node on loopback never loses what it accepted.

Several threads POST signed activities (Follow, Create, Update, Delete) from real signing actors
of a fake peer to the node's inbox, while another thread creates members and at once GETs their
actors, and the node's own worker loop (the production code path, in a background thread, as in
embedded mode) processes the inbox and delivers the Accepts of the follows back to the peer,
which counts every activity id it receives. Afterwards:

- every POST was answered 202, every GET 200 (no 5xx);
- every accepted activity was processed exactly once (``done`` after one attempt);
- every delivery row is ``sent``, and the peer received each of its activities exactly once;
- the log holds no traceback and no error.

Runs on SQLite (embedded mode) and, with COOPFED_TEST_DATABASE_URL, on PostgreSQL.
COOPFED_STRESS_COUNT changes the number of activities (default :data:`COUNT`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from sqlalchemy import func, select

from federation import signatures, vocab
from federation.keys import generate_rsa_keypair
from federation.models import Delivery, InboxItem, OutboxActivity
from node.worker import Worker
from profiles.members import ProfileData, create_member

from .conftest import free_port

COUNT = int(os.environ.get("COOPFED_STRESS_COUNT", "2000"))
SENDERS = 6  # signing actors on the peer
POST_THREADS = 4
NEW_MEMBERS = 24  # created during the run; each actor GET the moment after
DEADLINE = 240.0  # seconds for the worker to drain everything after the last POST


class Peer:
    """A fediverse server on loopback: actor documents with real keys, inboxes that count."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.keys = {f"u{i}": generate_rsa_keypair() for i in range(SENDERS)}
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/activity+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                name = self.path.removeprefix("/users/")
                if name not in peer.keys:
                    self._send(404)
                    return
                self._send(200, json.dumps(peer.actor(name)).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                activity_id = json.loads(body)["id"]
                with peer.lock:
                    peer.received[activity_id] += 1
                self._send(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def actor_id(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def actor(self, name: str) -> dict[str, Any]:
        iri = self.actor_id(name)
        return {
            "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
            "id": iri,
            "type": "Person",
            "preferredUsername": name,
            "inbox": f"{iri}/inbox",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": f"{iri}#main-key",
                "owner": iri,
                "publicKeyPem": self.keys[name][0],
            },
        }

    def post(self, http: requests.Session, name: str, url: str, activity: dict[str, Any]) -> int:
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST",
            url,
            {"Content-Type": vocab.ACTIVITY_JSON},
            body,
            f"{self.actor_id(name)}#main-key",
            self.keys[name][1],
        )
        return http.post(url, data=body, headers=headers, timeout=60).status_code

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _activity(peer: Peer, n: int, targets: list[str]) -> tuple[str, dict[str, Any]]:
    """The n-th activity: a quarter each of Follow, Create, Update and Delete (of a Note)."""
    name = f"u{n % SENDERS}"
    actor = peer.actor_id(name)
    kind = ("Follow", "Create", "Update", "Delete")[n % 4]
    activity: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{actor}/activities/{n}",
        "type": kind,
        "actor": actor,
        "to": [vocab.PUBLIC],
    }
    note = f"{actor}/notes/{n // 4}"
    if kind == "Follow":
        activity["object"] = random.choice(targets)
    elif kind == "Delete":
        activity["object"] = note
    else:
        activity["object"] = {
            "id": note,
            "type": "Note",
            "attributedTo": actor,
            "content": f"<p>note {n}</p>",
            "to": [vocab.PUBLIC],
        }
    return name, activity


def _new_members(app: Any, base: str, targets: list[str], gets: Counter[int]) -> None:
    """Members created one after the other (as sign-ups do); each actor fetched at once."""
    state = app.extensions["coopfed"]
    http = requests.Session()
    for i in range(NEW_MEMBERS):
        with state.write_session() as s:
            member = create_member(
                s,
                state.ctx,
                username=f"fresh{i}",
                profile=ProfileData(name=f"Fresh {i}", visibility="public"),
                vocab=state.vocabulary.get(s),
            )
            iri = member.ap_id
        response = http.get(f"{base}/members/fresh{i}", headers={"Accept": vocab.ACTIVITY_JSON})
        gets[response.status_code] += 1
        if response.status_code == 200:
            assert response.json()["publicKey"]["publicKeyPem"]
            targets.append(iri)  # a target of later follows
        time.sleep(0.05)


def test_node_never_loses_what_it_accepted(nodes: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    (a,) = nodes(1)
    state = a.state
    state.settings.worker_idle_seconds = 0.05
    peer = Peer()
    targets = [f"{a.base}/groups/calls"]
    worker = Worker(state)
    worker.start_thread()
    statuses: Counter[int] = Counter()
    gets: Counter[int] = Counter()
    try:
        started = time.monotonic()
        members = threading.Thread(target=_new_members, args=(a.app, a.base, targets, gets))
        members.start()

        def send(chunk: range) -> Counter[int]:
            http = requests.Session()
            out: Counter[int] = Counter()
            for n in chunk:
                name, activity = _activity(peer, n, targets)
                out[peer.post(http, name, f"{a.base}/inbox", activity)] += 1
            return out

        with ThreadPoolExecutor(POST_THREADS) as pool:
            for result in pool.map(send, [range(i, COUNT, POST_THREADS) for i in range(4)]):
                statuses.update(result)
        members.join()
        posted = time.monotonic() - started

        # Drain: the worker keeps going until every item is processed and every row sent.
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            with state.read_session() as s:
                pending = s.scalar(
                    select(func.count()).where(InboxItem.state == "pending")
                ) + s.scalar(select(func.count()).where(Delivery.state == "pending"))
            if pending == 0:
                break
            time.sleep(0.2)
        drained = time.monotonic() - started
    finally:
        worker.stop()
        peer.close()

    print(f"\n{COUNT} activities posted in {posted:.1f} s, all processed in {drained:.1f} s")
    assert statuses == {202: COUNT}, statuses  # none refused, no 5xx
    assert gets == {200: NEW_MEMBERS}, gets

    with state.read_session() as s:
        items = s.execute(select(InboxItem.state, InboxItem.attempts, InboxItem.error)).all()
        assert len(items) == COUNT
        assert Counter((st, att) for st, att, _ in items) == {("done", 1): COUNT}, [
            i for i in items if i[0] != "done" or i[1] != 1
        ][:5]
        deliveries = s.execute(
            select(Delivery.state, OutboxActivity.ap_id).join(
                OutboxActivity, Delivery.activity_id == OutboxActivity.id
            )
        ).all()
    follows = COUNT // 4 + (1 if COUNT % 4 else 0)
    accepts = [ap_id for st, ap_id in deliveries if "#accepts/follows/" in ap_id]
    assert len(accepts) == follows  # one Accept per Follow, each processed once
    assert Counter(st for st, _ in deliveries) == {"sent": len(deliveries)}
    expected = Counter(ap_id for _, ap_id in deliveries)
    assert {k: peer.received[k] for k in expected} == expected  # each received exactly once
    assert max(peer.received.values()) == 1
    print(
        f"checked: {COUNT} items done once, {len(deliveries)} deliveries sent once, "
        f"{NEW_MEMBERS} fresh actors fetched"
    )

    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [(r.name, r.getMessage()) for r in bad[:5]]
