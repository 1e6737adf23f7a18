"""Which local member an OpenID Connect sign-in is (claims from an ID token the node has
verified: node.web.oidc). Accounts are matched, never created: an unknown person is refused,
so a sign-in can never make a second account for a member.

Rules, in order: the member-number claim against the register's ``ref``; the user-name claim
against the user name; the e-mail address, unless the provider says it is not verified. When
two rules point at different members the sign-in is refused (ambiguous) rather than guessed.
Deactivated members are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from profiles.context import NodeContext
from profiles.models import Member


class NoMatch(Exception):
    """No account (``reason`` "unknown"), or more than one candidate ("ambiguous")."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name) if name else None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    return None


def match_member(
    session: Session,
    ctx: NodeContext,
    claims: Mapping[str, Any],
    *,
    ref_claim: str = "",
    username_claim: str = "preferred_username",
) -> Member:
    """The local member these verified claims are; raises :class:`NoMatch`."""
    local = select(Member).where(Member.local, Member.node == ctx.domain)
    found: dict[int, Member] = {}
    ref = _claim(claims, ref_claim)
    if ref:
        m = session.scalar(local.where(Member.ref == ref))
        if m is not None:
            found[m.id] = m
    username = _claim(claims, username_claim)
    if username:
        m = session.scalar(local.where(Member.username == username.lower()))
        if m is not None:
            found[m.id] = m
    email = _claim(claims, "email")
    if email and claims.get("email_verified") is not False:
        m = session.scalar(local.where(func.lower(Member.email) == email.lower()))
        if m is not None:
            found[m.id] = m
    if len(found) > 1:
        raise NoMatch("ambiguous")
    if not found:
        raise NoMatch("unknown")
    member = next(iter(found.values()))
    if member.deactivated_at is not None:
        raise NoMatch("unknown")
    return member
