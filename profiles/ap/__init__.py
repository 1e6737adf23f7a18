"""The coop domain on ActivityPub, one concern per module, composed by :class:`CoopFederation`.

- :mod:`~profiles.ap.addressing` — the node's actor IRIs, ``to``/``cc`` of what we publish;
- :mod:`~profiles.ap.context` — the coop's JSON-LD terms;
- :mod:`~profiles.ap.mapping` — AS2 <-> domain: ``person``/``call_page`` build documents,
  ``parse_person``/``parse_call`` give typed :class:`~profiles.remote.RemoteProfile` /
  :class:`~profiles.remote.RemoteCall`;
- :mod:`~profiles.ap.keys` — :class:`KeyStore`: RSA and Ed25519 keys, proofs, signers;
- :mod:`~profiles.ap.documents` — :class:`Documents`: actor, Page and Announce documents;
- :mod:`~profiles.ap.collections` — :class:`Collections`: the Group's outbox, partner pages;
- :mod:`~profiles.ap.publishing` — :class:`Publisher`: domain events -> activities;
- :mod:`~profiles.ap.partnerships` — :class:`Partnerships`: request, accept, reject, end;
- :mod:`~profiles.ap.following` — :class:`Follows`: members and the calls Group following
  fediverse accounts;
- :mod:`~profiles.ap.handlers` — :class:`InboxHandlers`: inbound activities, follow policy;
- :mod:`~profiles.ap.collab` / :mod:`~profiles.ap.collab_out` — collaboration (issue 9):
  responses, decisions, invitations, private messages, in and out;
- :mod:`~profiles.ap.remote_rows` — partners' rows through the domain writers;
- :mod:`~profiles.ap.backfill` — :class:`Backfill`: paging a new partner's collections;
- :mod:`~profiles.ap.upgrade` — :class:`OutboxUpgrade`: stored outbox rows brought up to what
  the node sends today (dates, terms, proofs).

Actors of a node: the coop (``Organization`` at ``/actor``, ``@coop``), the project-calls feed
(``Group`` at ``/groups/calls``, ``@calls``) and every member (``Person``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from federation import vocab
from federation.actors import RemoteActors
from federation.errors import FederationError
from federation.inbox import FollowDecision, HandlerRegistry
from federation.transport import Signer
from profiles.ap.backfill import Backfill
from profiles.ap.collab import CollabInbox
from profiles.ap.collab_out import CollabPublisher
from profiles.ap.collections import Collections
from profiles.ap.documents import Documents
from profiles.ap.following import Follows
from profiles.ap.handlers import InboxHandlers
from profiles.ap.keys import KeyStore
from profiles.ap.partnerships import Partnerships
from profiles.ap.publishing import Publisher
from profiles.ap.upgrade import OutboxUpgrade
from profiles.context import NodeContext
from profiles.models import Call, Member, Partnership
from profiles.vocabulary import Vocabulary


class CoopFederation:
    """Everything the coop domain does on ActivityPub, for one node: a façade over
    :attr:`keys`, :attr:`documents`, :attr:`collections`, :attr:`publisher`,
    :attr:`partnerships`, :attr:`follows`, :attr:`handlers` and :attr:`backfiller`.

    ``session_factory`` gives a Session wired to the node's listeners (used by the key
    resolver, which runs in delivery worker threads); ``write_session_factory`` (default: the
    same) the sessions that may write a key (SQLite: ``BEGIN IMMEDIATE``).
    ``vocabulary(session)`` gives the current vocabulary; ``avatar_url(member)`` the public URL
    of a member's avatar.
    """

    def __init__(
        self,
        ctx: NodeContext,
        *,
        session_factory: Callable[[], Session],
        vocabulary: Callable[[Session], Vocabulary],
        avatar_url: Callable[[Member], str | None],
        write_session_factory: Callable[[], Session] | None = None,
    ) -> None:
        self.ctx = ctx
        self.keys = KeyStore(ctx, session_factory, write_session_factory)
        self.documents = Documents(ctx, self.keys, vocabulary=vocabulary, avatar_url=avatar_url)
        self.collections = Collections(self.keys, self.documents)
        self.publisher = Publisher(ctx, self.keys, self.documents)
        self.partnerships = Partnerships(ctx, self.keys)
        self.follows = Follows(ctx, self.keys)
        self.collab_inbox = CollabInbox(self.keys, self.partnerships)
        self.collab_publisher = CollabPublisher(self.keys)
        self.handlers = InboxHandlers(self.keys, self.partnerships, collab=self.collab_inbox)
        self.backfiller = Backfill(self.keys)
        self.outbox_upgrade = OutboxUpgrade(self.keys)
        self.instance_iri = self.keys.instance_iri
        self.calls_iri = self.keys.calls_iri

    # -- keys
    def ensure_member_key(self, session: Session, member: Member) -> str:
        return self.keys.ensure_member_key(session, member)

    def key_for(self, session: Session, actor_iri: str) -> tuple[str, str] | None:
        return self.keys.key_for(session, actor_iri)

    def prove(self, session: Session, activity: dict[str, Any]) -> dict[str, Any]:
        """The node's :data:`federation.outbox.ProofSigner` (see :meth:`KeyStore.prove`)."""
        return self.keys.prove(session, activity)

    def signer(self, session: Session) -> Signer:
        return self.keys.signer(session)

    def resolver(self, actor_iri: str) -> tuple[str, str] | None:
        """A :class:`federation.actors.LocalActorResolver` with its own short session."""
        return self.keys.resolver(actor_iri)

    # -- documents and collections
    def instance_actor(self, session: Session) -> dict[str, Any]:
        return self.documents.instance_actor(session)

    def calls_actor(self, session: Session) -> dict[str, Any]:
        return self.documents.calls_actor(session)

    def person(self, session: Session, member: Member, *, full: bool = True) -> dict[str, Any]:
        return self.documents.person(session, member, full=full)

    def page(self, session: Session, call: Call) -> dict[str, Any]:
        return self.documents.page(session, call)

    def calls_outbox(
        self, session: Session, page: int | None, page_size: int = 20
    ) -> tuple[int, list[dict[str, Any]], bool]:
        return self.collections.calls_outbox(session, page, page_size)

    def members_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        return self.collections.members_page(session, page, partner=partner)

    def calls_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        return self.collections.calls_page(session, page, partner=partner)

    # -- publishing, inbox, backfill
    def on_event(self, session: Session, event: str, obj: Any) -> None:
        """The domain-event listener: publishes in the caller's transaction."""
        self.publisher.on_event(session, event, obj)
        self.collab_publisher.on_event(session, event, obj)

    def registry(self) -> HandlerRegistry:
        return self.handlers.registry()

    def check_activity(self, session: Session, activity: vocab.Activity) -> None:
        """The inbox's receive-time refusals (:data:`federation.inbox.ActivityCheck`):
        collaboration activities their actor may not send get a 4xx and leave no row."""
        self.collab_inbox.check(session, activity)

    def follow_policy(
        self, session: Session, local: str, follower: vocab.Actor, follow: vocab.Activity
    ) -> FollowDecision:
        return self.handlers.follow_policy(session, local, follower, follow)

    def backfill(
        self,
        session: Session,
        actors: RemoteActors,
        partner: Partnership,
        page_done: Callable[[], None] | None = None,
    ) -> int:
        return self.backfiller.backfill(session, actors, partner, page_done)

    # -- partnerships
    def request_partnership(
        self, session: Session, actors: RemoteActors, target: str
    ) -> Partnership:
        return self.partnerships.request_partnership(session, actors, target)

    def accept_partnership(self, session: Session, domain: str) -> Partnership:
        return self.partnerships.accept_partnership(session, domain)

    def reject_partnership(self, session: Session, domain: str) -> Partnership:
        return self.partnerships.reject_partnership(session, domain)

    def remove_partnership(self, session: Session, domain: str) -> int:
        return self.partnerships.remove_partnership(session, domain)

    def suspend_partnership(self, session: Session, domain: str) -> Partnership | None:
        return self.partnerships.suspend_partnership(session, domain)

    def purge_host(self, session: Session, domain: str) -> int:
        return self.partnerships.purge_host(session, domain)


def activity_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


__all__ = [
    "Backfill",
    "Collections",
    "CoopFederation",
    "Documents",
    "FederationError",
    "Follows",
    "InboxHandlers",
    "KeyStore",
    "OutboxUpgrade",
    "Partnerships",
    "Publisher",
    "activity_json",
]
