"""Actor and object documents: members, calls, the coop (instance actor) and the calls Group.

Members and calls share their URL with the HTML pages (see :mod:`node.ap.negotiation`); the
coop and the Group have their own URLs and redirect browsers to the matching page.

What a document shows to whom is :mod:`profiles.visibility`'s: ``actor_served`` (else 404, as
for no such member: a partners-only member exists for partner coops only, a coop-only member for
nobody outside), ``may_view`` for calls.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from node.ap import ap_response, audience_for, fed, gone, served_member, wants_ap
from node.web import ctx, db
from profiles import visibility
from profiles.models import Call

bp = Blueprint("ap_actors", __name__)


def member_actor(username: str) -> Response:
    member = served_member(username)
    if member is None:
        tomb = gone(ctx().member_iri(username.lower()))
        if tomb is not None:
            return tomb
        abort(404)
    # GETs never write: keys are made with the member (profiles.member_keys); one imported a
    # moment ago may not have its RSA key yet, and is served without publicKey until then.
    doc = fed().coop.person(db(), member)
    if not member.public_key_pem:
        doc.pop("publicKey", None)
    return ap_response(doc)


def call_object(public_id: str) -> Response:
    call = db().scalar(
        select(Call)
        .where(Call.public_id == public_id, Call.local)
        .options(selectinload(Call.author), selectinload(Call.skills), selectinload(Call.languages))
    )
    if call is None:
        tomb = gone(ctx().call_iri(public_id))
        if tomb is not None:
            return tomb
        abort(404)
    vis = call.visibility
    audience = audience_for(lambda a: visibility.may_view(vis, local=True, audience=a))
    if not visibility.may_view(vis, local=True, audience=audience):
        abort(404)
    return ap_response(fed().coop.page(db(), call))


@bp.route("/actor")
def instance_actor() -> Response:
    if not wants_ap():
        return redirect(url_for("home.about"))  # type: ignore[return-value]
    fed().ensure_node_keys()
    return ap_response(fed().coop.instance_actor(db()))


@bp.route("/groups/calls")
def calls_actor() -> Response:
    if not wants_ap():
        return redirect(url_for("calls.calls"))  # type: ignore[return-value]
    fed().ensure_node_keys()
    return ap_response(fed().coop.calls_actor(db()))
