"""Following fediverse accounts: a member, or the calls Group, follows any remote actor.

The follow is a real ActivityPub relationship, kept by the engine: a ``Follow`` queued in the
outbox (``federation.outbox.follow_remote``, signed and proven like everything we publish), a
``fed_following`` row that the engine's built-in handler moves to ``accepted`` or ``rejected``
when the peer's ``Accept``/``Reject`` arrives, and an ``Undo(Follow)`` that withdraws it
(``unfollow_remote``, the row removed).

What the node does with the followed accounts' posts: nothing — the relationship only. A coop
node is a directory of members and a board of project calls, not a timeline: it has no place
to show, moderate or expire strangers' posts, and storing them would make the coop the keeper
of third parties' personal data. Members and calls come only from partner coops, whose admins
agreed to the partnership (:mod:`profiles.ap.handlers` ignores ``Create``/``Update`` from any
other host, followed or not). Following still means something: the account sees the member (or
the calls Group) among its followers, the member's "Following" page links to the accounts it
follows, and ``/members/NAME/following`` lists them for the fediverse.

Who can follow: members whose profile leaves the node (:func:`profiles.visibility.federated`;
a coop-only member has no actor others can fetch, so nobody could verify its Follow) and the
calls Group. The coop's instance actor follows only partner coops (:mod:`.partnerships`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import outbox, vocab
from federation.actors import RemoteActors
from federation.errors import FederationError, Forbidden, Gone
from federation.errors import NotFound as RemoteNotFound
from federation.iri import host_of, is_http_iri
from federation.models import Following, RemoteActor
from federation.policy import ActorPolicy
from federation.webfinger import parse_handle
from profiles.ap.addressing import new_id
from profiles.ap.keys import KeyStore
from profiles.context import NodeContext
from profiles.errors import DomainError
from profiles.models import Member
from profiles.visibility import federated

CALLS = "calls"  # ``--as calls``: the project-calls Group (a reserved user name)
STATES = ("pending", "accepted", "rejected")


class FollowRefused(DomainError):
    """A follow or unfollow that cannot be done. ``reason`` is a code the UI translates:
    ``invalid`` (not a handle or URL), ``not_found`` (no such account), ``unreachable`` (its
    server failed or refused us), ``blocked`` (blocked on this node), ``own_node`` (an account
    of this node), ``not_federated`` (a coop-only member), ``not_following``, ``no_actor``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = 404 if reason in ("not_found", "not_following", "no_actor") else 400


@dataclass(frozen=True)
class FollowedAccount:
    """One account a local actor follows (or asked to), as shown to people."""

    actor: str
    handle: str  # "@user@host" (the actor IRI when the actor is not cached)
    name: str
    url: str  # its profile page, else the actor IRI
    actor_type: str
    state: str  # pending | accepted | rejected
    since: datetime


class Follows:
    """Follow, unfollow and list the remote accounts of one node's members and calls Group."""

    def __init__(self, ctx: NodeContext, keys: KeyStore) -> None:
        self.ctx = ctx
        self.keys = keys

    # -- who follows ----------------------------------------------------------------------------

    def local_actor(self, session: Session, who: str) -> str:
        """The actor IRI of ``who``: ``"calls"`` (the Group) or a local member's user name."""
        name = who.strip().lower().removeprefix("@")
        if name == CALLS:
            return self.keys.calls_iri
        member = session.scalar(
            select(Member).where(
                Member.local, Member.node == self.ctx.domain, Member.username == name
            )
        )
        if member is None:
            raise FollowRefused("no_actor", f"no member {who!r} on this node")
        if not federated(member.visibility):
            raise FollowRefused(
                "not_federated",
                f"{member.username}'s profile is visible to this coop only: other servers "
                "cannot see who follows them (make it public or partners first)",
            )
        return member.ap_id

    # -- resolving ------------------------------------------------------------------------------

    def resolve(self, actors: RemoteActors, policy: ActorPolicy, target: str) -> vocab.Actor:
        """``@user@host``, ``user@host``, ``acct:user@host`` (WebFinger, round-trip checked)
        or an actor / profile URL -> the remote actor. Refuses this node's own accounts and
        blocked servers and actors."""
        target = target.strip()
        try:
            if is_http_iri(target):
                host = host_of(target)
                self._check_host(policy, host)
                actor = actors.resolve_url(target)
            else:
                try:
                    _user, host = parse_handle(target)
                except FederationError as exc:
                    raise FollowRefused(
                        "invalid", f"{target[:100]!r} is neither @user@host nor a URL"
                    ) from exc
                self._check_host(policy, host)
                actor = actors.resolve_handle(target)
        except FollowRefused:
            raise
        except (RemoteNotFound, Gone) as exc:
            raise FollowRefused("not_found", f"no fediverse account at {target[:100]}") from exc
        except Forbidden as exc:
            if policy.is_blocked_host(host):
                raise FollowRefused("blocked", str(exc)) from exc
            raise FollowRefused("unreachable", str(exc)) from exc
        except FederationError as exc:
            raise FollowRefused("unreachable", f"{host}: {exc}") from exc
        if policy.is_blocked_actor(actor.id):
            raise FollowRefused("blocked", f"{actor.id} is blocked on this node")
        self._check_host(policy, host_of(actor.id))
        return actor

    def _check_host(self, policy: ActorPolicy, host: str) -> None:
        if host == self.ctx.domain.lower():
            raise FollowRefused("own_node", "that is an account of this node")
        if policy.is_blocked_host(host):
            raise FollowRefused("blocked", f"{host} is blocked on this node")

    # -- follow, unfollow -------------------------------------------------------------------------

    def follow(
        self,
        session: Session,
        actors: RemoteActors,
        policy: ActorPolicy,
        who: str,
        target: str,
    ) -> FollowedAccount:
        """``who`` follows ``target``: a Follow queued to the account's inbox, the follow
        ``pending`` until its server answers. Following an account again re-sends the Follow
        unless it was accepted (how a person retries a lost or rejected follow). Flushes."""
        local = self.local_actor(session, who)
        actor = self.resolve(actors, policy, target)
        row = self._row(session, local, actor.id)
        if row is None or row.state != "accepted":
            # Proven by the follower's Ed25519 key (made now if needed) in publish().
            outbox.follow_remote(
                session,
                local_actor=local,
                remote_actor=actor.id,
                remote_inbox=actor.inbox,
                follow_id=new_id(local, "follows"),
            )
            row = self._row(session, local, actor.id)
        assert row is not None
        return _shown(row, actor.raw)

    def unfollow(
        self, session: Session, actors: RemoteActors, policy: ActorPolicy, who: str, target: str
    ) -> FollowedAccount:
        """``who`` stops following ``target`` (pending or accepted): ``Undo(Follow)`` queued,
        the row removed. Finds the account among those followed without network when it can.
        Flushes."""
        local = self.local_actor(session, who)
        rows = self._rows(session, local)
        found = next((r for r in rows if _matches(r, target)), None)
        if found is None and rows:
            # A handle or URL that names a followed account another way: ask its server.
            actor_id = self.resolve(actors, policy, target).id
            found = next((r for r in rows if r[0].remote_actor == actor_id), None)
        if found is None:
            raise FollowRefused("not_following", f"not following {target[:100]}")
        row, cached = found
        shown = _shown(row, json.loads(cached.raw) if cached is not None else {})
        inbox = cached.inbox if cached is not None else None
        if inbox is None:  # never cached: nothing can be delivered; forget the follow
            session.delete(row)
            session.flush()
            return shown
        outbox.unfollow_remote(
            session,
            local_actor=local,
            remote_actor=row.remote_actor,
            remote_inbox=inbox,
            undo_id=new_id(local, "undos"),
        )
        return shown

    # -- listing --------------------------------------------------------------------------------

    def following(self, session: Session, who: str) -> list[FollowedAccount]:
        """Every account ``who`` follows or asked to, newest first, with its state."""
        local = self.local_actor(session, who)
        return [
            _shown(row, json.loads(cached.raw) if cached is not None else {})
            for row, cached in reversed(self._rows(session, local))
        ]

    def _row(self, session: Session, local: str, remote: str) -> Following | None:
        return session.scalar(
            select(Following).where(
                Following.local_actor == local, Following.remote_actor == remote
            )
        )

    def _rows(self, session: Session, local: str) -> list[tuple[Following, RemoteActor | None]]:
        stmt = (
            select(Following, RemoteActor)
            .outerjoin(RemoteActor, RemoteActor.ap_id == Following.remote_actor)
            .where(Following.local_actor == local)
            .order_by(Following.id)
        )
        return [(row, cached) for row, cached in session.execute(stmt).all()]


def _handle(actor_iri: str, raw: dict[str, object]) -> str:
    username = raw.get("preferredUsername")
    if isinstance(username, str) and username:
        return f"@{username}@{host_of(actor_iri)}"
    return actor_iri


def _shown(row: Following, raw: dict[str, object]) -> FollowedAccount:
    """What people see of a follow; names are the remote's plain text (vocab.Actor rules)."""
    try:
        actor = vocab.Actor.from_json(raw) if raw else None
    except FederationError:
        actor = None
    return FollowedAccount(
        actor=row.remote_actor,
        handle=_handle(row.remote_actor, raw),
        name=actor.name if actor is not None else "",
        url=(actor.url if actor is not None and actor.url else row.remote_actor),
        actor_type=actor.type if actor is not None else "",
        state=row.state,
        since=row.created_at,
    )


def _matches(found: tuple[Following, RemoteActor | None], target: str) -> bool:
    """Does ``target`` (actor IRI, profile URL or handle) name this followed account?"""
    row, cached = found
    value = target.strip()
    if value == row.remote_actor:
        return True
    if cached is None:
        return False
    raw = json.loads(cached.raw)
    if is_http_iri(value):
        return value == vocab.first_iri(raw.get("url"))
    try:
        user, host = parse_handle(value)
    except FederationError:
        return False
    return _handle(row.remote_actor, raw).lower() == f"@{user}@{host}".lower()


__all__ = ["CALLS", "STATES", "FollowRefused", "FollowedAccount", "Follows"]
