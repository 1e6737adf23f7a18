"""Collaboration on the wire, outbound: a collab :class:`~profiles.collab.events.Change` made by
a local member becomes one activity addressed to the other party only (FEDERATION.md,
"Collaboration"). Queued in the caller's transaction through the durable outbox like every other
activity; never Public, never a followers collection, never listed in an outbox collection
(those list public Creates of Pages only).

Shapes (research/collaboration.md): respond = ``Offer`` (FEP-0837, as Mitra), decisions =
``Read`` / ``TentativeAccept`` / ``Accept`` / ``Reject`` of the Offer, withdraw = ``Undo``,
invitations = ``Invite`` / ``Reject``, messages = ``Create(Note)`` shaped as a Mastodon direct
message (one recipient, tagged as a Mention), the accepted team = ``Update`` of the call's
``#team`` Collection. A fediverse responder's server ignores Offer decisions (Mastodon has no
handler for Accept/Reject of an Offer): they get the decision as a direct Note instead.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import vocab
from federation.iri import host_of
from federation.models import RemoteActor
from profiles.ap.addressing import new_id
from profiles.ap.context import COOPFED_NS
from profiles.ap.keys import KeyStore
from profiles.ap.publishing import send
from profiles.collab import text
from profiles.collab.events import COLLAB, Change
from profiles.collab.models import Invitation, Message, Response
from profiles.collab.responses import accepted_responses, team_entries
from profiles.models import Member, Partnership

log = logging.getLogger(__name__)

# Our collaboration documents: AS2 plus the coop namespace and Mastodon's ``conversation``.
COLLAB_CONTEXT: list[Any] = [
    vocab.AS_CONTEXT,
    {
        "coopfed": COOPFED_NS,
        "ostatus": "http://ostatus.org#",
        "conversation": "ostatus:conversation",
    },
]
_DECISION_TYPES = {
    "read": "Read",
    "shortlist": "TentativeAccept",
    "accept": "Accept",
    "decline": "Reject",
}
_FEDIVERSE_WORDING = {
    "accept": "Your response to “{title}” was accepted.",
    "decline": "Your response to “{title}” was declined.",
}


def iso(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def inbox_of(session: Session, actor: str) -> str | None:
    """Where ``actor`` receives: its cached actor's (shared) inbox, else its coop's shared
    inbox (a partner we exchange with already; coopfed nodes have one shared inbox path)."""
    cached = session.scalar(
        select(RemoteActor).where(RemoteActor.ap_id == actor, RemoteActor.gone.is_(False))
    )
    if cached is not None:
        return cached.shared_inbox or cached.inbox
    partner = session.scalar(
        select(Partnership).where(
            Partnership.domain == host_of(actor), Partnership.state == "active"
        )
    )
    return partner.inbox if partner is not None and partner.inbox else None


def handle_of(session: Session, actor: str) -> str:
    member = session.scalar(select(Member).where(Member.ap_id == actor))
    if member is not None:
        return f"@{member.username}@{member.node}"
    cached = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == actor))
    name = ""
    if cached is not None:
        name = str(vocab.parse_json(cached.raw.encode()).get("preferredUsername") or "")
    return f"@{name or actor.rstrip('/').rsplit('/', 1)[-1]}@{host_of(actor)}"


class CollabPublisher:
    """The listener of collab changes of one node (:meth:`on_event`)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def on_event(self, session: Session, event: str, obj: Any) -> None:
        if event != COLLAB or not isinstance(obj, Change) or obj.remote:
            return
        if obj.kind == "offer" and obj.response is not None:
            self._offer(session, obj.response)
        elif obj.kind in _DECISION_TYPES and obj.response is not None:
            self._decision(session, obj.kind, obj.response)
        elif obj.kind == "withdraw" and obj.response is not None:
            self._withdraw(session, obj.response)
        elif obj.kind == "team" and obj.response is not None:
            self._team(session, obj.response)
        elif obj.kind == "invite" and obj.invitation is not None:
            self._invite(session, obj.invitation)
        elif obj.kind == "invite_declined" and obj.invitation is not None:
            self._invite_declined(session, obj.invitation)
        elif obj.kind == "invite_cancelled" and obj.invitation is not None:
            self._invite_cancelled(session, obj.invitation)
        elif obj.kind == "message" and obj.message is not None:
            self._message(session, obj.message)

    def _local(self, session: Session, actor: str) -> Member | None:
        return session.scalar(select(Member).where(Member.ap_id == actor, Member.local))

    def _send(self, session: Session, activity: dict[str, Any], to: str) -> None:
        """Queue ``activity`` by its (local) actor to the one recipient ``to``."""
        sender = self._local(session, activity["actor"])
        if sender is None or self._local(session, to) is not None:
            return  # both parties on this node: nothing travels
        inbox = inbox_of(session, to)
        if inbox is None:
            log.warning("no inbox known for %s: %s not sent", to, activity["type"])
            return
        self.keys.ensure_member_key(session, sender)
        send(session, self.keys, activity, actor_iri=sender.ap_id, targets=[inbox])

    def offer(self, response: Response) -> dict[str, Any]:
        """The Offer of a response (its id is the response's ``ap_id``)."""
        call = response.call
        doc: dict[str, Any] = {
            "@context": COLLAB_CONTEXT,
            "id": response.ap_id,
            "type": "Offer",
            "actor": response.responder_actor,
            "to": [call.author.ap_id],
            "cc": [],
            "target": call.ap_id,
            "object": {
                "type": "Agreement",
                "stipulates": {"type": "Commitment", "satisfies": f"{call.ap_id}#primary"},
            },
            "content": text.text_to_html(response.message),
            "coopfed:skills": list(response.skills or []),
            "coopfed:available": bool(response.available),
            "coopfed:availableNote": response.available_note,
            "coopfed:rate": response.rate,
            "coopfed:teamContact": response.team_contact,
            "attachment": [{"type": "Link", "href": u} for u in response.links or []],
            "published": iso(response.created_at),
        }
        if response.invitation is not None:
            doc["coopfed:invitation"] = response.invitation.ap_id
        return doc

    def _offer(self, session: Session, response: Response) -> None:
        if not response.call.local:
            self._send(session, self.offer(response), response.call.author.ap_id)

    def _decision(self, session: Session, kind: str, response: Response) -> None:
        call = response.call
        author = call.author.ap_id
        if response.origin == "fediverse":
            self._fediverse_decision(session, kind, response)
            return
        activity: dict[str, Any] = {
            "@context": COLLAB_CONTEXT,
            "id": new_id(author, _DECISION_TYPES[kind].lower() + "s"),
            "type": _DECISION_TYPES[kind],
            "actor": author,
            "object": {"id": response.ap_id, "type": "Offer"},
            "to": [response.responder_actor],
            "cc": [],
            "published": iso(response.state_at),
        }
        if kind in ("accept", "decline", "shortlist") and response.decision_message:
            activity["content"] = text.text_to_html(response.decision_message)
        if kind == "accept":
            activity["result"] = {
                "type": "Agreement",
                "id": f"{call.ap_id}/agreements/{uuid.uuid4()}",
                "attributedTo": author,
            }
        self._send(session, activity, response.responder_actor)

    def _fediverse_decision(self, session: Session, kind: str, response: Response) -> None:
        """Mastodon ignores Accept/Reject of an Offer: the decision goes as a direct Note."""
        if kind not in _FEDIVERSE_WORDING:
            return
        body = _FEDIVERSE_WORDING[kind].format(title=response.call.title)
        if response.decision_message:
            body += "\n\n" + response.decision_message
        url = response.call.url or response.call.ap_id
        body += "\n\n" + url
        message = Message(
            ap_id=f"{response.call.ap_id}/messages/{uuid.uuid4()}",
            response=response,
            sender_actor=response.call.author.ap_id,
            recipient_actor=response.responder_actor,
            body=body,
            in_reply_to=response.ap_id,
        )
        session.add(message)
        session.flush()
        self._message(session, message)

    def _withdraw(self, session: Session, response: Response) -> None:
        if response.call.local:
            return
        activity = {
            "@context": COLLAB_CONTEXT,
            "id": f"{response.ap_id}#undo/{uuid.uuid4().hex}",
            "type": "Undo",
            "actor": response.responder_actor,
            "object": {"id": response.ap_id, "type": "Offer", "actor": response.responder_actor},
            "to": [response.call.author.ap_id],
            "cc": [],
        }
        self._send(session, activity, response.call.author.ap_id)

    def team_document(self, session: Session, response: Response) -> dict[str, Any]:
        call = response.call
        entries = team_entries(call, accepted_responses(session, call))
        return {
            "type": "Collection",
            "id": f"{call.ap_id}#team",
            "attributedTo": call.author.ap_id,
            "totalItems": len(entries),
            "items": [
                {
                    "type": "Object",
                    "coopfed:actor": e.actor,
                    "name": e.name,
                    "url": e.url,
                    "coopfed:contact": e.contact,
                    "coopfed:role": e.role,
                }
                for e in entries
            ],
        }

    def _team(self, session: Session, response: Response) -> None:
        """Each accepted responder elsewhere gets the team, addressed to them alone; one who
        left the team (declined after accepted) gets an empty team."""
        call = response.call
        if not call.local:
            return
        doc = self.team_document(session, response)
        recipients = [r.responder_actor for r in accepted_responses(session, call)]
        if response.state != "accepted":
            recipients.append(response.responder_actor)
        for actor in dict.fromkeys(recipients):
            mine = (
                doc
                if actor != response.responder_actor or response.state == "accepted"
                else {
                    **doc,
                    "totalItems": 0,
                    "items": [],
                }
            )
            activity = {
                "@context": COLLAB_CONTEXT,
                "id": new_id(call.ap_id, "team"),
                "type": "Update",
                "actor": call.author.ap_id,
                "object": mine,
                "to": [actor],
                "cc": [],
            }
            self._send(session, activity, actor)

    def _invite(self, session: Session, invitation: Invitation) -> None:
        invitee = invitation.invitee.ap_id
        activity: dict[str, Any] = {
            "@context": COLLAB_CONTEXT,
            "id": invitation.ap_id,
            "type": "Invite",
            "actor": invitation.inviter.ap_id,
            "object": invitation.call.ap_id,
            "target": invitee,
            "to": [invitee],
            "cc": [],
            "published": iso(invitation.created_at),
        }
        if invitation.message:
            activity["content"] = text.text_to_html(invitation.message)
        self._send(session, activity, invitee)

    def _invite_declined(self, session: Session, invitation: Invitation) -> None:
        invitee = invitation.invitee.ap_id
        activity = {
            "@context": COLLAB_CONTEXT,
            "id": new_id(invitee, "rejects"),
            "type": "Reject",
            "actor": invitee,
            "object": {"id": invitation.ap_id, "type": "Invite"},
            "to": [invitation.inviter.ap_id],
            "cc": [],
        }
        self._send(session, activity, invitation.inviter.ap_id)

    def _invite_cancelled(self, session: Session, invitation: Invitation) -> None:
        inviter = invitation.inviter.ap_id
        activity = {
            "@context": COLLAB_CONTEXT,
            "id": f"{invitation.ap_id}#undo/{uuid.uuid4().hex}",
            "type": "Undo",
            "actor": inviter,
            "object": {"id": invitation.ap_id, "type": "Invite", "actor": inviter},
            "to": [invitation.invitee.ap_id],
            "cc": [],
        }
        self._send(session, activity, invitation.invitee.ap_id)

    def note(self, session: Session, message: Message) -> dict[str, Any]:
        """The direct Note of a message: one recipient, tagged, a leading @mention."""
        recipient = message.recipient_actor
        handle = handle_of(session, recipient)
        thread = message.response or message.invitation
        assert thread is not None
        mention = (
            f'<p><span class="h-card"><a href="{recipient}" class="u-url mention">'
            f"@<span>{handle.split('@')[1]}</span></a></span></p>"
        )
        return {
            "id": message.ap_id,
            "type": "Note",
            "attributedTo": message.sender_actor,
            "to": [recipient],
            "cc": [],
            "content": mention + text.text_to_html(message.body),
            "tag": [{"type": "Mention", "href": recipient, "name": handle}],
            "context": thread.ap_id,
            "conversation": thread.ap_id,
            "inReplyTo": message.in_reply_to,
            "published": iso(message.created_at),
        }

    def _message(self, session: Session, message: Message) -> None:
        note = self.note(session, message)
        activity = {
            "@context": COLLAB_CONTEXT,
            "id": f"{message.ap_id}#create",
            "type": "Create",
            "actor": message.sender_actor,
            "to": [message.recipient_actor],
            "cc": [],
            "object": note,
            "published": note["published"],
        }
        self._send(session, activity, message.recipient_actor)


__all__ = ["COLLAB_CONTEXT", "CollabPublisher", "handle_of", "inbox_of"]
