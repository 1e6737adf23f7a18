"""Moderation that shows: what comes from a blocked domain is hidden everywhere people look.

A domain block stops federation with the host (:mod:`federation.policy`); rows received from
it before the block stay stored (an administrator may purge them, or unblock) but no list,
page or count shows them: :func:`not_from_blocked` joins every visibility condition on members
and calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from federation.models import DomainPolicyEntry

BLOCK = "block"


def not_from_blocked(node_col: Any) -> ColumnElement[bool]:
    """SQL: the row's node (``host[:port]``) is not on the domain blocklist."""
    blocked = select(DomainPolicyEntry.host).where(DomainPolicyEntry.action == BLOCK)
    return node_col.not_in(blocked)


def is_blocked(session: Session, node: str) -> bool:
    found = session.scalar(
        select(DomainPolicyEntry.id).where(
            DomainPolicyEntry.host == node.lower(), DomainPolicyEntry.action == BLOCK
        )
    )
    return found is not None


def blocked_hosts(session: Session) -> frozenset[str]:
    """Every blocked host: for filtering rows already loaded (e.g. match suggestions)."""
    rows = session.scalars(select(DomainPolicyEntry.host).where(DomainPolicyEntry.action == BLOCK))
    return frozenset(rows)
