"""Members' keys are made with the member, never by a GET.

A member created one at a time (sign-up, the CLI, the demo's admin) gets both keys at once:
RSA-2048 (HTTP signatures, ~40 ms) and Ed25519 (FEP-8b32 proofs, ~0.1 ms). A bulk import gives
each member its Ed25519 key and leaves the RSA key to :func:`make_missing`, which the worker runs
in small batches (``NodeFederation.job_member_keys``, also at start-up: databases from before
this rule get their keys the same way) — 10,000 imported lines stay well under a minute.

Until then a member's actor is served without ``publicKey``; nobody needs it before the member
signs something, and signing (the delivery worker's key resolver) makes the key first.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from federation.keys import generate_ed25519_keypair, generate_rsa_keypair
from profiles.models import Member

BATCH = 20


def give_proof_key(member: Member) -> None:
    """Give a member without one its Ed25519 proof key (cheap: bulk imports use it)."""
    if not member.ed25519_private_multibase:
        public, private = generate_ed25519_keypair()
        member.ed25519_public_multibase, member.ed25519_private_multibase = public, private


def give_keys(member: Member) -> None:
    """Give a member without them both keys (RSA and Ed25519); the caller commits."""
    give_proof_key(member)
    if not member.private_key_pem:
        member.public_key_pem, member.private_key_pem = generate_rsa_keypair()


MISSING = or_(Member.private_key_pem.is_(None), Member.ed25519_private_multibase.is_(None))


def make_missing(session: Session, batch: int = BATCH) -> int:
    """Give up to ``batch`` local members without keys their keys; how many. Caller commits.

    Rows are re-checked under the write lock (SQLite) or a row lock (PostgreSQL), so a key made
    meanwhile by the delivery worker's resolver is never replaced.
    """
    members = session.scalars(
        select(Member)
        .where(Member.local, MISSING)
        .order_by(Member.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for member in members:
        give_keys(member)
    session.flush()
    return len(members)


__all__ = ["BATCH", "MISSING", "give_keys", "give_proof_key", "make_missing"]
