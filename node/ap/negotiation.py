"""Content negotiation on the HTML URLs of members and calls.

``/members/<username>`` and ``/calls/<public_id>`` are both a page and an ActivityPub document
(the IRI a fediverse user pastes into a search box is the page they saw). A
``before_app_request`` hook answers AP clients (``Accept: application/activity+json`` or the
ld+json AS profile) with the document and lets everyone else through to the HTML view. Before
that, a GET signed by a blocked server is refused (403) whatever it asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from node.ap import actors, fed, wants_ap

bp = Blueprint("ap_negotiation", __name__)

# HTML endpoint -> (its URL parameter, the AP document served on the same URL).
DOCUMENTS: dict[str, tuple[str, Callable[[str], Response]]] = {
    "members.member": ("username", actors.member_actor),
    "calls.call": ("public_id", actors.call_object),
}


@bp.before_app_request
def _refuse_blocked() -> Any:
    """A GET signed by a blocked server or actor gets nothing, public documents included
    (a signature names who asks; unsigned GETs cannot be told apart from anyone else's)."""
    if request.method not in ("GET", "HEAD"):
        return None
    if fed().blocked_signer(dict(request.headers)):
        return Response("blocked", status=403, content_type="text/plain; charset=utf-8")
    return None


@bp.before_app_request
def _negotiate() -> Any:
    if request.method != "GET" or request.endpoint not in DOCUMENTS or not wants_ap():
        return None
    param, document = DOCUMENTS[request.endpoint]
    return document(str((request.view_args or {}).get(param, "")))
