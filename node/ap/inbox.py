"""Inboxes: one shared path in effect (the activity says whom it is for); members' inboxes
check the member exists. The signature checks and the queue are ``federation.inbox``'s,
reached through :meth:`node.ap.service.NodeFederation.receive`. No CSRF here: servers POST.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from federation import signatures
from federation.iri import host_of, is_http_iri
from federation.models import Following
from node.ap import fed, local_member, public_url
from node.web import db
from profiles import visibility
from profiles.models import Member, Partnership
from profiles.visibility import Audience

bp = Blueprint("ap_inbox", __name__)


def shared_inbox() -> Response:
    status, message = fed().receive(
        url=public_url(), headers=dict(request.headers), body=request.get_data(cache=False)
    )
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def member_inbox(username: str) -> Response:
    """A member's inbox. A hidden member (partners-only, coop-only) answers exactly like a
    nonexistent one: a POST that claims a partner coop's key goes on to the shared inbox (which
    verifies it) whether or not the member exists; anyone else gets 404 for both."""
    member = local_member(username)
    hidden = member is None or not visibility.actor_served(member.visibility, Audience.PUBLIC)
    if hidden and not _known_sender(member):
        abort(404)
    return shared_inbox()


def _known_sender(member: Member | None) -> bool:
    """Does the POST claim the key of a partner coop's server, or of an account the member
    follows (a member who followed someone revealed themselves to that account)? Unverified:
    the shared inbox verifies; a forger only reaches the same verification."""
    key_id = signatures.claimed_key_id(dict(request.headers))
    if not key_id or not is_http_iri(key_id):
        return False
    host = host_of(key_id)
    stmt = select(Partnership.id).where(Partnership.domain == host, Partnership.state == "active")
    if db().scalar(stmt) is not None:
        return True
    if member is None:
        return False
    followed = select(Following.id).where(
        Following.local_actor == member.ap_id,
        Following.remote_actor == key_id.split("#", 1)[0],
    )
    return db().scalar(followed) is not None


bp.add_url_rule("/inbox", "inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/actor/inbox", "actor_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/groups/calls/inbox", "calls_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/members/<username>/inbox", "member_inbox", member_inbox, methods=["POST"])
