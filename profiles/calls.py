"""Project calls: create, edit, close, delete, list. Services take a Session; callers commit."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.orm import Session, object_session, selectinload

from federation.db import utcnow
from federation.errors import Forbidden
from federation.sanitize import plain_text, sanitize_html
from profiles import events, moderation, search, validation
from profiles.context import NodeContext
from profiles.errors import Conflict, NotFound, PermissionDenied, ValidationError
from profiles.fields import (
    CALL_STATUSES,
    CallData,
    CallFields,
    language_pairs,
    max_length,
    pairs_from_text,
    pairs_text,
)
from profiles.models import Call, CallLanguage, CallPhrase, CallSkill, Member
from profiles.remote import RemoteCall
from profiles.understanding import LINKED
from profiles.visibility import (
    DEFAULT_CALL,
    Audience,
    may_view,
    viewer_audience,
    visible_clause,
)
from profiles.vocabulary import Vocabulary

MAX_SKILLS = max_length(CallFields, "skills_required")  # required and optional together
MAX_LANGUAGES = max_length(CallFields, "languages")
MAX_PAIRS = max_length(CallFields, "language_pairs")
_TITLE, _DESCRIPTION, _CITY, _COMPENSATION, _REF = (
    max_length(CallFields, n) for n in ("title", "description", "city", "compensation", "ref")
)


def call_data(call: Call) -> CallData:
    return CallData(
        title=call.title,
        description=call.description,
        language=call.language,
        skills_required=call.required_skills,
        skills_optional=call.optional_skills,
        languages=[lang.code for lang in call.languages],
        languages_all=call.languages_all,
        language_pairs=pairs_from_text(call.language_pairs),
        country=call.country,
        city=call.city,
        remote=call.remote,
        starts=call.starts,
        ends=call.ends,
        deadline=call.deadline,
        compensation=call.compensation,
        visibility=call.visibility,
        status=call.status,
        ref=call.ref,
    )


def _check_skills(
    data: CallData, vocab: Vocabulary, errors: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Required and optional concepts, known and deduplicated (a required one is not also
    optional); problems go to ``errors``."""
    required: list[str] = []
    optional: list[str] = []
    for iri in data.skills_required:
        if vocab.kinds.get(iri) not in ("skill", "occupation"):
            errors["skills_required"] = f"unknown concept {iri}"
        elif iri not in required:
            required.append(iri)
    for iri in data.skills_optional:
        if vocab.kinds.get(iri) not in ("skill", "occupation"):
            errors["skills_optional"] = f"unknown concept {iri}"
        elif iri not in required and iri not in optional:
            optional.append(iri)
    if len(required) + len(optional) > MAX_SKILLS:
        errors["skills_required"] = f"at most {MAX_SKILLS} skills in all"
    return required, optional


def validate_call(data: CallData, vocab: Vocabulary) -> CallData:
    errors: dict[str, str] = {}
    out = CallData()

    def check(name: str, fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except ValueError as exc:
            errors[name] = str(exc)
            return default

    out.title = check(
        "title", lambda: plain_text(validation.text(data.title, _TITLE, required=True)), ""
    )
    if not out.title and "title" not in errors:
        errors["title"] = "required"
    out.description = check(
        "description", lambda: sanitize_html(validation.text(data.description, _DESCRIPTION)), ""
    )
    out.language = check("language", lambda: validation.language(data.language), "en")
    out.country = check("country", lambda: validation.country(data.country), "")
    out.city = check("city", lambda: plain_text(validation.text(data.city, _CITY)), "")
    out.remote = bool(data.remote)
    out.compensation = check(
        "compensation", lambda: plain_text(validation.text(data.compensation, _COMPENSATION)), ""
    )
    out.visibility = check(
        "visibility",
        lambda: validation.visibility(data.visibility, DEFAULT_CALL.value),
        DEFAULT_CALL.value,
    )
    if data.status not in CALL_STATUSES:
        errors["status"] = "open or closed"
    out.status = data.status
    out.ref = check("ref", lambda: validation.text(data.ref, _REF) or None, None)
    out.skills_required, out.skills_optional = _check_skills(data, vocab, errors)
    langs: list[str] = []
    for code in data.languages:
        lang = check("languages", partial(validation.language, code), None)
        if lang and lang not in langs:
            langs.append(lang)
    if len(langs) > MAX_LANGUAGES:
        errors["languages"] = f"at most {MAX_LANGUAGES}"
    out.languages = langs
    out.languages_all = bool(data.languages_all)
    out.language_pairs = check(
        "language_pairs", partial(language_pairs, data.language_pairs, MAX_PAIRS), []
    )
    out.starts, out.ends, out.deadline = data.starts, data.ends, data.deadline
    if out.starts and out.ends and out.ends < out.starts:
        errors["ends"] = "ends before it starts"
    if out.deadline and out.ends and out.deadline > out.ends:
        errors["deadline"] = "the deadline is after the end"
    if not out.remote and not out.country:
        errors["country"] = "give a country, or mark the call as remote"
    if errors:
        raise ValidationError(errors)
    return out


def _apply(call: Call, data: CallData) -> None:
    call.title = data.title
    call.description = data.description
    call.language = data.language
    call.country = data.country
    call.city = data.city
    call.remote = data.remote
    call.starts, call.ends, call.deadline = data.starts, data.ends, data.deadline
    call.compensation = data.compensation
    call.visibility = data.visibility
    call.status = data.status
    call.search_text = search.searchable(data.title, data.city, html=data.description)
    session = object_session(call)
    if call.id is not None and session is not None:
        call.skills, call.languages = [], []  # delete before re-inserting unique rows
        session.flush()
    call.skills = [CallSkill(concept_iri=i, required=True) for i in data.skills_required] + [
        CallSkill(concept_iri=i, required=False) for i in data.skills_optional
    ]
    call.languages = [CallLanguage(code=c) for c in data.languages]
    call.languages_all = data.languages_all
    call.language_pairs = pairs_text(data.language_pairs)
    call.updated_at = utcnow()  # child rows alone do not fire onupdate (match index refresh)


def _with_phrases(data: CallData, phrases: Sequence[CallPhrase] | None) -> CallData:
    """``data`` with the concepts the author's phrases stand for (required ones first, each
    concept once): a phrase linked for sure is a skill of the call."""
    if not phrases:
        return data
    linked = [p for p in phrases if p.status == LINKED and p.concept_iri]
    required = [p.concept_iri for p in linked if p.required and p.concept_iri]
    optional = [p.concept_iri for p in linked if not p.required and p.concept_iri]
    return replace(
        data,
        skills_required=list(dict.fromkeys([*data.skills_required, *required])),
        skills_optional=list(dict.fromkeys([*data.skills_optional, *optional])),
    )


def create_call(
    session: Session,
    ctx: NodeContext,
    author: Member,
    data: CallData,
    vocab: Vocabulary,
    phrases: Sequence[CallPhrase] | None = None,
) -> Call:
    """A new call of a local member. ``phrases``: what the author wrote for its skills
    (:func:`profiles.call_phrases.rows` from the form's review, or
    :func:`profiles.importers.call_phrases`), stored with it before partners hear of it; a
    phrase linked for sure makes its concept a skill of the call."""
    if not author.local:
        raise PermissionDenied("only members of this coop post calls here")
    clean = validate_call(_with_phrases(data, phrases), vocab)
    if clean.ref and session.scalar(
        select(Call.id).where(Call.node == ctx.domain, Call.ref == clean.ref)
    ):
        raise Conflict(f"a call with ref {clean.ref!r} exists already")
    public_id = secrets.token_urlsafe(9)
    call = Call(
        ap_id=ctx.call_iri(public_id),
        public_id=public_id,
        local=True,
        node=ctx.domain,
        ref=clean.ref,
        author=author,
        title=clean.title,
    )
    _apply(call, clean)
    if phrases is not None:
        call.phrases = list(phrases)
    session.add(call)
    session.flush()
    events.emit(session, events.CALL_SAVED, call)
    return call


def _check_owner(call: Call, actor: Member) -> None:
    if not call.local:
        raise PermissionDenied("calls of partner coops are edited on their own node")
    if call.author_id != actor.id and not actor.is_admin:
        raise PermissionDenied("only the author may change this call")


def update_call(
    session: Session,
    call: Call,
    actor: Member,
    data: CallData,
    vocab: Vocabulary,
    phrases: Sequence[CallPhrase] | None = None,
) -> Call:
    """Replace what an edit may change. ``phrases``: as in :func:`create_call`; None keeps
    the stored ones (an API edit of other fields knows nothing of them)."""
    _check_owner(call, actor)
    data.ref = call.ref  # the external reference never changes through an edit
    clean = validate_call(_with_phrases(data, phrases), vocab)
    _apply(call, clean)
    if phrases is not None:
        call.phrases = list(phrases)
    session.flush()
    events.emit(session, events.CALL_SAVED, call)
    return call


def set_status(session: Session, call: Call, actor: Member, status: str) -> Call:
    _check_owner(call, actor)
    if status not in CALL_STATUSES:
        raise ValidationError({"status": "open or closed"})
    call.status = status
    session.flush()
    events.emit(session, events.CALL_SAVED, call)
    return call


def delete_call(session: Session, call: Call, actor: Member) -> None:
    _check_owner(call, actor)
    events.emit(session, events.CALL_DELETED, call)
    session.delete(call)
    session.flush()


def save_remote_call(
    session: Session, record: RemoteCall, author: Member | Callable[[], Member]
) -> Call:
    """Create or update a call received from a partner, through the same field writer as local
    edits. ``author`` is its author's row (see :func:`profiles.members.save_remote_member`), or
    gives it once the call may be written (finding it may fetch). Never touches a local call,
    and a call never changes its author (Forbidden)."""
    call = session.scalar(select(Call).where(Call.ap_id == record.ap_id))
    if call is not None and call.local:
        raise Forbidden("a remote document cannot overwrite a local call")
    if not isinstance(author, Member):
        author = author()
    if call is None:
        call = Call(
            ap_id=record.ap_id,
            public_id=uuid.uuid4().hex[:16],
            local=False,
            node=record.node,
            author=author,
            title=record.title,
        )
        session.add(call)
    elif call.author_id != author.id:
        raise Forbidden("a call cannot change its author")
    call.url = record.url
    _apply(call, record.data())
    # What its author wrote for its skills: matched as text here too.
    call.phrases = [
        CallPhrase(
            position=n,
            required=p.required,
            text=p.text,
            lang=p.lang,
            concept_iri=p.concept,
            status=p.status,
        )
        for n, p in enumerate(record.phrases)
    ]
    session.flush()
    events.emit(session, events.CALL_SAVED, call)
    return call


def get_by_public_id(session: Session, public_id: str) -> Call:
    call = session.scalar(
        select(Call)
        .where(Call.public_id == public_id)
        .options(selectinload(Call.skills), selectinload(Call.languages), selectinload(Call.author))
    )
    if call is None:
        raise NotFound("no such call")
    return call


def get_by_ref(session: Session, ctx: NodeContext, ref: str) -> Call:
    call = session.scalar(select(Call).where(Call.node == ctx.domain, Call.ref == ref))
    if call is None:
        raise NotFound(f"no call with ref {ref!r}")
    return call


def can_view(call: Call, viewer: Member | None) -> bool:
    """May ``viewer`` (None: anonymous) see the call? :func:`profiles.visibility.may_view` for
    the viewer's audience: public calls for everyone; partners' and coop calls for members
    signed in here (remote calls only reach us when their visibility allowed partners)."""
    return may_view(call.visibility, local=call.local, audience=viewer_audience(viewer))


@dataclass
class CallQuery:
    status: str | None = "open"
    skill: str | None = None
    skills: list[str] | None = None  # any of these concepts (a skill search's matches)
    text: str | None = None  # keywords, all of them in the title, city or description
    country: str | None = None
    language: str | None = None  # a working language
    author_id: int | None = None
    node: str | None = None
    remote: bool | None = None
    local: bool | None = None  # True: this node's calls only (feeds)
    page: int = 1
    per_page: int = 20


def visible_calls(viewer: Member | None) -> Select[Call]:
    """The calls ``viewer`` may see (see :func:`can_view`)."""
    return select(Call).where(calls_visible_to(viewer_audience(viewer)))


def calls_visible_to(audience: Audience) -> ColumnElement[bool]:
    """The SQL condition selecting the calls ``audience`` may see."""
    return and_(
        visible_clause(Call.visibility, Call.local, audience),
        moderation.not_from_blocked(Call.node),
    )


def _having_skills(iris: list[str]) -> Select[int]:
    return select(CallSkill.call_id).where(CallSkill.concept_iri.in_(iris))


def list_calls(session: Session, viewer: Member | None, q: CallQuery) -> tuple[list[Call], int]:
    query = visible_calls(viewer)
    if q.status:
        query = query.where(Call.status == q.status)
    # Skills as "id IN (calls having the concept)": the concept index answers it once,
    # where a correlated EXISTS probes call_skills for every call (bench_call_search.py).
    if q.skill:
        query = query.where(Call.id.in_(_having_skills([q.skill])))
    if q.skills is not None:
        query = query.where(Call.id.in_(_having_skills(q.skills)))
    if q.text:
        query = query.where(search.matches_all(Call.search_text, q.text))
    if q.country:
        query = query.where(Call.country == q.country.upper())
    if q.language:
        query = query.where(
            exists().where(and_(CallLanguage.call_id == Call.id, CallLanguage.code == q.language))
        )
    if q.author_id:
        query = query.where(Call.author_id == q.author_id)
    if q.node:
        query = query.where(Call.node == q.node)
    if q.remote is not None:
        query = query.where(Call.remote == q.remote)
    if q.local is not None:
        query = query.where(Call.local == q.local)
    per_page = max(1, min(q.per_page, 100))
    page = (
        query.options(
            selectinload(Call.skills), selectinload(Call.languages), selectinload(Call.author)
        )
        .order_by(Call.created_at.desc(), Call.id.desc())
        .offset((max(1, q.page) - 1) * per_page)
        .limit(per_page)
    )
    if q.text:
        # A keyword search scans every call's text: the total rides along as a window count,
        # one scan instead of two. A page past the end has no row to carry it (counted apart).
        rows = session.execute(page.add_columns(func.count().over())).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        return [], session.scalar(select(func.count()).select_from(query.subquery())) or 0
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(page).all()), total
