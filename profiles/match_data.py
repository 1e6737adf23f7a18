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
from dataclasses import replace
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
    CallPhrase,
    CallSkill,
    Member,
    MemberConcept,
    MemberLanguage,
    MemberPhrase,
)
from profiles.understanding import LINKED, PROPOSED
from profiles.vocabulary import Vocabulary

# Rows per round trip; keeps IN lists under SQLite's bound-parameter limit.
CHUNK = 900


def matchable(row: Member | Call) -> bool:
    """May this row take part in matches shown to this node's members?
    (:func:`profiles.visibility.matchable`; the match index applies the same rule.)"""
    return visibility.matchable(row.visibility, local=row.local)


# Partial credit for hierarchy neighbours: none. ESCO skill groups are too broad to stand for
# each other (choreography and lighting design share the leaf group S1.12.3, sound editing and
# JavaScript the group S5.6: issue 11), and so are ISCO unit groups (3521 holds camera, sound
# and lighting technicians). Measured on bench/eval_set.py with the final vocabulary: ISCO
# unit-group credit 0.3 put a lighting technician in a sound call's top 10 (trap rate 0.077)
# and found no relevant member that concepts, implied skills and phrases did not (nDCG@10 and
# cross-language recall equal); skill-group credit earlier added one relevant member and one
# or two traps. The ranker keeps the mechanism (matchmaking.ConceptGraph) for other graphs.
PARTIAL_CREDIT: dict[int, float] = {}


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


def pairs(text: str) -> frozenset[tuple[str, str]]:
    """'de>sv en>sv' -> {("de", "sv"), ("en", "sv")}; malformed parts are ignored."""
    out = set()
    for part in text.split():
        src, sep, dst = part.partition(">")
        if sep and src and dst:
            out.add((src, dst))
    return frozenset(out)


def normalise_pairs(text: str, limit: int = 64) -> str:
    """What a form or file says about language pairs, as stored: 'DE>sv, en→sv' ->
    'de>sv en>sv' (sorted, unique); parts that are not two language codes are dropped."""
    found = set()
    for part in text.replace(",", " ").replace("→", ">").split():
        src, sep, dst = part.lower().partition(">")
        if sep and 2 <= len(src) <= 3 and 2 <= len(dst) <= 3 and (src + dst).isalpha():
            found.add(f"{src}>{dst}")
    out = ""
    for pair in sorted(found):
        if len(out) + len(pair) + 1 > limit:
            break
        out = f"{out} {pair}".strip()
    return out


def _weak(rows: list[tuple[str | None, str]]) -> set[str]:
    """Proposed concepts of (concept_iri, status) phrase rows: weaker evidence."""
    return {iri for iri, status in rows if iri and status == PROPOSED}


def member_profile(member: Member, vocab: Vocabulary) -> mm.Profile:
    """One ORM member as a Profile (the bulk loaders below produce the same values)."""
    held = {c.concept_iri for c in member.skills} | {c.concept_iri for c in member.occupations}
    weak = _weak([(p.concept_iri, p.status) for p in member.phrases]) - held
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
        text_concepts=text_concepts(vocab, member.summary) | weak,
        phrases=tuple(p.text for p in member.phrases),
        pairs=pairs(member.language_pairs),
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
        Member.language_pairs,
    ).where(Member.deactivated_at.is_(None))  # left the register: matched no more
    if keys is not None:
        for part in _chunks(keys):
            yield cols.where(Member.ap_id.in_(part))
    elif since is not None:
        yield cols.where(Member.updated_at > since)
    else:
        yield cols


# size: one pass per chunk over the five child tables, so that each is read once per chunk
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
        phrases: dict[int, list[tuple[str, str | None, str]]] = defaultdict(list)
        # One IN list per chunk of ids; the whole table when loading everything.
        id_parts: list[list[int] | None] = (
            [None] if keys is None and since is None else list(_chunks_int(ids))
        )
        for part in id_parts:
            mc = select(MemberConcept.member_id, MemberConcept.kind, MemberConcept.concept_iri)
            ml = select(MemberLanguage.member_id, MemberLanguage.code, MemberLanguage.level)
            av = select(AvailabilityRange.member_id, AvailabilityRange.start, AvailabilityRange.end)
            mp = select(
                MemberPhrase.member_id,
                MemberPhrase.text,
                MemberPhrase.concept_iri,
                MemberPhrase.status,
            ).order_by(MemberPhrase.member_id, MemberPhrase.position)
            if part is not None:
                mc = mc.where(MemberConcept.member_id.in_(part))
                ml = ml.where(MemberLanguage.member_id.in_(part))
                av = av.where(AvailabilityRange.member_id.in_(part))
                mp = mp.where(MemberPhrase.member_id.in_(part))
            for mid, kind, iri in session.execute(mc):
                concepts[mid][kind].add(iri)
            for mid, code, level in session.execute(ml):
                langs[mid][code] = level
            for mid, start, end in session.execute(av.order_by(AvailabilityRange.start)):
                avail[mid].append(mm.Availability(start, end))
            for mid, said, concept, status in session.execute(mp):
                phrases[mid].append((said, concept, status))
        for r in rows:
            held = concepts.get(r.id, {})
            mine = phrases.get(r.id, [])
            declared = held.get("skill", set()) | held.get("occupation", set())
            weak = _weak([(iri, status) for _, iri, status in mine]) - declared
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
                    text_concepts=text_concepts(vocab, r.summary) | weak,
                    phrases=tuple(text for text, _, _ in mine),
                    pairs=pairs(r.language_pairs),
                )
            )
    return out


def _chunks_int(ids: list[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


# size: one pass per chunk over the three child tables, so that each is read once per chunk
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
        Call.languages_all,
        Call.language_pairs,
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
        said: dict[int, list[tuple[bool, str, str | None, str]]] = defaultdict(list)
        for part in _chunks_int([r.id for r in rows]):
            q1 = select(CallSkill.call_id, CallSkill.required, CallSkill.concept_iri)
            q2 = select(CallLanguage.call_id, CallLanguage.code)
            q3 = select(
                CallPhrase.call_id,
                CallPhrase.required,
                CallPhrase.text,
                CallPhrase.concept_iri,
                CallPhrase.status,
            ).order_by(CallPhrase.call_id, CallPhrase.position)
            for cid, required, text, iri, status in session.execute(
                q3.where(CallPhrase.call_id.in_(part))
            ):
                said[cid].append((bool(required), text, iri, status))
            for cid, required, iri in session.execute(q1.where(CallSkill.call_id.in_(part))):
                skills[cid][bool(required)].add(iri)
            for cid, code in session.execute(q2.where(CallLanguage.call_id.in_(part))):
                langs[cid].add(code)
        for r in rows:
            call = _call(r, skills.get(r.id, {}), langs.get(r.id, set()), vocab)
            out.append(_with_phrases(call, said.get(r.id, [])))
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
        all_languages=bool(r.languages_all),
        pairs=pairs(r.language_pairs),
    )


def _with_phrases(call: mm.Call, said: list[tuple[bool, str, str | None, str]]) -> mm.Call:
    """The call with what its author wrote and the vocabulary did not link for sure: those
    phrases are matched as text, their proposed concepts as weaker evidence."""
    if not said:
        return call
    wanted = call.required | call.optional
    req = tuple(t for r, t, iri, st in said if r and not (st == LINKED and iri in wanted))
    opt = tuple(t for r, t, iri, st in said if not r and not (st == LINKED and iri in wanted))
    weak = _weak([(iri, st) for _, _, iri, st in said]) - wanted
    return replace(
        call,
        required_phrases=req,
        optional_phrases=opt,
        text_concepts=call.text_concepts | weak,
    )


def all_keys(session: Session) -> tuple[set[str], set[str]]:
    """Every member's and call's ap_id: to drop from an index what another process deleted
    (or deactivated: those members take part in no match)."""
    members = set(session.scalars(select(Member.ap_id).where(Member.deactivated_at.is_(None))))
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
