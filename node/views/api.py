"""Read-only JSON API under /api/v1 (described by /api/v1/openapi.json, see node/openapi.py).

Anonymous callers see what a signed-out web visitor sees (public profiles and calls); a request
carrying a signed-in member's session sees what that member sees in the web UI. Members are
never serialised with e-mail addresses, password hashes or keys. Errors are
``{"error": "..."}`` with the matching status (the app's error handlers do that for /api/).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from node.openapi import openapi_document
from node.web import ctx, current_member, db, vocab
from profiles import calls as call_service
from profiles import validation
from profiles.linking import LANGUAGES
from profiles.members import DirectoryQuery, search_directory, visible_members
from profiles.models import CONCEPT_KINDS, Call, Concept, ConceptLabel, Member
from profiles.vocabulary import Vocabulary

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100
MAX_TAXONOMY_LIMIT = 50


# --- parameters ------------------------------------------------------------------------------


def _lang() -> str:
    lang = request.args.get("lang", "en").strip().lower()
    if lang not in LANGUAGES:
        abort(400, f"lang: one of {', '.join(LANGUAGES)}")
    return lang


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name}: a whole number expected")
    if not low <= value <= high:
        abort(400, f"{name}: between {low} and {high}")
    return value


def _date(name: str) -> date | None:
    try:
        return validation.iso_date(request.args.get(name))
    except ValueError as exc:
        abort(400, f"{name}: {exc}")


def _text(name: str, limit: int = 255) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > limit:
        abort(400, f"{name}: at most {limit} characters")
    return value or None


def _bool(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return validation.boolean(raw)
    except ValueError as exc:
        abort(400, f"{name}: {exc}")


def _page(items: list[dict[str, Any]], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"total": total, "page": page, "per_page": per_page, "results": items}


# --- serialisation ---------------------------------------------------------------------------


def _concepts(iris: list[str], v: Vocabulary, lang: str) -> list[dict[str, str]]:
    return [{"iri": iri, "label": label} for iri, label in v.labels(iris, lang)]


def member_json(member: Member, v: Vocabulary, lang: str) -> dict[str, Any]:
    """A member as the API shows it: never e-mail, password hash or keys."""
    return {
        "ap_id": member.ap_id,
        "username": member.username,
        "handle": member.handle,
        "node": member.node,
        "local": member.local,
        "coop": member.coop_name,
        "name": member.name,
        "summary": member.summary,
        "country": member.country,
        "city": member.city,
        "remote": member.remote,
        "visibility": member.visibility,
        "languages": [{"code": lg.code, "level": lg.level} for lg in member.languages],
        "occupations": _concepts([c.concept_iri for c in member.occupations], v, lang),
        "skills": _concepts([c.concept_iri for c in member.skills], v, lang),
        "availability": [
            {"start": r.start.isoformat(), "end": r.end.isoformat()} for r in member.availability
        ],
        "url": member.url or member.ap_id,
    }


def call_json(call: Call, v: Vocabulary, lang: str) -> dict[str, Any]:
    author = call.author
    return {
        "ap_id": call.ap_id,
        "public_id": call.public_id,
        "ref": call.ref,
        "node": call.node,
        "local": call.local,
        "author": {
            "ap_id": author.ap_id,
            "username": author.username,
            "node": author.node,
            "name": author.name,
        },
        "title": call.title,
        "description": call.description,
        "language": call.language,
        "skills_required": _concepts(call.required_skills, v, lang),
        "skills_optional": _concepts(call.optional_skills, v, lang),
        "languages": [lg.code for lg in call.languages],
        "country": call.country,
        "city": call.city,
        "remote": call.remote,
        "starts": call.starts.isoformat() if call.starts else None,
        "ends": call.ends.isoformat() if call.ends else None,
        "deadline": call.deadline.isoformat() if call.deadline else None,
        "compensation": call.compensation,
        "status": call.status,
        "visibility": call.visibility,
        "created_at": call.created_at.isoformat(),
        "url": call.url or call.ap_id,
    }


# --- members ---------------------------------------------------------------------------------


@bp.get("/members")
def members() -> Any:
    lang = _lang()
    country = _text("country", 2)
    language = _text("language", 8)
    q = DirectoryQuery(
        skill=_text("skill"),
        occupation=_text("occupation"),
        country=country.upper() if country else None,
        language=language.lower() if language else None,
        available_from=_date("available_from"),
        available_until=_date("available_until"),
        node=_text("node"),
        text=_text("q", 100),
        page=_int("page", 1, 1, 100_000),
        per_page=_int("per_page", 20, 1, MAX_PER_PAGE),
    )
    if q.available_from and q.available_until and q.available_until < q.available_from:
        abort(400, "available_until: before available_from")
    rows, total = search_directory(db(), current_member(), q)
    v = vocab()
    return _page([member_json(m, v, lang) for m in rows], total, q.page, q.per_page)


@bp.get("/members/<username>")
def member(username: str) -> Any:
    """``username`` for a member of this node, ``username@node`` for a partner's member."""
    handle = username
    username, _, node = handle.lower().partition("@")
    member = db().scalar(
        visible_members(current_member())
        .where(Member.username == username, Member.node == (node or ctx().domain))
        .options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.availability),
        )
    )
    if member is None:
        abort(404, f"no member {handle!r} (or not visible to you)")
    return member_json(member, vocab(), _lang())


# --- calls -----------------------------------------------------------------------------------


@bp.get("/calls")
def calls() -> Any:
    lang = _lang()
    viewer = current_member()
    ref = _text("ref", 128)
    if ref is not None:
        # Exact lookup of an imported call by its external id: the call itself, or 404.
        found = db().scalar(
            call_service.visible_calls(viewer).where(Call.node == ctx().domain, Call.ref == ref)
        )
        if found is None:
            abort(404, f"no call with ref {ref!r}")
        return call_json(found, vocab(), lang)
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        abort(400, "status: open, closed or all")
    country = _text("country", 2)
    language = _text("language", 8)
    q = call_service.CallQuery(
        status=None if status == "all" else status,
        skill=_text("skill"),
        country=country.upper() if country else None,
        language=language.lower() if language else None,
        node=_text("node"),
        remote=_bool("remote"),
        page=_int("page", 1, 1, 100_000),
        per_page=_int("per_page", 20, 1, MAX_PER_PAGE),
    )
    rows, total = call_service.list_calls(db(), viewer, q)
    v = vocab()
    return _page([call_json(c, v, lang) for c in rows], total, q.page, q.per_page)


@bp.get("/calls/<public_id>")
def call(public_id: str) -> Any:
    found = db().scalar(
        call_service.visible_calls(current_member()).where(Call.public_id == public_id)
    )
    if found is None:
        abort(404, "no such call (or not visible to you)")
    return call_json(found, vocab(), _lang())


# --- taxonomy --------------------------------------------------------------------------------


@bp.get("/taxonomy/search")
def taxonomy_search() -> Any:
    text = _text("q", 200)
    if not text:
        abort(400, "q: required")
    lang = _lang()
    kind = request.args.get("kind") or None
    if kind is not None and kind not in CONCEPT_KINDS:
        abort(400, "kind: skill or occupation")
    limit = _int("limit", 8, 1, MAX_TAXONOMY_LIMIT)
    v = vocab()
    results = [
        {
            "iri": s.iri,
            "label": v.label(s.iri, lang),
            "matched": s.label,
            "lang": s.lang,
            "score": round(s.score, 4),
            "kind": v.kinds.get(s.iri, ""),
        }
        for s in v.linker.link(text, lang, kind=kind, limit=limit)
    ]
    return {"results": results}


@bp.get("/taxonomy/concepts/<path:iri>")
def taxonomy_concept(iri: str) -> Any:
    lang = _lang()
    session = db()
    concept = session.get(Concept, iri)
    if concept is None:
        abort(404, f"no concept {iri!r} in this node's vocabulary")
    labels: dict[str, dict[str, Any]] = {}
    for code, text, preferred in session.execute(
        select(ConceptLabel.lang, ConceptLabel.label, ConceptLabel.preferred)
        .where(ConceptLabel.concept_iri == iri)
        .order_by(ConceptLabel.lang, ConceptLabel.id)
    ):
        entry = labels.setdefault(code, {"preferred": None, "alt": []})
        if preferred and entry["preferred"] is None:
            entry["preferred"] = text
        else:
            entry["alt"].append(text)
    for entry in labels.values():
        if entry["preferred"] is None and entry["alt"]:
            entry["preferred"] = entry["alt"].pop(0)
    return {
        "iri": concept.iri,
        "kind": concept.kind,
        "source": concept.source,
        "group": concept.group,
        "codes": concept.codes.split() if concept.codes else [],
        "label": vocab().label(iri, lang),
        "labels": labels,
    }


# --- the description -------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document(ctx().base_url, ctx().name))
