"""Remote actors: fetch with origin checks, cache in ``fed_remote_actors``, serve keys to the
signature verifier, purge on Delete. Local actors belong to the domain, which lends us their keys
through a :class:`LocalActorResolver`.

Origin checks on every fetched actor (Mastodon CVE-2024-23832; Fedify refuses the same):
- ActivityPub content type (checked by :meth:`Transport.get_json`);
- the document ``id`` equals the final URL after redirects;
- ``publicKey.owner`` is the actor and the key id is on the actor's host.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from federation import vocab
from federation.db import utcnow
from federation.errors import (
    BadRequest,
    Forbidden,
    Gone,
    NotFound,
    SignatureInvalid,
    UnsupportedMediaType,
)
from federation.iri import host_of, is_http_iri, same_host
from federation.models import Follower, Following, RemoteActor, dialect_insert
from federation.signatures import PublicKeyInfo
from federation.transport import Signer, Transport
from federation.webfinger import parse_handle, webfinger_lookup, webfinger_lookup_url

CACHE_TTL = timedelta(days=1)
# Built once: every signed POST asks it, and building a statement costs more than running it.
# Columns only, not the ORM entity: nothing here needs the row as an object.
_KEY_BY_ID = select(RemoteActor.ap_id, RemoteActor.public_pem).where(
    RemoteActor.key_id == bindparam("key_id"), RemoteActor.gone.is_(False)
)


class LocalActorResolver(Protocol):
    """Given one of our actor IRIs, its signing key ``(key_id, private_pem)``; None if the IRI
    is not a local actor. A plain ``dict.get`` satisfies it."""

    def __call__(self, actor_iri: str, /) -> tuple[str, str] | None: ...


def _strip_fragment(iri: str) -> str:
    return iri.split("#", 1)[0]


class RemoteActors:
    """Remote actor cache bound to one ``Session``; writes are flushed, never committed.

    ``signer`` is the key (usually the instance actor's) used to sign GETs, which servers in
    secure/authorized-fetch mode require.
    """

    def __init__(
        self,
        session: Session,
        transport: Transport,
        signer: Signer | None = None,
        *,
        ttl: timedelta = CACHE_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.transport = transport
        self.signer = signer
        self.ttl = ttl
        self.clock = clock

    # -- cache ------------------------------------------------------------------------------

    def cached(self, ap_id: str) -> RemoteActor | None:
        stmt = select(RemoteActor).where(RemoteActor.ap_id == ap_id)
        # populate_existing: rows may have been upserted behind the identity map's back.
        return self.session.scalar(stmt.execution_options(populate_existing=True))

    def get(self, ap_id: str, refresh: bool = False) -> vocab.Actor:
        """The actor ``ap_id``, from cache unless stale or ``refresh``. Raises Gone if deleted."""
        row = self.cached(ap_id)
        if row is not None and row.gone:
            raise Gone(f"{ap_id[:200]} is gone")
        if row is not None and not refresh and self.clock() - row.fetched_at < self.ttl:
            return vocab.Actor.from_json(json.loads(row.raw))
        return self.fetch(ap_id)

    def fetch(self, ap_id: str) -> vocab.Actor:
        """Fetch ``ap_id`` over the network, check its origin, store it in the cache."""
        try:
            final_url, doc = self.transport.get_json(ap_id, self.signer)
        except Gone:
            self._mark_gone(ap_id)
            raise
        return self._accept_actor_document(final_url, doc)

    def _accept_actor_document(self, final_url: str, doc: dict[str, Any]) -> vocab.Actor:
        if doc.get("id") != final_url:
            raise Forbidden(f"document id {str(doc.get('id'))[:200]!r} is not its URL")
        if doc.get("type") == "Tombstone":
            self._mark_gone(final_url)
            raise Gone(f"{final_url[:200]} is a Tombstone")
        actor = vocab.Actor.from_json(doc)
        if not actor.inbox:
            raise BadRequest("actor has no inbox")
        key = actor.public_key
        if key is not None:
            if key.owner != actor.id:
                raise Forbidden("publicKey.owner is not the actor")
            if not same_host(key.key_id, actor.id):
                raise Forbidden("key id is not on the actor's host")
        self._store(actor, doc)
        return actor

    def _store(self, actor: vocab.Actor, doc: dict[str, Any]) -> None:
        values = {
            "inbox": actor.inbox,
            "shared_inbox": actor.shared_inbox,
            "key_id": actor.public_key.key_id if actor.public_key else None,
            "public_pem": actor.public_key.public_pem if actor.public_key else None,
            "raw": json.dumps(doc, separators=(",", ":")),
            "fetched_at": self.clock(),
            "gone": False,
        }
        stmt = dialect_insert(self.session, RemoteActor).values(ap_id=actor.id, **values)
        self.session.execute(
            stmt.on_conflict_do_update(index_elements=[RemoteActor.ap_id], set_=values)
        )

    def _mark_gone(self, ap_id: str) -> None:
        row = self.cached(ap_id)
        if row is not None:
            row.gone = True
            row.public_pem = None
            self.session.flush()

    # -- keys -------------------------------------------------------------------------------

    def cached_key(self, key_id: str) -> PublicKeyInfo | None:
        """The key ``key_id`` as stored, without fetching anything (None if not stored)."""
        # On the connection: the ORM execution layer costs more than this indexed lookup, and
        # every write of this class is flushed when made (nothing pending to autoflush).
        row = self.session.connection().execute(_KEY_BY_ID, {"key_id": key_id}).first()
        if row is None or not row.public_pem:
            return None
        return PublicKeyInfo(key_id=key_id, owner=row.ap_id, public_pem=row.public_pem)

    def key_lookup(self, key_id: str, refresh: bool = False) -> PublicKeyInfo:
        """The public key ``key_id`` for the signature verifier.

        Either the key id without fragment is the actor (Mastodon ``ACTOR#main-key``), or the
        key URL serves a key document with an ``owner``, or a minimal actor whose ``publicKey``
        is this key (GoToSocial ``/users/x/main-key``); then the owner's actor is fetched from
        its own URL and must list this very key. Raises SignatureInvalid if no such key can be
        found.
        """
        if not refresh:
            cached = self.cached_key(key_id)
            if cached is not None:
                return cached
        final_url, doc = self.transport.get_json(_strip_fragment(key_id), self.signer)
        doc_id = doc.get("id")
        if "inbox" in doc and doc_id == final_url:
            actor = self._accept_actor_document(final_url, doc)
        else:
            owner = doc.get("owner") if doc_id == final_url else None
            stub_key = doc.get("publicKey")
            if (
                owner is None
                and "#" not in key_id
                and isinstance(stub_key, dict)
                and stub_key.get("id") == key_id
                and stub_key.get("owner") == doc_id
            ):
                # GoToSocial answers its key URL with a minimal actor whose id is the actor,
                # not the key URL (AccountToASMinimal, internal/typeutils/internaltoas.go). We
                # take only that id from it: the actor document is fetched from its own URL.
                owner = doc_id
            if not isinstance(owner, str):
                raise SignatureInvalid("key document has no owner or a foreign id")
            if not same_host(owner, key_id):
                raise SignatureInvalid("key owner is on another host than the key")
            actor = self.fetch(owner)
        key = actor.public_key
        if key is None or key.key_id != key_id:
            raise SignatureInvalid(f"actor {actor.id[:200]} does not publish key {key_id[:200]}")
        return key

    # -- deletion -----------------------------------------------------------------------------

    def purge(self, ap_id: str) -> bool:
        """Forget a deleted actor: tombstone the cache row, drop its follows both ways.

        Returns True if we knew the actor. The row stays (``gone``) so a replayed or late
        activity from it is refused rather than triggering a refetch.
        """
        row = self.cached(ap_id)
        self.session.execute(delete(Follower).where(Follower.follower == ap_id))
        self.session.execute(delete(Following).where(Following.remote_actor == ap_id))
        if row is None:
            return False
        row.gone = True
        row.public_pem = None
        self.session.flush()
        return True

    # -- handles and profile URLs -------------------------------------------------------------

    def resolve_url(self, url: str) -> vocab.Actor:
        """An actor from a URL a person copied: the actor IRI itself, or a profile page.

        Mastodon serves the actor at its profile URL ``/@user`` too, but with the id
        ``/users/user``: like Mastodon's FetchResourceService, a document whose id is another
        URL on the same host is fetched again from that id (and must be an actor there). A URL
        that answers HTML (a profile page without content negotiation) is looked up through its
        host's WebFinger with the URL as ``resource``.
        """
        try:
            final_url, doc = self.transport.get_json(url, self.signer)
        except UnsupportedMediaType:
            return self.get(webfinger_lookup_url(self.transport, url), refresh=True)
        doc_id = doc.get("id")
        if doc_id == final_url:
            return self._accept_actor_document(final_url, doc)
        if isinstance(doc_id, str) and is_http_iri(doc_id) and same_host(doc_id, final_url):
            return self.fetch(doc_id)
        raise Forbidden(f"document id {str(doc_id)[:200]!r} is not its URL")

    def resolve_handle(self, handle: str) -> vocab.Actor:
        """``user@host`` -> actor, with Mastodon's round-trip check: the actor's
        ``preferredUsername@<actor host>`` must WebFinger back to the same actor."""
        user, host = parse_handle(handle)
        actor = self.get(webfinger_lookup(self.transport, handle))
        actor_host = host_of(actor.id)
        username = actor.preferred_username or ""
        if username.lower() == user.lower() and actor_host == host:
            return actor
        if not username:
            raise NotFound("actor has no preferredUsername")
        if webfinger_lookup(self.transport, f"{username}@{actor_host}") != actor.id:
            raise Forbidden(f"{handle[:100]!r} does not round-trip through WebFinger")
        return actor
