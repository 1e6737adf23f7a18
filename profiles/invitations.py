"""Invitations: how a member who has no password yet (imported, or created by an admin) gets in.

A local member without a password is *invited*. The admin (``coopfed member invite`` or the
admin's invitations page) sends them a link to set a password; the link is a single-use signed
token (:mod:`profiles.tokens`) that expires after :data:`INVITATION_TTL` and carries the
invitation's ``generation``. Every send (resend) and every revocation bumps the generation, so
only the newest link works: a resend makes the older mails useless, a revocation all of them.
Setting the password spends the token and marks the invitation accepted.

A member's onboarding status (:func:`status_of`):

- ``active``: has a password (accepted, or set by the admin);
- ``invited``: an invitation was sent and is not yet accepted;
- ``revoked``: the admin revoked it (a new send re-opens it);
- ``pending``: no password and nothing sent yet (fresh from the import).

Password reset (:func:`reset_check`) uses the same tokens with another purpose; its link carries
the tail of the password hash, so it stops working once the password changed (by that link or
otherwise). Requests are rate-limited per address and per client address, in ``login_attempts``
(shared by all web workers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    and_,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from federation.db import Base, utcnow
from profiles import signin
from profiles.context import NodeContext
from profiles.errors import ValidationError
from profiles.models import LoginAttempt, Member
from profiles.passwords import hash_password
from profiles.tokens import TokenError, Tokens

INVITATION = "invitation"  # token purposes
PASSWORD_RESET = "password_reset"  # noqa: S105  (a token purpose, not a password)
INVITATION_TTL = timedelta(days=14)
RESET_TTL = timedelta(hours=1)
RESET_WINDOW = timedelta(minutes=15)
RESET_MAX_PER_ADDRESS = 3
RESET_MAX_PER_IP = 10
STATUSES = ("pending", "invited", "revoked", "active")


class AccountInvitation(Base):
    """The invitation state of one local member (no row: never sent)."""

    __tablename__ = "account_invitations"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    # Bumped by every send and every revocation: only a link of the current generation works.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="invited", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


def status_of(member: Member, invitation: AccountInvitation | None) -> str:
    if member.password_hash:
        return "active"
    if invitation is None:
        return "pending"
    return "revoked" if invitation.state == "revoked" else "invited"


def _without_password(ctx: NodeContext) -> ColumnElement[bool]:
    return and_(
        Member.local,
        Member.node == ctx.domain,
        Member.password_hash.is_(None),
        Member.deactivated_at.is_(None),
    )


def pending_ids(session: Session, ctx: NodeContext) -> list[int]:
    """Members with no password who were never invited (``--all-pending``). Revoked ones are
    left out: the admin revoked them on purpose, and re-invites them by name."""
    stmt = (
        select(Member.id)
        .outerjoin(AccountInvitation, AccountInvitation.member_id == Member.id)
        .where(_without_password(ctx), AccountInvitation.member_id.is_(None))
        .order_by(Member.id)
    )
    return list(session.scalars(stmt))


def ids_for_usernames(
    session: Session, ctx: NodeContext, usernames: Iterable[str]
) -> tuple[list[int], list[str]]:
    """(ids of the local members named, names that are not local members)."""
    wanted = {u.strip().lower() for u in usernames if u.strip()}
    found = dict(
        session.execute(
            select(Member.username, Member.id).where(
                Member.local, Member.node == ctx.domain, Member.username.in_(wanted)
            )
        ).all()
    )
    return [found[u] for u in sorted(found)], sorted(wanted - set(found))


@dataclass(frozen=True)
class ToInvite:
    """What the mail needs for one invitation (no ORM object: 10,000 of these are cheap)."""

    member_id: int
    username: str
    name: str
    email: str
    ui_language: str | None
    generation: int


@dataclass
class Prepared:
    ready: list[ToInvite]
    active: list[str]  # have a password already: not invited
    no_email: list[str]  # cannot be reached


def prepare(session: Session, member_ids: Sequence[int], now: datetime | None = None) -> Prepared:
    """Open (or re-open) the invitations of ``member_ids`` and bump their generation; the
    caller mails the links and commits. Members with a password or no address are reported,
    not invited."""
    now = now or utcnow()
    out = Prepared([], [], [])
    fresh: list[dict[str, object]] = []
    for start in range(0, len(member_ids), 1000):
        chunk = list(member_ids[start : start + 1000])
        rows = session.execute(
            select(
                Member.id,
                Member.username,
                Member.name,
                Member.email,
                Member.ui_language,
                Member.password_hash,
            ).where(Member.id.in_(chunk), Member.local, Member.deactivated_at.is_(None))
        ).all()
        existing = {
            i.member_id: i
            for i in session.scalars(
                select(AccountInvitation).where(AccountInvitation.member_id.in_(chunk))
            )
        }
        for member_id, username, name, email, lang, password_hash in rows:
            if password_hash:
                out.active.append(username)
                continue
            if not email:
                out.no_email.append(username)
                continue
            invitation = existing.get(member_id)
            if invitation is None:
                # First invitations in bulk (one multi-row INSERT per chunk, below): the
                # ORM's unit of work would cost more than rendering the messages.
                fresh.append(
                    {
                        "member_id": member_id,
                        "generation": 1,
                        "sent_count": 1,
                        "state": "invited",
                        "created_at": now,
                        "sent_at": now,
                    }
                )
                generation = 1
            else:
                invitation.generation += 1
                invitation.sent_count += 1
                invitation.state, invitation.sent_at, invitation.revoked_at = "invited", now, None
                generation = invitation.generation
            out.ready.append(
                ToInvite(member_id, username, name or username, email, lang, generation)
            )
        if fresh:
            session.execute(insert(AccountInvitation), fresh)
            fresh = []
    session.flush()
    return out


def revoke(session: Session, member_id: int, now: datetime | None = None) -> bool:
    """Revoke a member's invitation (every link sent stops working). False if there was no
    open invitation to revoke."""
    invitation = session.get(AccountInvitation, member_id)
    member = session.get(Member, member_id)
    if invitation is None or member is None or member.password_hash:
        return False
    if invitation.state == "revoked":
        return False
    invitation.state, invitation.revoked_at = "revoked", now or utcnow()
    invitation.generation += 1
    return True


def invitation_token(tokens: Tokens, member_id: int, generation: int) -> str:
    return tokens.issue(INVITATION, {"m": member_id, "g": generation}, single_use=True)


def check_invitation(
    session: Session, tokens: Tokens, token: str, *, consume: bool = False
) -> Member:
    """The member an invitation link is for; raises TokenError ("invalid", "expired", "used").
    With ``consume``, the token is spent in the caller's transaction."""
    if consume:
        data = tokens.consume(session, INVITATION, token, max_age=INVITATION_TTL)
    else:
        data = tokens.read(INVITATION, token, max_age=INVITATION_TTL)
    member_id, generation = data.get("m"), data.get("g")
    if not isinstance(member_id, int) or not isinstance(generation, int):
        raise TokenError("invalid")
    member = session.get(Member, member_id)
    invitation = session.get(AccountInvitation, member_id)
    if member is None or not member.local or invitation is None or member.deactivated_at:
        raise TokenError("invalid")
    if member.password_hash or invitation.state == "accepted":
        raise TokenError("used")
    if invitation.state == "revoked" or invitation.generation != generation:
        raise TokenError("invalid")  # revoked, or superseded by a newer link
    return member


def _new_password(password: str, confirm: str) -> str:
    if password != confirm:
        raise ValidationError({"confirm": "the two passwords differ"})
    try:
        return hash_password(password)
    except ValueError as exc:
        raise ValidationError({"password": str(exc)}) from None


def accept(session: Session, tokens: Tokens, token: str, password: str, confirm: str) -> Member:
    """Set the password through an invitation link (spends it); the caller commits and signs
    the member in. The password is checked first: a typo does not spend the link."""
    check_invitation(session, tokens, token)
    password_hash = _new_password(password, confirm)
    member = check_invitation(session, tokens, token, consume=True)
    member.password_hash = password_hash
    invitation = session.get(AccountInvitation, member.id)
    assert invitation is not None
    invitation.state, invitation.accepted_at = "accepted", utcnow()
    return member


# -- password reset ------------------------------------------------------------------------------


def _tag(member: Member) -> str:
    return (member.password_hash or "")[-16:]


def reset_token(tokens: Tokens, member: Member) -> str:
    return tokens.issue(PASSWORD_RESET, {"m": member.id, "h": _tag(member)}, single_use=True)


class TooManyRequests(Exception):
    pass


def reset_request(
    session: Session, ctx: NodeContext, email: str, ip: str, now: datetime | None = None
) -> Member | None:
    """The local member a reset link must go to (None: nobody; the page says the same either
    way). Counts the request; raises TooManyRequests past the limits."""
    now = now or utcnow()
    address = (email or "").strip().lower()[:200]
    keys = {f"reset:{address}": RESET_MAX_PER_ADDRESS, f"reset-ip:{ip}": RESET_MAX_PER_IP}
    since = now - RESET_WINDOW
    for key, limit in keys.items():
        count = session.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.key == key, LoginAttempt.at >= since
            )
        )
        if (count or 0) >= limit:
            raise TooManyRequests(key)
    for key in keys:
        session.add(LoginAttempt(key=key, at=now))
    if not address:
        return None
    return session.scalar(
        select(Member).where(
            Member.local,
            Member.node == ctx.domain,
            func.lower(Member.email) == address,
            Member.deactivated_at.is_(None),
        )
    )


def reset_check(session: Session, tokens: Tokens, token: str, *, consume: bool = False) -> Member:
    if consume:
        data = tokens.consume(session, PASSWORD_RESET, token, max_age=RESET_TTL)
    else:
        data = tokens.read(PASSWORD_RESET, token, max_age=RESET_TTL)
    member_id = data.get("m")
    member = session.get(Member, member_id) if isinstance(member_id, int) else None
    if member is None or not member.local or member.deactivated_at is not None:
        raise TokenError("invalid")
    if data.get("h") != _tag(member):
        raise TokenError("used")  # the password changed since the link was sent
    return member


def reset(session: Session, tokens: Tokens, token: str, password: str, confirm: str) -> Member:
    """Set a new password through a reset link (spends it); the caller commits. Every other
    session of the member ends, as with any password change (:func:`members.set_password`).
    An invited member who resets instead of accepting is active too."""
    reset_check(session, tokens, token)
    password_hash = _new_password(password, confirm)
    member = reset_check(session, tokens, token, consume=True)
    member.password_hash = password_hash
    signin.close_all_sessions(session, member.id)
    invitation = session.get(AccountInvitation, member.id)
    if invitation is not None and invitation.state != "accepted":
        invitation.state, invitation.accepted_at = "accepted", utcnow()
    return member


# -- the admin's list ------------------------------------------------------------------------------


def onboarding_rows(
    session: Session, ctx: NodeContext, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[Member, AccountInvitation | None]], int]:
    """Members without a password (``status`` one of pending/invited/revoked, or all of them),
    by user name, with their invitation; and how many there are in all."""
    cond = _without_password(ctx)
    if status == "pending":
        cond = and_(cond, AccountInvitation.member_id.is_(None))
    elif status in ("invited", "revoked"):
        cond = and_(cond, AccountInvitation.state == status)
    elif status is not None:
        cond = and_(
            cond, or_(AccountInvitation.member_id.is_(None), AccountInvitation.state != "accepted")
        )
    base = select(Member, AccountInvitation).outerjoin(
        AccountInvitation, AccountInvitation.member_id == Member.id
    )
    rows = session.execute(
        base.where(cond).order_by(Member.username).limit(limit).offset(offset)
    ).all()
    total = session.scalar(
        select(func.count(Member.id))
        .outerjoin(AccountInvitation, AccountInvitation.member_id == Member.id)
        .where(cond)
    )
    return [(m, i) for m, i in rows], int(total or 0)
