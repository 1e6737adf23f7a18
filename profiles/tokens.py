"""Signed tokens for links sent by email: unsubscribe, invitations, password reset.

A token is an itsdangerous ``URLSafeTimedSerializer`` string (payload, issue time, HMAC-SHA256)
signed with the node's secret key. The purpose is the salt of the key derivation, so a token made
for one purpose ("unsubscribe") never verifies for another ("password_reset"); it is also
repeated in the payload. Expiry is decided by the verifier (``max_age``), from the signed issue
time. Single-use tokens carry a random nonce; :meth:`Tokens.consume` records the nonce in
``used_tokens`` in the caller's transaction, so a token is spent exactly when the action it
authorises commits (a rolled back action leaves the token usable).

Rotating the secret key invalidates every outstanding token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from federation.db import Base, utcnow
from federation.models import dialect_insert
from profiles.errors import DomainError

Reason = Literal["invalid", "expired", "used"]


class TokenError(DomainError):
    """A token that must not be honoured; ``reason`` says why (pages word it for the user)."""

    status = 400

    def __init__(self, reason: Reason) -> None:
        self.reason: Reason = reason
        super().__init__(f"token {reason}")


class UsedToken(Base):
    """The nonce of a spent single-use token, kept until the token would have expired anyway."""

    __tablename__ = "used_tokens"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: the token never expires, so its nonce is kept for good.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class _ClockSigner(TimestampSigner):
    """TimestampSigner reading an injectable clock (tests step time instead of sleeping)."""

    def __init__(self, *args: Any, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class Tokens:
    """Issue and check tokens with one secret. ``clock`` is injectable for tests."""

    def __init__(self, secret_key: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        if not secret_key:
            raise ValueError("tokens need the node's secret key")
        self._secret = secret_key
        self.clock = clock
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        found = self._serializers.get(purpose)
        if found is not None:
            return found
        if not purpose or not purpose.replace("_", "").isalnum():
            raise ValueError(f"bad token purpose {purpose!r}")
        made = self._serializers[purpose] = URLSafeTimedSerializer(
            self._secret,
            salt=f"coopfed-token/{purpose}",
            signer=_ClockSigner,
            signer_kwargs={
                "clock": self.clock,
                "key_derivation": "hmac",
                "digest_method": hashlib.sha256,
            },
        )
        return made

    def issue(self, purpose: str, data: Mapping[str, Any], *, single_use: bool = False) -> str:
        """A URL-safe token carrying ``data`` (JSON-able; keep it small: it goes in a URL)."""
        payload: dict[str, Any] = {"p": purpose, "d": dict(data)}
        if single_use:
            payload["n"] = secrets.token_urlsafe(18)
        return str(self._serializer(purpose).dumps(payload))

    def _load(self, purpose: str, token: str, max_age: timedelta | None) -> dict[str, Any]:
        seconds = None if max_age is None else int(max_age.total_seconds())
        try:
            payload = self._serializer(purpose).loads(token, max_age=seconds)
        except SignatureExpired as exc:
            raise TokenError("expired") from exc
        except (BadSignature, ValueError, UnicodeError) as exc:
            raise TokenError("invalid") from exc
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            raise TokenError("invalid")
        if not isinstance(payload.get("d"), dict):
            raise TokenError("invalid")
        return payload

    def read(self, purpose: str, token: str, *, max_age: timedelta | None) -> dict[str, Any]:
        """The data of a valid, unexpired token of ``purpose``; raises :class:`TokenError`.

        Does not check single use: use :meth:`consume` for the action a single-use token
        authorises (``read`` suits the GET page that shows what the action will do).
        """
        data: dict[str, Any] = self._load(purpose, token, max_age)["d"]
        return data

    def consume(
        self, session: Session, purpose: str, token: str, *, max_age: timedelta | None
    ) -> dict[str, Any]:
        """Check a single-use token and mark it spent in ``session``'s transaction (the caller
        commits it with the action). Raises :class:`TokenError` ("used" the second time)."""
        payload = self._load(purpose, token, max_age)
        nonce = payload.get("n")
        if not isinstance(nonce, str) or not nonce:
            raise TokenError("invalid")  # not issued as single-use
        now = self.clock()
        expires_at = None if max_age is None else now + max_age
        stmt = (
            dialect_insert(session, UsedToken)
            .values(nonce=nonce, purpose=purpose, used_at=now, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[UsedToken.nonce])
            # RETURNING, not rowcount: an ORM-enabled INSERT reports no rowcount on psycopg.
            .returning(UsedToken.nonce)
        )
        # A concurrent consumer of the same token waits on the row (PostgreSQL) or on the write
        # lock (SQLite), then inserts nothing: exactly one of them gets the data.
        if session.execute(stmt).scalar() is None:
            raise TokenError("used")
        data: dict[str, Any] = payload["d"]
        return data


def prune_used(session: Session, now: datetime) -> int:
    """Forget nonces of tokens that have expired anyway (they fail as "expired" now)."""
    result = session.execute(
        delete(UsedToken).where(UsedToken.expires_at.is_not(None), UsedToken.expires_at < now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
