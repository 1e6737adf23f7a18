"""Outgoing email: the queue (``mail_messages``), members' per-kind opt-ins
(``mail_preferences``) and the sender that works the queue.

- **Transactional**: :func:`enqueue` adds rows to the caller's session; nothing is mailed unless
  the caller's transaction commits (a rolled back invitation sends nothing).
- **Kinds**: every message has a kind. Transactional kinds (a password reset, an invitation, the
  operator's test message) are always sent; notification kinds only to members who opted in to
  that kind (default: none) — :func:`wants` is the one check.
- **Delivery**: :class:`MailSender` leases due rows (:mod:`federation.lease`, as deliveries do),
  sends a batch through one connection of a :mod:`profiles.smtp` transport and records every
  outcome in one transaction. A server that is down or refuses for a while (4xx, timeouts,
  refused connections, TLS/AUTH trouble) loses nothing: the messages wait with exponential
  backoff (:func:`federation.retry.next_delay`) and the sender pauses; after
  ``retry.MAX_ATTEMPTS`` attempts or ``retry.GIVE_UP_AFTER`` a message is ``dead``. A 5xx about a
  message (unknown mailbox, rejected content) is a bounce: ``failed`` with the server's answer,
  logged, and listed on the admin's email log.

States: ``pending -> sent | failed | dead``. Delivery is at-least-once: a message sent but not
recorded (crash in between) is sent again after its lease; its Message-ID stays the same.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy as email_policy
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, delete, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from federation import lease, retry
from federation.db import Base, utcnow
from federation.models import dialect_insert
from profiles.smtp import RecipientRefused, ServerUnavailable, Transport

log = logging.getLogger(__name__)

# Always sent: the member asked for it, or the coop must reach them.
TRANSACTIONAL_KINDS = frozenset({"test", "invitation", "password_reset", "account"})
# Sent only to members who opted in to the kind (default: none). Features add theirs here.
NOTIFICATION_KINDS = (
    "response",  # someone responded to my call
    "response_status",  # my response was shortlisted, accepted, declined
    "call_invitation",  # I was invited to respond to a call
    "message",  # a new message in a conversation
    "call_match",  # a new call that fits my profile
    "digest",  # the daily digest of calls that fit me
    "digest_weekly",  # the weekly digest of calls that fit me
)
STATES = ("pending", "sent", "failed", "dead")
DEFAULT_LEASE = timedelta(minutes=10)
DEFAULT_BATCH = 200
KEEP_FINISHED = timedelta(days=30)  # sent/failed/dead rows (with their bodies) are then deleted
MAX_ADDRESS = 254  # RFC 5321 path limit


class MailMessage(Base):
    """One message to one recipient, rendered at enqueue time in the recipient's language."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_due", "state", "next_attempt_at"),
        Index("ix_mail_messages_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    # The member it was for, if any; NULL once the member is deleted, and the message is still
    # sent: the confirmation of an erasure goes out after the erasure.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    # Extra headers (List-Unsubscribe, …) as a JSON object of strings.
    headers: Mapped[str] = mapped_column(Text, default="{}")
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_code: Mapped[int | None] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # Where it went: the .eml file name (folder mode) or the SMTP server's host.
    stored_as: Mapped[str | None] = mapped_column(String(255))


class MailPreference(Base):
    """A member's opt-in to one notification kind (a row means "yes, email me")."""

    __tablename__ = "mail_preferences"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- kinds and preferences --------------------------------------------------------------------


def check_kind(kind: str) -> str:
    """Unknown kinds are refused: a typo must not bypass the opt-in rule."""
    if kind not in TRANSACTIONAL_KINDS and kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    return kind


def is_transactional(kind: str) -> bool:
    return check_kind(kind) in TRANSACTIONAL_KINDS


def wants(session: Session, member_id: int, kind: str) -> bool:
    """May ``kind`` be emailed to this member? Transactional kinds: always."""
    if is_transactional(kind):
        return True
    found = session.scalar(
        select(MailPreference.kind).where(
            MailPreference.member_id == member_id, MailPreference.kind == kind
        )
    )
    return found is not None


def opted_in(session: Session, kind: str, member_ids: Iterable[int] | None = None) -> set[int]:
    """The members (of ``member_ids``, or all) who opted in to a notification kind (digests)."""
    stmt = select(MailPreference.member_id).where(MailPreference.kind == check_kind(kind))
    if member_ids is not None:
        stmt = stmt.where(MailPreference.member_id.in_(list(member_ids)))
    return set(session.scalars(stmt))


def preferences(session: Session, member_id: int) -> set[str]:
    """The notification kinds a member opted in to."""
    stmt = select(MailPreference.kind).where(MailPreference.member_id == member_id)
    return set(session.scalars(stmt))


def set_preference(session: Session, member_id: int, kind: str, enabled: bool) -> None:
    """Opt in or out of a notification kind (idempotent); the caller commits."""
    if is_transactional(kind):
        raise ValueError(f"{kind!r} mail is always sent; there is nothing to opt out of")
    if enabled:
        stmt = dialect_insert(session, MailPreference).values(
            member_id=member_id, kind=kind, created_at=utcnow()
        )
        session.execute(stmt.on_conflict_do_nothing())
    else:
        session.execute(
            delete(MailPreference).where(
                MailPreference.member_id == member_id, MailPreference.kind == kind
            )
        )


# -- enqueueing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A rendered message for :func:`enqueue` / :func:`enqueue_many`."""

    recipient: str
    subject: str
    text: str
    kind: str
    html: str | None = None
    lang: str = "en"
    headers: Mapping[str, str] = field(default_factory=dict)
    member_id: int | None = None


# A dot-atom local part (RFC 5322 3.2.3; quoted local parts are not accepted) and a host name;
# non-ASCII letters allowed (RFC 6531). A regular expression, not email.headerregistry: the
# header parser costs ~0.5 ms per address, too much for 10,000 invitations.
_ALNUM = r"A-Za-z0-9\u0080-\U0010ffff"
_ATOM = rf"[{_ALNUM}!#$%&'*+/=?^_`{{|}}~-]+"
_LABEL = rf"[{_ALNUM}](?:[{_ALNUM}-]{{0,61}}[{_ALNUM}])?"
ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:(?:{_LABEL}\.)+{_LABEL}|localhost)")


def check_address(address: str) -> str:
    """A single plain addr-spec (``lena@example.org``); raises ValueError otherwise."""
    address = address.strip()
    local = address.rpartition("@")[0]
    if len(address) > MAX_ADDRESS or len(local) > 64 or not ADDRESS_RE.fullmatch(address):
        raise ValueError(f"not an e-mail address: {address!r}")
    return address


def _row_values(message: Outgoing, id_domain: str, now: datetime) -> dict[str, Any]:
    subject = " ".join(message.subject.split())  # never a header line break
    return {
        "recipient": check_address(message.recipient),
        "member_id": message.member_id,
        "kind": check_kind(message.kind),
        "lang": message.lang,
        "subject": subject[:500],
        "text": message.text,
        "html": message.html,
        "headers": json.dumps(dict(message.headers), ensure_ascii=False),
        # Stable across retries: a copy sent twice (at-least-once) is recognisable.
        "message_id": f"<{secrets.token_hex(16)}@{id_domain}>",
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def enqueue(session: Session, message: Outgoing, *, id_domain: str) -> MailMessage:
    """Queue one message in the caller's transaction. ``id_domain``: right side of Message-ID.

    Does not check opt-ins: callers use :func:`wants` (node.mail.send_mail does)."""
    row = MailMessage(**_row_values(message, id_domain, utcnow()))
    session.add(row)
    return row


def enqueue_many(
    session: Session, messages: Iterable[Outgoing], *, id_domain: str, chunk: int = 1000
) -> int:
    """Queue many messages with multi-row INSERTs (10,000 invitations: well under a second of
    database time); in the caller's transaction. Returns how many were queued."""
    now = utcnow()
    count = 0
    batch: list[dict[str, Any]] = []
    for message in messages:
        batch.append(_row_values(message, id_domain, now))
        if len(batch) >= chunk:
            session.execute(insert(MailMessage), batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(insert(MailMessage), batch)
        count += len(batch)
    return count


def from_header(from_address: str) -> str:
    """``Name <addr>`` as a header value (RFC 2047-encoded name when it is not ASCII)."""
    name, addr = parseaddr(from_address)
    return formataddr((name, addr), charset="utf-8")


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def build_message(row: MailMessage, from_field: str) -> bytes:
    """The message as sent: a text part plus an HTML alternative when there is one; UTF-8,
    quoted-printable, CRLF. ``from_field``: :func:`from_header`.

    Built with the email package's legacy (compat32) classes: the modern ``EmailMessage`` parses
    every header it is given and took about 3 ms per message, three times as long, most of the
    sending cost of a 10,000-message batch (bench/bench_mail.py).
    """
    msg: MIMENonMultipart | MIMEMultipart
    if row.html:
        msg = MIMEMultipart("alternative")
        for body, subtype in ((row.text, "plain"), (row.html, "html")):
            part = _text_part(body, subtype)
            del part["MIME-Version"]  # only the top level carries it
            msg.attach(part)
    else:
        msg = _text_part(row.text, "plain")
    msg["From"] = from_field
    msg["To"] = row.recipient
    msg["Subject"] = _header(row.subject)
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    msg["Content-Language"] = row.lang
    # RFC 3834: no vacation auto-replies to the node.
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in json.loads(row.headers or "{}").items():
        msg[name] = _header(value)
    return msg.as_bytes(policy=_WIRE)


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, _UTF8_QP)  # quoted-printable: readable, and safe for 7-bit relays
    return part


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
# No folding of header lines: compat32 would break List-Unsubscribe before its only (long)
# URL; our lines stay far below RFC 5322's 998 limit (subject cut at 500 characters; non-ASCII
# values are already folded into encoded words).
_WIRE = email_policy.compat32.clone(linesep="\r\n", max_line_length=None)


# -- sending ----------------------------------------------------------------------------------


@dataclass
class _Outcome:
    state: str  # sent | failed | retry
    error: str | None = None
    code: int | None = None
    stored_as: str | None = None


class MailSender:
    """One worker identity (``worker_id`` unique per process) working the queue.

    ``clock`` and ``rng`` are injectable so tests step time and jitter deterministically.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        transport: Transport,
        *,
        from_address: str,
        envelope_from: str,
        worker_id: str,
        batch_size: int = DEFAULT_BATCH,
        lease: timedelta = DEFAULT_LEASE,
        send_budget: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.transport = transport
        self.from_address = from_address
        self.from_field = from_header(from_address)
        self.envelope_from = envelope_from
        self.worker_id = worker_id
        self.batch_size = batch_size
        self.lease = lease
        # Longest one message may take (connection timeouts): never start one with less lease.
        self.send_budget = send_budget
        self.clock = clock
        self.rng = rng or random.Random()
        # After a server-wide failure the sender waits (backoff) before trying the server again.
        self.server_failures = 0
        self.paused_until: datetime | None = None

    def run_once(self) -> int:
        """Claim a batch of due messages, send it through one connection, record the outcomes.
        Returns how many messages reached a final state (sent, failed, dead)."""
        now = self.clock()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        claimed = lease.claim_due(
            self.session_factory,
            MailMessage,
            worker_id=self.worker_id,
            n=self.batch_size,
            now=now,
            lease=self.lease,
        )
        if not claimed:
            return 0
        with self.session_factory() as session:
            rows = session.scalars(
                select(MailMessage).where(MailMessage.id.in_(claimed)).order_by(MailMessage.id)
            ).all()
            work, unbuildable = [], {}
            for r in rows:
                try:
                    work.append((r.id, r.recipient, build_message(r, self.from_field)))
                except (ValueError, TypeError, LookupError) as exc:  # bad stored headers
                    # Fail it now: left leased it would be retried for ever.
                    unbuildable[r.id] = _Outcome("failed", f"cannot build the message: {exc}")
            lease_until = min((r.claimed_until or now for r in rows), default=now)
        outcomes = self._send(work, lease_until) if work else {}
        return self._record(claimed, {**outcomes, **unbuildable})

    def _send(
        self, work: list[tuple[int, str, bytes]], lease_until: datetime
    ) -> dict[int, _Outcome]:
        """Network only, no database."""
        outcomes: dict[int, _Outcome] = {}
        try:
            with self.transport.connect() as conn:
                for mail_id, recipient, message in work:
                    if self.clock() + self.send_budget > lease_until:
                        break  # released unsent; the next batch takes it
                    try:
                        where = conn.send(message, self.envelope_from, recipient, f"{mail_id:08d}")
                    except RecipientRefused as exc:
                        state = "failed" if exc.permanent else "retry"
                        outcomes[mail_id] = _Outcome(state, exc.reason, exc.code)
                    else:
                        outcomes[mail_id] = _Outcome("sent", stored_as=where)
        except ServerUnavailable as exc:
            log.warning("mail server %s unavailable: %s", self.transport.describe(), exc.reason)
            for mail_id, _recipient, _message in work:
                outcomes.setdefault(mail_id, _Outcome("retry", exc.reason, exc.code))
            self.server_failures += 1
            self.paused_until = self.clock() + retry.next_delay(self.server_failures, self.rng)
        else:
            self.server_failures = 0
            self.paused_until = None
        return outcomes

    def _record(self, claimed: list[int], outcomes: dict[int, _Outcome]) -> int:
        """Apply every outcome in one transaction, for the rows we still hold the lease on."""
        now = self.clock()
        final = 0
        with self.session_factory() as session, session.begin():
            rows = session.scalars(
                select(MailMessage).where(MailMessage.id.in_(claimed)).with_for_update()
            ).all()
            for row in rows:
                if not lease.holds_lease(row, self.worker_id, now):
                    log.warning("lost the lease on mail %s; outcome dropped", row.id)
                    continue
                row.claimed_until = None
                outcome = outcomes.get(row.id)
                if outcome is not None:
                    final += self._apply(row, outcome, now)
        return final

    def _apply(self, row: MailMessage, outcome: _Outcome, now: datetime) -> int:
        row.attempts += 1
        row.last_code = outcome.code
        row.last_error = outcome.error
        if outcome.state == "sent":
            row.state, row.sent_at, row.stored_as = "sent", now, outcome.stored_as
            return 1
        if outcome.state == "failed":
            row.state = "failed"
            log.warning(
                "mail %s (%s) to %s bounced: %s", row.id, row.kind, row.recipient, outcome.error
            )
            return 1
        when = now + retry.next_delay(row.attempts, self.rng)
        if row.attempts >= retry.MAX_ATTEMPTS or when - row.created_at > retry.GIVE_UP_AFTER:
            row.state = "dead"
            log.warning(
                "mail %s (%s) to %s given up after %d attempts: %s",
                row.id,
                row.kind,
                row.recipient,
                row.attempts,
                outcome.error,
            )
            return 1
        row.next_attempt_at = when
        return 0


# -- upkeep and the admin's view ----------------------------------------------------------------


def counts(session: Session) -> dict[str, int]:
    """Messages per state (every state present, zeros included)."""
    found = dict(
        session.execute(select(MailMessage.state, func.count()).group_by(MailMessage.state)).all()
    )
    return {state: int(found.get(state, 0)) for state in STATES}


def prune(session: Session, now: datetime, keep: timedelta = KEEP_FINISHED) -> int:
    """Delete finished messages (and the personal data in them) older than ``keep``."""
    result = session.execute(
        delete(MailMessage).where(
            MailMessage.state.in_(("sent", "failed", "dead")), MailMessage.created_at < now - keep
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
