"""Writing imported lines to the database (:mod:`profiles.importers` reads and checks them):
one transaction per batch, bad lines reported with their number and nothing else lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from profiles import events
from profiles import members as member_service
from profiles.context import NodeContext
from profiles.errors import DomainError, ValidationError
from profiles.models import Member, MemberPhrase
from profiles.understanding import Phrase

if TYPE_CHECKING:
    from profiles.importers import ImportResult


def ensure_transaction(session: Session) -> None:
    """pysqlite opens a transaction only before DML, so a SAVEPOINT issued first would become
    the outermost transaction and its RELEASE a commit per line (slow, and not what we mean).
    Open the real transaction explicitly. See
    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN")


def reason(exc: Exception) -> str:
    if isinstance(exc, IntegrityError):
        return f"rejected by the database ({exc.orig})"
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    return str(exc)


def phrase_rows(member_id: int, said: list[tuple[str, Phrase]]) -> list[dict[str, Any]]:
    return [
        {
            "member_id": member_id,
            "position": i,
            "kind": ph.kind or ("occupation" if key == "occupations" else "skill"),
            "text": ph.text[:255],
            "lang": ph.lang,
            "concept_iri": ph.iri,
            "status": ph.status,
        }
        for i, (key, ph) in enumerate(said)
    ]


@dataclass
class MemberLine:
    """One non-blank line of ``members.jsonl``, parsed and checked without the database:
    ``error`` (a bad line), or the member to store with its phrases (``invalid``: the profile
    failed :func:`profiles.members.validate_profile`, reported after the duplicate checks)."""

    number: int
    error: str = ""
    username: str = ""
    email: str | None = None
    profile: member_service.ProfileData | None = None
    invalid: str = ""
    said: list[tuple[str, Phrase]] = field(default_factory=list)

    def data(self) -> member_service.ProfileData:
        """The checked profile of an accepted line."""
        if self.profile is None:
            raise ValueError(f"line {self.number} has no checked profile")
        return self.profile


class MemberWriter:
    """Stores parsed member lines a batch at a time: one flush, one phrase ``executemany`` and
    one SAVEPOINT per batch instead of per line (a flush per member was most of the time of a
    10,000-line import). When the database refuses the batch, it is rolled back and written
    again line by line, each in its own SAVEPOINT, so only the refused line is lost and is
    reported with its number, as before."""

    def __init__(self, session: Session, ctx: NodeContext, result: ImportResult) -> None:
        self.session, self.ctx, self.result = session, ctx, result
        # One query each instead of two per line (create_member's own checks then always pass).
        self.usernames = set(
            session.scalars(select(Member.username).where(Member.node == ctx.domain))
        )
        self.emails = set(
            session.scalars(select(Member.email).where(Member.local, Member.email.is_not(None)))
        )

    def _refusal(self, line: MemberLine) -> str:
        """Why the line is not stored (checks in the order of the format's description)."""
        if line.error:
            return line.error
        if line.username in self.usernames:
            return f"duplicate username {line.username!r}"
        if line.email and line.email in self.emails:
            return f"duplicate e-mail {line.email!r}"
        return line.invalid

    def _member(self, line: MemberLine) -> Member:
        # What create_member does, minus its two uniqueness queries per line (checked against
        # sets loaded once) and minus a password. No keys here (~40 ms each): the worker makes
        # them in batches (profiles.member_keys).
        member = Member(
            ap_id=self.ctx.member_iri(line.username),
            local=True,
            node=self.ctx.domain,
            username=line.username,
            email=line.email,
            password_hash=None,
            is_admin=False,
            coop_name=self.ctx.name,
            name=line.username,
        )
        member_service.new_profile(member, line.data())
        return member

    def _write(self, lines: list[MemberLine]) -> None:
        """Insert ``lines`` (all accepted) in the current transaction; raises what the database
        or a domain-event listener raises."""
        members = [self._member(line) for line in lines]
        self.session.add_all(members)
        self.session.flush()
        member_service.insert_new_profiles(
            self.session, [(m.id, ln.data()) for m, ln in zip(members, lines, strict=True)]
        )
        # Core executemany on the table, not an ORM object per phrase (nor the ORM's bulk path,
        # twice as slow per row): 10,000 members type ~40,000.
        rows = [
            row for m, ln in zip(members, lines, strict=True) for row in phrase_rows(m.id, ln.said)
        ]
        if rows:
            self.session.execute(insert(cast(Table, MemberPhrase.__table__)), rows)
        events.emit(self.session, events.MEMBERS_ADDED, members)
        for member in members:
            events.emit(self.session, events.MEMBER_SAVED, member)

    def store(self, batch: list[MemberLine]) -> None:
        """Store a batch of lines (in file order) and commit."""
        if not batch:
            return
        ensure_transaction(self.session)
        accepted: list[MemberLine] = []
        refused: list[tuple[int, str]] = []
        for line in batch:
            why = self._refusal(line)
            if why:
                refused.append((line.number, why))
                continue
            accepted.append(line)
            self.usernames.add(line.username)
            if line.email:
                self.emails.add(line.email)
        try:
            with self.session.begin_nested():
                self._write(accepted)
        except (DomainError, IntegrityError):
            for line in accepted:  # the batch is undone: decide again, line by line
                self.usernames.discard(line.username)
                if line.email:
                    self.emails.discard(line.email)
            self._one_by_one(batch)
        else:
            self.result.skipped.extend(refused)
            self._stored(len(accepted))
        self.session.commit()

    def _one_by_one(self, batch: list[MemberLine]) -> None:
        for line in batch:
            why = self._refusal(line)
            if not why:
                try:
                    with self.session.begin_nested():
                        self._write([line])
                except (DomainError, IntegrityError) as exc:
                    why = reason(exc)
            if why:
                self.result.skipped.append((line.number, why))
                continue
            self.usernames.add(line.username)
            if line.email:
                self.emails.add(line.email)
            self._stored(1)

    def _stored(self, count: int) -> None:
        self.result.stored += count
        self.result.without_password += count
