"""Moderation that shows: what comes from a blocked domain is hidden everywhere people look.

A domain block stops federation with the host (:mod:`federation.policy`); rows received from
it before the block stay stored (an administrator may purge them, or unblock) but no list,
page or count shows them: :func:`not_from_blocked` joins every visibility condition on members
and calls. A block covers the domain's subdomains too (:func:`federation.policy.covered`), here
as in federation: blocking ``example.org`` hides ``social.example.org``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from federation.models import DomainPolicyEntry
from federation.policy import covered, normalize_host

BLOCK = "block"


def _like_literal(col: Any) -> ColumnElement[str]:
    """``col`` with LIKE's wildcards escaped (with ``\\``), to match it literally."""
    return func.replace(func.replace(func.replace(col, "\\", "\\\\"), "%", "\\%"), "_", "\\_")


def not_from_blocked(node_col: Any) -> ColumnElement[bool]:
    """SQL: the row's node (``host[:port]``) is neither a blocked host nor a subdomain of one."""
    host = DomainPolicyEntry.host
    pattern = _like_literal(host)
    dot = literal(".")
    return ~exists().where(
        and_(
            DomainPolicyEntry.action == BLOCK,
            or_(
                node_col == host,
                node_col.like(literal("%") + dot + pattern, escape="\\"),
                node_col.like(pattern + literal(":%"), escape="\\"),
                node_col.like(literal("%") + dot + pattern + literal(":%"), escape="\\"),
            ),
        )
    )


def block_covers(blocked: str, node: str) -> bool:
    """Whether a block of ``blocked`` covers rows from ``node`` (it, or a subdomain of it)."""
    return covered(node, {normalize_host(blocked)})


def is_blocked(session: Session, node: str) -> bool:
    """Whether rows from ``node`` are hidden: it, or a parent domain, is blocked."""
    return node in blocked_hosts(session)


@dataclass(frozen=True)
class Blocked:
    """The blocked hosts, for filtering rows already loaded: ``node in blocked`` is true for a
    blocked host and for its subdomains."""

    hosts: frozenset[str]

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and covered(node, self.hosts)


def blocked_hosts(session: Session) -> Blocked:
    """Every blocked host: for filtering rows already loaded (e.g. match suggestions)."""
    rows = session.scalars(select(DomainPolicyEntry.host).where(DomainPolicyEntry.action == BLOCK))
    return Blocked(frozenset(rows))
