"""Members' keys are made with the member, never by a GET.

A member created one at a time (sign-up, the CLI, the demo's admin) gets both keys at once:
RSA-2048 (HTTP signatures, ~40 ms) and Ed25519 (FEP-8b32 proofs, ~1 ms). A bulk import leaves
them to the worker, which makes them in small batches (:func:`missing`, :func:`made_keys`,
:func:`store_keys`; ``NodeFederation.job_member_keys``, also at start-up: databases from before
this rule get their keys the same way) — 10,000 imported lines stay well under a minute.

Until then a member's actor is served without ``publicKey`` (and ``assertionMethod``); nobody
needs them before the member signs something, and signing (the delivery worker's key resolver)
makes the key first.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from federation.keys import generate_ed25519_keypair, generate_rsa_keypair
from profiles.models import Member

BATCH = 20


def give_keys(member: Member) -> None:
    """Give a member without them both keys (RSA and Ed25519); the caller commits."""
    if not member.ed25519_private_multibase:
        public, private = generate_ed25519_keypair()
        member.ed25519_public_multibase, member.ed25519_private_multibase = public, private
    if not member.private_key_pem:
        member.public_key_pem, member.private_key_pem = generate_rsa_keypair()


MISSING = or_(Member.private_key_pem.is_(None), Member.ed25519_private_multibase.is_(None))


def missing(session: Session, batch: int = BATCH) -> list[int]:
    """Ids of up to ``batch`` local members without (both) keys."""
    stmt = select(Member.id).where(Member.local, MISSING).order_by(Member.id).limit(batch)
    return list(session.scalars(stmt))


def made_keys(ids: list[int]) -> dict[int, tuple[str, str, str, str]]:
    """Fresh keys for ``ids``: ``(rsa public, rsa private, ed25519 public, ed25519 private)``.
    Made outside any transaction: on SQLite a write transaction must not wait on ~40 ms of RSA
    per member while every other writer waits on it."""
    return {i: (*generate_rsa_keypair(), *generate_ed25519_keypair()) for i in ids}


def store_keys(session: Session, keys: dict[int, tuple[str, str, str, str]]) -> int:
    """Give each member its keys unless it got some meanwhile (the delivery worker's resolver
    may make an RSA key first; a key once published never changes). Caller commits."""
    stored = 0
    for member_id, (rsa_public, rsa_private, ed_public, ed_private) in keys.items():
        rsa = session.execute(
            update(Member)
            .where(Member.id == member_id, Member.private_key_pem.is_(None))
            .values(public_key_pem=rsa_public, private_key_pem=rsa_private)
            .execution_options(synchronize_session=False)
        )
        ed = session.execute(
            update(Member)
            .where(Member.id == member_id, Member.ed25519_private_multibase.is_(None))
            .values(ed25519_public_multibase=ed_public, ed25519_private_multibase=ed_private)
            .execution_options(synchronize_session=False)
        )
        changed = cast(CursorResult[Any], rsa).rowcount + cast(CursorResult[Any], ed).rowcount
        stored += 1 if changed else 0
    return stored


__all__ = ["BATCH", "MISSING", "give_keys", "made_keys", "missing", "store_keys"]
