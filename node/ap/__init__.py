"""The node's ActivityPub face: the service (:mod:`node.ap.service`) and its HTTP routes.

Routes by concern, each module one Blueprint: :mod:`~node.ap.negotiation` (AP documents on the
HTML URLs of members and calls), :mod:`~node.ap.discovery` (WebFinger, host-meta, NodeInfo),
:mod:`~node.ap.actors`, :mod:`~node.ap.collections` (outboxes, followers, partner backfill),
:mod:`~node.ap.inbox`, :mod:`~node.ap.feeds` (Atom/RSS of public open calls).

Who sees what on the wire is decided by :mod:`profiles.visibility`; the routes only find out
who is asking (:func:`audience_for`): the public, or a partner coop whose instance actor signed
the GET. This module holds the request helpers the route modules share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from federation import vocab
from node.ap.service import NodeFederation
from node.web import ctx, db, state
from profiles import visibility
from profiles.ap.publishing import consented_hosts
from profiles.models import Member, Partnership, Tombstone
from profiles.visibility import Audience

AP_TYPES = ("application/activity+json", "application/ld+json")


def fed() -> NodeFederation:
    return state().federation_service()


def wants_ap() -> bool:
    """Does the client ask for ActivityStreams rather than HTML?"""
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", *AP_TYPES])
    if best == "application/ld+json":
        # Only the ActivityStreams profile of JSON-LD means ActivityPub.
        header = request.headers.get("Accept", "")
        return "activitystreams" in header or "activity+json" in header
    return best == "application/activity+json"


def ap_response(doc: dict[str, Any], status: int = 200) -> Response:
    response = Response(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type=vocab.ACTIVITY_JSON,
    )
    response.headers["Vary"] = "Accept"
    return response


def public_url() -> str:
    """The URL the client signed: our public base URL + path + query (never the proxy's)."""
    return state().settings.base_url + request.full_path.removesuffix("?")


def signed_partner() -> Partnership | None:
    """The active partner whose instance actor signed this request, else None."""
    return fed().signed_partner(
        db(), method=request.method, url=public_url(), headers=dict(request.headers)
    )


def audience_for(decide: Callable[[Audience], Any]) -> Audience:
    """Who is asking, as far as ``decide`` (a visibility rule applied to one row) cares.

    A signature is verified (which may fetch the signer's key) only when the answer differs
    between the public and a partner; otherwise the asker is treated as the public.
    """
    if decide(Audience.PUBLIC) == decide(Audience.PARTNER):
        return Audience.PUBLIC
    return Audience.PARTNER if signed_partner() is not None else Audience.PUBLIC


def page_arg() -> int | None:
    """``?page=``: None for a collection head, a page number from 1 otherwise."""
    raw = request.args.get("page")
    if raw is None:
        return None
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def local_member(username: str) -> Member | None:
    """A member of this node by user name (any visibility), with what their actor shows."""
    if "@" in username:
        return None
    return db().scalar(
        select(Member)
        .where(Member.local, Member.node == ctx().domain, Member.username == username.lower())
        .options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.availability),
        )
    )


def served_member(username: str) -> Member | None:
    """A member of this node that exists for whoever asks (:func:`profiles.visibility.
    actor_served`), else None: a hidden member answers exactly as a nonexistent one."""
    member = local_member(username)
    if member is None or member.deactivated_at is not None:  # left the coop's register
        return None
    vis = member.visibility
    audience = audience_for(lambda a: visibility.actor_served(vis, a))
    if visibility.actor_served(vis, audience):
        return member
    # A coop-only member who responded to a partner coop's call agreed then to share their
    # profile with that coop (profiles.collab consent): served to that coop's signed fetches.
    consented = consented_hosts(db(), member)
    if consented:
        partner = signed_partner()
        if partner is not None and partner.domain in consented:
            return member
    return None


def gone(ap_id: str) -> Response | None:
    """410 with a Tombstone for something we deleted, else None."""
    tomb = db().scalar(select(Tombstone).where(Tombstone.ap_id == ap_id))
    if tomb is None:
        return None
    doc = {
        "@context": vocab.AS_CONTEXT,
        "id": ap_id,
        "type": "Tombstone",
        "formerType": vocab.former_type(tomb.kind),
        "deleted": tomb.deleted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ap_response(doc, 410)


def blueprints() -> tuple[Blueprint, ...]:
    """Every ActivityPub blueprint; the inbox's must be exempt from CSRF (see node.extensions)."""
    from node.ap import actors, collections, discovery, feeds, follow, inbox, negotiation

    return (negotiation.bp, discovery.bp, actors.bp, collections.bp, inbox.bp, feeds.bp, follow.bp)
