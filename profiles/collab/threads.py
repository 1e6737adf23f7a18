"""Invitations and the private message threads of responses and invitations. Callers commit.

A thread has exactly two parties: the call's author and the responder (a response), or the
inviter and the invitee (an invitation). Nobody else reads or writes it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from federation.db import utcnow
from profiles.calls import can_view
from profiles.collab import text
from profiles.collab.events import Change, emit_change
from profiles.collab.models import Invitation, Message, Response
from profiles.collab.notifications import notify
from profiles.collab.responses import live_response, site_base
from profiles.errors import Conflict, NotFound, PermissionDenied, ValidationError
from profiles.models import Call, Member
from profiles.visibility import Visibility, federated, may_edit_call

Thread = Response | Invitation


def invite(
    session: Session, call: Call, inviter: Member, invitee: Member, message: str = ""
) -> Invitation:
    """The author (or an admin) of an open call of ours invites ``invitee`` (a member here or
    at a partner) to respond. A pending invitation of the same person is returned as is.

    403 for anyone but the author/admin; 409 if the call is not open, the invitee is its
    author or already responded; 404 if the invitee could not see the call."""
    if not may_edit_call(call, inviter):
        raise PermissionDenied("only the call's author invites")
    if call.status != "open":
        raise Conflict("the call is not open")
    if invitee.id == call.author_id:
        raise Conflict("the author cannot be invited")
    visible = (
        can_view(call, invitee)
        if invitee.local
        else federated(call.visibility) and Visibility.parse(invitee.visibility) != "coop"
    )
    if not visible:
        raise NotFound("the invitee cannot see this call")
    if live_response(session, call, invitee.ap_id) is not None:
        raise Conflict("already responded")
    if len(message or "") > text.MESSAGE_MAX:
        raise ValidationError({"message": f"at most {text.MESSAGE_MAX} characters"})
    found = session.scalar(
        select(Invitation).where(
            Invitation.call_id == call.id,
            Invitation.invitee_id == invitee.id,
            Invitation.state == "pending",
        )
    )
    if found is not None:
        return found
    row = Invitation(
        ap_id=f"{call.ap_id}/invitations/{uuid.uuid4()}",
        call=call,
        inviter=inviter if inviter.id == call.author_id else call.author,
        invitee=invitee,
        message=text.clean_text(message, text.MESSAGE_MAX),
        state="pending",
    )
    session.add(row)
    session.flush()
    notify(session, invitee, "invitation", invitation=row)
    emit_change(session, Change("invite", invitation=row))
    return row


def decline_invitation(
    session: Session, invitation: Invitation, invitee: Member, message: str = ""
) -> Invitation:
    """The invitee declines (403 for anyone else; a no-op unless pending)."""
    if not invitee.local or invitation.invitee_id != invitee.id:
        raise PermissionDenied("only the invitee declines")
    if invitation.state != "pending":
        return invitation
    invitation.state = "declined"
    session.flush()
    notify(session, invitation.inviter, "invitation", invitation=invitation)
    emit_change(session, Change("invite_declined", invitation=invitation))
    return invitation


def cancel_invitation(session: Session, invitation: Invitation, author: Member) -> Invitation:
    """The call's author (or an admin) withdraws a pending invitation (403 for anyone else;
    a no-op unless pending). The invitee's node is told with ``Undo(Invite)``."""
    if not may_edit_call(invitation.call, author):
        raise PermissionDenied("only the call's author")
    if invitation.state != "pending":
        return invitation
    invitation.state = "cancelled"
    session.flush()
    emit_change(session, Change("invite_cancelled", invitation=invitation))
    return invitation


def invitations_of(session: Session, member: Member) -> list[Invitation]:
    """Invitations ``member`` received, newest first."""
    rows = session.scalars(
        select(Invitation)
        .where(Invitation.invitee_id == member.id)
        .options(selectinload(Invitation.call), selectinload(Invitation.inviter))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).all()
    return list(rows)


def invitations_for_call(session: Session, call: Call, viewer: Member) -> list[Invitation]:
    """Invitations of a call of ours, for its author (or an admin) only (403)."""
    if not may_edit_call(call, viewer):
        raise PermissionDenied("only the call's author")
    rows = session.scalars(
        select(Invitation)
        .where(Invitation.call_id == call.id)
        .options(selectinload(Invitation.invitee))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).all()
    return list(rows)


def get_invitation(session: Session, invitation_id: int, viewer: Member | None) -> Invitation:
    """An invitation its two parties (or an admin of the call's node) may open; else 404."""
    row = session.get(Invitation, invitation_id)
    if row is None or viewer is None or not viewer.local:
        raise NotFound("no such invitation")
    if viewer.id not in (row.inviter_id, row.invitee_id) and not may_edit_call(row.call, viewer):
        raise NotFound("no such invitation")
    return row


# -- threads ------------------------------------------------------------------------------------


def parties(thread: Thread) -> tuple[str, str]:
    """The two actor IRIs of a thread: (author or inviter, responder or invitee)."""
    if isinstance(thread, Response):
        return thread.call.author.ap_id, thread.responder_actor
    return thread.inviter.ap_id, thread.invitee.ap_id


def _thread_filter(thread: Thread) -> object:
    if isinstance(thread, Response):
        return Message.response_id == thread.id
    return Message.invitation_id == thread.id


def last_message(session: Session, thread: Thread) -> Message | None:
    return session.scalar(
        select(Message)
        .where(_thread_filter(thread))  # type: ignore[arg-type]
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


def send_message(session: Session, thread: Thread, sender: Member, body: str) -> Message:
    """``sender`` (a local party of ``thread``) writes to the other party.

    403 for anyone else; 409 on a withdrawn response; 422 for an empty body or one over
    :data:`text.MESSAGE_MAX` characters. The body is stored as plain text."""
    a, b = parties(thread)
    if not sender.local or sender.ap_id not in (a, b):
        raise PermissionDenied("only the two parties write in a thread")
    if isinstance(thread, Response) and thread.state == "withdrawn":
        raise Conflict("the response was withdrawn")
    if len(body or "") > text.MESSAGE_MAX:
        raise ValidationError({"body": f"at most {text.MESSAGE_MAX} characters"})
    clean = text.clean_text(body, text.MESSAGE_MAX)
    if not clean:
        raise ValidationError({"body": "empty message"})
    previous = last_message(session, thread)
    row = Message(
        ap_id=f"{site_base(sender)}/messages/{uuid.uuid4()}",
        response=thread if isinstance(thread, Response) else None,
        invitation=thread if isinstance(thread, Invitation) else None,
        sender_actor=sender.ap_id,
        recipient_actor=b if sender.ap_id == a else a,
        body=clean,
        in_reply_to=previous.ap_id if previous is not None else _first_parent(thread),
    )
    session.add(row)
    session.flush()
    _notify_recipient(session, thread, row)
    emit_change(session, Change("message", message=row))
    return row


def _first_parent(thread: Thread) -> str | None:
    """A fediverse responder's first Note: what the first message replies to (Mastodon then
    shows the conversation as one thread)."""
    if isinstance(thread, Response) and thread.origin == "fediverse":
        return thread.ap_id
    return None


def _notify_recipient(session: Session, thread: Thread, message: Message) -> None:
    recipient = session.scalar(
        select(Member).where(Member.ap_id == message.recipient_actor, Member.local)
    )
    if isinstance(thread, Response):
        notify(session, recipient, "message", response=thread, message=message)
    else:
        notify(session, recipient, "message", invitation=thread, message=message)


def thread_messages(session: Session, thread: Thread, viewer: Member) -> list[Message]:
    """The messages of ``thread``, oldest first, for its parties only (404 for others)."""
    a, b = parties(thread)
    if not viewer.local or viewer.ap_id not in (a, b):
        raise NotFound("no such thread")
    rows = session.scalars(
        select(Message)
        .where(_thread_filter(thread))  # type: ignore[arg-type]
        .order_by(Message.created_at, Message.id)
    ).all()
    return list(rows)


def mark_thread_read(session: Session, thread: Thread, viewer: Member) -> int:
    """Mark the messages ``viewer`` received in ``thread`` read; returns how many."""
    result = session.execute(
        update(Message)
        .where(
            _thread_filter(thread),  # type: ignore[arg-type]
            Message.recipient_actor == viewer.ap_id,
            Message.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def store_received_message(
    session: Session,
    thread: Thread,
    *,
    ap_id: str,
    sender: str,
    recipient: str,
    body: str,
    in_reply_to: str | None,
) -> Message | None:
    """A message received from the other party's node (already authorised by the caller);
    None for a replay of a known id."""
    if session.scalar(select(Message.id).where(Message.ap_id == ap_id)) is not None:
        return None
    row = Message(
        ap_id=ap_id,
        response=thread if isinstance(thread, Response) else None,
        invitation=thread if isinstance(thread, Invitation) else None,
        sender_actor=sender,
        recipient_actor=recipient,
        body=body,
        in_reply_to=in_reply_to,
    )
    session.add(row)
    session.flush()
    _notify_recipient(session, thread, row)
    emit_change(session, Change("message", message=row, remote=True))
    return row


def forget_actor(session: Session, actor: str) -> int:
    """Erase what a deleted actor (a member here or elsewhere, a fediverse account) left in
    collaboration: their responses (with their threads and notifications, by FK cascade) and
    every message they sent or received. Returns how many responses went."""
    gone = session.execute(delete(Response).where(Response.responder_actor == actor))
    session.execute(
        delete(Message).where((Message.sender_actor == actor) | (Message.recipient_actor == actor))
    )
    session.flush()
    return int(getattr(gone, "rowcount", 0) or 0)


__all__ = [
    "Thread",
    "cancel_invitation",
    "decline_invitation",
    "forget_actor",
    "get_invitation",
    "invitations_for_call",
    "invitations_of",
    "invite",
    "last_message",
    "mark_thread_read",
    "parties",
    "send_message",
    "store_received_message",
    "thread_messages",
]
