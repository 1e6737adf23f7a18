"""Who acts for a call's author in collaboration activities (profiles.ap.collab).

A call whose author is hidden from some of its audience travels attributed to its coop's calls
Group (FEDERATION.md, "Calls by hidden authors"): partners then hold the Group as the call's
author, while the author's own node still signs the author's decisions and messages as the
author. These two rules let both sides agree without revealing more than the wire did.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from federation import vocab
from federation.errors import BadRequest
from federation.iri import host_of, same_host
from profiles.ap.addressing import CALLS_GROUP_PATH
from profiles.models import Call


def speaks_for_author(call: Call, actor: str) -> bool:
    """Does ``actor`` act as ``call``'s author? The author, or, for a partner's call whose
    author is hidden from us (held with the partner's calls Group as author), an actor of the
    call's own node: that node speaks for its hidden author, as it does for its members'
    deletes."""
    if actor == call.author.ap_id:
        return True
    return (
        not call.local
        and urlsplit(call.author.ap_id).path == CALLS_GROUP_PATH
        and same_host(call.author.ap_id, call.ap_id)
        and host_of(actor) == host_of(call.ap_id)
    )


def author_addresses(calls_group: str, call: Call) -> set[str]:
    """What a partner may address as the author of our ``call``: the author, and our calls
    Group (``calls_group``), which speaks for the call on the wire when its author is hidden."""
    return {call.author.ap_id, calls_group} if call.local else {call.author.ap_id}


def private_only(activity: vocab.Activity) -> None:
    """Collaboration is between two parties: nothing addressed to Public or a collection."""
    for iri in (*activity.to, *activity.cc):
        if iri in (vocab.PUBLIC, "Public", "as:Public") or iri.endswith("/followers"):
            raise BadRequest("collaboration activities are addressed to the other party only")
