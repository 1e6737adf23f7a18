"""Inboxes: one shared path in effect (the activity says whom it is for); members' inboxes
check the member exists. The signature checks and the queue are ``federation.inbox``'s,
reached through :meth:`node.ap.service.NodeFederation.receive`. No CSRF here: servers POST.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from node.ap import fed, local_member, public_url

bp = Blueprint("ap_inbox", __name__)


def shared_inbox() -> Response:
    status, message = fed().receive(
        url=public_url(), headers=dict(request.headers), body=request.get_data(cache=False)
    )
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def member_inbox(username: str) -> Response:
    if local_member(username) is None:
        abort(404)
    return shared_inbox()


bp.add_url_rule("/inbox", "inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/actor/inbox", "actor_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/groups/calls/inbox", "calls_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/members/<username>/inbox", "member_inbox", member_inbox, methods=["POST"])
