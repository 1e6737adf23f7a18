"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415) and NodeInfo 2.1.

WebFinger answers for the coop (``coop@``), the calls Group (``calls@``) and members that
exist for the asker (:func:`profiles.visibility.actor_served`: public ones for anyone,
partners-only ones for a WebFinger GET signed by a partner coop); NodeInfo counts what the
public may see.
"""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from sqlalchemy import func, select

from federation import nodeinfo, webfinger
from federation.db import utcnow
from federation.errors import FederationError
from node.ap import fed, served_member
from node.web import ctx, db
from profiles import visibility
from profiles.models import Call, Member

bp = Blueprint("ap_discovery", __name__)


def _local_account(username: str) -> webfinger.LocalAccount | None:
    base = ctx().base_url
    if username.lower() == "coop":  # the instance actor's name, not a visibility
        return webfinger.LocalAccount("coop", fed().coop.instance_iri, f"{base}/about")
    if username.lower() == "calls":
        return webfinger.LocalAccount("calls", fed().coop.calls_iri, f"{base}/calls")
    member = served_member(username)  # a hidden member: as if there were none
    if member is None:
        return None
    return webfinger.LocalAccount(member.username, member.ap_id, member.ap_id)


def _account_by_url(url: str) -> webfinger.LocalAccount | None:
    base = ctx().base_url
    if url == fed().coop.instance_iri:
        return _local_account("coop")
    if url == fed().coop.calls_iri:
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
    template = f"{ctx().base_url}/.well-known/webfinger?resource={{uri}}"
    body = render_template("ap/host-meta.xml", template=template)
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

    public = visibility.served_levels(visibility.Audience.PUBLIC)
    posts = select(func.count(Call.id)).where(Call.local, Call.visibility.in_(public))
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
