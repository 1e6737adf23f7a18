"""Collaboration tables (issue 9): responses to calls, invitations, private messages,
in-app notifications and coop-only members' consents to share their profile with one partner.

Everything here is private between the two parties' nodes (see .notes/COLLAB.md): no row of
these tables is ever listed in a collection, an outbox, a feed or another member's API list.
Rows of both parties' nodes share the same ``ap_id`` (minted by the node that created them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from federation.db import Base, utcnow
from profiles.models import Call, Member

RESPONSE_STATES = ("sent", "seen", "shortlisted", "accepted", "declined", "withdrawn")
FINAL_STATES = frozenset({"declined", "withdrawn"})  # a new response is a new row
INVITATION_STATES = ("pending", "responded", "declined", "cancelled")
ORIGINS = ("coopfed", "fediverse")
NOTIFICATION_KINDS = ("response_received", "response_status", "invitation", "message", "call_fits")


class Invitation(Base):
    """The author of a call invites a member (of this node or a partner) to respond."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    inviter_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    invitee_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text, default="")  # plain text
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    call: Mapped[Call] = relationship()
    inviter: Mapped[Member] = relationship(foreign_keys=[inviter_id])
    invitee: Mapped[Member] = relationship(foreign_keys=[invitee_id])


class Response(Base):
    """A member's (or a fediverse account's) response to a call: the FEP-0837 Offer.

    ``responder_actor`` is always set (the actor IRI); ``responder_id`` only when the responder
    is a member row here (local, or a partner's member we hold). ``team`` is set on the
    responder's node from the author's ``Update`` of the team (the author's node computes it).
    """

    __tablename__ = "responses"
    __table_args__ = (
        # One live response per person and call; declined/withdrawn ones stay as history.
        Index(
            "uq_responses_live",
            "call_id",
            "responder_actor",
            unique=True,
            sqlite_where=text("live = 1"),
            postgresql_where=text("live"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    responder_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True, nullable=True
    )
    responder_actor: Mapped[str] = mapped_column(String(512), index=True)
    responder_name: Mapped[str] = mapped_column(String(200), default="")
    responder_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    origin: Mapped[str] = mapped_column(String(16), default="coopfed")
    state: Mapped[str] = mapped_column(String(16), default="sent", index=True)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    message: Mapped[str] = mapped_column(Text, default="")  # plain text
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    available_note: Mapped[str] = mapped_column(String(500), default="")
    rate: Mapped[str] = mapped_column(String(200), default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    team_contact: Mapped[str] = mapped_column(String(500), default="")
    source_url: Mapped[str | None] = mapped_column(String(512), nullable=True)  # fediverse Note
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), nullable=True
    )
    decision_message: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    state_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[Call] = relationship()
    responder: Mapped[Member | None] = relationship()
    invitation: Mapped[Invitation | None] = relationship()


class Message(Base):
    """A private message in the thread of a response or an invitation (exactly one is set)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True, nullable=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True, nullable=True
    )
    sender_actor: Mapped[str] = mapped_column(String(512), index=True)
    recipient_actor: Mapped[str] = mapped_column(String(512), index=True)
    body: Mapped[str] = mapped_column(Text, default="")  # plain text; links made clickable
    in_reply_to: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)

    response: Mapped[Response | None] = relationship()
    invitation: Mapped[Invitation | None] = relationship()


class Notification(Base):
    """An in-app notification of a local member (emailed later if they opted in)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_member_read", "member_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), nullable=True, index=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    emailed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    member: Mapped[Member] = relationship()
    response: Mapped[Response | None] = relationship()
    invitation: Mapped[Invitation | None] = relationship()
    message: Mapped[Message | None] = relationship()
    call: Mapped[Call | None] = relationship()


class MemberConsent(Base):
    """A coop-only member agreed that their profile is shared with the coop at ``host``."""

    __tablename__ = "member_consents"
    __table_args__ = (UniqueConstraint("member_id", "host", name="uq_member_consents_host"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "FINAL_STATES",
    "INVITATION_STATES",
    "NOTIFICATION_KINDS",
    "ORIGINS",
    "RESPONSE_STATES",
    "Invitation",
    "MemberConsent",
    "Message",
    "Notification",
    "Response",
]
