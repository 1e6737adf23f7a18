"""In-app notifications of local members. Callers commit."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from federation.db import utcnow
from profiles.collab.events import emit_notified
from profiles.collab.models import (
    NOTIFICATION_KINDS,
    Invitation,
    Message,
    Notification,
    Response,
)
from profiles.models import Call, Member


def notify(
    session: Session,
    member: Member | None,
    kind: str,
    *,
    response: Response | None = None,
    invitation: Invitation | None = None,
    message: Message | None = None,
    call: Call | None = None,
) -> Notification | None:
    """Add a notification for ``member`` (None, or a member of another node: nothing) and emit
    ``NOTIFIED``. ``kind`` is one of :data:`NOTIFICATION_KINDS`."""
    if member is None or not member.local:
        return None
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if call is None:
        call = (response.call if response is not None else None) or (
            invitation.call if invitation is not None else None
        )
    row = Notification(
        member_id=member.id,
        kind=kind,
        response_id=response.id if response is not None else None,
        invitation_id=invitation.id if invitation is not None else None,
        message_id=message.id if message is not None else None,
        call_id=call.id if call is not None else None,
    )
    session.add(row)
    session.flush()
    emit_notified(session, row)
    return row


def unread_count(session: Session, member: Member) -> int:
    """Unread notifications of ``member``: one COUNT on the (member_id, read_at) index."""
    stmt = select(func.count(Notification.id)).where(
        Notification.member_id == member.id, Notification.read_at.is_(None)
    )
    return session.scalar(stmt) or 0


def list_notifications(
    session: Session,
    member: Member,
    *,
    unread_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Notification]:
    """``member``'s notifications, newest first, with their response/invitation/message/call
    loaded."""
    stmt = select(Notification).where(Notification.member_id == member.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    rows = session.scalars(
        stmt.options(
            selectinload(Notification.response),
            selectinload(Notification.invitation),
            selectinload(Notification.message),
            selectinload(Notification.call),
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return list(rows)


def mark_read(session: Session, member: Member, ids: list[int] | None = None) -> int:
    """Mark ``member``'s notifications ``ids`` (None: all) read; returns how many changed.
    Ids of other members' notifications are ignored."""
    stmt = update(Notification).where(
        Notification.member_id == member.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(ids))
    result = session.execute(stmt.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["list_notifications", "mark_read", "notify", "unread_count"]
