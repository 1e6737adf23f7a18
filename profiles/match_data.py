"""Domain rows -> matchmaking's plain data: members become Profiles, calls become Calls.

Keys are ActivityPub ids (``ap_id``), unique across the federation, so a local and a remote row
can never collide in one index. Only what the ranker may use crosses over: concept IRIs, coarse
place, languages, availability, visibility. The member's bio (and a call's title and text) is
linked to concepts by the node's :class:`~profiles.linking.Linker`; those land in
``text_concepts``, which the ranker credits less than declared skills.

The loaders read with Core queries (no ORM objects, no lazy loads): building the index of a node
with 100,000 members must not take minutes. ``load_*(session, vocab, keys=None)`` answers every
row, or only the rows whose ``ap_id`` is in ``keys``, or (``since``) rows changed after a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.orm import Session

import matchmaking as mm
from federation.sanitize import plain_text
from profiles import visibility
from profiles.models import (
    AvailabilityRange,
    Call,
    CallLanguage,
    CallSkill,
    Member,
    MemberConcept,
    MemberLanguage,
)
from profiles.vocabulary import Vocabulary

# Rows per round trip; keeps IN lists under SQLite's bound-parameter limit.
CHUNK = 900


def matchable(row: Member | Call) -> bool:
    """May this row take part in matches shown to this node's members?
    (:func:`profiles.visibility.matchable`; the match index applies the same rule.)"""
    return visibility.matchable(row.visibility, local=row.local)


# Partial credit for hierarchy neighbours: only occupations in one ISCO unit group (2643:
# translators and interpreters), never skills. ESCO skill groups are too broad to stand for
# each other: choreography and lighting design share the leaf group S1.12.3, sound editing and
# JavaScript the group S5.6 (issue 11). Measured on bench/eval_set.py: skill-group credit at
# depth 4 (+3) found one more relevant member and suggested one (two) decoys; ISCO-only none.
PARTIAL_CREDIT = {4: 0.3}


def concept_graph(vocab: Vocabulary) -> mm.ConceptGraph:
    """Partial-credit graph from the concepts' ESCO hierarchy / ISCO codes."""
    isco = {iri: [c for c in codes if c.isdigit()] for iri, codes in vocab.codes.items()}
    return mm.ConceptGraph(
        {iri: codes for iri, codes in isco.items() if codes},
        credit_by_depth=PARTIAL_CREDIT,
        implies=vocab.implies,
    )


def text_concepts(vocab: Vocabulary, *texts: str) -> frozenset[str]:
    """Concepts whose label occurs in the (HTML) texts; any of the vocabulary's languages."""
    text = " ".join(plain_text(t) for t in texts if t)
    return frozenset(vocab.linker.extract(text)) if text else frozenset()


def member_profile(member: Member, vocab: Vocabulary) -> mm.Profile:
    """One ORM member as a Profile (the bulk loaders below produce the same values)."""
    return mm.Profile(
        key=member.ap_id,
        username=member.username,
        node=member.node,
        country=member.country,
        city=member.city,
        remote=member.remote,
        visibility=member.visibility,
        skills=frozenset(c.concept_iri for c in member.skills),
        occupations=frozenset(c.concept_iri for c in member.occupations),
        languages={lg.code: lg.level for lg in member.languages},
        availability=tuple(mm.Availability(r.start, r.end) for r in member.availability),
        text_concepts=text_concepts(vocab, member.summary),
    )


def _chunks(keys: Collection[str]) -> Iterator[list[str]]:
    items = list(keys)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _member_batches(
    session: Session, keys: Collection[str] | None, since: datetime | None
) -> Iterator[Executable]:
    cols = select(
        Member.id,
        Member.ap_id,
        Member.username,
        Member.node,
        Member.country,
        Member.city,
        Member.remote,
        Member.visibility,
        Member.summary,
    )
    if keys is not None:
        for part in _chunks(keys):
            yield cols.where(Member.ap_id.in_(part))
    elif since is not None:
        yield cols.where(Member.updated_at > since)
    else:
        yield cols


def load_profiles(
    session: Session,
    vocab: Vocabulary,
    *,
    keys: Collection[str] | None = None,
    since: datetime | None = None,
) -> list[mm.Profile]:
    """Profiles of all members (local and remote), of ``keys``, or changed after ``since``."""
    out: list[mm.Profile] = []
    for query in _member_batches(session, keys, since):
        rows = session.execute(query).all()
        if not rows:
            continue
        ids = [r.id for r in rows]
        concepts: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        langs: dict[int, dict[str, str]] = defaultdict(dict)
        avail: dict[int, list[mm.Availability]] = defaultdict(list)
        # One IN list per chunk of ids; the whole table when loading everything.
        id_parts: list[list[int] | None] = (
            [None] if keys is None and since is None else list(_chunks_int(ids))
        )
        for part in id_parts:
            mc = select(MemberConcept.member_id, MemberConcept.kind, MemberConcept.concept_iri)
            ml = select(MemberLanguage.member_id, MemberLanguage.code, MemberLanguage.level)
            av = select(AvailabilityRange.member_id, AvailabilityRange.start, AvailabilityRange.end)
            if part is not None:
                mc = mc.where(MemberConcept.member_id.in_(part))
                ml = ml.where(MemberLanguage.member_id.in_(part))
                av = av.where(AvailabilityRange.member_id.in_(part))
            for mid, kind, iri in session.execute(mc):
                concepts[mid][kind].add(iri)
            for mid, code, level in session.execute(ml):
                langs[mid][code] = level
            for mid, start, end in session.execute(av.order_by(AvailabilityRange.start)):
                avail[mid].append(mm.Availability(start, end))
        for r in rows:
            held = concepts.get(r.id, {})
            out.append(
                mm.Profile(
                    key=r.ap_id,
                    username=r.username,
                    node=r.node,
                    country=r.country,
                    city=r.city,
                    remote=bool(r.remote),
                    visibility=r.visibility,
                    skills=frozenset(held.get("skill", ())),
                    occupations=frozenset(held.get("occupation", ())),
                    languages=langs.get(r.id, {}),
                    availability=tuple(avail.get(r.id, ())),
                    text_concepts=text_concepts(vocab, r.summary),
                )
            )
    return out


def _chunks_int(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def load_calls(
    session: Session,
    vocab: Vocabulary,
    *,
    keys: Collection[str] | None = None,
    since: datetime | None = None,
) -> list[mm.Call]:
    """Calls (open and closed: ``open`` says which) of all rows, ``keys``, or since a time."""
    cols = select(
        Call.id,
        Call.ap_id,
        Call.node,
        Call.country,
        Call.city,
        Call.remote,
        Call.visibility,
        Call.status,
        Call.starts,
        Call.ends,
        Call.title,
        Call.description,
        Member.ap_id.label("author_key"),
    ).join(Member, Member.id == Call.author_id)
    if keys is not None:
        queries = [cols.where(Call.ap_id.in_(part)) for part in _chunks(keys)]
    elif since is not None:
        queries = [cols.where(Call.updated_at > since)]
    else:
        queries = [cols]
    out: list[mm.Call] = []
    for query in queries:
        rows = session.execute(query).all()
        if not rows:
            continue
        skills: dict[int, dict[bool, set[str]]] = defaultdict(lambda: defaultdict(set))
        langs: dict[int, set[str]] = defaultdict(set)
        for part in _chunks_int([r.id for r in rows]):
            q1 = select(CallSkill.call_id, CallSkill.required, CallSkill.concept_iri)
            q2 = select(CallLanguage.call_id, CallLanguage.code)
            for cid, required, iri in session.execute(q1.where(CallSkill.call_id.in_(part))):
                skills[cid][bool(required)].add(iri)
            for cid, code in session.execute(q2.where(CallLanguage.call_id.in_(part))):
                langs[cid].add(code)
        for r in rows:
            out.append(_call(r, skills.get(r.id, {}), langs.get(r.id, set()), vocab))
    return out


def _call(r: Any, skills: dict[bool, set[str]], langs: set[str], vocab: Vocabulary) -> mm.Call:
    starts: date | None = r.starts
    ends: date | None = r.ends
    return mm.Call(
        key=r.ap_id,
        node=r.node,
        author_key=r.author_key,
        country=r.country,
        city=r.city,
        remote=bool(r.remote),
        visibility=r.visibility,
        required=frozenset(skills.get(True, ())),
        optional=frozenset(skills.get(False, ())),
        languages=frozenset(langs),
        starts=starts,
        ends=ends,
        open=r.status == "open",
        text_concepts=text_concepts(vocab, r.title, r.description),
    )


def all_keys(session: Session) -> tuple[set[str], set[str]]:
    """Every member's and call's ap_id: to drop from an index what another process deleted."""
    members = set(session.scalars(select(Member.ap_id)))
    calls = set(session.scalars(select(Call.ap_id)))
    return members, calls


def changed_since(
    session: Session, since: datetime
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """(member ap_id -> updated_at, call ap_id -> updated_at) of rows changed after ``since``.

    Two narrow columns: cheap enough to ask every few seconds; the caller loads in full only
    the rows whose stamp it has not applied yet.
    """
    mq = select(Member.ap_id, Member.updated_at).where(Member.updated_at > since)
    cq = select(Call.ap_id, Call.updated_at).where(Call.updated_at > since)
    members: dict[str, datetime] = dict(session.execute(mq).all())
    calls: dict[str, datetime] = dict(session.execute(cq).all())
    return members, calls
