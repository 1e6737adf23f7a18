"""A member's page (``name@node`` for members of partner coops) and uploaded avatars."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, send_from_directory
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from node.i18n import current_language
from node.web import ctx, current_member, db, forms, state, vocab
from node.web.pages import avatar_folder
from profiles import calls as call_service
from profiles import members as member_service
from profiles import visibility
from profiles.models import Member
from profiles.visibility import Audience

bp = Blueprint("members", __name__)


@bp.route("/members/<username>")
def member(username: str) -> Any:
    """A member's page; ``name@node`` for members of partner coops. The same URL serves the
    member's actor to ActivityPub clients (node.ap.negotiation)."""
    name, _sep, node = username.partition("@")
    node = node or ctx().domain
    me = current_member()
    found = db().scalar(
        member_service.visible_members(me)
        .where(Member.node == node.lower(), Member.username == name.lower())
        .options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.availability),
            selectinload(Member.links),
        )
    )
    if found is None:
        abort(404)
    their_calls, _total = call_service.list_calls(
        db(), me, call_service.CallQuery(author_id=found.id, per_page=50)
    )
    lang = current_language()
    return render_template(
        "member.html",
        member=found,
        skills=vocab().labels([c.concept_iri for c in found.skills], lang),
        occupations=vocab().labels([c.concept_iri for c in found.occupations], lang),
        calls=their_calls,
    )


@bp.route("/avatars/<name>")
def avatar(name: str) -> Any:
    """An avatar kept on this node, to those who may see its member: the viewer of the page,
    or a partner coop's server (a GET signed by its instance actor: partners keep a copy of a
    partners-only member's picture). Else 404, as for no such file."""
    if not forms.AVATAR_NAME.match(name):
        abort(404)
    owner = db().scalar(
        member_service.visible_members(current_member()).where(Member.avatar == name)
    )
    if owner is None:
        owner = db().scalar(select(Member).where(Member.local, Member.avatar == name))
        if owner is None or not _partner_may_see(owner):
            abort(404)
    response = send_from_directory(avatar_folder(), name, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _partner_may_see(member: Member) -> bool:
    if not visibility.may_view(member.visibility, local=True, audience=Audience.PARTNER):
        return False
    url = state().settings.base_url + request.full_path.removesuffix("?")
    partner = (
        state()
        .federation_service()
        .signed_partner(db(), method=request.method, url=url, headers=dict(request.headers))
    )
    return partner is not None
