"""Tables of the federation engine (all prefixed ``fed_``), on the node's one ``Base``.

Local actors and their keys are NOT stored here: the domain (``profiles/``) owns its actors and
hands the engine a :class:`federation.actors.LocalActorResolver`. JSON documents are kept as text
(``body``/``raw``) so SQLite and PostgreSQL store the same bytes we received or sent.

States (strings, checked in code, not DB enums, so adding one needs no type migration):
- inbox item: ``pending -> done | failed``
- delivery: ``pending -> sent | failed | dead`` (``failed`` = permanent refusal, ``dead`` = gave
  up retrying or the host is dead)
- host: ``ok | dead``; following: ``pending | accepted | rejected``;
  domain policy: ``block | allow``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from federation.db import Base, utcnow

IRI = String(2048)


class RemoteActor(Base):
    """Cache of a fetched remote actor; ``gone`` after a Delete or an HTTP 410."""

    __tablename__ = "fed_remote_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    inbox: Mapped[str] = mapped_column(IRI)
    shared_inbox: Mapped[str | None] = mapped_column(IRI)
    key_id: Mapped[str | None] = mapped_column(IRI, index=True)
    public_pem: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)


class InboxItem(Base):
    """A verified inbound activity waiting for (or done with) domain processing.

    ``state``: ``pending``, ``done``, ``refused`` (a permanent refusal by a handler, ``error``
    says why; never retried) or ``failed`` (a handler kept failing, ``attempts`` times).
    ``retry_at``: after a transient failure (lock, peer timeout), not before this time.
    """

    __tablename__ = "fed_inbox_items"
    __table_args__ = (Index("ix_fed_inbox_items_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(IRI, unique=True)
    actor: Mapped[str] = mapped_column(IRI)
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column()
    retry_at: Mapped[datetime | None] = mapped_column()


class OutboxActivity(Base):
    """An activity one of our actors published (the transactional outbox)."""

    __tablename__ = "fed_outbox_activities"
    __table_args__ = (Index("ix_fed_outbox_activities_actor_created", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_id: Mapped[str] = mapped_column(IRI, unique=True)
    actor: Mapped[str] = mapped_column(IRI)
    type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="activity")


class Delivery(Base):
    """One POST of one outbox activity to one inbox, with its retry state and worker lease."""

    __tablename__ = "fed_deliveries"
    __table_args__ = (
        UniqueConstraint("activity_id", "inbox_url", name="uq_fed_deliveries_activity_inbox"),
        Index("ix_fed_deliveries_due", "state", "next_attempt_at"),
        Index("ix_fed_deliveries_host", "host"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("fed_outbox_activities.id"))
    inbox_url: Mapped[str] = mapped_column(IRI)
    # Denormalised host of inbox_url: dead-host checks and per-host health without URL parsing.
    host: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()

    activity: Mapped[OutboxActivity] = relationship(back_populates="deliveries")


class Host(Base):
    """Delivery health of a remote host (Mastodon's DeliveryFailureTracker idea)."""

    __tablename__ = "fed_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="ok")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Start of the current run of failures; the dead-host rule needs failures *over time*.
    failing_since: Mapped[datetime | None] = mapped_column()
    dead_since: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()


class Follower(Base):
    """A remote actor following one of our local actors."""

    __tablename__ = "fed_followers"
    __table_args__ = (
        UniqueConstraint("local_actor", "follower", name="uq_fed_followers_local_follower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor: Mapped[str] = mapped_column(IRI)
    follower: Mapped[str] = mapped_column(IRI)
    follower_inbox: Mapped[str] = mapped_column(IRI)
    shared_inbox: Mapped[str | None] = mapped_column(IRI)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_activity_id: Mapped[str | None] = mapped_column(IRI)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Following(Base):
    """A follow one of our local actors sent to a remote actor."""

    __tablename__ = "fed_following"
    __table_args__ = (
        UniqueConstraint("local_actor", "remote_actor", name="uq_fed_following_local_remote"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    local_actor: Mapped[str] = mapped_column(IRI)
    remote_actor: Mapped[str] = mapped_column(IRI)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    follow_activity_id: Mapped[str] = mapped_column(IRI, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DomainPolicyEntry(Base):
    """A host on the blocklist (``block``) or the allowlist (``allow``)."""

    __tablename__ = "fed_domain_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActorBlock(Base):
    """A single remote actor blocked node-wide."""

    __tablename__ = "fed_actor_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(IRI, unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def dialect_insert(session: Session, model: type[Base]) -> Any:
    """An ``INSERT`` with ``on_conflict_do_nothing``/``on_conflict_do_update`` for the session's
    database (SQLite and PostgreSQL share that API).

    The engine uses upserts instead of "try, catch IntegrityError in a savepoint": pysqlite's
    default transaction handling breaks SAVEPOINT (a RELEASE can commit the outer transaction,
    see SQLAlchemy's "pysqlite: Serializable isolation / Savepoints" notes), and on PostgreSQL a
    failed INSERT outside a savepoint aborts the whole transaction.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"federation tables need SQLite or PostgreSQL, not {name}")
