"""Matchmaking in the JSON API:

- ``GET /api/v1/calls/<public_id>/matches?limit=20[&cross_border=1][&own_coop=1][&remote=1]``
- ``GET /api/v1/members/<username>/suggestions?limit=10``

Who sees what: a call's suggestions only whom :func:`profiles.visibility.may_see_matches`
allows (its author, an admin of this node), a member's suggestions only that member; anyone
else gets 403 (401-style redirects make no sense for JSON), an invisible call 404. Reasons are
rendered in ``?lang`` (default: the UI language).
"""

from __future__ import annotations

from flask import Blueprint, abort, request

from node import reasons
from node.api import PREFIX, Param, lang_arg, operation, path_param
from node.api import schemas as s
from node.i18n import current_language
from node.match_service import Match
from node.web import current_member, db, vocab
from node.web.matches import call_matches_for, filters, service
from profiles import calls as call_service
from profiles import visibility
from profiles.languages import UI_LANGUAGES
from profiles.vocabulary import Vocabulary

bp = Blueprint("api_matches", __name__, url_prefix=PREFIX)

MAX_LIMIT = 50
LIMIT = Param(
    "limit", "Most results.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}
)
LANG = Param(
    "lang",
    "Language of the reasons and labels (default: the UI language).",
    {"type": "string", "enum": UI_LANGUAGES},
)


def _limit(default: int) -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, f"limit: a whole number between 1 and {MAX_LIMIT}")
    return int(raw)


def _why(found: Match, v: Vocabulary, lang: str, perspective: str) -> list[s.Reason]:
    return [s.Reason(**r) for r in reasons.as_json(found.suggestion.reasons, v, lang, perspective)]


def _match(m: Match, v: Vocabulary, lang: str, perspective: str) -> s.Match:
    return s.Match(
        actor=m.member.ap_id,
        username=m.member.username,
        node=m.member.node,
        country=m.member.country,
        score=round(m.suggestion.score, 4),
        reasons=_why(m, v, lang, perspective),
    )


def _refs(iris: tuple[str, ...], v: Vocabulary, lang: str) -> list[s.ConceptRef]:
    return [s.ConceptRef(iri=i, label=v.label(i, lang)) for i in iris]


@operation(
    bp,
    "/calls/<public_id>/matches",
    operation_id="getCallMatches",
    summary="Suggested collaborators for a call, with reasons and a team.",
    description="Only for the call's author (or an admin of this node), signed in with a "
    "session cookie. Reasons are rendered in ?lang (default: the UI language).",
    params=(
        path_param("public_id", "The id in the call's URL"),
        LIMIT,
        Param("cross_border", "1: only people in other countries."),
        Param("own_coop", "1: only members of this node."),
        Param("remote", "1: only people who can work remotely."),
        LANG,
    ),
    response=s.CallMatches,
    response_description="Best first",
    errors=(400, 403, 404),
)
def api_call_matches(public_id: str) -> s.CallMatches:
    call = call_service.get_by_public_id(db(), public_id)  # NotFound -> 404
    me = current_member()
    if not call_service.can_view(call, me):
        abort(404, "no such call (or not visible to you)")
    if not visibility.may_see_matches(call, me):
        abort(403, "only the call's author sees its suggested collaborators")
    lang, limit = lang_arg(current_language), _limit(20)
    found = call_matches_for(call, limit, filters())
    v = vocab()
    return s.CallMatches(
        matches=[_match(m, v, lang, "candidate") for m in found.matches],
        team=[
            s.TeamPick(
                actor=t.member.ap_id, username=t.member.username, covers=_refs(t.covers, v, lang)
            )
            for t in found.team
        ],
        uncovered=_refs(found.uncovered, v, lang),
    )


@operation(
    bp,
    "/members/<username>/suggestions",
    operation_id="getMemberSuggestions",
    summary="Open calls that fit a member and people to meet (reciprocal).",
    description="Only for that member, signed in with a session cookie.",
    params=(path_param("username", "The signed-in member's username"), LIMIT, LANG),
    response=s.Suggestions,
    response_description="Best first",
    errors=(400, 403),
)
def api_member_suggestions(username: str) -> s.Suggestions:
    me = current_member()
    if me is None or me.username != username.lower():
        abort(403, "only the member themselves sees their suggestions")
    lang, limit = lang_arg(current_language), _limit(10)
    found = service().member_suggestions(db(), me, limit=limit)
    v = vocab()
    return s.Suggestions(
        calls=[
            s.CallFit(
                call=f.call.ap_id,
                title=f.call.title,
                score=round(f.suggestion.score, 4),
                reasons=[
                    s.Reason(**r) for r in reasons.as_json(f.suggestion.reasons, v, lang, "self")
                ],
            )
            for f in found.calls
        ],
        people=[_match(m, v, lang, "peer") for m in found.people],
    )
