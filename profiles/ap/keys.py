"""The keys of a node's actors: RSA (HTTP signatures) and Ed25519 (FEP-8b32 proofs).

Keys are RSA-2048, made with the member (:mod:`profiles.member_keys`; for bulk imports by the
worker, in batches) and by the delivery worker's resolver if still missing — never by a GET: a
member's actor without a key yet is served without ``publicKey``. Publishing never needs an RSA
key: an embedded ``Person`` of a member without one yet is sent without ``publicKey``.

Every actor also has an Ed25519 key (FEP-521a ``Multikey`` ``ACTOR#ed25519-key`` in its
``assertionMethod``), made on first use — it costs ~0.1 ms, so publishing makes it: every
activity we publish carries a FEP-8b32 ``eddsa-jcs-2022`` proof by its actor (see
:meth:`KeyStore.prove`), signed once in :func:`federation.outbox.publish`.

The coop's and the calls Group's keys live in ``NodeMeta`` rows; members' keys on their rows; a
deleted member's RSA key in its :class:`~profiles.models.Tombstone` (to sign its Delete).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from federation import proofs
from federation.keys import (
    ed25519_key_id,
    ed25519_public_of,
    generate_ed25519_keypair,
    generate_rsa_keypair,
    main_key_id,
)
from federation.models import dialect_insert
from federation.transport import Signer
from profiles.ap.addressing import calls_actor_iri, instance_actor_iri
from profiles.context import NodeContext
from profiles.models import Member, NodeMeta, Tombstone

_KEY_META = {"coop": "fed_key:coop", "calls": "fed_key:calls"}
_ED25519_META = {"coop": "fed_ed25519:coop", "calls": "fed_ed25519:calls"}
_META_MADE = "coopfed.meta_keys_made"  # session.info: node keys created in this session


class KeyStore:
    """The keys of one node's actors. ``session_factory`` gives a Session of the node (the
    resolvers run in delivery worker threads, each with a short session of its own)."""

    def __init__(
        self,
        ctx: NodeContext,
        session_factory: Callable[[], Session],
        write_session_factory: Callable[[], Session] | None = None,
    ) -> None:
        self.ctx = ctx
        self.session_factory = session_factory
        self.write_session_factory = write_session_factory or session_factory
        self.instance_iri = instance_actor_iri(ctx)
        self.calls_iri = calls_actor_iri(ctx)
        self._key_lock = threading.Lock()
        self._meta_cache: dict[str, str] = {}

    def node_keys_cached(self) -> bool:
        """Are the coop's and the calls Group's keys (RSA and Ed25519) known to this process?"""
        return all(n in self._meta_cache for n in (*_KEY_META.values(), *_ED25519_META.values()))

    def meta_private(self, session: Session, which: str) -> str:
        """The private PEM of the coop or calls actor, created on first use (race-safe: the
        first INSERT wins, everybody re-reads it)."""
        return self._meta_key(session, _KEY_META[which], lambda: generate_rsa_keypair()[1])

    def meta_ed25519(self, session: Session, which: str) -> str:
        """The private Ed25519 multibase of the coop or calls actor, created on first use."""
        return self._meta_key(session, _ED25519_META[which], lambda: generate_ed25519_keypair()[1])

    def _meta_key(self, session: Session, name: str, make: Callable[[], str]) -> str:
        # Served on every actor GET; a key never changes once stored, so it is cached per
        # process — but only once seen in a later session than the one that made it, so a
        # rolled-back creation is never cached.
        cached = self._meta_cache.get(name)
        if cached is not None:
            return cached
        made_here: set[str] = session.info.setdefault(_META_MADE, set())
        row = session.get(NodeMeta, name)
        if row is not None and name not in made_here:
            self._meta_cache[name] = row.value
        if row is None:
            made_here.add(name)
            private = make()
            session.execute(
                dialect_insert(session, NodeMeta)
                .values(key=name, value=private)
                .on_conflict_do_nothing(index_elements=[NodeMeta.key])
            )
            row = session.get(NodeMeta, name, populate_existing=True)
            assert row is not None
        return row.value

    def ensure_member_key(self, session: Session, member: Member) -> str:
        """The member's public PEM, generating the pair on first need (and the Ed25519 proof
        key, so the actor document served next lists both)."""
        self.ensure_member_proof_key(session, member)
        if member.private_key_pem and member.public_key_pem:
            return member.public_key_pem
        with self._key_lock:
            public, private = generate_rsa_keypair()
            session.execute(
                update(Member)
                .where(Member.id == member.id, Member.private_key_pem.is_(None))
                .values(public_key_pem=public, private_key_pem=private)
                .execution_options(synchronize_session=False)
            )
            session.refresh(member, ["public_key_pem", "private_key_pem"])
        assert member.public_key_pem is not None
        return member.public_key_pem

    def ensure_member_proof_key(self, session: Session, member: Member) -> str:
        """The member's public Ed25519 multibase, generating the pair on first need (race-safe:
        the first UPDATE wins, everybody re-reads it — a key used for a proof must be the one
        that stays published)."""
        if member.ed25519_private_multibase and member.ed25519_public_multibase:
            return member.ed25519_public_multibase
        public, private = generate_ed25519_keypair()
        session.flush()  # the member may be pending (created in this transaction)
        session.execute(
            update(Member)
            .where(Member.id == member.id, Member.ed25519_private_multibase.is_(None))
            .values(ed25519_public_multibase=public, ed25519_private_multibase=private)
            .execution_options(synchronize_session=False)
        )
        session.refresh(member, ["ed25519_public_multibase", "ed25519_private_multibase"])
        assert member.ed25519_public_multibase is not None
        return member.ed25519_public_multibase

    def proof_key(self, session: Session, actor_iri: str) -> tuple[str, str] | None:
        """``(verification method, private multibase)`` of a local actor's Ed25519 key, made on
        first use; None if ``actor_iri`` is not a local actor. The caller commits."""
        if actor_iri == self.instance_iri:
            private = self.meta_ed25519(session, "coop")
        elif actor_iri == self.calls_iri:
            private = self.meta_ed25519(session, "calls")
        else:
            member = session.scalar(select(Member).where(Member.ap_id == actor_iri, Member.local))
            if member is None:
                return None
            self.ensure_member_proof_key(session, member)
            assert member.ed25519_private_multibase is not None
            private = member.ed25519_private_multibase
        return ed25519_key_id(actor_iri), private

    def prove(self, session: Session, activity: dict[str, Any]) -> dict[str, Any]:
        """The node's :data:`federation.outbox.ProofSigner`: ``activity`` with a FEP-8b32
        ``eddsa-jcs-2022`` proof (purpose ``assertionMethod``) by its actor's Ed25519 key;
        returned unchanged if the actor is not local."""
        actor = activity.get("actor")
        key = self.proof_key(session, actor) if isinstance(actor, str) else None
        if key is None:
            return activity
        method, private = key
        return proofs.sign_document(activity, private, method)

    def signer(self, session: Session) -> Signer:
        """The instance actor's key: signs our GETs (authorized fetch, partner collections)."""
        return main_key_id(self.instance_iri), self.meta_private(session, "coop")

    def key_for(self, session: Session, actor_iri: str) -> tuple[str, str] | None:
        """``(key_id, private_pem)`` of a local actor (or a deleted one's tombstone); None if
        ``actor_iri`` is not ours. May generate and flush a key; the caller commits."""
        if actor_iri == self.instance_iri:
            return main_key_id(actor_iri), self.meta_private(session, "coop")
        if actor_iri == self.calls_iri:
            return main_key_id(actor_iri), self.meta_private(session, "calls")
        member = session.scalar(select(Member).where(Member.ap_id == actor_iri, Member.local))
        if member is not None:
            self.ensure_member_key(session, member)
            assert member.private_key_pem is not None
            return main_key_id(actor_iri), member.private_key_pem
        tomb = session.scalar(select(Tombstone).where(Tombstone.ap_id == actor_iri))
        if tomb is not None and tomb.private_key_pem:
            return main_key_id(actor_iri), tomb.private_key_pem
        return None

    def resolver(self, actor_iri: str) -> tuple[str, str] | None:
        """A :class:`federation.actors.LocalActorResolver` with its own short session (a write
        session: a deleted member's or an imported member's key may be made here)."""
        with self.write_session_factory() as session:
            found = self.key_for(session, actor_iri)
            session.commit()
            return found

    def locality(self, actor_iri: str) -> tuple[str, str] | None:
        """The resolver handed to the inbox registry, which only asks "is this one of ours?":
        ``(key_id, "")`` for a local actor, without the private key and without generating one
        (a nested session writing a key would lock SQLite under the inbox transaction)."""
        with self.session_factory() as session:
            if self.is_local_actor(session, actor_iri):
                return main_key_id(actor_iri), ""
        return None

    def is_local_actor(self, session: Session, actor_iri: str) -> bool:
        if actor_iri in (self.instance_iri, self.calls_iri):
            return True
        stmt = select(Member.id).where(Member.ap_id == actor_iri, Member.local)
        return session.scalar(stmt) is not None

    def assertion_method(self, session: Session, which: str, iri: str) -> list[dict[str, Any]]:
        public = ed25519_public_of(self.meta_ed25519(session, which))
        return [proofs.multikey(iri, public)]


__all__ = ["KeyStore"]
