"""Collections: outboxes, followers and following of our actors, and the partner collections.

- ``following`` lists the accounts an actor follows (accepted follows): the instance actor's
  (partner coops) and the calls Group's to anyone; a member's to whoever may see their profile.

- A member's outbox lists what they sent to the public that is still public now; followers are
  counted, never listed (only the coop's followers, the partner coops, are public knowledge).
- ``/actor/members`` and ``/actor/calls`` page through full documents for partner backfill:
  public items for anyone, partners-level ones for a GET signed by an active partner
  (:func:`profiles.visibility.served_levels`).
- Members hidden from the asker (:func:`profiles.visibility.actor_served`) have no
  collections (404, as for no such member).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort
from sqlalchemy import select

from federation import outbox
from node.ap import ap_response, audience_for, fed, page_arg, served_member, signed_partner
from node.web import db
from profiles import visibility
from profiles.models import Call, Member
from profiles.visibility import Audience

bp = Blueprint("ap_collections", __name__)

# A member's outbox lists at most this many of their latest public activities.
OUTBOX_LISTED = 1000


def _collection(collection_id: str, total: int, items: list[Any] | None = None) -> Response:
    """A collection head; with ``items`` also its single page (small collections)."""
    page = page_arg()
    if page is None or items is None:
        return ap_response(outbox.ordered_collection(collection_id, total, paged=items is not None))
    return ap_response(outbox.ordered_collection_page(collection_id, page, items, has_next=False))


def _followers(actor_iri: str, *, listed: bool) -> Response:
    """Followers: the partners' list is public knowledge; people's followers are counted only."""
    collection_id = f"{actor_iri}/followers"
    total = outbox.followers_total(db(), actor_iri)
    page = page_arg()
    if not listed or page is None:
        return ap_response(outbox.ordered_collection(collection_id, total, paged=listed))
    return ap_response(outbox.followers_page(db(), actor_iri, collection_id, page))


def _public_calls(ap_ids: list[str]) -> set[str]:
    """Those of ``ap_ids`` that are our own calls the public may see now."""
    if not ap_ids:
        return set()
    public = visibility.served_levels(Audience.PUBLIC)
    return set(
        db().scalars(
            select(Call.ap_id).where(
                Call.ap_id.in_(ap_ids), Call.local.is_(True), Call.visibility.in_(public)
            )
        )
    )


def _public_outbox(member: Member) -> Response:
    """What a stranger may see of what ``member`` published: one ``Create`` per call that is
    public now (the latest, when a call went partners-only and came back), newest first — as
    Mastodon's outbox lists one ``Create`` per status and shows ``totalItems`` as the post
    count. Updates, Deletes and profile updates are not listed; a call since deleted or made
    partners-only is neither listed nor counted."""
    collection_id = f"{member.ap_id}/outbox"
    sent = outbox.outbox_page(
        db(), member.ap_id, collection_id, 1, page_size=OUTBOX_LISTED, public_only=True
    )["orderedItems"]
    creates = [
        a
        for a in sent
        if a.get("type") == "Create"
        and isinstance(o := a.get("object"), dict)
        and o.get("type") == "Page"
    ]
    public_calls = _public_calls([a["object"]["id"] for a in creates])
    listed: dict[str, dict] = {}  # newest first: the first Create of each Page wins
    for activity in creates:
        listed.setdefault(activity["object"]["id"], activity)
    items = [a for page_id, a in listed.items() if page_id in public_calls]
    page = page_arg()
    if page is None:
        return ap_response(outbox.ordered_collection(collection_id, len(items)))
    start = (page - 1) * outbox.PAGE_SIZE
    chunk = items[start : start + outbox.PAGE_SIZE]
    has_next = len(items) > start + outbox.PAGE_SIZE
    return ap_response(
        outbox.ordered_collection_page(collection_id, page, chunk, has_next=has_next)
    )


@bp.route("/actor/followers")
def instance_followers() -> Response:
    return _followers(fed().coop.instance_iri, listed=True)


@bp.route("/groups/calls/followers")
def calls_followers() -> Response:
    return _followers(fed().coop.calls_iri, listed=False)


def _following(actor_iri: str, *, listed: bool) -> Response:
    """The accounts ``actor_iri`` follows (accepted follows only), paged; only counted when
    the asker may not see the actor's profile."""
    collection_id = f"{actor_iri}/following"
    total = outbox.following_total(db(), actor_iri)
    page = page_arg()
    if not listed or page is None:
        return ap_response(outbox.ordered_collection(collection_id, total, paged=listed))
    return ap_response(outbox.following_page(db(), actor_iri, collection_id, page))


@bp.route("/actor/following")
def instance_following() -> Response:
    """The partner coops our instance actor follows: public knowledge, like its followers."""
    return _following(fed().coop.instance_iri, listed=True)


@bp.route("/groups/calls/following")
def calls_following() -> Response:
    return _following(fed().coop.calls_iri, listed=True)


@bp.route("/actor/outbox")
def instance_outbox() -> Response:
    return _collection(f"{fed().coop.instance_iri}/outbox", 0)


@bp.route("/groups/calls/outbox")
def calls_outbox() -> Response:
    coop = fed().coop
    collection_id = f"{coop.calls_iri}/outbox"
    page = page_arg()
    fed().ensure_node_keys()  # the Group's proof key signs the page
    total, items, has_next = coop.calls_outbox(db(), page)
    if page is None:
        return ap_response(outbox.ordered_collection(collection_id, total))
    doc = outbox.ordered_collection_page(collection_id, page, items, has_next=has_next)
    return ap_response(doc)


def _member_or_404(username: str) -> Member:
    member = served_member(username)  # hidden from the asker: as if there were none
    if member is None:
        abort(404)
    return member


@bp.route("/members/<username>/outbox")
def member_outbox(username: str) -> Response:
    return _public_outbox(_member_or_404(username))


@bp.route("/members/<username>/followers")
def member_followers(username: str) -> Response:
    return _followers(_member_or_404(username).ap_id, listed=False)


@bp.route("/members/<username>/following")
def member_following(username: str) -> Response:
    """Whom a member follows: listed to those who may see the member's profile (the public for
    a public profile, partner coops for a partners-only one), counted for everyone else."""
    member = _member_or_404(username)
    audience = audience_for(
        lambda a: visibility.may_view(member.visibility, local=True, audience=a)
    )
    listed = visibility.may_view(member.visibility, local=True, audience=audience)
    return _following(member.ap_id, listed=listed)


def _backfill_collection(kind: str) -> Response:
    """Paged full Person / Page documents for partner backfill. Partners-visibility items
    only for a GET signed by an active partner; public items for anyone."""
    collection_id = f"{fed().coop.instance_iri}/{kind}"
    partner = signed_partner() is not None
    page = page_arg()
    fetch = fed().coop.members_page if kind == "members" else fed().coop.calls_page
    items, has_next, total = fetch(db(), page or 1, partner=partner)
    if page is None:
        return ap_response(outbox.ordered_collection(collection_id, total))
    return ap_response(
        outbox.ordered_collection_page(collection_id, page, items, has_next=has_next)
    )


@bp.route("/actor/members")
def partner_members() -> Response:
    return _backfill_collection("members")


@bp.route("/actor/calls")
def partner_calls() -> Response:
    return _backfill_collection("calls")
