"""Bulk import of members and project calls from JSON Lines files (one JSON object per line).

``members.jsonl`` — one member per line::

    {"username": "anna_l", "name": "Anna Lindqvist", "email": "anna@example.se",
     "summary": "Lighting designer for touring theatre.", "country": "SE", "city": "Malmö",
     "languages": [{"code": "sv", "level": "native"}, {"code": "en", "level": "C1"}],
     "occupations": ["http://data.europa.eu/esco/occupation/…", "ljusdesigner"],
     "skills": ["scenljus", "http://data.europa.eu/esco/skill/…"],
     "available_from": "2025-03-01", "available_until": "2025-06-30",
     "remote": false, "visibility": "public", "language_pairs": ["sv>en"]}

  ``username`` is required (2–30 of a-z 0-9 _); everything else is optional. ``country`` is
  ISO 3166 alpha-2, language ``code`` ISO 639-1, ``level`` A1–C2 or ``native``, ``visibility``
  one of public | partners (default) | coop. ``available_from``/``available_until`` (YYYY-MM-DD)
  come together and become one availability period (at most three years). Translators and
  interpreters give ``language_pairs``, the directions they work in: ``{"source": "de",
  "target": "sv"}`` or ``"de>sv"`` (ISO 639-1, source and target differ; at most 20).

``calls.jsonl`` — one project call per line::

    {"ref": "crm-4711", "author": "anna_l", "title": "Light designer for a summer tour",
     "description": "…", "language": "en", "skills_required": ["stage lighting"],
     "skills_optional": [], "languages": ["en", "sv"], "country": "SE", "city": "Malmö",
     "remote": false, "starts": "2025-06-01", "ends": "2025-08-31", "deadline": "2025-04-30",
     "compensation": "€300/day", "visibility": "public", "languages_all": true}

  ``author`` (the user name of a member of this node) and ``title`` are required, and a
  ``country`` unless ``remote`` is true. ``ref`` is an optional external id (≤ 128 chars),
  unique per node: ``GET /api/v1/calls?ref=…`` finds the call by it. ``language`` is the
  language the text is written in (default ``en``); ``languages`` the working languages, of
  which a candidate needs every one with ``"languages_all": true``, else any one. A translation
  call names the directions wanted in ``language_pairs`` (as a member does; at most 8): a
  candidate must state one of them.

Occupations and skills are either ESCO IRIs, which must exist in the node's vocabulary with the
right kind, or free text in any of the seven languages (en de sv fr nl it es). Free text is
understood in the language it is written in, detected among the member's languages (a call's
``language`` and working languages) — :mod:`profiles.understanding`: linked to a concept when
the linker is sure enough, *proposed* for the member to confirm when it is not, and kept in
any case: every phrase is stored with the member or call as written (``member_phrases`` /
``call_phrases``), shown as their own words and used by the matchmaker. Unknown fields are
errors, so a misspelt field name is not silently ignored. A line longer than 64 KiB, a list
longer than the profile allows, a wrong type or an invalid value makes that line fail with
``line N: reason``; every other line is still stored.

Members are imported without a password (and without keys: those are created on first
federation use): they cannot sign in until they accept an invitation
(``coopfed member invite --all-pending``, :mod:`profiles.invitations`) or an administrator sets
one with ``coopfed member passwd USERNAME``.

The importer commits every ``batch_size`` lines. Calls are written one SAVEPOINT per line;
members a batch at a time (:class:`profiles.import_writer.MemberWriter`: one flush and one
insert per table), and a batch the database refuses is written again line by line. Either
way a line that fails in the database is rolled back alone and reported with its number.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from profiles import calls as call_service
from profiles import members as member_service
from profiles import validation
from profiles.context import NodeContext
from profiles.errors import DomainError
from profiles.fields import (
    CALL_IMPORT_FIELDS,
    MEMBER_IMPORT_FIELDS,
    CallFields,
    ProfileFields,
    language_pairs,
    max_length,
)
from profiles.import_writer import MemberLine, MemberWriter, ensure_transaction, reason
from profiles.linking import normalise
from profiles.models import Call, CallPhrase, ConceptLabel, Member
from profiles.understanding import LINKED, PROPOSED, Phrase, understand
from profiles.visibility import DEFAULT_CALL, DEFAULT_PROFILE
from profiles.vocabulary import Vocabulary

MAX_LINE_BYTES = 64 * 1024
MAX_ITEM_CHARS = 255
ESCO_PREFIX = "http://data.europa.eu/esco/"

# Keys a line may have (profiles.fields); text caps below are the fields' limits.
MEMBER_FIELDS = MEMBER_IMPORT_FIELDS
CALL_FIELDS = CALL_IMPORT_FIELDS
_CODE, _WORD = 8, 16  # caps of raw codes ("SE", "en") and words ("partners", "open")


class LineError(Exception):
    """One line cannot be imported; the message is shown as ``line N: message``."""


@dataclass
class ImportResult:
    """What an import did. ``linked`` / ``unlinked`` aggregate each distinct text once."""

    kind: str  # "members" or "calls"
    stored: int = 0
    lines: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    # (text, lang, kind) -> (iri, label of the concept in lang, how often)
    linked: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    unlinked: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # linked with low confidence: kept as a proposal for the member to confirm
    proposed: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    without_password: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lines": self.lines,
            "stored": self.stored,
            "skipped": [{"line": n, "reason": r} for n, r in self.skipped],
            "linked": [
                {"text": t, "lang": lang, "kind": k, "iri": v[0], "label": v[1], "count": v[2]}
                for (t, lang, k), v in sorted(self.linked.items(), key=lambda i: -i[1][2])
            ],
            "proposed": [
                {"text": t, "lang": lang, "kind": k, "iri": v[0], "label": v[1], "count": v[2]}
                for (t, lang, k), v in sorted(self.proposed.items(), key=lambda i: -i[1][2])
            ],
            "unlinked": [
                {"text": t, "lang": lang, "kind": k, "count": c}
                for (t, lang, k), c in self.unlinked.most_common()
            ],
            "without_password": self.without_password,
            "seconds": round(self.seconds, 3),
        }


class _Parser:
    """Field checks shared by both formats; links free text through the vocabulary snapshot
    (one link per distinct text: imported files repeat the same phrases thousands of times)."""

    def __init__(self, vocab: Vocabulary, result: ImportResult, session: Session) -> None:
        self.vocab = vocab
        self.result = result
        self._cache: dict[tuple[str, str, str], Phrase] = {}
        # Every free-text entry of the line being parsed, with its field: (key, phrase).
        self.phrases: list[tuple[str, Phrase]] = []
        # Exact label matches decided without the TF-IDF search (most imported phrases are
        # labels as written): normalised label -> kind -> {language -> concepts}.
        self._exact: dict[str, dict[str, dict[str, set[str]]]] = {}
        for iri, lang, text in session.execute(
            select(ConceptLabel.concept_iri, ConceptLabel.lang, ConceptLabel.label)
        ):
            kind = vocab.kinds.get(iri)
            if kind:
                by_kind = self._exact.setdefault(normalise(text), {})
                by_kind.setdefault(kind, {}).setdefault(lang, set()).add(iri)

    @staticmethod
    def obj(raw: bytes | str, allowed: frozenset[str]) -> dict[str, Any]:
        if len(raw) > MAX_LINE_BYTES:
            raise LineError(f"line longer than {MAX_LINE_BYTES // 1024} KiB")
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise LineError("not UTF-8") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LineError(
                f"bad JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise LineError("a JSON object expected")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise LineError(f"unknown field {unknown[0]!r}")
        return data

    @staticmethod
    def string(data: dict[str, Any], key: str, limit: int = 200) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise LineError(f"{key}: text expected")
        if len(value) > limit:
            raise LineError(f"{key}: at most {limit} characters")
        return value.strip()

    @staticmethod
    def flag(data: dict[str, Any], key: str) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise LineError(f"{key}: true or false expected")
        return value

    @staticmethod
    def day(data: dict[str, Any], key: str) -> date | None:
        try:
            return validation.iso_date(data.get(key))
        except ValueError as exc:
            raise LineError(f"{key}: {exc}") from None

    @staticmethod
    def items(data: dict[str, Any], key: str, limit: int) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise LineError(f"{key}: a list expected")
        if len(value) > limit:
            raise LineError(f"{key}: at most {limit} entries")
        return value

    @classmethod
    def pairs(cls, data: dict[str, Any], key: str, limit: int) -> list[tuple[str, str]]:
        """Language pairs: ``[{"source": "de", "target": "sv"}]`` or ``["de>sv"]``."""
        try:
            return language_pairs(cls.items(data, key, limit), limit)
        except ValueError as exc:
            raise LineError(f"{key}: {exc}") from None

    def concepts(
        self, data: dict[str, Any], key: str, kind: str | None, langs: list[str], limit: int
    ) -> list[str]:
        """IRIs for the entries of ``data[key]``: IRIs are checked, free text is understood
        (in one of ``langs``) and kept in :attr:`phrases`; only sure links become IRIs."""
        accepted = ("skill", "occupation") if kind is None else (kind,)
        out: list[str] = []
        for entry in self.items(data, key, limit):
            if not isinstance(entry, str) or not entry.strip():
                raise LineError(f"{key}: each entry is a non-empty text or ESCO IRI")
            entry = entry.strip()
            if len(entry) > MAX_ITEM_CHARS:
                raise LineError(f"{key}: entries of at most {MAX_ITEM_CHARS} characters")
            if entry.startswith(ESCO_PREFIX):
                if self.vocab.kinds.get(entry) not in accepted:
                    what = kind or "skill or occupation"
                    raise LineError(f"{key}: {entry} is not a known {what} concept")
                iri: str | None = entry
            else:
                iri = self.link(entry, langs, kind, key)
            if iri and iri not in out:
                out.append(iri)
        return out

    def _exact_match(self, text: str, langs: list[str], kind: str | None) -> str | None:
        """The one concept with exactly this label (the writer's languages first), else None."""
        by_kind = self._exact.get(normalise(text), {})
        by_lang: dict[str, set[str]] = {}
        for k in (kind,) if kind else tuple(by_kind):
            for code, iris in by_kind.get(k, {}).items():
                by_lang.setdefault(code, set()).update(iris)
        if not by_lang:
            return None
        own = set().union(*(by_lang.get(code, set()) for code in langs))
        candidates = own or set().union(*by_lang.values())
        return next(iter(candidates)) if len(candidates) == 1 else None

    def link(self, text: str, langs: list[str], kind: str | None, key: str = "") -> str | None:
        """Understand free text (kind None: a skill or an occupation), keep the phrase, count it
        in the report; the IRI when it is linked for sure, else None."""
        cache_key = (text, " ".join(langs), kind or "any")
        phrase = self._cache.get(cache_key)
        if phrase is None:
            iri = self._exact_match(text, langs, kind)
            if iri is not None:
                lang = next((c for c in langs if iri in self._exact_langs(text, c)), "")
                found = Phrase(text, lang, self.vocab.kinds.get(iri, kind or ""), iri, LINKED, 1.0)
                phrase = found
            else:
                phrase = understand(self.vocab, text, langs, kind)
            self._cache[cache_key] = phrase
        self.phrases.append((key, phrase))
        report_key = (text, phrase.lang or (langs[0] if langs else ""), kind or "any")
        if phrase.status == LINKED and phrase.iri:
            label = self.vocab.label(phrase.iri, phrase.lang or "en")
            self.result.linked.setdefault(report_key, [phrase.iri, label, 0])[2] += 1
            return phrase.iri
        if phrase.status == PROPOSED and phrase.iri:
            label = self.vocab.label(phrase.iri, phrase.lang or "en")
            self.result.proposed.setdefault(report_key, [phrase.iri, label, 0])[2] += 1
        else:
            self.result.unlinked[report_key] += 1
        return None

    def _exact_langs(self, text: str, lang: str) -> set[str]:
        return set().union(
            *(d.get(lang, set()) for d in self._exact.get(normalise(text), {}).values())
        )

    def take_phrases(self) -> list[tuple[str, Phrase]]:
        out, self.phrases = self.phrases, []
        return out


def _member_profile(
    p: _Parser, data: dict[str, Any]
) -> tuple[str, str | None, member_service.ProfileData]:
    username = data.get("username")
    if not isinstance(username, str) or not username.strip():
        raise LineError("username: required")
    try:
        username = validation.username(username)
    except ValueError as exc:
        raise LineError(f"username: {exc}") from None
    try:
        email = validation.email(p.string(data, "email", 255))
    except ValueError as exc:
        raise LineError(f"email: {exc}") from None
    languages: list[tuple[str, str]] = []
    for entry in p.items(data, "languages", member_service.MAX_LANGUAGES):
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            raise LineError('languages: each entry is {"code": "sv", "level": "B2"}')
        try:
            languages.append(
                (validation.language(entry["code"]), validation.level(entry.get("level") or "B2"))
            )
        except ValueError as exc:
            raise LineError(f"languages: {exc}") from None
    langs = [code for code, _ in languages]
    start, end = p.day(data, "available_from"), p.day(data, "available_until")
    if (start is None) != (end is None):
        raise LineError("available_from and available_until come together")
    profile = member_service.ProfileData(
        name=p.string(data, "name", max_length(ProfileFields, "name")),
        summary=p.string(data, "summary", max_length(ProfileFields, "summary")),
        country=p.string(data, "country", _CODE),
        city=p.string(data, "city", max_length(ProfileFields, "city")),
        remote=p.flag(data, "remote"),
        visibility=p.string(data, "visibility", _WORD) or DEFAULT_PROFILE.value,
        languages=languages,
        occupations=p.concepts(
            data, "occupations", "occupation", langs, member_service.MAX_OCCUPATIONS
        ),
        skills=p.concepts(data, "skills", "skill", langs, member_service.MAX_SKILLS),
        availability=[(start, end)] if start and end else [],
        language_pairs=p.pairs(data, "language_pairs", member_service.MAX_PAIRS),
    )
    return username, email, profile


def _call_data(p: _Parser, data: dict[str, Any]) -> tuple[str, call_service.CallData]:
    author = data.get("author")
    if not isinstance(author, str) or not author.strip():
        raise LineError("author: required (a user name of this node)")
    ref = p.string(data, "ref", max_length(CallFields, "ref")) or None
    language = p.string(data, "language", _CODE) or "en"
    try:
        language = validation.language(language)
    except ValueError as exc:
        raise LineError(f"language: {exc}") from None
    languages = p.items(data, "languages", call_service.MAX_LANGUAGES)
    if not all(isinstance(code, str) for code in languages):
        raise LineError('languages: a list of language codes such as ["en", "sv"]')
    limit = call_service.MAX_SKILLS
    langs = [language, *(code for code in languages if code != language)]
    return author.strip().lower(), call_service.CallData(
        title=p.string(data, "title", max_length(CallFields, "title")),
        description=p.string(data, "description", max_length(CallFields, "description")),
        language=language,
        skills_required=p.concepts(data, "skills_required", None, langs, limit),
        skills_optional=p.concepts(data, "skills_optional", None, langs, limit),
        languages=languages,
        languages_all=p.flag(data, "languages_all"),
        language_pairs=p.pairs(data, "language_pairs", call_service.MAX_PAIRS),
        country=p.string(data, "country", _CODE),
        city=p.string(data, "city", max_length(CallFields, "city")),
        remote=p.flag(data, "remote"),
        starts=p.day(data, "starts"),
        ends=p.day(data, "ends"),
        deadline=p.day(data, "deadline"),
        compensation=p.string(data, "compensation", max_length(CallFields, "compensation")),
        visibility=p.string(data, "visibility", _WORD) or DEFAULT_CALL.value,
        status=p.string(data, "status", _WORD) or "open",
        ref=ref,
    )


def _run(
    session: Session,
    lines: Iterable[bytes | str],
    result: ImportResult,
    handle: Callable[[bytes | str], None],
    batch_size: int,
) -> None:
    started = time.perf_counter()
    pending = 0
    for number, raw in enumerate(lines, 1):
        result.lines = number
        if not raw.strip():
            continue
        if pending == 0:
            ensure_transaction(session)
        savepoint = session.begin_nested()
        try:
            handle(raw)
            savepoint.commit()
        except (LineError, DomainError, IntegrityError) as exc:
            savepoint.rollback()
            result.skipped.append((number, reason(exc)))
            continue
        result.stored += 1
        pending += 1
        if pending >= batch_size:
            session.commit()
            pending = 0
    session.commit()
    result.seconds = time.perf_counter() - started


def call_phrases(said: list[tuple[str, Phrase]]) -> list[CallPhrase]:
    """A call's phrases (:meth:`_Parser.take_phrases` after :func:`_call_data`) as rows."""
    return [
        CallPhrase(
            position=i,
            required=key == "skills_required",
            text=ph.text[:255],
            lang=ph.lang,
            concept_iri=ph.iri,
            status=ph.status,
        )
        for i, (key, ph) in enumerate(said)
    ]


def _parse_member(parser: _Parser, vocab: Vocabulary, number: int, raw: bytes | str) -> MemberLine:
    parser.take_phrases()  # a failed line leaves nothing behind
    try:
        username, email, profile = _member_profile(parser, parser.obj(raw, MEMBER_FIELDS))
    except LineError as exc:
        return MemberLine(number, error=str(exc))
    line = MemberLine(number, username=username, email=email, said=parser.take_phrases())
    try:
        line.profile = member_service.validate_profile(profile, vocab)
    except DomainError as exc:
        line.invalid = reason(exc)
    return line


def import_members(
    session: Session,
    ctx: NodeContext,
    vocab: Vocabulary,
    lines: Iterable[bytes | str],
    *,
    batch_size: int = 500,
) -> ImportResult:
    """Create one local member per line of ``members.jsonl`` (format in the module docstring).

    Commits every ``batch_size`` lines and at the end. Never raises for a bad line: it is
    listed in ``result.skipped`` with its 1-based line number.
    """
    result = ImportResult("members")
    parser = _Parser(vocab, result, session)
    writer = MemberWriter(session, ctx, result)
    started = time.perf_counter()
    batch: list[MemberLine] = []
    for number, raw in enumerate(lines, 1):
        result.lines = number
        if not raw.strip():
            continue
        batch.append(_parse_member(parser, vocab, number, raw))
        if len(batch) >= batch_size:
            writer.store(batch)
            batch = []
    writer.store(batch)
    session.commit()
    result.seconds = time.perf_counter() - started
    return result


def import_calls(
    session: Session,
    ctx: NodeContext,
    vocab: Vocabulary,
    lines: Iterable[bytes | str],
    *,
    batch_size: int = 500,
) -> ImportResult:
    """Create one call per line of ``calls.jsonl`` (format in the module docstring); same
    batching and error reporting as :func:`import_members`."""
    result = ImportResult("calls")
    parser = _Parser(vocab, result, session)
    query = select(Member.username, Member.id).where(Member.local, Member.node == ctx.domain)
    authors: dict[str, int] = {row[0]: row[1] for row in session.execute(query)}
    refs = set(
        session.scalars(select(Call.ref).where(Call.node == ctx.domain, Call.ref.is_not(None)))
    )

    def handle(raw: bytes | str) -> None:
        parser.take_phrases()
        author_name, data = _call_data(parser, parser.obj(raw, CALL_FIELDS))
        author_id = authors.get(author_name)
        if author_id is None:
            raise LineError(f"unknown author {author_name!r}")
        if data.ref and data.ref in refs:
            raise LineError(f"duplicate ref {data.ref!r}")
        author = session.get(Member, author_id)
        assert author is not None
        said = call_phrases(parser.take_phrases())
        call_service.create_call(session, ctx, author, data, vocab, said)
        if data.ref:
            refs.add(data.ref)

    _run(session, lines, result, handle, batch_size)
    return result
