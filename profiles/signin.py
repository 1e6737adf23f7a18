"""Signing in: failed-attempt throttling and server-side sessions.

Throttling slows guessing down without ever locking the owner out (issue 10, defect 10):

- per client (``ip:ADDR``, the address werkzeug's ProxyFix gives behind the configured number of
  trusted proxies) and per account on that client (``pair:NAME|ADDR``): after a few failures in
  the window each further attempt must wait an exponentially growing delay (1 s, 2 s, 4 s, …,
  at most :data:`MAX_DELAY`) after the previous failure;
- per account from anywhere (``user:NAME``, against guessing from many addresses): the same,
  except for a browser that signed in to that account before (a "known device", OWASP's device
  cookie) — so the owner's own browser always gets through with the correct password.

A throttled attempt is refused before the password is checked (no oracle) and is not counted.

Sessions: :func:`open_session` stores the SHA-256 of a random token (the cookie holds the
token); :func:`session_member` resolves it; :func:`close_session` (sign out) and
:func:`close_all_sessions` (password change, "sign out everywhere") delete rows, so a copied
cookie stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from federation.db import utcnow
from profiles.models import LoginAttempt, Member, MemberSession

WINDOW = timedelta(minutes=15)
FREE_PER_CLIENT = 10  # failures from one address before delays start
FREE_PER_PAIR = 5  # failures for one account from one address
FREE_PER_ACCOUNT = 20  # failures for one account from anywhere (known devices exempt)
MAX_DELAY = timedelta(minutes=15)


@dataclass
class Throttled(Exception):
    """Too many failures: try again in ``retry_after`` seconds."""

    retry_after: int


def _keys(name: str, client: str, *, known_device: bool) -> dict[str, int]:
    keys = {f"ip:{client}": FREE_PER_CLIENT, f"pair:{name}|{client}": FREE_PER_PAIR}
    if not known_device:
        keys[f"user:{name}"] = FREE_PER_ACCOUNT
    return keys


def _wait(session: Session, key: str, free: int, now: datetime) -> int:
    """Seconds this key must still wait (0: go ahead)."""
    count, last = session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at >= now - WINDOW
        )
    ).one()
    if (count or 0) < free or last is None:
        return 0
    delay = min(timedelta(seconds=2 ** min(count - free, 20)), MAX_DELAY)
    remaining = (last + delay - now).total_seconds()
    return max(0, int(remaining + 0.999))


def check(session: Session, name: str, client: str, *, known_device: bool, now: datetime) -> None:
    """Raise :class:`Throttled` if this attempt must wait."""
    waits = [
        _wait(session, key, free, now)
        for key, free in _keys(name, client, known_device=known_device).items()
    ]
    if max(waits) > 0:
        raise Throttled(max(waits))


def record_failure(session: Session, name: str, client: str, now: datetime) -> None:
    for key in _keys(name, client, known_device=False):
        session.add(LoginAttempt(key=key, at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - 2 * WINDOW))


def record_success(session: Session, name: str, client: str) -> None:
    """The owner got in from this client: their own typos from here are forgotten."""
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.key.in_([f"pair:{name}|{client}", f"ip:{client}"]))
    )


# -- sessions -------------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, member: Member) -> str:
    """A new server-side session of ``member``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(MemberSession(member_id=member.id, token_hash=_hash(token)))
    session.flush()
    return token


def session_member(session: Session, token: str | None) -> Member | None:
    """The local member whose open session ``token`` is, else None."""
    if not token or not isinstance(token, str) or len(token) > 128:
        return None
    row = session.scalar(select(MemberSession).where(MemberSession.token_hash == _hash(token)))
    if row is None:
        return None
    member = session.get(Member, row.member_id)
    return member if member is not None and member.local else None


def close_session(session: Session, token: str | None) -> None:
    if token and isinstance(token, str):
        session.execute(delete(MemberSession).where(MemberSession.token_hash == _hash(token)))


def close_all_sessions(session: Session, member_id: int, *, keep: str | None = None) -> int:
    """End every session of a member (``keep``: the token of the one to keep); how many."""
    stmt = delete(MemberSession).where(MemberSession.member_id == member_id)
    if keep:
        stmt = stmt.where(MemberSession.token_hash != _hash(keep))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def expire_sessions(session: Session, older_than: timedelta, now: datetime | None = None) -> int:
    """Drop sessions older than the cookie lifetime (a worker job)."""
    limit = (now or utcnow()) - older_than
    result = session.execute(delete(MemberSession).where(MemberSession.created_at < limit))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = [
    "Throttled",
    "check",
    "close_all_sessions",
    "close_session",
    "expire_sessions",
    "open_session",
    "record_failure",
    "record_success",
    "session_member",
]
