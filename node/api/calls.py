"""GET /api/v1/calls (a page, or one call by its import ``ref``) and /api/v1/calls/<public_id>."""

from __future__ import annotations

from flask import Blueprint, abort, request

from node.api import (
    MAX_PER_PAGE,
    PREFIX,
    Param,
    bool_arg,
    int_arg,
    lang_arg,
    operation,
    path_param,
    text_arg,
)
from node.api import schemas as s
from node.api.members import LANG, PAGE, PER_PAGE, VISIBILITY_NOTE, concepts, language_pairs
from node.web import ctx, current_member, db, vocab
from node.web.pages import author_visible
from profiles import calls as call_service
from profiles.fields import CALL_STATUSES
from profiles.models import Call
from profiles.visibility import Visibility
from profiles.vocabulary import Vocabulary

bp = Blueprint("api_calls", __name__, url_prefix=PREFIX)

STATUS_FILTERS = (*CALL_STATUSES, "all")


def call_schema(call: Call, v: Vocabulary, lang: str) -> s.Call:
    author = call.author
    if author_visible(call):
        by = s.CallAuthor(
            ap_id=author.ap_id,
            username=author.username,
            node=author.node,
            name=author.name,
            coop_name=author.coop_name or author.node,
        )
    else:  # the author's visibility hides them from this viewer: only their coop
        by = s.CallAuthor(node=author.node, coop_name=author.coop_name or author.node)
    return s.Call(
        ap_id=call.ap_id,
        public_id=call.public_id,
        ref=call.ref,
        node=call.node,
        local=call.local,
        author=by,
        title=call.title,
        description=call.description,
        language=call.language,
        skills_required=concepts(call.required_skills, v, lang),
        skills_optional=concepts(call.optional_skills, v, lang),
        languages=[lg.code for lg in call.languages],
        languages_all=call.languages_all,
        language_pairs=language_pairs(call.language_pairs),
        country=call.country,
        city=call.city,
        remote=call.remote,
        starts=call.starts,
        ends=call.ends,
        deadline=call.deadline,
        compensation=call.compensation,
        status=call.status,  # type: ignore[arg-type]  # validated by the model
        visibility=Visibility(call.visibility),
        created_at=call.created_at,
        url=call.url or call.ap_id,
    )


@operation(
    bp,
    "/calls",
    operation_id="listCalls",
    summary="List project calls (paginated), or find one by ?ref=.",
    description="Newest first." + VISIBILITY_NOTE,
    params=(
        Param(
            "ref",
            "Exact lookup by the external id given at import: answers that one Call "
            "(not a page), 404 when there is none. Other filters are ignored.",
        ),
        Param(
            "status",
            "open (default), closed or all.",
            {"type": "string", "enum": list(STATUS_FILTERS), "default": "open"},
        ),
        Param("skill", "Only calls asking for this concept (ESCO IRI)."),
        Param("country", "ISO 3166 alpha-2 country code."),
        Param("language", "Only calls with this working language (ISO 639-1)."),
        Param("node", "Only calls of this coop node (domain)."),
        Param("remote", "Only remote (true) or on-site (false) calls.", {"type": "boolean"}),
        PAGE,
        PER_PAGE,
        LANG,
    ),
    response=(s.CallPage, s.Call),
    response_description="A page of calls; with ?ref= the one matching Call",
    errors=(400, 404),
)
def calls() -> s.CallPage | s.Call:
    lang = lang_arg()
    viewer = current_member()
    ref = text_arg("ref", 128)
    if ref is not None:
        # Exact lookup of an imported call by its external id: the call itself, or 404.
        found = db().scalar(
            call_service.visible_calls(viewer).where(Call.node == ctx().domain, Call.ref == ref)
        )
        if found is None:
            abort(404, f"no call with ref {ref!r}")
        return call_schema(found, vocab(), lang)
    status = request.args.get("status", "open")
    if status not in STATUS_FILTERS:
        abort(400, "status: open, closed or all")
    country = text_arg("country", 2)
    language = text_arg("language", 8)
    q = call_service.CallQuery(
        status=None if status == "all" else status,
        skill=text_arg("skill"),
        country=country.upper() if country else None,
        language=language.lower() if language else None,
        node=text_arg("node"),
        remote=bool_arg("remote"),
        page=int_arg("page", 1, 1, 100_000),
        per_page=int_arg("per_page", 20, 1, MAX_PER_PAGE),
    )
    rows, total = call_service.list_calls(db(), viewer, q)
    v = vocab()
    return s.CallPage(
        total=total,
        page=q.page,
        per_page=q.per_page,
        results=[call_schema(c, v, lang) for c in rows],
    )


@operation(
    bp,
    "/calls/<public_id>",
    operation_id="getCall",
    summary="One project call by its public id.",
    params=(path_param("public_id", "The id in the call's URL"), LANG),
    response=s.Call,
    response_description="The call",
    errors=(400, 404),
)
def call(public_id: str) -> s.Call:
    found = db().scalar(
        call_service.visible_calls(current_member()).where(Call.public_id == public_id)
    )
    if found is None:
        abort(404, "no such call (or not visible to you)")
    return call_schema(found, vocab(), lang_arg())
