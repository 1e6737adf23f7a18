"""GET /api/v1/members (the directory) and /api/v1/members/<username>."""

from __future__ import annotations

from flask import Blueprint, abort
from sqlalchemy.orm import selectinload

from node.api import (
    MAX_PER_PAGE,
    PREFIX,
    Param,
    date_arg,
    int_arg,
    lang_arg,
    operation,
    path_param,
    text_arg,
)
from node.api import schemas as s
from node.web import ctx, current_member, db, vocab
from profiles.fields import pairs_from_text
from profiles.languages import UI_LANGUAGES
from profiles.members import DirectoryQuery, search_directory, visible_members
from profiles.models import Member
from profiles.understanding import STATUSES, UNLINKED
from profiles.visibility import Visibility
from profiles.vocabulary import Vocabulary

bp = Blueprint("api_members", __name__, url_prefix=PREFIX)

VISIBILITY_NOTE = (
    " Anonymous callers see public entries only; a signed-in member's session cookie "
    "shows what that member sees in the web UI."
)
LANG = Param(
    "lang", "Language of concept labels (default en).", {"type": "string", "enum": UI_LANGUAGES}
)
PAGE = Param("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1})
PER_PAGE = Param(
    "per_page",
    "Results per page.",
    {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
)
DATE = {"type": "string", "format": "date"}


def concepts(iris: list[str], v: Vocabulary, lang: str) -> list[s.ConceptRef]:
    return [s.ConceptRef(iri=iri, label=label) for iri, label in v.labels(iris, lang)]


def language_pairs(stored: str) -> list[s.LanguagePair]:
    return [s.LanguagePair(source=a, target=b) for a, b in pairs_from_text(stored)]


def own_words(member: Member, v: Vocabulary, lang: str) -> list[s.OwnWords]:
    """What the member wrote (profiles.understanding), with what it was understood as."""
    out = []
    for p in member.phrases:
        status = p.status if p.status in STATUSES else UNLINKED
        concept = None
        if p.concept_iri and status != UNLINKED:
            concept = s.ConceptRef(iri=p.concept_iri, label=v.label(p.concept_iri, lang))
        out.append(
            s.OwnWords(
                text=p.text,
                lang=p.lang,
                kind="occupation" if p.kind == "occupation" else "skill",
                status=status,  # type: ignore[arg-type]  # one of STATUSES
                concept=concept,
            )
        )
    return out


def member_schema(member: Member, v: Vocabulary, lang: str) -> s.Member:
    """A member as the API shows it: never e-mail, password hash or keys."""
    return s.Member(
        ap_id=member.ap_id,
        username=member.username,
        handle=member.handle,
        node=member.node,
        local=member.local,
        coop=member.coop_name,
        name=member.name,
        summary=member.summary,
        country=member.country,
        city=member.city,
        remote=member.remote,
        visibility=Visibility(member.visibility),
        languages=[s.LanguageLevel(code=lg.code, level=lg.level) for lg in member.languages],
        occupations=concepts([c.concept_iri for c in member.occupations], v, lang),
        skills=concepts([c.concept_iri for c in member.skills], v, lang),
        availability=[s.Period(start=r.start, end=r.end) for r in member.availability],
        language_pairs=language_pairs(member.language_pairs),
        own_words=own_words(member, v, lang),
        url=member.url or member.ap_id,
    )


@operation(
    bp,
    "/members",
    operation_id="listMembers",
    summary="Search the member directory (paginated).",
    description="Members of this node and of partner coops." + VISIBILITY_NOTE,
    params=(
        Param("skill", "Only members with this skill (ESCO IRI)."),
        Param("occupation", "Only members with this occupation (ESCO IRI)."),
        Param("country", "ISO 3166 alpha-2 country code."),
        Param("language", "Only members speaking this language (ISO 639-1)."),
        Param(
            "available_from", "Available at some time in [available_from, available_until].", DATE
        ),
        Param("available_until", "See available_from.", DATE),
        Param("node", "Only members of this coop node (domain)."),
        Param("q", "Name, user name or city contains this text."),
        PAGE,
        PER_PAGE,
        LANG,
    ),
    response=s.MemberPage,
    response_description="A page of members",
)
def members() -> s.MemberPage:
    lang = lang_arg()
    country = text_arg("country", 2)
    language = text_arg("language", 8)
    q = DirectoryQuery(
        skill=text_arg("skill"),
        occupation=text_arg("occupation"),
        country=country.upper() if country else None,
        language=language.lower() if language else None,
        available_from=date_arg("available_from"),
        available_until=date_arg("available_until"),
        node=text_arg("node"),
        text=text_arg("q", 100),
        page=int_arg("page", 1, 1, 100_000),
        per_page=int_arg("per_page", 20, 1, MAX_PER_PAGE),
    )
    if q.available_from and q.available_until and q.available_until < q.available_from:
        abort(400, "available_until: before available_from")
    rows, total = search_directory(db(), current_member(), q)
    v = vocab()
    return s.MemberPage(
        total=total,
        page=q.page,
        per_page=q.per_page,
        results=[member_schema(m, v, lang) for m in rows],
    )


@operation(
    bp,
    "/members/<username>",
    operation_id="getMember",
    summary="One member: `username` on this node or `username@node`.",
    params=(path_param("username", "username or username@node"), LANG),
    response=s.Member,
    response_description="The member",
    errors=(400, 404),
)
def member(username: str) -> s.Member:
    """``username`` for a member of this node, ``username@node`` for a partner's member."""
    handle = username
    username, _, node = handle.lower().partition("@")
    found = db().scalar(
        visible_members(current_member())
        .where(Member.username == username, Member.node == (node or ctx().domain))
        .options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.availability),
            selectinload(Member.phrases),
        )
    )
    if found is None:
        abort(404, f"no member {handle!r} (or not visible to you)")
    return member_schema(found, vocab(), lang_arg())
