"""The inbox: ``receive`` verifies and persists; ``process_pending`` runs the handlers later.

``receive`` does no domain work inside the request — answering a Follow by POSTing the Accept
from inside the Follow request deadlocks a single-threaded peer that fetches our key meanwhile
(research/interop-and-security.md). Checks, in order, each refusal leaving no row:

1. size (413), content type (415), JSON shape (400: depth, ``@graph``…);
2. blocked host or actor (403), activity id on another host than its actor (403) — before any
   key fetch, so these cost nothing;
3. HTTP signature (401), then key owner == actor on the actor's host (403); an
   ``eddsa-jcs-2022`` proof (FEP-8b32), if present and its key resolvable, must verify (401);
4. origin of embedded objects: Create/Update/Delete/Undo objects must live on the actor's host
   and be attributed to it (403); for other types an embedded object from another host is not
   trusted as-is — only its id and type are kept, a handler must fetch it from its origin;
5. dedupe by activity id (a replay gets 202 and no second row — Fedify re-sends an activity with
   the other signature scheme after any error). An activity whose id is not on its actor's host
   is refused (403) in step 2, so the dedupe key is effectively (sender host, id): a third
   party cannot suppress another server's activities by sending their ids first.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from federation import inbox_store, proofs, retry, signatures, transient, vocab
from federation.actors import LocalActorResolver, RemoteActors
from federation.db import utcnow
from federation.errors import (
    BadRequest,
    FederationError,
    Forbidden,
    PayloadTooLarge,
    SignatureInvalid,
    UnsupportedMediaType,
)
from federation.inbox_keys import KeyCache
from federation.iri import same_host
from federation.models import Follower, Following, InboxItem, RemoteActor
from federation.outbox import publish
from federation.policy import ActorPolicy

log = logging.getLogger(__name__)

MAX_BYTES = 1_048_576
MAX_ATTEMPTS = 3
# Activities whose object must come from the actor's own server.
_OWN_OBJECT_TYPES = frozenset({"Create", "Update", "Delete", "Undo"})
# The domain's receive-time refusal of an authenticated activity (see ``receive``).
ActivityCheck = Callable[[Session, vocab.Activity], None]


# -- receive ----------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _attributed_to(obj: dict[str, Any]) -> str | None:
    return vocab.first_iri(obj.get("attributedTo"))


def _check_origin(activity: vocab.Activity, doc: dict[str, Any], session: Session) -> None:
    """Refuse objects the actor cannot speak for; strip untrusted foreign embedded objects."""
    obj = activity.object
    object_id = activity.object_id
    if activity.type in _OWN_OBJECT_TYPES:
        if object_id is not None and not same_host(object_id, activity.actor):
            raise Forbidden("the object is not on the actor's host")
        if isinstance(obj, dict):
            owner = _attributed_to(obj) or vocab.first_iri(obj.get("actor"))
            if owner is not None and owner != activity.actor:
                raise Forbidden("the object is attributed to another actor")
            if owner is None and _needs_author(activity.type, obj):
                # Refused now, with a reason the sender sees, rather than accepted (202) and
                # refused later by a handler that cannot tell whose it is.
                raise BadRequest(f"the {obj.get('type')} of a {activity.type} has no attributedTo")
        if activity.type == "Delete" and object_id and object_id != activity.actor:
            known = select(RemoteActor.id).where(RemoteActor.ap_id == object_id)
            if session.scalar(known) is not None:
                raise Forbidden("an actor can only delete itself")
    elif isinstance(obj, dict) and object_id and not same_host(object_id, activity.actor):
        # Keep the type (for dispatch) and the id; the content is the actor's claim about
        # someone else's object: a handler that needs it fetches it from its origin.
        doc["object"] = {"id": object_id, "type": obj.get("type")}


def _needs_author(activity_type: str, obj: dict[str, Any]) -> bool:
    """A created or updated object other than an actor (or a tombstone) must name its author."""
    if activity_type not in ("Create", "Update"):
        return False
    kind = obj.get("type")
    types = set(kind) if isinstance(kind, list) else {kind}
    return not types & (vocab.ACTOR_TYPES | {"Tombstone"})


def receive(
    session: Session,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    actors: RemoteActors,
    policy: ActorPolicy,
    max_bytes: int = MAX_BYTES,
    now: datetime | None = None,
    health: retry.HostHealth | None = None,
    check: ActivityCheck | None = None,
    keys: KeyCache | None = None,
) -> tuple[int, str]:
    """Handle a POST to an inbox. Returns ``(status, message)``; 202 means persisted.

    Owns the transactions of ``session``: rolls back on any refusal, so a refused request leaves
    no trace (not even the actor it fetched to check the signature). Once every check passed,
    the item is written and committed with what the checks fetched — on SQLite in a transaction
    of its own (:func:`federation.inbox_store.store`); 202 means committed. ``url`` is the full
    URL the client requested (see :func:`signatures.verify_request`). ``health``: the node's
    cache of healthy hosts (default: the process-wide one), told that the sender's host is alive.
    ``check(session, activity)``: the domain's refusal of an authenticated activity its actor
    may not send (raises a :class:`FederationError`, e.g. 403), run after every check above.
    ``keys``: the node's cache of senders' keys (:mod:`federation.inbox_keys`), filled once a
    202 committed.

    Statements of an accepted POST from a known sender (key in ``keys``, host in ``health``):
    one, the INSERT — on PostgreSQL in autocommit, one round trip with no BEGIN/COMMIT
    (tests/federation/node/test_inbox_statements.py pins it).
    """
    verified: list[signatures.PublicKeyInfo] = []
    try:
        status, message = _receive(
            session,
            method,
            url,
            headers,
            body,
            actors,
            policy,
            max_bytes,
            now,
            _Options(health, check, keys, verified),
        )
    except FederationError as exc:
        session.rollback()
        return exc.status, exc.message
    except BaseException:
        session.rollback()
        raise
    if session.in_transaction():  # else nothing to commit (the INSERT ran in autocommit)
        session.commit()
    if keys is not None and verified:
        keys.remember(verified[0])
    return status, message


@dataclass
class _Options:
    """What ``_receive`` needs besides the request; ``verified`` gets the key that verified."""

    health: retry.HostHealth | None
    check: ActivityCheck | None
    keys: KeyCache | None
    verified: list[signatures.PublicKeyInfo]


# size: one pass through the checks of the module docstring, in their order
def _receive(
    session: Session,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    actors: RemoteActors,
    policy: ActorPolicy,
    max_bytes: int,
    now: datetime | None,
    opts: _Options,
) -> tuple[int, str]:
    if method.upper() != "POST":
        return 405, "inboxes accept POST only"
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"activity larger than {max_bytes} bytes")
    if not vocab.is_activitypub_content_type(_header(headers, "content-type")):
        raise UnsupportedMediaType("Content-Type must be application/activity+json")
    doc = vocab.parse_json(body, max_bytes=max_bytes)
    activity = vocab.Activity.from_json(doc)
    if policy.is_blocked_actor(activity.actor):
        raise Forbidden("actor or host is blocked")
    # The activity id must be on its actor's host, as Mastodon requires (ActivityPub::Activity
    # refuses ids with non-matching hosts): else anyone could pre-empt another server's next
    # activity id and have the genuine one dropped as a replay below. With this check the dedupe
    # by id is per sender host. Lemmy's Announce of a foreign activity keeps working: the
    # Announce's own id is on the community's host; the wrapped activity is the object.
    if not same_host(activity.id, activity.actor):
        raise Forbidden("the activity id is not on its actor's host")

    # Mastodon answers 202 to the Delete of an actor it never knew without fetching anything:
    # the actor's key is usually gone already and there is nothing to delete.
    if activity.type == "Delete" and activity.object_id == activity.actor:
        known = actors.cached(activity.actor)
        if known is None or known.gone:
            return 202, "nothing to delete"

    def key_lookup(key_id: str, *, refresh: bool = False) -> signatures.PublicKeyInfo:
        if opts.keys is not None:
            if not refresh and (cached := opts.keys.get(key_id)) is not None:
                return cached
            if refresh:
                opts.keys.forget(key_id)
        try:
            return actors.key_lookup(key_id, refresh=refresh)
        except SignatureInvalid:
            raise
        except FederationError as exc:
            # Cannot fetch the key (SSRF guard, 404/410, bad document…): not authenticated.
            raise SignatureInvalid(f"cannot get key {key_id[:200]}: {exc}") from exc

    verified = signatures.verify_request(method, url, dict(headers), body, key_lookup, now=now)
    key = verified.key or key_lookup(verified.key_id)
    signatures.check_actor_matches_key(activity.actor, key)
    # FEP-8b32: before _check_origin, which may rewrite doc (the proof covers it as received).
    proofs.check_incoming(doc, activity.actor, actors)
    _check_origin(activity, doc, session)
    if opts.check is not None:
        opts.check(session, activity)
    if activity.type == "Delete" and activity.object_id == activity.actor:
        if opts.keys is not None:  # the actor is going: its key with it, not cached again
            opts.keys.forget_owner(activity.actor)
    else:
        opts.verified.append(key)
    values = {
        "activity_id": activity.id,
        "actor": activity.actor,
        "type": activity.type,
        "body": json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
        "received_at": now or utcnow(),
    }
    return inbox_store.store(session, values, opts.health)


# -- processing -------------------------------------------------------------------------------


@dataclass
class InboxContext:
    """What a handler gets besides the session and the activity."""

    item_id: int
    actors: RemoteActors
    local_actors: LocalActorResolver


Handler = Callable[[Session, vocab.Activity, InboxContext], None]
# "ignore": treat the Follow as one of no such actor (nothing stored, nothing answered), so a
# follower cannot tell a hidden actor from a nonexistent one.
FollowDecision = Literal["accept", "pending", "reject", "ignore"]
FollowPolicy = Callable[[Session, str, vocab.Actor, vocab.Activity], FollowDecision]


class HandlerRegistry:
    """Domain handlers by ``(activity type, object type or None)``.

    Follow, Undo(Follow), Accept/Reject of our follows and Delete of an actor are handled here
    first; a registered handler for the same key runs after the built-in one. A handler for
    ``(type, None)`` catches every object type without a more precise handler. Objects given by
    IRI have no known type: they reach ``(type, None)`` handlers.

    ``follow_policy(session, local_actor, follower, follow)`` decides incoming follows (default:
    accept; coop partnerships return "pending" until an admin approves with
    :func:`accept_follower`). ``on_actor_deleted(session, actor_iri)`` lets the domain erase
    what the deleted actor left (right to be forgotten).
    """

    def __init__(
        self,
        local_actors: LocalActorResolver,
        *,
        follow_policy: FollowPolicy | None = None,
        on_actor_deleted: Callable[[Session, str], None] | None = None,
    ) -> None:
        self.local_actors = local_actors
        self.follow_policy = follow_policy
        self.on_actor_deleted = on_actor_deleted
        self._handlers: dict[tuple[str, str | None], Handler] = {}

    def register(self, activity_type: str, object_type: str | None, handler: Handler) -> None:
        self._handlers[(activity_type, object_type)] = handler

    def handler_for(self, activity: vocab.Activity) -> Handler | None:
        obj_type = activity.object.get("type") if isinstance(activity.object, dict) else None
        if isinstance(obj_type, str) and (activity.type, obj_type) in self._handlers:
            return self._handlers[(activity.type, obj_type)]
        return self._handlers.get((activity.type, None))


def process_pending(
    session: Session,
    registry: HandlerRegistry,
    limit: int = 50,
    *,
    actors: RemoteActors,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Process up to ``limit`` due pending inbox items, oldest first; returns how many succeeded.

    Each item is one transaction (committed here); a failing handler's writes are rolled back.
    What happens next depends on the failure (:mod:`federation.transient`):

    - transient (database busy, peer timeout…): the item stays ``pending`` with ``retry_at``
      set (backoff), its attempts untouched — unless it has kept failing for
      :data:`TRANSIENT_GIVE_UP` since it was received (then it counts as an attempt);
    - permanent (a refusal): ``refused`` at once with the reason in ``error``, one log line;
    - anything else (a bug): an attempt is used; ``failed`` after :data:`MAX_ATTEMPTS`.

    Recording a failure is itself one item's business: if even that cannot be written (the
    database is gone), the batch stops here and the item is simply found again next time.
    On PostgreSQL the item row is locked with SKIP LOCKED, so several workers can share the inbox.
    """
    done = 0
    skip: set[int] = set()  # failed in this call: retry on a later call, not in a loop now
    for _ in range(limit):
        current = now()
        stmt = select(InboxItem).where(
            InboxItem.state == "pending",
            or_(InboxItem.retry_at.is_(None), InboxItem.retry_at <= current),
        )
        if skip:
            stmt = stmt.where(InboxItem.id.not_in(skip))
        item = session.scalar(
            stmt.order_by(InboxItem.received_at, InboxItem.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if item is None:
            break
        item_id, received_at = item.id, item.received_at
        ctx = InboxContext(item_id=item_id, actors=actors, local_actors=registry.local_actors)
        try:
            activity = vocab.Activity.from_json(json.loads(item.body))
            _dispatch(session, registry, activity, ctx)
            item.attempts += 1
            item.state = "done"
            item.error = None
            item.retry_at = None
            item.processed_at = current
            session.commit()
            done += 1
        except Exception as exc:  # one item's failure must not stall the queue
            session.rollback()
            skip.add(item_id)
            if not _record_failure(session, item_id, received_at, exc, current):
                break
    return done


# A transient failure retried for this long after the item arrived starts counting attempts:
# whatever keeps "timing out" for a day is not going to succeed (and must not loop for ever).
TRANSIENT_GIVE_UP = timedelta(hours=24)
_TRANSIENT_MAX_DELAY = timedelta(minutes=10)


def _record_failure(
    session: Session, item_id: int, received_at: datetime, exc: Exception, now: datetime
) -> bool:
    """Write what became of a failed item; False if even that failed (the batch stops)."""
    kind = transient.classify(exc)
    why = transient.reason(exc)
    if kind == "transient" and now - received_at >= TRANSIENT_GIVE_UP:
        kind = "error"
    if kind == "transient":
        log.info("inbox item %s: transient failure, retried later: %s", item_id, why)
    elif kind == "permanent":
        log.info("inbox item %s refused: %s", item_id, why)
    else:
        log.error("inbox item %s failed", item_id, exc_info=exc)
    try:
        failed = session.get(InboxItem, item_id)
        if failed is not None:
            failed.error = why
            if kind == "transient":
                # Backoff grows with the item's age: 1 s at first, at most 10 minutes.
                delay = min(
                    max(timedelta(seconds=1), (now - received_at) / 10), _TRANSIENT_MAX_DELAY
                )
                failed.retry_at = now + delay
            elif kind == "permanent":
                failed.state = "refused"
                failed.processed_at = now
            else:
                failed.attempts += 1
                failed.retry_at = None
                if failed.attempts >= MAX_ATTEMPTS:
                    failed.state = "failed"
        session.commit()
        return True
    except Exception as second:  # the database itself is failing: leave the item pending
        session.rollback()
        log.warning(
            "inbox item %s: cannot record its failure: %s", item_id, transient.reason(second)
        )
        return False


def summary(session: Session, limit: int = 20) -> dict[str, Any]:
    """Inbox items per state, and the refused ones grouped by reason (most frequent first, at
    most ``limit`` reasons), for the operator (``coopfed deliveries``, the admin page)."""
    by_state = select(InboxItem.state, func.count()).group_by(InboxItem.state)
    states = {row[0]: row[1] for row in session.execute(by_state)}
    refused = session.execute(
        select(InboxItem.error, func.count())
        .where(InboxItem.state == "refused")
        .group_by(InboxItem.error)
        .order_by(func.count().desc(), InboxItem.error)
        .limit(limit)
    ).all()
    return {
        "states": {str(k): int(v) for k, v in states.items()},
        "refused": [(reason or "?", int(n)) for reason, n in refused],
    }


def _dispatch(
    session: Session, registry: HandlerRegistry, activity: vocab.Activity, ctx: InboxContext
) -> None:
    builtin = _BUILTINS.get(activity.type)
    handled_fully = False
    if builtin is not None:
        handled_fully = builtin(session, registry, activity, ctx)
    if not handled_fully:
        handler = registry.handler_for(activity)
        if handler is not None:
            handler(session, activity, ctx)


# -- built-in handlers (return True when the domain must not see the activity) -----------------


def _follow(
    session: Session, registry: HandlerRegistry, activity: vocab.Activity, ctx: InboxContext
) -> bool:
    local = activity.object_id
    if local is None or registry.local_actors(local) is None:
        return True  # not one of ours: nothing to follow
    follower = ctx.actors.get(activity.actor)
    decision: FollowDecision = "accept"
    if registry.follow_policy is not None:
        decision = registry.follow_policy(session, local, follower, activity)
    if decision == "ignore":
        return True
    if decision == "reject":
        session.execute(
            delete(Follower).where(Follower.local_actor == local, Follower.follower == follower.id)
        )
        _answer_follow(session, "Reject", local, follower, activity.id)
        return False
    row = session.scalar(
        select(Follower).where(Follower.local_actor == local, Follower.follower == follower.id)
    )
    if row is None:
        row = Follower(local_actor=local, follower=follower.id, accepted=False)
        session.add(row)
    row.follower_inbox = follower.inbox
    row.shared_inbox = follower.shared_inbox
    row.follow_activity_id = activity.id
    if decision == "accept":
        row.accepted = True
        # Re-sent for a repeated Follow too: that is how a peer that lost our Accept resyncs.
        _answer_follow(session, "Accept", local, follower, activity.id)
    session.flush()
    return False


def _answer_follow(
    session: Session, kind: str, local: str, follower: vocab.Actor, follow_id: str
) -> None:
    """Queue an Accept/Reject of ``follow_id``; the delivery worker POSTs it later.

    The Follow is embedded (Mastodon matches it by id, some peers by content). The id follows
    Mastodon's ``ACTOR#accepts/follows/N`` pattern.
    """
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{local}#{kind.lower()}s/follows/{uuid.uuid4().hex}",
        "type": kind,
        "actor": local,
        "object": {"id": follow_id, "type": "Follow", "actor": follower.id, "object": local},
        "to": [follower.id],
    }
    publish(session, activity, actor_iri=local, targets=[follower.inbox])


def accept_follower(session: Session, local_actor: str, follower_iri: str, inbox: str) -> bool:
    """Approve a pending follower (e.g. a partner coop, after the admin agreed) and queue the
    Accept to ``inbox`` (the follower's own inbox). Returns False if there is no such follow."""
    row = session.scalar(
        select(Follower).where(
            Follower.local_actor == local_actor, Follower.follower == follower_iri
        )
    )
    if row is None or row.follow_activity_id is None:
        return False
    row.accepted = True
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{local_actor}#accepts/follows/{uuid.uuid4().hex}",
        "type": "Accept",
        "actor": local_actor,
        "object": {
            "id": row.follow_activity_id,
            "type": "Follow",
            "actor": follower_iri,
            "object": local_actor,
        },
        "to": [follower_iri],
    }
    publish(session, activity, actor_iri=local_actor, targets=[inbox])
    return True


def _undo(
    session: Session, registry: HandlerRegistry, activity: vocab.Activity, ctx: InboxContext
) -> bool:
    obj = activity.object
    if isinstance(obj, dict) and obj.get("type") not in ("Follow", None):
        return False  # Undo(Like), Undo(Announce)…: the domain's
    conditions = [Follower.follower == activity.actor]
    # Match the embedded Follow by whom it follows before its id: Lemmy wraps a *new* Follow
    # (fresh id) in its Undo (crates/apub/src/activities/following/undo_follow.rs), and
    # Mastodon and Lemmy both unfollow by (actor, target). The actor can only undo its own.
    if isinstance(obj, dict) and isinstance(obj.get("object"), str):
        conditions.append(Follower.local_actor == obj["object"])
    elif activity.object_id is not None:
        conditions.append(Follower.follow_activity_id == activity.object_id)
    else:
        return False
    session.execute(delete(Follower).where(*conditions))
    return False  # the domain may want to know (a partnership ended)


def _accept_or_reject(
    session: Session, registry: HandlerRegistry, activity: vocab.Activity, ctx: InboxContext
) -> bool:
    obj = activity.object
    query = select(Following).where(Following.remote_actor == activity.actor)
    if activity.object_id is not None:
        query = query.where(Following.follow_activity_id == activity.object_id)
    elif isinstance(obj, dict) and isinstance(obj.get("actor"), str):
        query = query.where(Following.local_actor == obj["actor"])
    else:
        return False
    row = session.scalar(query)
    if row is None:
        return False
    row.state = "accepted" if activity.type == "Accept" else "rejected"
    return False  # the domain may want to know (partnership established)


def _delete(
    session: Session, registry: HandlerRegistry, activity: vocab.Activity, ctx: InboxContext
) -> bool:
    if activity.object_id != activity.actor:
        return False  # an object: the domain checks the stored object is the actor's own
    ctx.actors.purge(activity.actor)
    if registry.on_actor_deleted is not None:
        registry.on_actor_deleted(session, activity.actor)
    return True


_BUILTINS: dict[str, Callable[[Session, HandlerRegistry, vocab.Activity, InboxContext], bool]] = {
    "Follow": _follow,
    "Undo": _undo,
    "Accept": _accept_or_reject,
    "Reject": _accept_or_reject,
    "Delete": _delete,
}
