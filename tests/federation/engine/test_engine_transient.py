"""Transient vs permanent failures in inbox processing (issue 14), and a Page without an author
refused at receive time."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from federation import transient, vocab
from federation.db import utcnow
from federation.errors import BadRequest, Forbidden, RemoteRefused, TransportError
from federation.inbox import HandlerRegistry, process_pending, summary
from federation.models import InboxItem

from .conftest import FakeFediverse, Remote, post_signed

BOB = "https://remote.test/users/bob"


@pytest.fixture
def bob(remote_factory: Any, fedi: FakeFediverse) -> Remote:
    r = remote_factory(BOB, key=2)
    fedi.serve_actor(r)
    return r


def create_note(n: int) -> dict[str, Any]:
    return {
        "@context": vocab.AS_CONTEXT,
        "id": f"{BOB}/creates/{n}",
        "type": "Create",
        "actor": BOB,
        "object": {"id": f"{BOB}/notes/{n}", "type": "Note", "attributedTo": BOB},
    }


def locked() -> OperationalError:
    return OperationalError("UPDATE x", {}, Exception("database is locked"))


def test_classify() -> None:
    assert transient.classify(locked()) == "transient"
    assert transient.classify(TransportError("timed out")) == "transient"
    assert transient.classify(RemoteRefused("busy", remote_status=503)) == "transient"
    assert transient.classify(RemoteRefused("slow down", remote_status=429)) == "transient"
    assert transient.classify(requests.ConnectTimeout()) == "transient"
    assert transient.classify(RemoteRefused("no", remote_status=403)) == "permanent"
    assert transient.classify(Forbidden("no")) == "permanent"
    assert transient.classify(BadRequest("bad")) == "permanent"
    assert transient.classify(OperationalError("x", {}, Exception("no such table"))) == "error"
    assert transient.classify(KeyError("bug")) == "error"


def test_a_refusal_is_recorded_once_with_its_reason(
    session, actors, policy, bob, local_actors, caplog
) -> None:
    calls = []

    def refuse(session: Any, activity: Any, ctx: Any) -> None:
        calls.append(activity.id)
        raise Forbidden("a call is created or updated by its author only")

    registry = HandlerRegistry(local_actors)
    registry.register("Create", "Note", refuse)
    assert post_signed(session, actors, policy, bob, create_note(1))[0] == 202
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert process_pending(session, registry, actors=actors) == 0
    item = session.scalar(select(InboxItem))
    assert (item.state, item.attempts) == ("refused", 0)
    assert item.error == "Forbidden: a call is created or updated by its author only"
    assert calls == [f"{BOB}/creates/1"]  # never retried
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback
    assert summary(session)["refused"] == [
        ("Forbidden: a call is created or updated by its author only", 1)
    ]


def test_lock_contention_uses_no_attempt_and_is_retried_after_a_pause(
    session, actors, policy, bob, local_actors, caplog
) -> None:
    failures = [locked(), locked(), locked(), locked()]  # more than MAX_ATTEMPTS
    done = []

    def busy_then_fine(session: Any, activity: Any, ctx: Any) -> None:
        if failures:
            raise failures.pop()
        done.append(activity.id)

    registry = HandlerRegistry(local_actors)
    registry.register("Create", "Note", busy_then_fine)
    assert post_signed(session, actors, policy, bob, create_note(2))[0] == 202
    clock = [utcnow()]
    with caplog.at_level(logging.INFO):
        for _ in range(4):
            assert process_pending(session, registry, actors=actors, now=lambda: clock[0]) == 0
            item = session.scalar(select(InboxItem))
            assert (item.state, item.attempts) == ("pending", 0)
            assert item.retry_at is not None and item.retry_at > clock[0]
            # Not before retry_at: no hot loop.
            assert process_pending(session, registry, actors=actors, now=lambda: clock[0]) == 0
            clock[0] = item.retry_at + timedelta(milliseconds=1)
        assert process_pending(session, registry, actors=actors, now=lambda: clock[0]) == 1
    item = session.scalar(select(InboxItem))
    assert (item.state, item.attempts, item.error) == ("done", 1, None)
    assert done == [f"{BOB}/creates/2"]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_bug_still_uses_attempts(session, actors, policy, bob, local_actors, caplog) -> None:
    def bug(session: Any, activity: Any, ctx: Any) -> None:
        raise KeyError("oops")

    registry = HandlerRegistry(local_actors)
    registry.register("Create", "Note", bug)
    assert post_signed(session, actors, policy, bob, create_note(3))[0] == 202
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            process_pending(session, registry, actors=actors)
    item = session.scalar(select(InboxItem))
    assert (item.state, item.attempts) == ("failed", 3)


def test_a_page_without_author_is_refused_at_receive_time(session, actors, policy, bob) -> None:
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{BOB}/creates/page",
        "type": "Create",
        "actor": BOB,
        "object": {"id": f"{BOB}/calls/1", "type": "Page", "name": "Sound engineer wanted"},
    }
    status, message = post_signed(session, actors, policy, bob, activity)
    assert status == 400
    assert "attributedTo" in message
    assert session.scalar(select(InboxItem)) is None  # nothing stored, nothing retried
    # An Update of the actor itself needs no author.
    update = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{BOB}/updates/1",
        "type": "Update",
        "actor": BOB,
        "object": {"id": BOB, "type": "Person", "name": "Bob"},
    }
    assert post_signed(session, actors, policy, bob, update)[0] == 202
