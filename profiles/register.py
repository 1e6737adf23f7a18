"""Keeping the node in step with the coop's member register (``coopfed import members
--update``): upsert by the register's stable id (``ref``, the member number) or by user name.

Input: JSON Lines (the format of :mod:`profiles.importers`, plus ``ref``) or CSV with a header
row naming the same fields. In CSV, list fields are separated by ``;`` (``skills``,
``occupations``, ``language_pairs`` such as ``de>sv;en>sv``) and a language is ``code:level``
(``sv:native;en:C1``); ``remote`` is true/false (also yes/no, 1/0); an empty cell is an absent
field.

Per line, with the same report as the importer (``line N: reason``):

- a member found by ``ref`` (else by ``username``) is **changed** when a field present in the
  line differs from what the node has (fields absent from the line are kept: the register does
  not own the member's portfolio links, for example); a deactivated member who is back in the
  register is reactivated;
- otherwise the member is **created** (without a password: invite them);
- a user name that breaks the rule (Mastodon's: letters, digits, ``_``, and ``.``/``-`` inside)
  fails its line with a suggestion;
- unknown fields are reported once for the whole file and ignored.

With ``deactivate_missing``, local members not in the file are **deactivated** (never deleted:
they cannot sign in and leave the directory; their data stays). Admins are never deactivated
this way (the operator would lock themselves out). With ``dry_run`` nothing is written: the
whole run happens in one transaction that is rolled back, and the report says what would be
created, changed and deactivated.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.db import utcnow
from profiles import events, validation
from profiles import members as member_service
from profiles.context import NodeContext
from profiles.errors import DomainError
from profiles.fields import MEMBER_IMPORT_FIELDS, ProfileData, pairs_from_text
from profiles.import_writer import ensure_transaction, phrase_rows, reason
from profiles.importers import (
    MAX_LINE_BYTES,
    ImportResult,
    LineError,
    _member_profile,
    _Parser,
)
from profiles.models import AvailabilityRange, Member, MemberConcept, MemberLanguage, MemberPhrase
from profiles.vocabulary import Vocabulary

REGISTER_FIELDS = MEMBER_IMPORT_FIELDS | {"ref"}
LIST_FIELDS = ("skills", "occupations", "language_pairs")
TRUE, FALSE = {"true", "yes", "1", "y", "x"}, {"false", "no", "0", "n", ""}
# Line keys -> the profile attribute they set (others: username, email, ref).
PROFILE_KEYS = {
    "name": "name",
    "summary": "summary",
    "country": "country",
    "city": "city",
    "remote": "remote",
    "visibility": "visibility",
    "languages": "languages",
    "occupations": "occupations",
    "skills": "skills",
    "available_from": "availability",
    "available_until": "availability",
    "language_pairs": "language_pairs",
}


@dataclass
class SyncResult(ImportResult):
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0
    unknown_fields: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(
            created=self.created,
            changed=self.changed,
            deactivated=self.deactivated,
            unchanged=self.unchanged,
            unknown_fields=dict(self.unknown_fields),
            dry_run=self.dry_run,
        )
        return data


# -- reading ---------------------------------------------------------------------------------


def csv_rows(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """(line number, the row as a JSON-like object, or why it cannot be read)."""
    text = (raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw for raw in lines)
    reader = csv.DictReader(text)
    for row in reader:
        number = reader.line_num
        try:
            yield number, _csv_object(row)
        except LineError as exc:
            yield number, exc


def _csv_object(row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:
        raise LineError("more cells than the header has names")
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None:
            continue
        name, value = key.strip().lower(), value.strip()
        if not value:
            continue
        if name in LIST_FIELDS:
            data[name] = [v.strip() for v in value.split(";") if v.strip()]
        elif name == "languages":
            data[name] = [_language(v) for v in value.split(";") if v.strip()]
        elif name == "remote":
            if value.lower() not in TRUE | FALSE:
                raise LineError("remote: true or false expected")
            data[name] = value.lower() in TRUE
        else:
            data[name] = value
    return data


def _language(text: str) -> dict[str, str]:
    code, _, level = text.strip().partition(":")
    return {"code": code.strip(), "level": level.strip() or "B2"}


def jsonl_rows(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            yield number, _json_object(raw)
        except LineError as exc:
            yield number, exc


def _json_object(raw: bytes | str) -> dict[str, Any]:
    """:meth:`_Parser.obj` without its unknown-field check (here they are reported once)."""
    if len(raw) > MAX_LINE_BYTES:
        raise LineError(f"line longer than {MAX_LINE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise LineError("not UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"bad JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise LineError("a JSON object expected")
    return data


# -- comparing -------------------------------------------------------------------------------


def _comparable(data: ProfileData) -> tuple[Any, ...]:
    return (
        data.name,
        data.summary,
        data.country,
        data.city,
        data.remote,
        data.visibility,
        frozenset(data.languages),
        frozenset(data.occupations),
        frozenset(data.skills),
        tuple(sorted(data.availability)),
        frozenset(data.language_pairs),
    )


@dataclass
class _Known:
    """What the node has of one local member, loaded in bulk (no ORM object per member)."""

    id: int
    username: str
    email: str | None
    ref: str | None
    deactivated_at: datetime | None
    is_admin: bool
    profile: ProfileData


def _snapshot(
    session: Session, ctx: NodeContext, only: ColumnElement[bool] | None = None
) -> dict[int, _Known]:
    """The local members (matching ``only``, else all) as the sync compares them."""
    known: dict[int, _Known] = {}
    rows = session.execute(
        select(
            Member.id,
            Member.username,
            Member.email,
            Member.ref,
            Member.deactivated_at,
            Member.is_admin,
            Member.name,
            Member.summary,
            Member.country,
            Member.city,
            Member.remote,
            Member.visibility,
            Member.language_pairs,
        ).where(Member.local, Member.node == ctx.domain, only if only is not None else true())
    )
    for mid, user, email, ref, gone, admin, name, summary, country, city, remote, vis, lp in rows:
        profile = ProfileData(name, summary, country, city, remote, vis)
        profile.language_pairs = pairs_from_text(lp)
        known[mid] = _Known(mid, user, email, ref, gone, admin, profile)
    for mid, code, level in session.execute(
        select(MemberLanguage.member_id, MemberLanguage.code, MemberLanguage.level).where(
            _ids(MemberLanguage.member_id, known, only)
        )
    ):
        if mid in known:
            known[mid].profile.languages.append((code, level))
    for mid, iri, kind in session.execute(
        select(MemberConcept.member_id, MemberConcept.concept_iri, MemberConcept.kind).where(
            _ids(MemberConcept.member_id, known, only)
        )
    ):
        if mid in known:
            (
                known[mid].profile.skills if kind == "skill" else known[mid].profile.occupations
            ).append(iri)
    for mid, start, end in session.execute(
        select(AvailabilityRange.member_id, AvailabilityRange.start, AvailabilityRange.end).where(
            _ids(AvailabilityRange.member_id, known, only)
        )
    ):
        if mid in known:
            known[mid].profile.availability.append((start, end))
    return known


def _ids(column: Any, known: dict[int, _Known], only: Any) -> ColumnElement[bool]:
    return true() if only is None else column.in_(list(known))


# -- the sync --------------------------------------------------------------------------------


class _Sync:
    def __init__(
        self,
        session: Session,
        ctx: NodeContext,
        vocab: Vocabulary,
        result: SyncResult,
        only: ColumnElement[bool] | None = None,
        parser: _Parser | None = None,
    ) -> None:
        self.session, self.ctx, self.vocab, self.result = session, ctx, vocab, result
        self.parser = parser or _Parser(vocab, result, session)
        self.said: list[Any] = []  # the current line's phrases (see _line)
        self.known = _snapshot(session, ctx, only)
        self.by_ref = {k.ref: k for k in self.known.values() if k.ref}
        self.by_name = {k.username: k for k in self.known.values()}
        self.emails = {k.email: k.id for k in self.known.values() if k.email}
        self.seen: set[int] = set()
        self.now = utcnow()

    def line(self, data: dict[str, Any]) -> None:
        unknown = set(data) - REGISTER_FIELDS
        for key in unknown:
            self.result.unknown_fields[key] += 1
            del data[key]
        raw_name = data.get("username")
        if isinstance(raw_name, str) and raw_name.strip():
            try:
                validation.username(raw_name)
            except ValueError as exc:
                hint = validation.suggest_username(raw_name)
                raise LineError(f"username: {raw_name!r}: {exc}; try {hint!r}") from None
        ref = self.parser.string(data, "ref", 128) or None
        self.parser.take_phrases()  # none left over from another use of a shared parser
        username, email, profile = _member_profile(self.parser, data)
        # What the line's skills and occupations said, linked or not (issue 11: nothing is
        # dropped); taken now so that a refused line leaves none behind for the next.
        self.said = self.parser.take_phrases()
        found = (self.by_ref.get(ref) if ref else None) or self.by_name.get(username)
        if found is not None and ref and found.ref and found.ref != ref:
            raise LineError(f"username {username!r} belongs to the member with ref {found.ref!r}")
        if found is not None and found.id in self.seen:
            raise LineError(f"member {found.username!r} appears twice in the file")
        owner = self.emails.get(email) if email else None
        if owner is not None and owner != (found.id if found else None):
            raise LineError(f"duplicate e-mail {email!r}")
        if found is None:
            self._create(username, email, ref, profile)
        else:
            self.seen.add(found.id)
            self._update(found, data, username, email, ref, profile)

    def _create(self, username: str, email: str | None, ref: str | None, p: ProfileData) -> None:
        clean = member_service.validate_profile(p, self.vocab)
        member = Member(
            ap_id=self.ctx.member_iri(username),
            local=True,
            node=self.ctx.domain,
            username=username,
            email=email,
            ref=ref,
            password_hash=None,
            is_admin=False,
            coop_name=self.ctx.name,
            name=username,
        )
        member_service.apply_profile(member, clean)
        self.session.add(member)
        self.session.flush()
        if self.said:
            self.session.execute(insert(MemberPhrase), phrase_rows(member.id, self.said))
        events.emit(self.session, events.MEMBERS_ADDED, [member])  # new (see members.create)
        events.emit(self.session, events.MEMBER_SAVED, member)
        known = _Known(member.id, username, email, ref, None, False, clean)
        self.known[member.id] = self.by_name[username] = known
        if ref:
            self.by_ref[ref] = known
        if email:
            self.emails[email] = member.id
        self.seen.add(member.id)
        self.result.created.append(username)
        self.result.without_password += 1

    def _update(
        self,
        known: _Known,
        data: dict[str, Any],
        username: str,
        email: str | None,
        ref: str | None,
        p: ProfileData,
    ) -> None:
        merged = ProfileData(**{**known.profile.__dict__, "links": []})
        for key, attr in PROFILE_KEYS.items():
            if key in data:
                setattr(merged, attr, getattr(p, attr))
        clean = member_service.validate_profile(merged, self.vocab)
        new_email = email if "email" in data else known.email
        new_ref = ref or known.ref
        same = (
            _comparable(clean) == _comparable(known.profile)
            and new_email == known.email
            and new_ref == known.ref
            and username == known.username
            and known.deactivated_at is None
        )
        if same:
            self.result.unchanged += 1
            return
        if username != known.username:
            raise LineError(f"ref {ref!r} is {known.username!r} here: user names do not change")
        member = self.session.get(Member, known.id)
        assert member is not None
        clean.links = [(link.url, link.title) for link in member.links]
        member_service.apply_profile(member, clean)
        member.email, member.ref, member.deactivated_at = new_email, new_ref, None
        if "skills" in data or "occupations" in data:  # the register's words replace the old
            self.session.execute(delete(MemberPhrase).where(MemberPhrase.member_id == member.id))
            if self.said:
                self.session.execute(insert(MemberPhrase), phrase_rows(member.id, self.said))
        self.session.flush()
        events.emit(self.session, events.MEMBER_SAVED, member)
        if known.email and known.email != new_email:
            self.emails.pop(known.email, None)
        if new_email:
            self.emails[new_email] = known.id
        self.result.changed.append(username)

    def deactivate_missing(self) -> None:
        gone = [
            k
            for k in self.known.values()
            if k.id not in self.seen and k.deactivated_at is None and not k.is_admin
        ]
        ids = [k.id for k in gone]
        for start in range(0, len(ids), 1000):
            self.session.execute(
                update(Member)
                .where(Member.id.in_(ids[start : start + 1000]))
                .values(deactivated_at=self.now, updated_at=self.now)
            )
        self.result.deactivated = sorted(k.username for k in gone)
        # Partners and followers are told the profile is gone (profiles.ap.publishing), and
        # the match index drops it: the same event as any other change of the member.
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for member in self.session.scalars(select(Member).where(Member.id.in_(chunk))):
                events.emit(self.session, events.MEMBER_SAVED, member)


def sync_members(
    session: Session,
    ctx: NodeContext,
    vocab: Vocabulary,
    lines: Iterable[bytes | str],
    *,
    fmt: str = "jsonl",
    dry_run: bool = False,
    deactivate_missing: bool = False,
    batch_size: int = 500,
) -> SyncResult:
    """Upsert the members of a register file (``fmt`` "jsonl" or "csv"); see the module
    docstring. Commits every ``batch_size`` written lines (nothing with ``dry_run``)."""
    result = SyncResult("members", dry_run=dry_run)
    started = time.perf_counter()
    sync = _Sync(session, ctx, vocab, result)
    rows = csv_rows(lines) if fmt == "csv" else jsonl_rows(lines)
    pending = 0
    ensure_transaction(session)
    for number, data in rows:
        result.lines = number
        if isinstance(data, LineError):
            result.skipped.append((number, str(data)))
            continue
        savepoint = session.begin_nested()
        try:
            sync.line(data)
            savepoint.commit()
        except (LineError, DomainError, IntegrityError, ValueError) as exc:
            savepoint.rollback()
            result.skipped.append((number, reason(exc)))
            continue
        result.stored += 1
        pending += 1
        if pending >= batch_size and not dry_run:
            session.commit()
            ensure_transaction(session)
            pending = 0
    if deactivate_missing:
        sync.deactivate_missing()
    if dry_run:
        session.rollback()
    else:
        session.commit()
    result.seconds = time.perf_counter() - started
    return result


def upsert_member(
    session: Session,
    ctx: NodeContext,
    vocab: Vocabulary,
    data: dict[str, Any],
    parser: _Parser | None = None,
) -> tuple[str, str, list[str]]:
    """One register line (the API's ``POST /members``): ("created" | "changed" | "unchanged",
    user name, unknown fields ignored). Same rules and errors (LineError, DomainError) as a
    line of :func:`sync_members`; the caller commits. Loads only the members it may touch."""
    result = SyncResult("members")
    keys = [Member.username == str(data.get("username", "")).strip().lower()]
    if isinstance(data.get("ref"), str) and data["ref"].strip():
        keys.append(Member.ref == data["ref"].strip())
    if isinstance(data.get("email"), str) and data["email"].strip():
        keys.append(Member.email == data["email"].strip().lower())
    if parser is not None:
        parser.result = result
    sync = _Sync(session, ctx, vocab, result, only=or_(*keys), parser=parser)
    sync.line(dict(data))
    session.flush()
    outcome = "created" if result.created else "changed" if result.changed else "unchanged"
    name = (result.created or result.changed or [str(data.get("username", "")).lower()])[0]
    return outcome, name, sorted(result.unknown_fields)


def read_rows(text: str, fmt: str) -> list[tuple[int, dict[str, Any] | LineError]]:
    """All rows of a small file held in memory (tests, the API)."""
    lines = io.StringIO(text)
    return list(csv_rows(lines) if fmt == "csv" else jsonl_rows(lines))
