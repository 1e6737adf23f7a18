"""Collaboration domain events (delivered through :func:`profiles.events.emit`).

``COLLAB`` carries a :class:`Change`: what happened to a response, an invitation or a thread.
The federation publisher (profiles/ap/collab.py) sends the matching activity for changes made
by a local member (``remote=False``); changes applied from a received activity
(``remote=True``) are never sent again. ``NOTIFIED`` carries a new
:class:`~profiles.collab.models.Notification` (for the e-mail side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from profiles import events
from profiles.collab.models import Invitation, Message, Notification, Response

COLLAB = "collab_change"
NOTIFIED = "notification_created"

ChangeKind = Literal[
    "offer",  # a new response
    "read",  # the author opened it (sent -> seen)
    "shortlist",
    "accept",
    "decline",
    "withdraw",
    "team",  # the accepted team of a call changed (author's node)
    "invite",
    "invite_declined",
    "invite_cancelled",
    "message",
]


@dataclass
class Change:
    kind: ChangeKind
    response: Response | None = None
    invitation: Invitation | None = None
    message: Message | None = None
    remote: bool = False  # applied from a received activity: nothing to send


def emit_change(session: Session, change: Change) -> None:
    events.emit(session, COLLAB, change)


def emit_notified(session: Session, notification: Notification) -> None:
    events.emit(session, NOTIFIED, notification)


__all__ = ["COLLAB", "NOTIFIED", "Change", "ChangeKind", "emit_change", "emit_notified"]
