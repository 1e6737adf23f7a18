"""Matchmaking in the UI and the JSON API.

Web: the call page and the home page include ``_matches.html`` / ``_suggestions.html``, which
call the template globals :func:`call_matches` and :func:`member_suggestions` defined here, so
the pages' own views need not know about matching. Filters are plain GET parameters
(``cross_border``, ``own_coop``, ``remote`` = 1): they work without JavaScript.

API (described in ``node/openapi.py``):

- ``GET /api/v1/calls/<public_id>/matches?limit=20[&cross_border=1][&own_coop=1][&remote=1]``
- ``GET /api/v1/members/<username>/suggestions?limit=10``

Who sees what: a call's suggestions only its author (or an admin of this node), a member's
suggestions only that member; anyone else gets 403 (401-style redirects make no sense for
JSON), an invisible call 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from node import matching as matching_service
from node import reasons
from node.i18n import current_language
from node.matching import CallMatches, Match, MatchService
from node.web import current_member, db, state, vocab
from profiles import calls as call_service
from profiles.linking import LANGUAGES
from profiles.models import Call, Member
from profiles.vocabulary import Vocabulary

bp = Blueprint("matching", __name__)

MAX_LIMIT = 50
FILTERS = ("cross_border", "own_coop", "remote")


def _service() -> MatchService:
    return matching_service.service(state())


def _may_see_matches(call: Call, me: Member | None) -> bool:
    return me is not None and (me.is_admin or (call.local and call.author_id == me.id))


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "on", "yes")


def _filters() -> dict[str, bool]:
    return {name: _flag(name) for name in FILTERS}


def _matches(call: Call, limit: int, filters: dict[str, bool]) -> CallMatches:
    return _service().call_matches(
        db(),
        call,
        limit=limit,
        cross_border_only=filters["cross_border"],
        own_node_only=filters["own_coop"],
        remote_only=filters["remote"],
    )


# --- web: template globals -----------------------------------------------------------------


def _match_view(m: Match, v: Vocabulary, lang: str, perspective: str) -> dict[str, Any]:
    return {
        "member": m.member,
        "score": m.suggestion.score,
        "cross_border": any(r.code == "cross_border" for r in m.suggestion.reasons),
        "reasons": reasons.render(m.suggestion.reasons, v, lang, perspective),
    }


@bp.app_template_global()
def call_matches(call: Call, limit: int = 20) -> dict[str, Any] | None:
    """What ``_matches.html`` shows: None unless the viewer is the call's author (or admin)."""
    if not _may_see_matches(call, current_member()):
        return None
    filters = _filters()
    found = _matches(call, limit, filters)
    v, lang = vocab(), current_language()
    return {
        "filters": filters,
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
    found = _service().member_suggestions(db(), me, limit=limit)
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


# --- API ---------------------------------------------------------------------------------------


def _lang() -> str:
    lang = request.args.get("lang")
    if lang is None:
        return current_language()
    lang = lang.strip().lower()
    if lang not in LANGUAGES:
        abort(400, f"lang: one of {', '.join(LANGUAGES)}")
    return lang


def _limit(default: int) -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, f"limit: a whole number between 1 and {MAX_LIMIT}")
    return int(raw)


def _match_json(m: Match, v: Vocabulary, lang: str, perspective: str) -> dict[str, Any]:
    return {
        "actor": m.member.ap_id,
        "username": m.member.username,
        "node": m.member.node,
        "country": m.member.country,
        "score": round(m.suggestion.score, 4),
        "reasons": reasons.as_json(m.suggestion.reasons, v, lang, perspective),
    }


def _refs(iris: tuple[str, ...], v: Vocabulary, lang: str) -> list[dict[str, str]]:
    return [{"iri": i, "label": v.label(i, lang)} for i in iris]


@bp.get("/api/v1/calls/<public_id>/matches")
def api_call_matches(public_id: str) -> Any:
    call = call_service.get_by_public_id(db(), public_id)  # NotFound -> 404
    me = current_member()
    if not call_service.can_view(call, me):
        abort(404, "no such call (or not visible to you)")
    if not _may_see_matches(call, me):
        abort(403, "only the call's author sees its suggested collaborators")
    lang, limit = _lang(), _limit(20)
    found = _matches(call, limit, _filters())
    v = vocab()
    return {
        "matches": [_match_json(m, v, lang, "candidate") for m in found.matches],
        "team": [
            {
                "actor": t.member.ap_id,
                "username": t.member.username,
                "covers": _refs(t.covers, v, lang),
            }
            for t in found.team
        ],
        "uncovered": _refs(found.uncovered, v, lang),
    }


@bp.get("/api/v1/members/<username>/suggestions")
def api_member_suggestions(username: str) -> Any:
    me = current_member()
    if me is None or me.username != username.lower():
        abort(403, "only the member themselves sees their suggestions")
    lang, limit = _lang(), _limit(10)
    found = _service().member_suggestions(db(), me, limit=limit)
    v = vocab()
    return {
        "calls": [
            {
                "call": f.call.ap_id,
                "title": f.call.title,
                "score": round(f.suggestion.score, 4),
                "reasons": reasons.as_json(f.suggestion.reasons, v, lang, "self"),
            }
            for f in found.calls
        ],
        "people": [_match_json(m, v, lang, "peer") for m in found.people],
    }
