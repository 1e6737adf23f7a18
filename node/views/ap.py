"""ActivityPub routes: WebFinger, NodeInfo, actors, collections, inboxes, call feeds.

Member and call pages share their URL with the HTML views (``main.member``, ``main.call``): a
``before_app_request`` hook answers AP clients (``Accept: application/activity+json`` or the
ld+json AS profile) with the JSON document and lets everyone else through to the HTML page.

Visibility on the wire: public things are served to anyone; ``partners`` things in full only to
a GET signed by an active partner's instance actor (others get the bare actor: name and key);
``coop`` things are 404 except the bare actor to partners (they need the key to verify a call
the member posted to partners).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, redirect, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from federation import nodeinfo, outbox, vocab, webfinger
from federation.db import utcnow
from federation.errors import FederationError
from node import federation as node_federation
from node.web import ctx, db, state
from profiles.models import Call, Member, Partnership, Tombstone

bp = Blueprint("ap", __name__)

AP_TYPES = ("application/activity+json", "application/ld+json")
FEED_LIMIT = 50


def fed() -> node_federation.NodeFederation:
    service: node_federation.NodeFederation = state().services["federation"]
    return service


def wants_ap() -> bool:
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


def _partner() -> Partnership | None:
    return fed().signed_partner(
        db(), method=request.method, url=public_url(), headers=dict(request.headers)
    )


def _page_arg() -> int | None:
    raw = request.args.get("page")
    if raw is None:
        return None
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


# --- content negotiation on the HTML URLs --------------------------------------------------------


@bp.before_app_request
def _negotiate() -> Any:
    if request.method != "GET" or not wants_ap():
        return None
    args = request.view_args or {}
    if request.endpoint == "main.member":
        return member_actor(str(args.get("username", "")))
    if request.endpoint == "main.call":
        return call_object(str(args.get("public_id", "")))
    return None


def _local_member(username: str) -> Member | None:
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


def _gone(ap_id: str) -> Response | None:
    tomb = db().scalar(select(Tombstone).where(Tombstone.ap_id == ap_id))
    if tomb is None:
        return None
    doc = {
        "@context": vocab.AS_CONTEXT,
        "id": ap_id,
        "type": "Tombstone",
        "formerType": tomb.kind,
        "deleted": tomb.deleted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ap_response(doc, 410)


def member_actor(username: str) -> Response:
    member = _local_member(username)
    if member is None:
        gone = _gone(ctx().member_iri(username.lower()))
        if gone is not None:
            return gone
        abort(404)
    partner = _partner() if member.visibility != "public" else None
    if member.visibility == "coop" and partner is None:
        abort(404)
    full = member.visibility == "public" or (
        partner is not None and member.visibility == "partners"
    )
    session = db()
    fed().domain.ensure_member_key(session, member)
    doc = fed().domain.person(session, member, full=full)
    session.commit()
    return ap_response(doc)


def call_object(public_id: str) -> Response:
    call = db().scalar(
        select(Call)
        .where(Call.public_id == public_id, Call.local)
        .options(selectinload(Call.author), selectinload(Call.skills), selectinload(Call.languages))
    )
    if call is None:
        gone = _gone(ctx().call_iri(public_id))
        if gone is not None:
            return gone
        abort(404)
    if call.visibility == "coop" or (call.visibility == "partners" and _partner() is None):
        abort(404)
    return ap_response(fed().domain.page(db(), call))


# --- discovery -----------------------------------------------------------------------------------


def _local_account(username: str) -> webfinger.LocalAccount | None:
    base = ctx().base_url
    if username.lower() == "coop":
        return webfinger.LocalAccount("coop", fed().domain.instance_iri, f"{base}/about")
    if username.lower() == "calls":
        return webfinger.LocalAccount("calls", fed().domain.calls_iri, f"{base}/calls")
    member = _local_member(username)
    if member is None or member.visibility == "coop":
        return None  # coop-only members are not discoverable
    return webfinger.LocalAccount(member.username, member.ap_id, member.ap_id)


def _account_by_url(url: str) -> webfinger.LocalAccount | None:
    base = ctx().base_url
    if url == fed().domain.instance_iri:
        return _local_account("coop")
    if url == fed().domain.calls_iri:
        return _local_account("calls")
    prefix = f"{base}/members/"
    return _local_account(url[len(prefix) :]) if url.startswith(prefix) else None


@bp.route("/.well-known/webfinger")
def webfinger_view() -> Response:
    resource = request.args.get("resource", "")
    try:
        jrd = webfinger.build_webfinger(
            resource, _local_account, domain=ctx().domain, resolve_url=_account_by_url
        )
    except FederationError as exc:
        return Response(exc.message, status=exc.status, content_type="text/plain")
    response = Response(json.dumps(jrd), content_type=webfinger.JRD_JSON)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/.well-known/host-meta")
def host_meta() -> Response:
    template = escape(f"{ctx().base_url}/.well-known/webfinger?resource={{uri}}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n</XRD>\n'
    )
    return Response(body, content_type="application/xrd+xml")


@bp.route("/.well-known/nodeinfo")
def nodeinfo_links() -> Response:
    return Response(
        json.dumps(nodeinfo.well_known_nodeinfo(ctx().base_url)), content_type="application/json"
    )


@bp.route("/nodeinfo/2.1")
def nodeinfo_doc() -> Response:
    session = db()
    now = utcnow()
    local = select(func.count(Member.id)).where(Member.local)

    def active(days: int) -> int:
        return session.scalar(local.where(Member.updated_at >= now - timedelta(days=days))) or 0

    posts = select(func.count(Call.id)).where(Call.local, Call.visibility == "public")
    doc = nodeinfo.build_nodeinfo(
        version="0.1.0",
        users_total=session.scalar(local) or 0,
        active_month=active(30),
        active_halfyear=active(182),
        local_posts=session.scalar(posts) or 0,
        node_name=ctx().name,
        coop_country=ctx().country,
    )
    return Response(json.dumps(doc), content_type=nodeinfo.CONTENT_TYPE)


# --- the coop and the calls feed -----------------------------------------------------------------


@bp.route("/actor")
def instance_actor() -> Response:
    if not wants_ap():
        return redirect(url_for("main.about"))  # type: ignore[return-value]
    session = db()
    doc = fed().domain.instance_actor(session)
    session.commit()
    return ap_response(doc)


@bp.route("/groups/calls")
def calls_actor() -> Response:
    if not wants_ap():
        return redirect(url_for("main.calls"))  # type: ignore[return-value]
    session = db()
    doc = fed().domain.calls_actor(session)
    session.commit()
    return ap_response(doc)


def _collection(collection_id: str, total: int, items: list[Any] | None = None) -> Response:
    """A collection head; with ``items`` also its single page (small collections)."""
    page = _page_arg()
    if page is None or items is None:
        return ap_response(outbox.ordered_collection(collection_id, total, paged=items is not None))
    return ap_response(outbox.ordered_collection_page(collection_id, page, items, has_next=False))


def _followers(actor_iri: str, *, listed: bool) -> Response:
    """Followers: the partners' list is public knowledge; people's followers are counted only."""
    collection_id = f"{actor_iri}/followers"
    total = outbox.followers_total(db(), actor_iri)
    page = _page_arg()
    if not listed or page is None:
        return ap_response(outbox.ordered_collection(collection_id, total, paged=listed))
    return ap_response(outbox.followers_page(db(), actor_iri, collection_id, page))


# A member's outbox lists at most this many of their latest public activities.
OUTBOX_LISTED = 1000


def _public_outbox(member: Member) -> Response:
    """What a stranger may see of what ``member`` sent: activities addressed to Public whose
    object is still public now — a call since deleted or made partners-only, or a profile
    since made partners-only, is not listed (nor counted: Mastodon shows ``totalItems`` as the
    post count)."""
    session = db()
    collection_id = f"{member.ap_id}/outbox"
    sent = outbox.outbox_page(
        session, member.ap_id, collection_id, 1, page_size=OUTBOX_LISTED, public_only=True
    )["orderedItems"]
    pages = [
        o["id"] for a in sent if isinstance(o := a.get("object"), dict) and o.get("type") == "Page"
    ]
    public_calls = (
        set(
            session.scalars(
                select(Call.ap_id).where(
                    Call.ap_id.in_(pages), Call.local.is_(True), Call.visibility == "public"
                )
            )
        )
        if pages
        else set()
    )

    def still_public(activity: dict) -> bool:
        if activity.get("type") == "Delete":
            return False  # like Mastodon's outbox: what is gone is not listed
        obj = activity.get("object")
        if isinstance(obj, dict) and obj.get("type") == "Page":
            return obj.get("id") in public_calls
        if isinstance(obj, dict) and obj.get("type") == "Person":
            return member.visibility == "public"
        return True

    items = [a for a in sent if still_public(a)]
    page = _page_arg()
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
    return _followers(fed().domain.instance_iri, listed=True)


@bp.route("/groups/calls/followers")
def calls_followers() -> Response:
    return _followers(fed().domain.calls_iri, listed=False)


@bp.route("/actor/following")
@bp.route("/groups/calls/following")
def actor_following() -> Response:
    return _collection(ctx().base_url + request.path, 0)


@bp.route("/actor/outbox")
def instance_outbox() -> Response:
    return _collection(f"{fed().domain.instance_iri}/outbox", 0)


@bp.route("/groups/calls/outbox")
def calls_outbox() -> Response:
    domain = fed().domain
    collection_id = f"{domain.calls_iri}/outbox"
    page = _page_arg()
    session = db()
    total, items, has_next = domain.calls_outbox(session, page)
    session.commit()  # the Group's proof key, if signing the page just made it
    if page is None:
        return ap_response(outbox.ordered_collection(collection_id, total))
    doc = outbox.ordered_collection_page(collection_id, page, items, has_next=has_next)
    return ap_response(doc)


def _member_or_404(username: str) -> Member:
    member = _local_member(username)
    if member is None or member.visibility == "coop":
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
    return _collection(f"{_member_or_404(username).ap_id}/following", 0)


def _backfill_collection(kind: str) -> Response:
    """Paged full Person / Page documents for partner backfill. Partners-visibility items
    only for a GET signed by an active partner; public items for anyone."""
    collection_id = f"{fed().domain.instance_iri}/{kind}"
    partner = _partner() is not None
    page = _page_arg()
    fetch = fed().domain.members_page if kind == "members" else fed().domain.calls_page
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


# --- inboxes -------------------------------------------------------------------------------------


def shared_inbox() -> Response:
    status, message = fed().receive(
        url=public_url(), headers=dict(request.headers), body=request.get_data(cache=False)
    )
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def member_inbox(username: str) -> Response:
    if _local_member(username) is None:
        abort(404)
    return shared_inbox()


bp.add_url_rule("/inbox", "inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/actor/inbox", "actor_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/groups/calls/inbox", "calls_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/members/<username>/inbox", "member_inbox", member_inbox, methods=["POST"])
INBOX_VIEWS = (shared_inbox, member_inbox)


# --- feeds of public open calls ------------------------------------------------------------------


def _feed_calls() -> list[Call]:
    return list(
        db()
        .scalars(
            select(Call)
            .where(Call.local, Call.visibility == "public", Call.status == "open")
            .options(selectinload(Call.author))
            .order_by(Call.created_at.desc(), Call.id.desc())
            .limit(FEED_LIMIT)
        )
        .all()
    )


def _iso(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


@bp.route("/calls.atom")
def calls_atom() -> Response:
    base = ctx().base_url
    calls = _feed_calls()
    updated = _iso(calls[0].updated_at) if calls else _iso(utcnow())
    entries = "".join(
        "<entry>"
        f"<id>{escape(c.ap_id)}</id><title>{escape(c.title)}</title>"
        f'<link rel="alternate" href="{escape(c.ap_id)}"/>'
        f"<updated>{_iso(c.updated_at)}</updated><published>{_iso(c.created_at)}</published>"
        f"<author><name>{escape(c.author.name or c.author.username)}</name></author>"
        f'<content type="html">{escape(c.description)}</content>'
        "</entry>"
        for c in calls
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(base)}/calls.atom</id><title>{escape(ctx().name)} project calls</title>"
        f'<link rel="self" href="{escape(base)}/calls.atom"/>'
        f'<link rel="alternate" href="{escape(base)}/calls"/>'
        f"<updated>{updated}</updated>{entries}</feed>\n"
    )
    return Response(body, content_type="application/atom+xml; charset=utf-8")


@bp.route("/calls.rss")
def calls_rss() -> Response:
    from email.utils import format_datetime

    base = ctx().base_url
    items = "".join(
        "<item>"
        f"<title>{escape(c.title)}</title><link>{escape(c.ap_id)}</link>"
        f'<guid isPermaLink="true">{escape(c.ap_id)}</guid>'
        f"<pubDate>{format_datetime(c.created_at, usegmt=True)}</pubDate>"
        f"<description>{escape(c.description)}</description>"
        "</item>"
        for c in _feed_calls()
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(ctx().name)} project calls</title><link>{escape(base)}/calls</link>"
        f"<description>Public open project calls of {escape(ctx().name)}</description>"
        f"{items}</channel></rss>\n"
    )
    return Response(body, content_type="application/rss+xml; charset=utf-8")
