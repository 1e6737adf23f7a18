"""Members: accounts, profiles, the directory. Services take a Session first; callers commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, or_, select
from sqlalchemy.orm import Session, object_session, selectinload

from federation.db import utcnow
from federation.errors import Forbidden
from federation.sanitize import plain_text, sanitize_html
from profiles import events, moderation, privacy, signin, validation
from profiles.context import NodeContext
from profiles.errors import Conflict, NotFound, ValidationError
from profiles.fields import (
    Link,
    ProfileData,
    ProfileFields,
    language_pairs,
    max_length,
    pairs_from_text,
    pairs_text,
)
from profiles.member_keys import give_keys
from profiles.models import (
    AvailabilityRange,
    Member,
    MemberConcept,
    MemberLanguage,
    MemberPhrase,
    PortfolioLink,
)
from profiles.passwords import hash_password, verify_password
from profiles.remote import RemoteProfile
from profiles.visibility import (
    DEFAULT_PROFILE,
    Audience,
    Visibility,
    viewer_audience,
    visible_clause,
)
from profiles.vocabulary import Vocabulary

MAX_SKILLS = max_length(ProfileFields, "skills")
MAX_OCCUPATIONS = max_length(ProfileFields, "occupations")
MAX_LANGUAGES = max_length(ProfileFields, "languages")
MAX_LINKS = max_length(ProfileFields, "links")
MAX_RANGES = max_length(ProfileFields, "availability")
MAX_PAIRS = max_length(ProfileFields, "language_pairs")
_NAME, _SUMMARY, _CITY = (max_length(ProfileFields, n) for n in ("name", "summary", "city"))
_LINK_TITLE = max_length(Link, "title")


def profile_data(member: Member) -> ProfileData:
    return ProfileData(
        name=member.name,
        summary=member.summary,
        country=member.country,
        city=member.city,
        remote=member.remote,
        visibility=member.visibility,
        languages=[(lang.code, lang.level) for lang in member.languages],
        occupations=[c.concept_iri for c in member.occupations],
        skills=[c.concept_iri for c in member.skills],
        availability=[(r.start, r.end) for r in member.availability],
        links=[(link.url, link.title) for link in member.links],
        language_pairs=pairs_from_text(member.language_pairs),
    )


def _check_concepts(
    iris: Sequence[str], kind: str, vocab: Vocabulary, limit: int, field_name: str
) -> list[str]:
    out: list[str] = []
    for iri in iris:
        if iri in out:
            continue
        if vocab.kinds.get(iri) != kind:
            raise ValidationError({field_name: f"unknown {kind} concept {iri}"})
        out.append(iri)
    if len(out) > limit:
        raise ValidationError({field_name: f"at most {limit}"})
    return out


def _language_pair(code: str, level: str) -> tuple[str, str]:
    return validation.language(code), validation.level(level)


def _check_ranges(
    periods: Sequence[tuple[date, date]], errors: dict[str, str]
) -> list[tuple[date, date]]:
    """Availability periods, sorted and deduplicated; problems go to ``errors``."""
    ranges = []
    for start, end in periods:
        if start > end:
            errors["availability"] = "a period ends before it starts"
        elif end - start > timedelta(days=3 * 366):
            errors["availability"] = "a period longer than three years"
        else:
            ranges.append((start, end))
    if len(ranges) > MAX_RANGES:
        errors["availability"] = f"at most {MAX_RANGES} periods"
    return sorted(set(ranges))


def validate_profile(data: ProfileData, vocab: Vocabulary) -> ProfileData:
    """Check and normalise; raise ValidationError naming every bad field."""
    errors: dict[str, str] = {}

    def check(name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ValueError as exc:
            errors[name] = str(exc)
        except ValidationError as exc:
            errors.update(exc.errors)
        return None

    out = ProfileData()
    out.name = check("name", lambda: plain_text(validation.text(data.name, _NAME))) or ""
    out.summary = (
        check("summary", lambda: sanitize_html(validation.text(data.summary, _SUMMARY))) or ""
    )
    out.country = check("country", lambda: validation.country(data.country)) or ""
    out.city = check("city", lambda: plain_text(validation.text(data.city, _CITY))) or ""
    out.remote = bool(data.remote)
    out.visibility = (
        check("visibility", lambda: validation.visibility(data.visibility)) or DEFAULT_PROFILE.value
    )
    langs: dict[str, str] = {}
    for code, lvl in data.languages:
        pair = check("languages", partial(_language_pair, code, lvl))
        if pair:
            langs[pair[0]] = pair[1]
    if len(langs) > MAX_LANGUAGES:
        errors["languages"] = f"at most {MAX_LANGUAGES}"
    out.languages = sorted(langs.items())
    out.occupations = (
        check(
            "occupations",
            lambda: _check_concepts(
                data.occupations, "occupation", vocab, MAX_OCCUPATIONS, "occupations"
            ),
        )
        or []
    )
    out.skills = (
        check("skills", lambda: _check_concepts(data.skills, "skill", vocab, MAX_SKILLS, "skills"))
        or []
    )
    out.availability = _check_ranges(data.availability, errors)
    links = []
    for url, title in data.links:
        checked = check("links", partial(validation.web_url, url))
        if checked:
            links.append((checked, plain_text(title or "")[:_LINK_TITLE]))
    if len(links) > MAX_LINKS:
        errors["links"] = f"at most {MAX_LINKS}"
    out.links = links
    out.language_pairs = (
        check("language_pairs", partial(language_pairs, data.language_pairs, MAX_PAIRS)) or []
    )
    if errors:
        raise ValidationError(errors)
    return out


def create_member(
    session: Session,
    ctx: NodeContext,
    *,
    username: str,
    email: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
    profile: ProfileData | None = None,
    vocab: Vocabulary | None = None,
) -> Member:
    """Create a local member. Raises ValidationError / Conflict; the caller commits."""
    errors: dict[str, str] = {}
    try:
        username = validation.username(username)
    except ValueError as exc:
        errors["username"] = str(exc)
    try:
        email = validation.email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    password_hash = None
    if password is not None:
        try:
            password_hash = hash_password(password)
        except ValueError as exc:
            errors["password"] = str(exc)
    if errors:
        raise ValidationError(errors)
    if session.scalar(
        select(Member.id).where(Member.node == ctx.domain, Member.username == username)
    ):
        raise Conflict(f"username {username!r} is taken")
    if email and session.scalar(select(Member.id).where(Member.local, Member.email == email)):
        raise Conflict(f"e-mail {email!r} is already used by another member")
    member = Member(
        ap_id=ctx.member_iri(username),
        local=True,
        node=ctx.domain,
        username=username,
        email=email,
        password_hash=password_hash,
        is_admin=is_admin,
        coop_name=ctx.name,
        name=username,
    )
    if is_admin and profile is None:
        # An operator's account, not a freelancer's profile: kept from partner coops (their
        # directories listed every coop's "admin") until its owner publishes a profile.
        member.visibility = Visibility.COOP.value
    give_keys(member)  # with the member: serving its actor (a GET) never writes
    session.add(member)
    if profile is not None:
        if vocab is None:
            raise TypeError("a profile needs the vocabulary to check its concepts")
        apply_profile(member, validate_profile(profile, vocab))
    session.flush()
    events.emit(session, events.MEMBERS_ADDED, [member])  # new: no partner holds it to retract
    events.emit(session, events.MEMBER_SAVED, member)
    return member


def _apply_fields(member: Member, data: ProfileData) -> None:
    member.name = data.name or member.username
    member.summary = data.summary
    member.country = data.country
    member.city = data.city
    member.remote = data.remote
    member.visibility = data.visibility
    member.language_pairs = pairs_text(data.language_pairs)


# A profile's child rows: (relationship of Member, model), in the order the unit of work
# inserts them, so that a bulk insert (insert_new_profiles) gives the rows the same order.
_CHILDREN: tuple[tuple[str, type[Any]], ...] = (
    ("languages", MemberLanguage),
    ("skills", MemberConcept),
    ("occupations", MemberConcept),
    ("availability", AvailabilityRange),
    ("links", PortfolioLink),
)


def _child_rows(data: ProfileData) -> dict[str, list[dict[str, Any]]]:
    """The child rows of ``data`` per relationship of :data:`_CHILDREN` (no ``member_id``)."""
    return {
        "languages": [{"code": c, "level": lv} for c, lv in data.languages],
        "skills": [{"concept_iri": i, "kind": "skill"} for i in data.skills],
        "occupations": [{"concept_iri": i, "kind": "occupation"} for i in data.occupations],
        "availability": [{"start": s, "end": e} for s, e in data.availability],
        "links": [{"url": u, "title": t, "position": n} for n, (u, t) in enumerate(data.links)],
    }


def apply_profile(member: Member, data: ProfileData) -> None:
    """Write already-validated data onto the member (replacing lists)."""
    _apply_fields(member, data)
    session = object_session(member)
    if member.id is not None and session is not None:
        # Rows are unique per (member, code/concept): delete the old rows before inserting the
        # new ones, or a kept entry collides with itself (the unit of work inserts first).
        member.languages, member.occupations, member.skills = [], [], []
        session.flush()
    rows = _child_rows(data)
    for name, model in _CHILDREN:
        setattr(member, name, [model(**row) for row in rows[name]])
    # Child rows alone do not fire onupdate: stamp the member so other processes' match
    # indexes (which refresh by updated_at) see a skills-only edit.
    member.updated_at = utcnow()


def new_profile(member: Member, data: ProfileData) -> None:
    """:func:`apply_profile` for a member not yet flushed, whose child rows a bulk import
    inserts afterwards with :func:`insert_new_profiles` (its lists are then loaded on use)."""
    _apply_fields(member, data)
    member.updated_at = utcnow()


def insert_new_profiles(session: Session, profiles: Sequence[tuple[int, ProfileData]]) -> None:
    """Insert the child rows of new members ``(member id, validated data)`` set up with
    :func:`new_profile` and flushed: one executemany per table instead of an ORM object per
    row (10,000 imported members have ~100,000), same rows in the same order as
    :func:`apply_profile` would give."""
    by_model: dict[type[Any], list[dict[str, Any]]] = {}
    for member_id, data in profiles:
        rows = _child_rows(data)
        for name, model in _CHILDREN:
            by_model.setdefault(model, []).extend({**r, "member_id": member_id} for r in rows[name])
    for model, table_rows in by_model.items():
        if table_rows:  # Core on the table: the ORM's bulk path costs twice as much per row
            session.execute(insert(model.__table__), table_rows)


def update_profile(
    session: Session, member: Member, data: ProfileData, vocab: Vocabulary
) -> Member:
    if not member.local:
        raise NotFound("only local members are edited here")
    clean = validate_profile(data, vocab)
    apply_profile(member, clean)
    session.flush()
    events.emit(session, events.MEMBER_SAVED, member)
    return member


def save_remote_member(session: Session, record: RemoteProfile) -> Member:
    """Create or update a member received from a partner, through the same field writer as
    local edits (:func:`apply_profile`). Never touches a local row (Forbidden). A user name
    that moved to another actor id on its node replaces the old remote row."""
    member = session.scalar(select(Member).where(Member.ap_id == record.ap_id))
    if member is not None and member.local:
        raise Forbidden("a remote document cannot overwrite a local member")
    if member is None:
        clash = session.scalar(
            select(Member).where(Member.node == record.node, Member.username == record.username)
        )
        if clash is not None and not clash.local:
            session.delete(clash)  # the username moved to another actor id on that node
            session.flush()
        member = Member(ap_id=record.ap_id, local=False, node=record.node, username=record.username)
        session.add(member)
    member.url = record.url
    if record.avatar != member.avatar_source:  # a new picture: the worker fetches a copy
        member.avatar_source = record.avatar
        member.avatar = record.avatar
    if record.coop_name:
        member.coop_name = record.coop_name
    apply_profile(member, record.data())
    # Their own words, as their node keeps them: the matcher's text channel reads them.
    member.phrases = [
        MemberPhrase(
            position=n,
            kind=p.kind,
            text=p.text,
            lang=p.lang,
            concept_iri=p.concept,
            status=p.status,
        )
        for n, p in enumerate(record.phrases)
    ]
    session.flush()
    events.emit(session, events.MEMBER_SAVED, member)
    return member


def set_password(member: Member, password: str) -> None:
    """A new password; every open session of the member ends (a stolen cookie with it)."""
    try:
        member.password_hash = hash_password(password)
    except ValueError as exc:
        raise ValidationError({"password": str(exc)}) from None
    session = object_session(member)
    if session is not None and member.id is not None:
        signin.close_all_sessions(session, member.id)


def delete_member(session: Session, member: Member) -> None:
    """Delete a member and everything of theirs; listeners send Delete to partners first."""
    events.emit(session, events.MEMBER_DELETED, member)
    if member.local:
        privacy.erase_local_member(session, member)  # outbox/inbox bodies, sessions, mail, …
    session.delete(member)
    session.flush()


def get_local(session: Session, ctx: NodeContext, username: str) -> Member:
    member = session.scalar(
        select(Member).where(Member.node == ctx.domain, Member.username == username.lower())
    )
    if member is None:
        raise NotFound(f"no member {username!r}")
    return member


# --- sign-in, throttled per client and per account (profiles.signin) ---------------------------

TooManyAttempts = signin.Throttled


def authenticate(
    session: Session,
    ctx: NodeContext,
    username: str,
    password: str,
    ip: str,
    now: datetime | None = None,
    *,
    known_device: bool = False,
) -> Member | None:
    """The member if the password matches; None otherwise. Raises TooManyAttempts
    (:class:`profiles.signin.Throttled`, with ``retry_after``) when this client or account must
    wait after failures (checked before the password; see :mod:`profiles.signin`).
    ``known_device``: the browser signed in to this account before (exempt from the
    per-account delay, so its owner is never locked out)."""
    now = now or utcnow()
    name = (username or "").strip().lower()[:64]
    signin.check(session, name, ip, known_device=known_device, now=now)
    member = session.scalar(
        select(Member).where(
            Member.local,
            Member.node == ctx.domain,
            Member.username == name,
            Member.deactivated_at.is_(None),  # left the coop's register
        )
    )
    if member is not None and verify_password(member.password_hash, password):
        signin.record_success(session, name, ip)
        return member
    if member is None:
        verify_password(None, password)  # same cost as a wrong password: no user enumeration
    signin.record_failure(session, name, ip, now)
    return None


# --- the directory ----------------------------------------------------------------------------


@dataclass
class DirectoryQuery:
    skill: str | None = None  # concept IRI
    occupation: str | None = None  # concept IRI
    country: str | None = None
    language: str | None = None
    available_from: date | None = None
    available_until: date | None = None
    node: str | None = None  # only members of this coop node
    text: str | None = None  # name or city contains
    page: int = 1
    per_page: int = 20


def visible_members(viewer: Member | None) -> Select[Member]:
    """Members the viewer may see (:func:`profiles.visibility.may_view` for the viewer's
    audience): members of this node signed in here see every local member and what partners
    sent us, except coop-level author stubs; everyone else sees public profiles only."""
    return select(Member).where(members_visible_to(viewer_audience(viewer)))


def members_visible_to(audience: Audience) -> ColumnElement[bool]:
    """The SQL condition selecting the members ``audience`` may see."""
    return and_(
        visible_clause(Member.visibility, Member.local, audience),
        moderation.not_from_blocked(Member.node),
        Member.deactivated_at.is_(None),
    )


def _directory_filters(query: Select[Member], q: DirectoryQuery) -> Select[Member]:
    """``query`` narrowed to the directory search ``q``."""
    if q.skill:
        query = query.where(
            exists().where(
                and_(MemberConcept.member_id == Member.id, MemberConcept.concept_iri == q.skill)
            )
        )
    if q.occupation:
        query = query.where(
            exists().where(
                and_(
                    MemberConcept.member_id == Member.id, MemberConcept.concept_iri == q.occupation
                )
            )
        )
    if q.country:
        query = query.where(Member.country == q.country.upper())
    if q.node:
        query = query.where(Member.node == q.node)
    if q.language:
        query = query.where(
            exists().where(
                and_(MemberLanguage.member_id == Member.id, MemberLanguage.code == q.language)
            )
        )
    if q.available_from or q.available_until:
        start = q.available_from or q.available_until
        end = q.available_until or q.available_from
        query = query.where(
            exists().where(
                and_(
                    AvailabilityRange.member_id == Member.id,
                    AvailabilityRange.start <= end,
                    AvailabilityRange.end >= start,
                )
            )
        )
    if q.text:
        like = "%" + q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Member.name.ilike(like, escape="\\"),
                Member.city.ilike(like, escape="\\"),
                Member.username.ilike(like, escape="\\"),
            )
        )
    return query


def search_directory(
    session: Session, viewer: Member | None, q: DirectoryQuery
) -> tuple[list[Member], int]:
    query = _directory_filters(visible_members(viewer), q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    per_page = max(1, min(q.per_page, 100))
    page = max(1, q.page)
    rows = session.scalars(
        query.options(
            selectinload(Member.skills),
            selectinload(Member.occupations),
            selectinload(Member.languages),
            selectinload(Member.phrases),  # their own words (the API lists them)
        )
        .order_by(Member.local.desc(), Member.name, Member.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total
