"""The coop domain on ActivityPub: local actor keys, documents, publishing on domain events,
inbox handlers, coop partnerships, backfill and purge.

Actors of a node: the coop (``Organization`` at ``/actor``, ``@coop``), the project-calls feed
(``Group`` at ``/groups/calls``, ``@calls``) and every member (``Person``). Partnerships are
mutual follows between instance actors, each approved by its coop's admin; partners are the
accepted followers of our instance actor.

Choices forced by peers (see research/interop-and-security.md):
- a public call is announced by the Group as ``Announce(Page)`` with the Page embedded, never
  ``Announce(Create(Page))`` (Mastodon cannot render the latter);
- edits and closing send ``Update(Page)`` from the *author*, addressed to partners, the author's
  followers and, for public calls, the Group's followers: Mastodon applies an Update of a status
  it knows when the actor is the status' author, whoever it follows — no second Announce;
- deleting a member sends two Deletes to partners: ``Delete(Person)`` signed with the member's
  key kept in the :class:`Tombstone` (for receivers that cached that key) and
  ``Delete(Tombstone)`` from the instance actor (the engine answers an actor Delete from an
  unknown actor with "nothing to delete", so a partner that only backfilled the member would
  otherwise keep it). A partner accepts deletes of its remote rows from the owner or from the
  owner's coop instance actor.

Keys are RSA-2048, made lazily on the first request that needs them (serving an actor document,
signing a delivery) — never during a bulk import. Publishing never needs an RSA key: an embedded
``Person`` of a member without one yet is sent without ``publicKey``.

Every actor also has an Ed25519 key (FEP-521a ``Multikey`` ``ACTOR#ed25519-key`` in its
``assertionMethod``), made on first use — it costs ~0.1 ms, so publishing makes it: every
activity we publish carries a FEP-8b32 ``eddsa-jcs-2022`` proof by its actor (see
:meth:`CoopFederation.prove`), signed once in :func:`federation.outbox.publish`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from federation import outbox, proofs, vocab
from federation.actors import RemoteActors
from federation.db import utcnow
from federation.errors import BadRequest, FederationError, Forbidden, NotFound
from federation.inbox import FollowDecision, HandlerRegistry, InboxContext, accept_follower
from federation.iri import host_of, is_http_iri, same_host
from federation.keys import (
    ed25519_key_id,
    ed25519_public_of,
    generate_ed25519_keypair,
    generate_rsa_keypair,
    main_key_id,
    public_pem_of,
)
from federation.models import Follower, Following, OutboxActivity, dialect_insert
from federation.transport import Signer, Transport
from federation.webfinger import webfinger_lookup
from profiles import activitypub as ap
from profiles import events
from profiles.context import NodeContext
from profiles.models import (
    AvailabilityRange,
    Call,
    CallLanguage,
    CallSkill,
    FederatedObject,
    Member,
    MemberConcept,
    MemberLanguage,
    NodeMeta,
    Partnership,
    Tombstone,
)
from profiles.vocabulary import Vocabulary

log = logging.getLogger(__name__)

COLLECTION_PAGE = 50
BACKFILL_MAX_PAGES = 40
_BARE_ACTOR_KEYS = (
    *("@context", "id", "type", "preferredUsername", "name", "url", "inbox", "outbox"),
    *("followers", "following", "endpoints", "manuallyApprovesFollowers", "publicKey"),
    "assertionMethod",
    *("coop", "visibility"),
)
_CALL_FIELDS = (
    *("title", "description", "language", "country", "city", "remote", "starts", "ends"),
    *("deadline", "compensation", "status", "visibility", "url"),
)
_PARTNERS_CACHE = "coopfed_partner_inboxes"
_KEY_META = {"coop": "fed_key:coop", "calls": "fed_key:calls"}
_ED25519_META = {"coop": "fed_ed25519:coop", "calls": "fed_ed25519:calls"}
_META_MADE = "coopfed.meta_keys_made"  # session.info: node keys created in this session


def _new_id(base: str, kind: str) -> str:
    return f"{base}#{kind}/{uuid.uuid4().hex}"


class CoopFederation:
    """Everything the coop domain does on ActivityPub, for one node.

    ``session_factory`` gives a Session wired to the node's listeners (used by the key
    resolver, which runs in delivery worker threads). ``vocabulary(session)`` gives the current
    vocabulary; ``avatar_url(member)`` the public URL of a member's avatar.
    """

    def __init__(
        self,
        ctx: NodeContext,
        *,
        session_factory: Callable[[], Session],
        vocabulary: Callable[[Session], Vocabulary],
        avatar_url: Callable[[Member], str | None],
    ) -> None:
        self.ctx = ctx
        self.session_factory = session_factory
        self.vocabulary = vocabulary
        self.avatar_url = avatar_url
        self.instance_iri = ap.instance_actor_iri(ctx)
        self.calls_iri = ap.calls_actor_iri(ctx)
        self._key_lock = threading.Lock()
        self._meta_cache: dict[str, str] = {}

    # -- keys ---------------------------------------------------------------------------------

    def _meta_private(self, session: Session, which: str) -> str:
        """The private PEM of the coop or calls actor, created on first use (race-safe: the
        first INSERT wins, everybody re-reads it)."""
        return self._meta_key(session, _KEY_META[which], lambda: generate_rsa_keypair()[1])

    def _meta_ed25519(self, session: Session, which: str) -> str:
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
            private = self._meta_ed25519(session, "coop")
        elif actor_iri == self.calls_iri:
            private = self._meta_ed25519(session, "calls")
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

    def _publish(
        self, session: Session, activity: dict[str, Any], *, actor_iri: str, targets: list[str]
    ) -> None:
        outbox.publish(session, activity, actor_iri=actor_iri, targets=targets, prove=self.prove)

    def signer(self, session: Session) -> Signer:
        """The instance actor's key: signs our GETs (authorized fetch, partner collections)."""
        return main_key_id(self.instance_iri), self._meta_private(session, "coop")

    def key_for(self, session: Session, actor_iri: str) -> tuple[str, str] | None:
        """``(key_id, private_pem)`` of a local actor (or a deleted one's tombstone); None if
        ``actor_iri`` is not ours. May generate and flush a key; the caller commits."""
        if actor_iri == self.instance_iri:
            return main_key_id(actor_iri), self._meta_private(session, "coop")
        if actor_iri == self.calls_iri:
            return main_key_id(actor_iri), self._meta_private(session, "calls")
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
        """A :class:`federation.actors.LocalActorResolver` with its own short session."""
        with self.session_factory() as session:
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

    # -- documents ----------------------------------------------------------------------------

    def _assertion_method(self, session: Session, which: str, iri: str) -> list[dict[str, Any]]:
        public = ed25519_public_of(self._meta_ed25519(session, which))
        return [proofs.multikey(iri, public)]

    def instance_actor(self, session: Session) -> dict[str, Any]:
        """The coop's actor document (may create its keys; the caller commits)."""
        pem = public_pem_of(self._meta_private(session, "coop"))
        iri = self.instance_iri
        return {
            "@context": proofs.actor_context(vocab.context_for("actor")),
            "id": iri,
            "type": "Organization",
            "preferredUsername": "coop",
            "name": self.ctx.name,
            "summary": f"The {self.ctx.name} freelancers' cooperative on coopfed.",
            "url": f"{self.ctx.base_url}/about",
            "inbox": f"{iri}/inbox",
            "outbox": f"{iri}/outbox",
            "followers": f"{iri}/followers",
            "following": f"{iri}/following",
            "endpoints": {"sharedInbox": f"{self.ctx.base_url}/inbox"},
            "manuallyApprovesFollowers": True,
            "discoverable": True,
            "country": self.ctx.country,
            "publicKey": {"id": main_key_id(iri), "owner": iri, "publicKeyPem": pem},
            "assertionMethod": self._assertion_method(session, "coop", iri),
        }

    def calls_actor(self, session: Session) -> dict[str, Any]:
        """The project-calls Group's actor document (may create its keys; the caller commits)."""
        pem = public_pem_of(self._meta_private(session, "calls"))
        iri = self.calls_iri
        return {
            "@context": proofs.actor_context(vocab.context_for("actor")),
            "id": iri,
            "type": "Group",
            "preferredUsername": "calls",
            "name": f"{self.ctx.name} project calls",
            "summary": (
                f"Public project calls of {self.ctx.name}: freelancers looking for "
                "collaborators. Follow to see new calls."
            ),
            "url": f"{self.ctx.base_url}/calls",
            "inbox": f"{iri}/inbox",
            "outbox": f"{iri}/outbox",
            "followers": f"{iri}/followers",
            "following": f"{iri}/following",
            "endpoints": {"sharedInbox": f"{self.ctx.base_url}/inbox"},
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "publicKey": {"id": main_key_id(iri), "owner": iri, "publicKeyPem": pem},
            "assertionMethod": self._assertion_method(session, "calls", iri),
        }

    def person(self, session: Session, member: Member, *, full: bool = True) -> dict[str, Any]:
        """A local member's actor document. ``full=False`` gives only what identifies the actor
        and verifies its signatures (for viewers the member's visibility does not cover)."""
        doc = ap.person(self.ctx, member, self.vocabulary(session), self.avatar_url(member))
        if full:
            return doc
        small = {k: doc[k] for k in _BARE_ACTOR_KEYS if k in doc}
        small["discoverable"] = small["indexable"] = False
        return small

    def person_for_wire(self, session: Session, member: Member) -> dict[str, Any]:
        """The Person embedded in an Update: without ``publicKey`` when the member has no key
        yet (a receiver must not replace a key by an empty one; it fetches the actor)."""
        doc = self.person(session, member)
        if not member.public_key_pem:
            doc.pop("publicKey", None)
        return doc

    def page(self, session: Session, call: Call) -> dict[str, Any]:
        return ap.call_page(self.ctx, call, self.vocabulary(session))

    def announce_id(self, session: Session, call: Call, *, new: bool = False) -> str:
        """Id of the Group's (latest, or with ``new`` the next) Announce of ``call``: derived
        from the call, so the outbox (built from the calls themselves) and what followers
        received agree. A call that left the public and came back is announced again under
        ``…/announces/CALL_ID/2`` (followers had the first one deleted)."""
        base = f"{self.calls_iri}/announces/{call.public_id}"
        sent = (
            session.scalar(
                select(func.count())
                .select_from(OutboxActivity)
                .where(
                    (OutboxActivity.ap_id == base)
                    | OutboxActivity.ap_id.startswith(base + "/", autoescape=True)
                )
            )
            or 0
        )
        n = sent + 1 if new else sent
        return base if n <= 1 else f"{base}/{n}"

    def announce(self, call: Call, page: dict[str, Any], announce_id: str) -> dict[str, Any]:
        """The calls Group's Announce of a public call (``announce_id``: :meth:`announce_id`)."""
        return {
            "@context": vocab.context_for("object"),
            "id": announce_id,
            "type": "Announce",
            "actor": self.calls_iri,
            "published": page.get("published"),
            "object": page,
            "to": [vocab.PUBLIC],
            "cc": [f"{self.calls_iri}/followers", call.author.ap_id],
        }

    def calls_outbox(
        self, session: Session, page: int | None, page_size: int = 20
    ) -> tuple[int, list[dict[str, Any]], bool]:
        """The calls Group's outbox: an Announce per public call of this node, newest first.

        Built from the calls rather than from sent activities, so that it lists every public
        call (also those made before anybody followed) and never a deleted one.
        Returns ``(total, items of page, has_next)``; ``page=None`` gives the total only.
        """
        public = (Call.local.is_(True), Call.visibility == "public")
        total = session.scalar(select(func.count()).select_from(Call).where(*public)) or 0
        if page is None:
            return total, [], False
        rows = session.scalars(
            select(Call)
            .where(*public)
            .order_by(Call.created_at.desc(), Call.id.desc())
            .offset((max(page, 1) - 1) * page_size)
            .limit(page_size + 1)
        ).all()
        items = [
            self.prove(
                session, self.announce(c, self.page(session, c), self.announce_id(session, c))
            )
            for c in rows[:page_size]
        ]
        return total, items, len(rows) > page_size

    # -- addressing ---------------------------------------------------------------------------

    def partner_inboxes(self, session: Session) -> list[str]:
        """Inboxes of our partners, cached for the current transaction (a bulk import asks
        once per member); the partnership methods here drop the cache when they change it."""
        txn = session.get_transaction()
        cached = session.info.get(_PARTNERS_CACHE)
        if txn is not None and cached is not None and cached[0] is txn:
            return list(cached[1])
        found = outbox.followers_inboxes(session, self.instance_iri)
        session.info[_PARTNERS_CACHE] = (txn, found)
        return list(found)

    def calls_followers_inboxes(self, session: Session) -> list[str]:
        return outbox.followers_inboxes(session, self.calls_iri)

    # -- publishing (domain event listener) ----------------------------------------------------

    def on_event(self, session: Session, event: str, obj: Any) -> None:
        """The domain-event listener: publishes in the caller's transaction."""
        if event == events.MEMBER_SAVED and isinstance(obj, Member) and obj.local:
            self._member_saved(session, obj)
        elif event == events.MEMBER_DELETED and isinstance(obj, Member) and obj.local:
            self._member_deleted(session, obj)
        elif event == events.CALL_SAVED and isinstance(obj, Call) and obj.local:
            self._call_saved(session, obj)
        elif event == events.CALL_DELETED and isinstance(obj, Call) and obj.local:
            self._call_deleted(session, obj)

    def _published(self, session: Session, ap_id: str) -> FederatedObject | None:
        return session.get(FederatedObject, ap_id)

    def _mark_published(self, session: Session, ap_id: str, kind: str, visibility: str) -> None:
        row = session.get(FederatedObject, ap_id)
        if row is None:
            session.add(FederatedObject(ap_id=ap_id, kind=kind, visibility=visibility))
        else:
            row.visibility = visibility
        session.flush()

    def _member_saved(self, session: Session, member: Member) -> None:
        seen = self._published(session, member.ap_id)
        if member.visibility == "coop":
            # Partners may hold it from a backfill even if we never sent it ourselves.
            if seen is not None or self.partner_inboxes(session):
                self._retract_person(session, member.ap_id, signed_by_member=True)
            if seen is not None:
                session.delete(seen)
                session.flush()
            return
        targets: list[str] = self.partner_inboxes(session)
        if member.visibility == "public":  # partners-only profiles never reach followers
            targets.extend(outbox.followers_inboxes(session, member.ap_id))
        if targets:  # nobody listening (e.g. a bulk import before any partner): no outbox row
            # Before building the Person: it must list the key that proves the Update.
            self.ensure_member_proof_key(session, member)
            to, cc = ap.audience(self.ctx, member, member.visibility)
            activity = {
                "@context": vocab.context_for("actor"),
                "id": _new_id(member.ap_id, "updates"),
                "type": "Update",
                "actor": member.ap_id,
                "object": self.person_for_wire(session, member),
                "to": to,
                "cc": cc,
            }
            self._publish(session, activity, actor_iri=member.ap_id, targets=targets)
            self._mark_published(session, member.ap_id, "Person", member.visibility)

    def _retract_person(self, session: Session, ap_id: str, *, signed_by_member: bool) -> None:
        """Tell partners (and the member's followers) that a profile is gone for them."""
        tombstone = {"id": ap_id, "type": "Tombstone", "formerType": "Person"}
        partners = self.partner_inboxes(session)
        followers = outbox.followers_inboxes(session, ap_id)
        if signed_by_member and (partners or followers):
            self._publish(
                session,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": _new_id(ap_id, "delete"),
                    "type": "Delete",
                    "actor": ap_id,
                    "object": ap_id,
                    "to": [vocab.PUBLIC],
                },
                actor_iri=ap_id,
                targets=[*partners, *followers],
            )
        if partners:
            self._publish(
                session,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": _new_id(self.instance_iri, "deletes"),
                    "type": "Delete",
                    "actor": self.instance_iri,
                    "object": tombstone,
                    "to": [ap.partners_collection(self.ctx)],
                },
                actor_iri=self.instance_iri,
                targets=partners,
            )

    def _member_deleted(self, session: Session, member: Member) -> None:
        if session.scalar(select(Tombstone.id).where(Tombstone.ap_id == member.ap_id)) is None:
            session.add(
                Tombstone(ap_id=member.ap_id, kind="Person", private_key_pem=member.private_key_pem)
            )
            session.flush()
        for call in session.scalars(select(Call).where(Call.author_id == member.id)).all():
            self._call_deleted(session, call)
        seen = self._published(session, member.ap_id)
        # A member without a key was never fetched, so nobody can verify its own Delete.
        self._retract_person(session, member.ap_id, signed_by_member=bool(member.private_key_pem))
        if seen is not None:
            session.delete(seen)
        session.execute(delete(Follower).where(Follower.local_actor == member.ap_id))
        session.flush()

    def _call_saved(self, session: Session, call: Call) -> None:
        seen = self._published(session, call.ap_id)
        if call.visibility == "coop":
            self._call_deleted(session, call, tombstone=False)
            return
        author = call.author.ap_id
        partners = self.partner_inboxes(session)
        targets: list[str] = list(partners)
        was_public = seen is not None and seen.visibility == "public"
        group_inboxes = self.calls_followers_inboxes(session)
        if was_public and call.visibility != "public":
            # Public → partners only: the public audience must lose it (Mastodon applies an
            # Update's new text to the status it has, whatever the new addressing says).
            public_audience = [
                i
                for i in dict.fromkeys(outbox.followers_inboxes(session, author) + group_inboxes)
                if i not in partners
            ]
            self._retract_call(session, call, public_audience, public=True)
            was_public = False
        if call.visibility == "public":  # partners-only calls stay with partners
            targets.extend(outbox.followers_inboxes(session, author))
            targets.extend(group_inboxes)
        if not targets:  # nobody listening: partners that come later backfill it
            if seen is not None:
                self._mark_published(session, call.ap_id, "Page", call.visibility)
            return
        page = self.page(session, call)
        # Back to public: the public audience never had it (or had it deleted): a Create.
        returning = call.visibility == "public" and seen is not None and not was_public
        kind = "Create" if seen is None or returning else "Update"
        activity = {
            "@context": vocab.context_for("object"),
            "id": _new_id(call.ap_id, kind.lower()),
            "type": kind,
            "actor": author,
            "object": page,
            "to": page["to"],
            "cc": page["cc"],
        }
        self._publish(session, activity, actor_iri=author, targets=targets)
        if call.visibility == "public" and not was_public and group_inboxes:
            announce = self.announce(call, page, self.announce_id(session, call, new=True))
            self._publish(session, announce, actor_iri=self.calls_iri, targets=group_inboxes)
        self._mark_published(session, call.ap_id, "Page", call.visibility)

    def _retract_call(
        self, session: Session, call: Call, targets: list[str], *, public: bool
    ) -> None:
        """Delete(Tombstone) of ``call`` to ``targets`` (nothing if there are none)."""
        if not targets:
            return
        activity = {
            "@context": vocab.AS_CONTEXT,
            "id": _new_id(call.ap_id, "delete"),
            "type": "Delete",
            "actor": call.author.ap_id,
            "object": {"id": call.ap_id, "type": "Tombstone", "formerType": "Page"},
            "to": [vocab.PUBLIC] if public else [ap.partners_collection(self.ctx)],
        }
        self._publish(session, activity, actor_iri=call.author.ap_id, targets=targets)

    def _call_deleted(self, session: Session, call: Call, *, tombstone: bool = True) -> None:
        seen = self._published(session, call.ap_id)
        if (
            tombstone
            and session.scalar(select(Tombstone.id).where(Tombstone.ap_id == call.ap_id)) is None
        ):
            session.add(Tombstone(ap_id=call.ap_id, kind="Page"))
        partners = self.partner_inboxes(session)
        if seen is None and not partners:
            session.flush()
            return  # never sent, and no partner could have backfilled it
        author = call.author.ap_id
        was_public = (
            seen.visibility == "public" if seen is not None else call.visibility == "public"
        )
        targets: list[str] = list(partners)
        if was_public:
            targets.extend(outbox.followers_inboxes(session, author))
            targets.extend(self.calls_followers_inboxes(session))
        self._retract_call(session, call, targets, public=was_public)
        if seen is not None:
            session.delete(seen)
        session.flush()

    # -- partnerships ---------------------------------------------------------------------------

    def partnership(self, session: Session, domain_or_actor: str) -> Partnership:
        value = domain_or_actor.strip().lower()
        stmt = select(Partnership).where(
            (Partnership.domain == value) | (Partnership.actor == domain_or_actor.strip())
        )
        found = session.scalar(stmt)
        if found is None:
            raise NotFound(f"no partnership with {domain_or_actor[:100]!r}")
        return found

    def _partner_by_actor(self, session: Session, actor_iri: str) -> Partnership | None:
        return session.scalar(select(Partnership).where(Partnership.actor == actor_iri))

    def active_partner_for_host(self, session: Session, host: str) -> Partnership | None:
        stmt = select(Partnership).where(Partnership.domain == host, Partnership.state == "active")
        return session.scalar(stmt)

    def _send_follow(self, session: Session, partner: Partnership) -> None:
        follow_id = _new_id(self.instance_iri, "follows")
        row = session.scalar(
            select(Following).where(
                Following.local_actor == self.instance_iri, Following.remote_actor == partner.actor
            )
        )
        if row is None:
            session.add(
                Following(
                    local_actor=self.instance_iri,
                    remote_actor=partner.actor,
                    state="pending",
                    follow_activity_id=follow_id,
                )
            )
        else:
            row.follow_activity_id, row.state = follow_id, "pending"
        activity = {
            "@context": vocab.AS_CONTEXT,
            "id": follow_id,
            "type": "Follow",
            "actor": self.instance_iri,
            "object": partner.actor,
            "to": [partner.actor],
        }
        self._publish(session, activity, actor_iri=self.instance_iri, targets=[partner.inbox])

    def resolve_coop(self, actors: RemoteActors, target: str) -> vocab.Actor:
        """``URL`` (the coop's actor, or its base URL) or ``DOMAIN`` -> its instance actor."""
        target = target.strip()
        if "://" in target:
            iri = target.rstrip("/")
            if is_http_iri(iri) and iri.count("/") == 2:  # a bare base URL
                iri += "/actor"
        else:
            iri = webfinger_lookup(actors.transport, f"coop@{target}")
        actor = actors.get(iri, refresh=True)
        if actor.type != "Organization":
            raise BadRequest(f"{actor.id} is a {actor.type}, not a coop (Organization)")
        return actor

    def request_partnership(
        self, session: Session, actors: RemoteActors, target: str
    ) -> Partnership:
        """Ask another coop to partner: Follow its instance actor. If it asked us first, this
        is our admin's approval."""
        actor = self.resolve_coop(actors, target)
        if actor.id == self.instance_iri:
            raise BadRequest("a coop cannot partner with itself")
        partner = self._partner_by_actor(session, actor.id)
        if partner is not None and partner.state == "pending":
            return self.accept_partnership(session, partner.domain)
        if partner is None:
            partner = Partnership(actor=actor.id, domain=actor.host, direction="outgoing")
            session.add(partner)
        partner.inbox = actor.shared_inbox or actor.inbox
        partner.name = actor.name
        country = actor.raw.get("country")
        partner.country = country.upper()[:2] if isinstance(country, str) else ""
        if partner.state != "active":
            partner.state = "requested"
        session.flush()
        self._send_follow(session, partner)
        return partner

    def accept_partnership(self, session: Session, domain: str) -> Partnership:
        """The admin approves a pending partnership: Accept their Follow, follow them back."""
        session.info.pop(_PARTNERS_CACHE, None)
        partner = self.partnership(session, domain)
        if partner.state not in ("pending", "rejected"):
            raise BadRequest(f"the partnership with {partner.domain} is {partner.state}")
        if not accept_follower(session, self.instance_iri, partner.actor, partner.inbox):
            raise BadRequest(f"{partner.domain} has no pending follow request")
        partner.state = "active"
        self._send_follow(session, partner)
        session.flush()
        return partner

    def reject_partnership(self, session: Session, domain: str) -> Partnership:
        session.info.pop(_PARTNERS_CACHE, None)
        partner = self.partnership(session, domain)
        row = session.scalar(
            select(Follower).where(
                Follower.local_actor == self.instance_iri, Follower.follower == partner.actor
            )
        )
        if row is not None and row.follow_activity_id:
            self._publish(
                session,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": _new_id(self.instance_iri, "rejects"),
                    "type": "Reject",
                    "actor": self.instance_iri,
                    "object": {
                        "id": row.follow_activity_id,
                        "type": "Follow",
                        "actor": partner.actor,
                        "object": self.instance_iri,
                    },
                    "to": [partner.actor],
                },
                actor_iri=self.instance_iri,
                targets=[partner.inbox],
            )
            session.delete(row)
        partner.state = "rejected"
        session.flush()
        return partner

    def remove_partnership(self, session: Session, domain: str) -> int:
        """End a partnership from our side: Undo our Follow, drop them as follower, purge what
        they sent. Returns how many members and calls were purged."""
        partner = self.partnership(session, domain)
        following = session.scalar(
            select(Following).where(
                Following.local_actor == self.instance_iri, Following.remote_actor == partner.actor
            )
        )
        if following is not None:
            self._publish(
                session,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": _new_id(self.instance_iri, "undos"),
                    "type": "Undo",
                    "actor": self.instance_iri,
                    "object": {
                        "id": following.follow_activity_id,
                        "type": "Follow",
                        "actor": self.instance_iri,
                        "object": partner.actor,
                    },
                    "to": [partner.actor],
                },
                actor_iri=self.instance_iri,
                targets=[partner.inbox],
            )
            session.delete(following)
        return self._end_partnership(session, partner)

    def _end_partnership(self, session: Session, partner: Partnership) -> int:
        session.info.pop(_PARTNERS_CACHE, None)
        session.execute(
            delete(Follower).where(
                Follower.local_actor == self.instance_iri, Follower.follower == partner.actor
            )
        )
        session.execute(
            delete(Following).where(
                Following.local_actor == self.instance_iri, Following.remote_actor == partner.actor
            )
        )
        purged = self.purge_host(session, partner.domain)
        session.delete(partner)
        session.flush()
        return purged

    def purge_host(self, session: Session, domain: str) -> int:
        """Delete every member and call received from ``domain`` (never local rows)."""
        if domain == self.ctx.domain:
            raise BadRequest("refusing to purge our own domain")
        calls = session.scalars(
            select(Call).where(Call.node == domain, Call.local.is_(False))
        ).all()
        members = session.scalars(
            select(Member).where(Member.node == domain, Member.local.is_(False))
        ).all()
        for call in calls:
            events.emit(session, events.CALL_DELETED, call)
            session.delete(call)
        session.flush()
        for member in members:
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
        session.flush()
        return len(calls) + len(members)

    # -- inbox ----------------------------------------------------------------------------------

    def registry(self) -> HandlerRegistry:
        registry = HandlerRegistry(
            self.locality,
            follow_policy=self.follow_policy,
            on_actor_deleted=self.on_actor_deleted,
        )
        for kind in ("Create", "Update"):
            registry.register(kind, "Person", self._on_person)
            registry.register(kind, "Page", self._on_page)
        registry.register("Delete", None, self._on_delete)
        registry.register("Accept", None, self._on_accept)
        registry.register("Reject", None, self._on_reject)
        registry.register("Undo", None, self._on_undo)
        return registry

    def follow_policy(
        self, session: Session, local: str, follower: vocab.Actor, follow: vocab.Activity
    ) -> FollowDecision:
        session.info.pop(_PARTNERS_CACHE, None)
        if local == self.instance_iri:
            # Only coops partner; a person following the coop would read partners-only data.
            if follower.type != "Organization":
                return "reject"
            partner = self._partner_by_actor(session, follower.id)
            if partner is not None and partner.state in ("requested", "active"):
                partner.inbox = follower.shared_inbox or follower.inbox
                return "accept"  # our admin asked for this partnership
            if partner is None:
                partner = Partnership(actor=follower.id, domain=follower.host)
                session.add(partner)
            country = follower.raw.get("country")
            partner.country = country.upper()[:2] if isinstance(country, str) else ""
            partner.name = follower.name
            partner.inbox = follower.shared_inbox or follower.inbox
            partner.direction = "incoming"
            partner.state = "pending"
            session.flush()
            return "pending"
        if local == self.calls_iri:
            return "accept"
        member = session.scalar(select(Member).where(Member.ap_id == local, Member.local))
        if member is None or member.visibility == "coop":
            return "reject"
        return "accept"

    def on_actor_deleted(self, session: Session, actor_iri: str) -> None:
        member = session.scalar(
            select(Member).where(Member.ap_id == actor_iri, Member.local.is_(False))
        )
        if member is not None:
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
            session.flush()
        partner = self._partner_by_actor(session, actor_iri)
        if partner is not None:
            self._end_partnership(session, partner)

    def _require_partner(self, session: Session, actor: str) -> Partnership:
        partner = self.active_partner_for_host(session, host_of(actor))
        if partner is None:
            raise Forbidden(f"{host_of(actor)} is not an active partner")
        return partner

    def _on_person(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        obj = activity.object
        if not isinstance(obj, dict) or obj.get("id") != activity.actor:
            log.info("ignoring %s of a Person by another actor", activity.type)
            return
        partner = self.active_partner_for_host(session, host_of(activity.actor))
        if partner is None:
            return  # a Mastodon user updating itself: not a coop member
        # The embedded Person may lack the key; the cache of actors refreshes itself.
        try:
            values = ap.parse_person(obj, coop_name=partner.name)
        except BadRequest as exc:
            log.info("ignoring Person %s: %s", obj.get("id"), exc)
            return
        self.upsert_member(session, values)

    def _on_page(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        obj = activity.object
        if not isinstance(obj, dict):
            return
        partner = self.active_partner_for_host(session, host_of(activity.actor))
        if partner is None:
            return
        # attributedTo may be a list or an embedded actor (PeerTube, Lemmy): compare the IRI.
        if vocab.first_iri(obj.get("attributedTo")) != activity.actor:
            raise Forbidden("a call is created or updated by its author only")
        try:
            values = ap.parse_call(obj)
        except BadRequest as exc:
            log.info("ignoring Page %s: %s", obj.get("id"), exc)
            return
        self.upsert_call(session, values, ictx.actors, partner)

    def _on_delete(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        target = activity.object_id
        if target is None or not same_host(target, activity.actor):
            return
        partner = self._partner_by_actor(session, activity.actor)
        by_coop = partner is not None  # the owner's coop speaks for its members and calls
        member = session.scalar(
            select(Member).where(Member.ap_id == target, Member.local.is_(False))
        )
        if member is not None and (by_coop or activity.actor == target):
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
        call = session.scalar(
            select(Call)
            .where(Call.ap_id == target, Call.local.is_(False))
            .options(selectinload(Call.author))
        )
        if call is not None and (by_coop or call.author.ap_id == activity.actor):
            events.emit(session, events.CALL_DELETED, call)
            session.delete(call)
        session.flush()

    def _on_accept(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        partner = self._partner_by_actor(session, activity.actor)
        if partner is None:
            return
        following = session.scalar(
            select(Following).where(
                Following.local_actor == self.instance_iri, Following.remote_actor == partner.actor
            )
        )
        if following is None or following.state != "accepted":
            return
        if partner.state in ("requested", "active"):
            partner.state = "active"
            partner.backfill_due = True

    def _on_reject(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        partner = self._partner_by_actor(session, activity.actor)
        if partner is not None and partner.state == "requested":
            partner.state = "rejected"

    def _on_undo(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        obj = activity.object
        if isinstance(obj, dict) and obj.get("type") != "Follow":
            return
        if isinstance(obj, dict) and obj.get("object") not in (None, self.instance_iri):
            return
        partner = self._partner_by_actor(session, activity.actor)
        if partner is not None:
            self._end_partnership(session, partner)

    # -- remote rows ----------------------------------------------------------------------------

    def upsert_member(self, session: Session, values: dict[str, Any]) -> Member:
        """Create or update a member received from a partner (never touches local rows)."""
        member = session.scalar(select(Member).where(Member.ap_id == values["ap_id"]))
        if member is not None and member.local:
            raise Forbidden("a remote document cannot overwrite a local member")
        if member is None:
            clash = session.scalar(
                select(Member).where(
                    Member.node == values["node"], Member.username == values["username"]
                )
            )
            if clash is not None and not clash.local:
                session.delete(clash)  # the username moved to another actor id on that node
                session.flush()
            member = Member(
                ap_id=values["ap_id"], local=False, node=values["node"], username=values["username"]
            )
            session.add(member)
        for key in ("name", "summary", "country", "city", "remote", "visibility", "avatar", "url"):
            setattr(member, key, values[key])
        if values.get("coop_name"):
            member.coop_name = values["coop_name"]
        # Empty the collections first: replacing rows with equal unique keys in one flush
        # would INSERT the new ones before the old ones are DELETEd.
        member.languages, member.occupations, member.skills, member.availability = [], [], [], []
        session.flush()
        member.languages = [MemberLanguage(code=c, level=lv) for c, lv in values["languages"]]
        member.occupations = [
            MemberConcept(concept_iri=i, kind="occupation") for i in values["occupations"]
        ]
        member.skills = [
            MemberConcept(concept_iri=i, kind="skill")
            for i in values["skills"]
            if i not in values["occupations"]
        ]
        member.availability = [AvailabilityRange(start=s, end=e) for s, e in values["availability"]]
        session.flush()
        events.emit(session, events.MEMBER_SAVED, member)
        return member

    def _author(
        self, session: Session, actors: RemoteActors, iri: str, partner: Partnership
    ) -> Member:
        member = session.scalar(select(Member).where(Member.ap_id == iri))
        if member is not None:
            return member
        actor = actors.get(iri)
        try:
            values = ap.parse_person(actor.raw, coop_name=partner.name)
        except BadRequest:
            # A coop-only author: keep a stub (name only) so the call has an author.
            values = {
                "ap_id": actor.id,
                "node": actor.host,
                "username": actor.preferred_username.lower()[:64],
                "name": actor.name or actor.preferred_username,
                "summary": "",
                "country": "",
                "city": "",
                "remote": False,
                "visibility": "coop",
                "avatar": None,
                "url": actor.id,
                "coop_name": partner.name,
                "skills": [],
                "occupations": [],
                "languages": [],
                "availability": [],
            }
        return self.upsert_member(session, values)

    def upsert_call(
        self, session: Session, values: dict[str, Any], actors: RemoteActors, partner: Partnership
    ) -> Call:
        call = session.scalar(select(Call).where(Call.ap_id == values["ap_id"]))
        if call is not None and call.local:
            raise Forbidden("a remote document cannot overwrite a local call")
        author = self._author(session, actors, values["author_ap_id"], partner)
        if call is None:
            call = Call(
                ap_id=values["ap_id"],
                public_id=uuid.uuid4().hex[:16],
                local=False,
                node=values["node"],
                author=author,
                title=values["title"],
            )
            session.add(call)
        elif call.author_id != author.id:
            raise Forbidden("a call cannot change its author")
        for key in _CALL_FIELDS:
            setattr(call, key, values[key])
        call.skills, call.languages = [], []
        session.flush()
        call.skills = [
            CallSkill(concept_iri=i, required=True) for i in values["skills_required"]
        ] + [CallSkill(concept_iri=i, required=False) for i in values["skills_optional"]]
        call.languages = [CallLanguage(code=c) for c in values["languages"]]
        session.flush()
        events.emit(session, events.CALL_SAVED, call)
        return call

    # -- backfill -------------------------------------------------------------------------------

    def _pages(
        self, transport: Transport, signer: Signer, first: str, origin: str
    ) -> Iterable[list[Any]]:
        url: str | None = first
        for _ in range(BACKFILL_MAX_PAGES):
            if url is None:
                return
            final, doc = transport.get_json(url, signer)
            if not same_host(final, origin):
                raise Forbidden("a collection page redirected to another host")
            items = doc.get("orderedItems")
            yield items if isinstance(items, list) else []
            nxt = doc.get("next")
            url = nxt if isinstance(nxt, str) and same_host(nxt, origin) else None

    def backfill(self, session: Session, actors: RemoteActors, partner: Partnership) -> int:
        """Page the partner's member and call collections (signed GETs, bounded) into our
        tables. Returns how many rows were stored."""
        signer = self.signer(session)
        stored = 0
        for kind in ("members", "calls"):
            for items in self._pages(
                actors.transport, signer, f"{partner.actor}/{kind}?page=1", partner.actor
            ):
                for item in items:
                    if not isinstance(item, dict) or not same_host(
                        str(item.get("id", "")), partner.actor
                    ):
                        continue
                    try:
                        if kind == "members":
                            self.upsert_member(
                                session, ap.parse_person(item, coop_name=partner.name)
                            )
                        else:
                            self.upsert_call(session, ap.parse_call(item), actors, partner)
                        stored += 1
                    except (BadRequest, Forbidden, NotFound) as exc:
                        log.info(
                            "backfill from %s skipped %s: %s", partner.domain, item.get("id"), exc
                        )
        partner.backfill_due = False
        partner.backfilled_at = utcnow()
        session.flush()
        return stored

    # -- collections served to partners --------------------------------------------------------

    def members_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        visible = ("public", "partners") if partner else ("public",)
        base = select(Member).where(Member.local, Member.visibility.in_(visible))
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            base.order_by(Member.id).offset((page - 1) * COLLECTION_PAGE).limit(COLLECTION_PAGE + 1)
        ).all()
        return (
            [self.person_for_wire(session, m) for m in rows[:COLLECTION_PAGE]],
            len(rows) > COLLECTION_PAGE,
            total,
        )

    def calls_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        visible = ("public", "partners") if partner else ("public",)
        base = select(Call).where(Call.local, Call.visibility.in_(visible))
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            base.options(
                selectinload(Call.author), selectinload(Call.skills), selectinload(Call.languages)
            )
            .order_by(Call.id)
            .offset((page - 1) * COLLECTION_PAGE)
            .limit(COLLECTION_PAGE + 1)
        ).all()
        return (
            [self.page(session, c) for c in rows[:COLLECTION_PAGE]],
            len(rows) > COLLECTION_PAGE,
            total,
        )


def activity_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


__all__ = ["CoopFederation", "FederationError", "activity_json"]
