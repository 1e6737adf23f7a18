"""API tokens for the coop's other systems (its ERP, its member portal): ``Authorization:
Bearer <token>`` on ``/api/v1``.

A token acts as its owner (a local member) within its scopes:

- ``read``: the GET routes see what the owner sees in the web UI;
- ``write:calls``: create, update and close calls (the owner's own; an admin owner's token — a
  *service* token — may post for any author and edit any local call);
- ``manage:members``: create and update members (upsert by ``ref``/user name, the importer's
  rules); only for tokens of admins.

The secret is shown once, when created; the node stores its SHA-256 only (a token is 32 random
bytes, so a fast hash is enough: there is nothing to brute-force). Tokens are revocable, and
stop working when their owner is deactivated or loses the admin rights a scope needs.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from federation.db import Base, utcnow
from profiles.errors import ValidationError
from profiles.models import Member

SCOPES = ("read", "write:calls", "manage:members")
ADMIN_SCOPES = frozenset({"manage:members"})
PREFIX = "cf_"  # recognisable in logs and by secret scanners


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, owner: Member, name: str, scopes: Iterable[str]
) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once). Raises ValidationError for unknown scopes,
    admin scopes for a non-admin, or an empty name."""
    wanted = sorted(set(scopes))
    errors: dict[str, str] = {}
    if not wanted or any(s not in SCOPES for s in wanted):
        errors["scopes"] = f"one or more of {', '.join(SCOPES)}"
    elif ADMIN_SCOPES & set(wanted) and not owner.is_admin:
        errors["scopes"] = "manage:members is for admins' tokens"
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "1–100 characters"
    if not owner.local or owner.deactivated_at is not None:
        errors["owner"] = "an active local member"
    if errors:
        raise ValidationError(errors)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        member_id=owner.id,
        name=name,
        scopes=" ".join(wanted),
        token_hash=_hash(secret),
        hint=secret[:10],
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, secret: str) -> tuple[ApiToken, Member] | None:
    """The live token with this secret and its owner, or None. Records the use."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.revoked_at is not None:
        return None
    owner = session.get(Member, token.member_id)
    if owner is None or not owner.local or owner.deactivated_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now  # at most once a minute: no write per request
    return token, owner


def allows(token: ApiToken, owner: Member, scope: str) -> bool:
    """Does this token grant ``scope`` now (admin scopes need the owner to be admin still)?"""
    if scope not in token.scope_set:
        return False
    return scope not in ADMIN_SCOPES or owner.is_admin


def revoke(session: Session, token_id: int, owner: Member | None = None) -> bool:
    """Revoke a token (of ``owner`` only, when given). False if there was none to revoke."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    if owner is not None and token.member_id != owner.id:
        return False
    token.revoked_at = utcnow()
    return True


def tokens_of(session: Session, member_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (of a member, or all) with their owner's user name, newest first."""
    stmt = select(ApiToken, Member.username).join(Member, Member.id == ApiToken.member_id)
    if member_id is not None:
        stmt = stmt.where(ApiToken.member_id == member_id)
    return [(t, u) for t, u in session.execute(stmt.order_by(ApiToken.id.desc()))]
