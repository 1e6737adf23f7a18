"""Short delivery leases, renewed while in flight: a dead worker's rows are taken over within
one lease; a live worker with slow peers keeps its rows (no second POST)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from federation.delivery import DEFAULT_LEASE, DeliveryWorker
from federation.models import Delivery
from federation.outbox import publish

from .conftest import LOCAL

SLOW_INBOX = "https://slow.test/inbox"


def activity(n: int) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{LOCAL}/activities/{n}",
        "type": "Create",
        "actor": LOCAL,
        "object": {"id": f"{LOCAL}/notes/{n}", "type": "Note", "attributedTo": LOCAL},
    }


class SlowPeer(BaseAdapter):
    """A receiving host that takes ``delay`` seconds to answer each POST (the outside world),
    then lets the fake fediverse answer and record it."""

    def __init__(self, inner: BaseAdapter, delay: float) -> None:
        super().__init__()
        self.inner, self.delay = inner, delay
        self.started = threading.Event()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.started.set()
        time.sleep(self.delay)
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        pass


def test_a_dead_workers_rows_are_taken_over_within_the_short_lease(
    session, session_factory, transport, local_actors, fedi, clock
):
    for n in range(3):
        publish(session, activity(n), actor_iri=LOCAL, targets=[f"https://h{n}.test/inbox"])
    session.commit()
    for n in range(3):
        fedi.inbox(f"https://h{n}.test/inbox", (202, {}, b""))
    dead = DeliveryWorker(session_factory, transport, local_actors, "dead", clock=clock)
    live = DeliveryWorker(session_factory, transport, local_actors, "live", clock=clock)
    assert len(dead.claim_due(10)) == 3  # claimed mid-batch, then killed: never renewed
    assert live.run_once() == 0  # its lease still holds
    clock.advance(seconds=61)  # a minute later, not ten
    assert live.run_once() == 3
    session.expire_all()
    rows = session.scalars(select(Delivery)).all()
    assert {(r.state, r.claimed_by) for r in rows} == {("sent", "live")}
    assert len(fedi.posts) == 3
    assert timedelta(seconds=60) >= DEFAULT_LEASE


def test_a_live_worker_with_slow_posts_keeps_its_lease(
    session, session_factory, transport, local_actors, fedi, clock
):
    """Each POST takes 2.5 leases; the heartbeat keeps the rows, so another worker polling
    all along never claims them, and every row is POSTed once."""
    for n in range(2):
        publish(session, activity(n), actor_iri=LOCAL, targets=[SLOW_INBOX])
        publish(session, activity(n + 10), actor_iri=LOCAL, targets=[f"{SLOW_INBOX}/{n}"])
    session.commit()
    fedi.inbox(SLOW_INBOX, (202, {}, b""))
    for n in range(2):
        fedi.inbox(f"{SLOW_INBOX}/{n}", (202, {}, b""))
    slow = SlowPeer(fedi, delay=1.5)
    transport.session.mount("https://slow.test/", slow)
    short = {"lease": timedelta(seconds=0.6), "renew_every": timedelta(seconds=0.1)}
    a = DeliveryWorker(session_factory, transport, local_actors, "a", clock=clock, **short)
    b = DeliveryWorker(session_factory, transport, local_actors, "b", clock=clock, **short)
    sent: list[int] = []
    thread = threading.Thread(target=lambda: sent.append(a.run_once()))
    thread.start()
    assert slow.started.wait(5)
    stolen: list[int] = []
    while thread.is_alive():
        stolen += b.claim_due(10)
        time.sleep(0.05)
    thread.join()
    assert stolen == [] and sent == [4]
    session.expire_all()
    assert {(r.state, r.claimed_by) for r in session.scalars(select(Delivery))} == {("sent", "a")}
    assert len(fedi.posts) == 4 and len({p.body for p in fedi.posts}) == 4


def test_a_worker_that_lost_its_lease_does_not_start_the_post(
    session, session_factory, transport, local_actors, fedi, clock
):
    """Rows whose renewal fails (taken over meanwhile) are not POSTed by the old holder."""
    for n in range(3):
        publish(session, activity(n), actor_iri=LOCAL, targets=[f"{SLOW_INBOX}/{n}"])
    session.commit()
    for n in range(3):
        fedi.inbox(f"{SLOW_INBOX}/{n}", (202, {}, b""))
    slow = SlowPeer(fedi, delay=0.8)
    transport.session.mount("https://slow.test/", slow)
    short = {"lease": timedelta(seconds=0.6), "renew_every": timedelta(seconds=0.1)}
    # One POST at a time: the other rows wait in the pool while their leases are renewed.
    a = DeliveryWorker(session_factory, transport, local_actors, "a", 1, clock=clock, **short)
    thread = threading.Thread(target=a.run_once)
    thread.start()
    assert slow.started.wait(5)
    with session_factory() as s:  # an operator (or a bug) hands the queued rows to "b"
        for row in s.scalars(select(Delivery).order_by(Delivery.id).offset(1)):
            row.claimed_by = "b"
        s.commit()
    thread.join()
    assert len(fedi.posts) == 1
    session.expire_all()
    states = [
        (r.state, r.claimed_by) for r in session.scalars(select(Delivery).order_by(Delivery.id))
    ]
    assert states == [("sent", "a"), ("pending", "b"), ("pending", "b")]
