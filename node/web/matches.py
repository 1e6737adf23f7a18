"""Matchmaking on pages: the call page and the home page include ``_matches.html`` /
``_suggestions.html``, which call the template globals :func:`call_matches` and
:func:`member_suggestions` defined here, so the pages' own views need not know about matching.
Filters are plain GET parameters (``cross_border``, ``own_coop``, ``remote`` = 1): they work
without JavaScript. Who sees a call's suggestions is :func:`profiles.visibility.may_see_matches`'s
decision. The JSON side is :mod:`node.api.matches`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from node import reasons
from node.i18n import current_language
from node.match_service import CallMatches, Match, MatchService
from node.web import current_member, db, state, vocab
from profiles import visibility
from profiles.models import Call
from profiles.vocabulary import Vocabulary

bp = Blueprint("matches", __name__)

FILTERS = ("cross_border", "own_coop", "remote")


def service() -> MatchService:
    return state().match_service()


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "on", "yes")


def filters() -> dict[str, bool]:
    """The filters of the request (``?cross_border=1&own_coop=1&remote=1``)."""
    return {name: _flag(name) for name in FILTERS}


def call_matches_for(call: Call, limit: int, chosen: dict[str, bool]) -> CallMatches:
    return service().call_matches(
        db(),
        call,
        limit=limit,
        cross_border_only=chosen["cross_border"],
        own_node_only=chosen["own_coop"],
        remote_only=chosen["remote"],
    )


def _match_view(m: Match, v: Vocabulary, lang: str, perspective: str) -> dict[str, Any]:
    return {
        "member": m.member,
        "score": m.suggestion.score,
        "cross_border": any(r.code == "cross_border" for r in m.suggestion.reasons),
        "reasons": reasons.render(m.suggestion.reasons, v, lang, perspective),
    }


@bp.app_template_global()
def call_matches(call: Call, limit: int = 20) -> dict[str, Any] | None:
    """What ``_matches.html`` shows: None unless the viewer may see the call's matches."""
    if not visibility.may_see_matches(call, current_member()):
        return None
    chosen = filters()
    found = call_matches_for(call, limit, chosen)
    v, lang = vocab(), current_language()
    return {
        "filters": chosen,
        "matches": [_match_view(m, v, lang, "candidate") for m in found.matches],
        "team": [
            {"member": t.member, "covers": [v.label(i, lang) for i in t.covers]} for t in found.team
        ],
        "uncovered": [v.label(i, lang) for i in found.uncovered],
    }


@bp.app_template_global()
def member_suggestions(limit: int = 5) -> dict[str, Any] | None:
    """What ``_suggestions.html`` shows on the signed-in member's home page."""
    me = current_member()
    if me is None:
        return None
    found = service().member_suggestions(db(), me, limit=limit)
    v, lang = vocab(), current_language()
    return {
        "calls": [
            {
                "call": f.call,
                "score": f.suggestion.score,
                "reasons": reasons.render(f.suggestion.reasons, v, lang, "self"),
            }
            for f in found.calls
        ],
        "people": [_match_view(m, v, lang, "peer") for m in found.people],
    }
