"""Email for collaboration (issue 9): each new in-app notification is emailed to members who
opted in to its kind, in their UI language, with an unsubscribe link; and the digest job.

A listener on :data:`profiles.collab.events.NOTIFIED` queues the message in the same transaction
as the notification (:mod:`node.mail`: nothing is mailed if the change is rolled back; the
opt-in check and the unsubscribe link are node.mail's). Rendering happens later in
``force_locale(member's language)``: the texts here are lazy strings.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from federation.db import utcnow
from node.state import NodeState
from profiles.collab.events import NOTIFIED
from profiles.collab.models import Notification

log = logging.getLogger("coopfed.collab")

# In-app notification kind -> the mail kind members opt in to (profiles.mail.NOTIFICATION_KINDS).
MAIL_KINDS = {
    "response_received": "response",
    "response_status": "response_status",
    "invitation": "call_invitation",
    "message": "message",
    "call_fits": "call_match",
}

STATE_NAMES = {
    "sent": _l("sent"),
    "seen": _l("seen"),
    "shortlisted": _l("shortlisted"),
    "accepted": _l("accepted"),
    "declined": _l("declined"),
    "withdrawn": _l("withdrawn"),
}
EXCERPT = 600  # characters of a message or response quoted in the email


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _name(member: Any, fallback: str = "") -> str:
    if member is None:
        return fallback
    return str(member.name or member.username)


# size: one flat table of every notification kind's email (gettext needs each msgid literal)
def content(n: Notification, base_url: str) -> dict[str, Any] | None:
    """The ``mail/notice`` context of a notification (lazy strings), or None if it names
    nothing any more."""
    response, invitation, message = n.response, n.invitation, n.message
    call = (
        n.call or (response.call if response else None) or (invitation.call if invitation else None)
    )
    if call is None:
        return None
    title = call.title
    if n.kind == "response_received" and response is not None:
        who = response.responder_name or _name(response.responder, response.responder_actor)
        return {
            "title": _l("New response to “%(title)s”", title=title),
            "paragraphs": [
                _l("%(name)s responded to your call “%(title)s”.", name=who, title=title),
                _excerpt(response.message),
            ],
            "action_url": f"{base_url}/responses/{response.id}",
            "action_label": _l("Read the response"),
        }
    if (
        n.kind == "response_status"
        and response is not None
        and response.responder_id != n.member_id
    ):
        name = response.responder_name
        return {
            "title": _l("Response withdrawn: “%(title)s”", title=title),
            "paragraphs": [
                _l("%(name)s withdrew their response to “%(title)s”.", name=name, title=title)
            ],
            "action_url": f"{base_url}/responses/{response.id}",
            "action_label": _l("See the response"),
        }
    if n.kind == "response_status" and response is not None:
        state = STATE_NAMES.get(response.state, response.state)
        paragraphs: list[Any] = [
            _l("Your response to “%(title)s” is now: %(state)s.", title=title, state=state)
        ]
        if response.decision_message:
            paragraphs.append(_excerpt(response.decision_message))
        return {
            "title": _l("Your response to “%(title)s”: %(state)s", title=title, state=state),
            "paragraphs": paragraphs,
            "action_url": f"{base_url}/responses/{response.id}",
            "action_label": _l("See your response"),
        }
    if n.kind == "invitation" and invitation is not None and invitation.invitee_id != n.member_id:
        invitee = _name(invitation.invitee)
        return {
            "title": _l("Invitation declined: “%(title)s”", title=title),
            "paragraphs": [
                _l(
                    "%(name)s declined your invitation to respond to “%(title)s”.",
                    name=invitee,
                    title=title,
                )
            ],
            "action_url": f"{base_url}/calls/{call.public_id}",
            "action_label": _l("Open the call"),
        }
    if n.kind == "invitation" and invitation is not None:
        inviter = _name(invitation.inviter)
        return {
            "title": _l("An invitation to respond to “%(title)s”", title=title),
            "paragraphs": [
                _l("%(name)s invites you to respond to “%(title)s”.", name=inviter, title=title),
                _excerpt(invitation.message),
            ],
            "action_url": f"{base_url}/invitations/{invitation.id}",
            "action_label": _l("See the invitation"),
        }
    if n.kind == "message" and message is not None:
        target = (
            f"{base_url}/responses/{response.id}"
            if response is not None
            else f"{base_url}/invitations/{invitation.id if invitation else 0}"
        )
        return {
            "title": _l("New message about “%(title)s”", title=title),
            "paragraphs": [
                _l("New message about “%(title)s”.", title=title),
                _excerpt(message.body),
            ],
            "action_url": target + "#messages",
            "action_label": _l("Read and answer"),
        }
    if n.kind == "call_fits":
        return {
            "title": _l("A new call fits your profile: “%(title)s”", title=title),
            "paragraphs": [_l("A new call fits your profile: “%(title)s”.", title=title)],
            "action_url": f"{base_url}/calls/{call.public_id}",
            "action_label": _l("Open the call"),
        }
    return None


class CollabMail:
    """The listener and the digest job of one node."""

    def __init__(self, state: NodeState) -> None:
        self.state = state

    def on_event(self, session: Session, name: str, obj: Any) -> None:
        if name != NOTIFIED or not isinstance(obj, Notification):
            return
        try:
            self.email(session, obj)
        except Exception:  # never let an email problem undo the collaboration change
            log.exception("could not queue the email of notification %s", obj.id)

    def email(self, session: Session, n: Notification) -> bool:
        member = n.member
        kind = MAIL_KINDS.get(n.kind)
        if member is None or kind is None or not member.email:
            return False
        values = content(n, self.state.ctx.base_url)
        if values is None:
            return False
        values["paragraphs"] = [p for p in values["paragraphs"] if p]
        sent = self.state.mail_service().send(session, member, "notice", kind=kind, **values)
        if sent is not None:
            n.emailed_at = utcnow()
        return sent is not None


def install(app: Flask, state: NodeState) -> CollabMail:
    """Listen to new notifications (emails) and register the digest job."""
    from node import digest

    service = CollabMail(state)
    state.listeners.append(service.on_event)
    digest.install(app, state)
    return service
