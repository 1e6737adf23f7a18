"""Transactional outbox: publishing stores the activity and its delivery rows in the caller's
transaction — nothing published is lost, nothing rolled back is ever sent. The delivery worker
(:mod:`federation.delivery`) does the POSTs later.

Publishing signs the activity once, as stored and delivered byte for byte to every inbox and
served in the outbox collection, with a FEP-8b32 proof when a :data:`ProofSigner` is given or
installed in ``session.info[PROOF_SIGNER]`` (the node does; the domain owns the keys). RSA HTTP
signatures are added per POST by the delivery worker regardless.

Also the paging helpers for the ``outbox`` and ``followers`` OrderedCollections.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation import vocab
from federation.errors import BadRequest
from federation.iri import host_of, is_http_iri
from federation.models import Delivery, Follower, Following, OutboxActivity
from federation.policy import DomainPolicy

FOLLOWERS: Literal["followers"] = "followers"
PAGE_SIZE = 20
# session.info key of the node's ProofSigner, for activities built by the engine (Accept…).
PROOF_SIGNER = "coopfed_proof_signer"
ProofSigner = Callable[[Session, dict[str, Any]], dict[str, Any]]
"""``(session, activity) -> activity with a proof by its actor`` (unchanged if the actor has no
proof key). Runs in the publishing transaction, so it may create the key there."""


def followers_inboxes(session: Session, local_actor: str) -> list[str]:
    """Distinct inboxes reaching every accepted follower of ``local_actor``: a follower's shared
    inbox when it has one (one POST per server, as Mastodon does), else its own inbox."""
    rows = session.execute(
        select(Follower.follower_inbox, Follower.shared_inbox)
        .where(Follower.local_actor == local_actor, Follower.accepted.is_(True))
        .order_by(Follower.id)
    ).all()
    return list(dict.fromkeys(shared or inbox for inbox, shared in rows))


def publish(
    session: Session,
    activity: dict[str, Any],
    *,
    actor_iri: str,
    targets: Iterable[str] | Literal["followers"],
    policy: DomainPolicy | None = None,
    prove: ProofSigner | None = None,
) -> OutboxActivity:
    """Store ``activity`` and one pending delivery per distinct target inbox.

    ``targets`` is ``"followers"`` or an iterable of inbox URLs in which the item ``"followers"``
    may also appear. Inboxes on blocked hosts are skipped. Flushes, never commits.
    Publishing the same activity id twice adds only the deliveries not yet queued.
    ``prove`` (default: ``session.info[PROOF_SIGNER]``, if any) signs a new activity that has no
    ``proof`` yet; the stored ``body`` is the signed document. ``activity`` is not modified.
    """
    ap_id = activity.get("id")
    if not is_http_iri(ap_id) or activity.get("actor") != actor_iri:
        raise BadRequest("an activity needs an http(s) id and actor == actor_iri")
    policy = policy or DomainPolicy(session)
    wanted = [FOLLOWERS] if isinstance(targets, str) else list(targets)
    inboxes: list[str] = []
    for target in wanted:
        if target == FOLLOWERS:
            inboxes.extend(followers_inboxes(session, actor_iri))
        elif is_http_iri(target):
            inboxes.append(target)
        else:
            raise BadRequest(f"not an inbox URL: {target[:200]!r}")

    row = session.scalar(select(OutboxActivity).where(OutboxActivity.ap_id == ap_id))
    if row is None:
        prove = prove or session.info.get(PROOF_SIGNER)
        if prove is not None and "proof" not in activity:
            activity = prove(session, activity)
        row = OutboxActivity(
            ap_id=str(ap_id),
            actor=actor_iri,
            type=str(activity.get("type", "")),
            body=json.dumps(activity, separators=(",", ":"), ensure_ascii=False),
        )
        session.add(row)
        session.flush()
        queued: set[str] = set()
    else:
        queued = set(
            session.scalars(select(Delivery.inbox_url).where(Delivery.activity_id == row.id))
        )
    blocked: dict[str, bool] = {}  # one policy lookup per host, not per inbox (fan-outs)
    for inbox in dict.fromkeys(inboxes):
        host = host_of(inbox)
        if host not in blocked:
            blocked[host] = policy.is_blocked_host(host)
        if inbox in queued or blocked[host]:
            continue
        session.add(Delivery(activity_id=row.id, inbox_url=inbox, host=host, state="pending"))
    session.flush()
    return row


def follow_remote(
    session: Session, *, local_actor: str, remote_actor: str, remote_inbox: str, follow_id: str
) -> dict[str, Any]:
    """Queue a Follow from one of our actors (a member or the calls Group following an account,
    a partnership request between instance actors) to ``remote_inbox`` and record it in
    ``fed_following`` as pending until the peer's Accept/Reject arrives (the inbox's built-in
    handler matches it by ``follow_id``). A follow already recorded is asked again with the new
    id. Returns the Follow. Flushes, never commits."""
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": follow_id,
        "type": "Follow",
        "actor": local_actor,
        "object": remote_actor,
        "to": [remote_actor],
    }
    row = session.scalar(
        select(Following).where(
            Following.local_actor == local_actor, Following.remote_actor == remote_actor
        )
    )
    if row is None:
        row = Following(local_actor=local_actor, remote_actor=remote_actor)
        session.add(row)
    row.state = "pending"
    row.follow_activity_id = follow_id
    publish(session, activity, actor_iri=local_actor, targets=[remote_inbox])
    return activity


def unfollow_remote(
    session: Session, *, local_actor: str, remote_actor: str, remote_inbox: str, undo_id: str
) -> dict[str, Any] | None:
    """Queue the ``Undo`` of ``local_actor``'s Follow of ``remote_actor`` (whatever its state:
    a pending follow is withdrawn the same way) and delete the ``fed_following`` row. The Undo
    embeds the Follow (id, actor, object): Mastodon and Lemmy match it by actor and object,
    others by id. Returns the Undo, or None when there was no such follow. Flushes."""
    row = session.scalar(
        select(Following).where(
            Following.local_actor == local_actor, Following.remote_actor == remote_actor
        )
    )
    if row is None:
        return None
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": undo_id,
        "type": "Undo",
        "actor": local_actor,
        "object": {
            "id": row.follow_activity_id,
            "type": "Follow",
            "actor": local_actor,
            "object": remote_actor,
        },
        "to": [remote_actor],
    }
    publish(session, activity, actor_iri=local_actor, targets=[remote_inbox])
    session.delete(row)
    session.flush()
    return activity


# -- collections ------------------------------------------------------------------------------


def ordered_collection(collection_id: str, total: int, *, paged: bool = True) -> dict[str, Any]:
    """The collection head: ``totalItems`` and a link to the first page (``?page=1``)."""
    doc: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if paged:
        doc["first"] = f"{collection_id}?page=1"
    return doc


def ordered_collection_page(
    collection_id: str, page: int, items: list[Any], *, has_next: bool
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{collection_id}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if has_next:
        doc["next"] = f"{collection_id}?page={page + 1}"
    if page > 1:
        doc["prev"] = f"{collection_id}?page={page - 1}"
    return doc


def _addressed_to_public(activity: dict[str, Any]) -> bool:
    return vocab.PUBLIC in vocab.as_list(activity.get("to")) + vocab.as_list(activity.get("cc"))


# Activities we serialise name Public with this exact JSON string; the SQL filter narrows on it
# and the exact check on the parsed activity decides.
_PUBLIC_JSON = json.dumps(vocab.PUBLIC)


def outbox_page(
    session: Session,
    actor_iri: str,
    collection_id: str,
    page: int,
    page_size: int = PAGE_SIZE,
    *,
    public_only: bool = False,
) -> dict[str, Any]:
    """Page ``page`` (from 1) of ``actor_iri``'s outbox, newest first, activities embedded.

    ``public_only`` lists only activities addressed to Public (what a stranger may see).
    """
    page = max(page, 1)
    stmt = select(OutboxActivity.body).where(OutboxActivity.actor == actor_iri)
    if public_only:
        stmt = stmt.where(OutboxActivity.body.contains(_PUBLIC_JSON, autoescape=True))
    rows = session.scalars(
        stmt.order_by(OutboxActivity.created_at.desc(), OutboxActivity.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    ).all()
    items = [json.loads(body) for body in rows[:page_size]]
    if public_only:
        items = [a for a in items if _addressed_to_public(a)]
    return ordered_collection_page(collection_id, page, items, has_next=len(rows) > page_size)


def outbox_total(session: Session, actor_iri: str) -> int:
    stmt = select(func.count()).select_from(OutboxActivity)
    return session.scalar(stmt.where(OutboxActivity.actor == actor_iri)) or 0


def followers_page(
    session: Session, local_actor: str, collection_id: str, page: int, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """Page ``page`` (from 1) of accepted followers' actor IRIs, oldest first."""
    page = max(page, 1)
    rows = session.scalars(
        select(Follower.follower)
        .where(Follower.local_actor == local_actor, Follower.accepted.is_(True))
        .order_by(Follower.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    ).all()
    return ordered_collection_page(
        collection_id, page, list(rows[:page_size]), has_next=len(rows) > page_size
    )


def followers_total(session: Session, local_actor: str) -> int:
    stmt = select(func.count()).select_from(Follower)
    stmt = stmt.where(Follower.local_actor == local_actor, Follower.accepted.is_(True))
    return session.scalar(stmt) or 0


def following_page(
    session: Session, local_actor: str, collection_id: str, page: int, page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    """Page ``page`` (from 1) of the actors ``local_actor`` follows (accepted follows only),
    oldest first."""
    page = max(page, 1)
    rows = session.scalars(
        select(Following.remote_actor)
        .where(Following.local_actor == local_actor, Following.state == "accepted")
        .order_by(Following.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    ).all()
    return ordered_collection_page(
        collection_id, page, list(rows[:page_size]), has_next=len(rows) > page_size
    )


def following_total(session: Session, local_actor: str) -> int:
    stmt = select(func.count()).select_from(Following)
    stmt = stmt.where(Following.local_actor == local_actor, Following.state == "accepted")
    return session.scalar(stmt) or 0
