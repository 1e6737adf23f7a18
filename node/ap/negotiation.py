"""Content negotiation on the HTML URLs of members and calls.

``/members/<username>`` and ``/calls/<public_id>`` are both a page and an ActivityPub document
(the IRI a fediverse user pastes into a search box is the page they saw). A
``before_app_request`` hook answers AP clients (``Accept: application/activity+json`` or the
ld+json AS profile) with the document and lets everyone else through to the HTML view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from node.ap import actors, wants_ap

bp = Blueprint("ap_negotiation", __name__)

# HTML endpoint -> (its URL parameter, the AP document served on the same URL).
DOCUMENTS: dict[str, tuple[str, Callable[[str], Response]]] = {
    "members.member": ("username", actors.member_actor),
    "calls.call": ("public_id", actors.call_object),
}


@bp.before_app_request
def _negotiate() -> Any:
    if request.method != "GET" or request.endpoint not in DOCUMENTS or not wants_ap():
        return None
    param, document = DOCUMENTS[request.endpoint]
    return document(str((request.view_args or {}).get(param, "")))
