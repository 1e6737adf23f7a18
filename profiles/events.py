"""Domain events, delivered synchronously inside the caller's transaction.

Federation publishing (transactional outbox) and the match index listen here, so a profile
edit, its Update activity and its index refresh are one unit: nothing is published that was
rolled back. Listeners are registered per node (two nodes may share a process in tests), keyed
by the Session's ``info['coopfed_node']``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Listener = Callable[[Session, str, Any], None]

# Event names
MEMBER_SAVED = "member_saved"
# A hint, with a list of new local members (flushed) whose MEMBER_SAVED follow in the same
# transaction: a listener may read at once what it would otherwise query per member (a bulk
# import sends one per batch). Listeners that need nothing ignore it.
MEMBERS_ADDED = "members_added"
MEMBER_DELETED = "member_deleted"
CALL_SAVED = "call_saved"
CALL_DELETED = "call_deleted"


def listeners(session: Session) -> list[Listener]:
    found: list[Listener] = session.info.get("coopfed_listeners", [])
    return found


def emit(session: Session, event: str, obj: Any) -> None:
    for listener in listeners(session):
        listener(session, event, obj)
