"""A delivery worker killed with SIGKILL mid fan-out loses nothing and duplicates nothing.

The sender's outbox (real ``outbox.publish``) fans 6 activities out to 4 receivers. Each
receiver is a real coopfed inbox (``federation.inbox.receive``, its own database, signature
verified against the sender's actor document fetched over HTTP) served by werkzeug on
127.0.0.1; it answers slowly so the kill lands while POSTs are in flight. A worker subprocess
(the real ``DeliveryWorker`` in a loop, 3 s lease) is SIGKILLed once some POSTs arrived; a
second worker subprocess then finishes the queue, re-claiming the dead worker's rows when their
lease expires. Every (activity, inbox) pair must have arrived, and every receiver must hold
exactly one inbox row per activity (at-least-once delivery + dedupe = processed once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation import vocab

REPO = Path(__file__).resolve().parents[3]
N_RECEIVERS = 4
N_ACTIVITIES = 6
RECEIVER_DELAY = 0.15

WORKER = """
import os, sys, time
from datetime import timedelta
sys.path.insert(0, os.environ["SYS_REPO"])
from federation.delivery import DeliveryWorker
from federation.transport import Transport
from node import db as node_db

url, schema = os.environ["SYS_DB_URL"], os.environ["SYS_DB_SCHEMA"]
options = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
engine = node_db.make_engine(url, **options)
key = (os.environ["SYS_KEY_ID"], os.environ["SYS_KEY_PEM"])
actor = os.environ["SYS_ACTOR"]
# Timeouts short enough that a POST fits in the short lease (the worker never starts a POST it
# could not record before its lease ends: budget = 2 x transport deadline).
transport = Transport("crash-test", dev_mode=True, timeout=(0.5, 0.5))
worker = DeliveryWorker(
    node_db.make_sessionmaker(engine), transport, lambda a: key if a == actor else None,
    os.environ["SYS_WORKER_ID"], concurrency=2, batch_size=4, lease=timedelta(seconds=5),
)
print("ready", flush=True)
deadline = time.monotonic() + 25
while time.monotonic() < deadline:
    if worker.run_once() == 0:
        time.sleep(0.1)
"""


def make_receiver(db, transport):
    """A WSGI inbox: verifies, dedupes and stores like every coopfed inbox; logs each POST."""
    from federation import inbox
    from federation.actors import RemoteActors
    from federation.policy import DomainPolicy
    from node import db as node_db

    sessions = node_db.make_sessionmaker(db.engine)
    posts: list[str] = []
    lock = threading.Lock()  # SQLite: one writer per process, as node.ap.service does

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        url = f"http://{environ['HTTP_HOST']}{environ['PATH_INFO']}"
        time.sleep(RECEIVER_DELAY)  # slow enough that the kill lands mid fan-out
        with lock, sessions() as session:
            status, message = inbox.receive(
                session,
                method=environ["REQUEST_METHOD"],
                url=url,
                headers=headers,
                body=body,
                actors=RemoteActors(session, transport),
                policy=DomainPolicy(session),
            )
        if status == 202:
            posts.append(vocab.parse_json(body)["id"])
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [message.encode()]

    return app, posts


def start_worker(db, remote_actor, worker_id: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **db.env("SYS_DB"),
        "SYS_REPO": str(REPO),
        "SYS_KEY_ID": remote_actor.key_id,
        "SYS_KEY_PEM": remote_actor.private_pem,
        "SYS_ACTOR": remote_actor.actor,
        "SYS_WORKER_ID": worker_id,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkilled_worker_redelivers_exactly_once(make_db, serve_wsgi, remote_actor):
    from federation import outbox
    from federation.models import Delivery, Follower, InboxItem
    from federation.transport import Transport
    from node import db as node_db

    transport = Transport("crash-test-receiver", dev_mode=True)
    receivers = []
    for i in range(N_RECEIVERS):
        db = make_db(f"receiver{i}")
        app, posts = make_receiver(db, transport)
        base, _server = serve_wsgi(app)
        receivers.append((f"{base}/inbox", db, posts))

    sender = make_db("sender")
    sessions = node_db.make_sessionmaker(sender.engine)
    actor = remote_actor.actor
    with sessions() as s, s.begin():
        for i, (inbox_url, _db, _posts) in enumerate(receivers):
            s.add(
                Follower(
                    local_actor=actor,
                    follower=inbox_url.replace("/inbox", f"/users/u{i}"),
                    follower_inbox=inbox_url,
                    accepted=True,
                )
            )
    activity_ids = []
    with sessions() as s, s.begin():
        for n in range(N_ACTIVITIES):
            note = f"{remote_actor.base}/notes/{n}"
            activity = {
                "@context": vocab.AS_CONTEXT,
                "id": f"{note}/activity",
                "type": "Create",
                "actor": actor,
                "object": {"id": note, "type": "Note", "attributedTo": actor, "content": "hi"},
                "to": [vocab.PUBLIC],
            }
            outbox.publish(s, activity, actor_iri=actor, targets="followers")
            activity_ids.append(activity["id"])
    total = N_RECEIVERS * N_ACTIVITIES

    def arrived() -> int:
        return sum(len(posts) for _u, _db, posts in receivers)

    def counts() -> tuple[int, int]:
        """(pending rows, pending rows leased by worker-1)."""
        with sessions() as s:
            left = s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state == "pending")
            )
            held = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.state == "pending",
                    Delivery.claimed_by == "worker-1",
                    Delivery.claimed_until.is_not(None),
                )
            )
        return left or 0, held or 0

    first = start_worker(sender, remote_actor, "worker-1")
    try:
        wait_until(lambda: arrived() >= 4, 15, "the first deliveries")

        def frozen_holding_a_lease() -> bool:
            # Freeze the worker, then look: kill it only while it holds leased rows (between
            # two batches it holds none, and a busy machine makes that window wide).
            os.kill(first.pid, signal.SIGSTOP)
            if counts()[1] > 0:
                return True
            os.kill(first.pid, signal.SIGCONT)
            return False

        wait_until(frozen_holding_a_lease, 15, "the worker to hold a lease")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        stop(first)
    left, held = counts()
    assert 0 < left < total, "the kill must land mid fan-out"
    # The dead worker still holds leased rows: only the lease expiry frees them.
    assert held > 0

    second = start_worker(sender, remote_actor, "worker-2")
    try:

        def all_sent() -> bool:
            with sessions() as s:
                return (
                    s.scalar(
                        select(func.count()).select_from(Delivery).where(Delivery.state == "sent")
                    )
                    == total
                )

        wait_until(all_sent, 20, "every delivery to be sent")
    finally:
        stop(second)
        transport.close()

    with sessions() as s:
        states = Counter(s.scalars(select(Delivery.state)).all())
    assert states == {"sent": total}
    for inbox_url, db, posts in receivers:
        counts = Counter(posts)
        # Arrived at least once (a POST whose outcome the dead worker never recorded is sent
        # again: at-least-once) ...
        assert set(counts) == set(activity_ids), inbox_url
        with node_db.make_sessionmaker(db.engine)() as s:
            rows = Counter(s.scalars(select(InboxItem.activity_id)).all())
        # ... and processed once: the inbox's dedupe leaves one row per activity.
        assert rows == Counter(activity_ids), inbox_url
    print(
        f"pending after kill: {left} (held by the dead worker: {held}); "
        f"POSTs received: {arrived()} for {total} deliveries"
    )
