"""The coop domain's tables: members, their skills and languages, project calls, concepts.

Local and remote rows share one table per kind: a member received from a partner coop is a
``Member`` with ``local=False`` and its partner's ``node``. Every row has its ActivityPub id
(``ap_id``) from the moment it is created, so federation needs no data migration.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from federation.db import Base, utcnow
from profiles.fields import CALL_STATUSES as CALL_STATUSES  # re-export
from profiles.languages import LANGUAGE_LEVELS as LANGUAGE_LEVELS  # re-export (node.forms)
from profiles.visibility import DEFAULT_CALL, DEFAULT_PROFILE, VALUES

VISIBILITIES = VALUES  # the rules: profiles.visibility
CONCEPT_KINDS = ("skill", "occupation")


class Concept(Base):
    """An ESCO concept (skill or occupation), identified by its IRI on every node."""

    __tablename__ = "concepts"

    iri: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    # curated (shipped vocabulary) or esco (operator's import); curated wins for labels it has.
    source: Mapped[str] = mapped_column(String(16), default="curated")
    group: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # ESCO skill hierarchy codes / ISCO code, space-separated: partial credit in matchmaking.
    codes: Mapped[str] = mapped_column(String(255), default="")

    labels: Mapped[list[ConceptLabel]] = relationship(
        back_populates="concept", cascade="all, delete-orphan"
    )


class ConceptLabel(Base):
    __tablename__ = "concept_labels"
    __table_args__ = (
        UniqueConstraint("concept_iri", "lang", "label", name="uq_concept_labels_label"),
        Index("ix_concept_labels_lang_pref", "concept_iri", "lang", "preferred"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concept_iri: Mapped[str] = mapped_column(ForeignKey("concepts.iri", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(255))
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)

    concept: Mapped[Concept] = relationship(back_populates="labels")


class ConceptRelation(Base):
    """An occupation implies a skill (ESCO occupationSkillRelations): the ranker credits it."""

    __tablename__ = "concept_relations"

    occupation_iri: Mapped[str] = mapped_column(
        ForeignKey("concepts.iri", ondelete="CASCADE"), primary_key=True
    )
    skill_iri: Mapped[str] = mapped_column(String(255), primary_key=True)
    essential: Mapped[bool] = mapped_column(Boolean, default=True)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("node", "username", name="uq_members_node_username"),
        UniqueConstraint("node", "ref", name="uq_members_node_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # The domain of the coop node this member belongs to (ours for local members).
    node: Mapped[str] = mapped_column(String(255), index=True)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    country: Mapped[str] = mapped_column(String(2), default="", index=True)
    city: Mapped[str] = mapped_column(String(120), default="")
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    visibility: Mapped[str] = mapped_column(String(16), default=DEFAULT_PROFILE.value)
    # A file name in the instance's avatars folder ("" for a partner's avatar that could not be
    # fetched); a partner's avatar URL until the worker fetched it (profiles.avatars).
    avatar: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Partner members: the URL their node gave for the avatar we keep a copy of.
    avatar_source: Mapped[str | None] = mapped_column(String(512), nullable=True)
    url: Mapped[str | None] = mapped_column(String(512), nullable=True)  # profile page (remote)
    coop_name: Mapped[str] = mapped_column(String(200), default="")
    ui_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The coop's own id of the member (member number) from its register: the importer's key.
    ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Set when the member left the register (import --deactivate-missing): cannot sign in and
    # is hidden from the directory; the row and its data stay (never deleted by a sync).
    deactivated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # "Delete my account" with a grace period: erased by the worker at this time (else None).
    deletion_due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Per-actor RSA key (PEM); only local members have the private half.
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    private_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Per-actor Ed25519 key (multibase, FEP-521a Multikey) for FEP-8b32 proofs; local only.
    ed25519_public_multibase: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ed25519_private_multibase: Mapped[str | None] = mapped_column(String(128), nullable=True)

    languages: Mapped[list[MemberLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="MemberLanguage.code"
    )
    skills: Mapped[list[MemberConcept]] = relationship(
        cascade="all, delete-orphan",
        primaryjoin="and_(Member.id == MemberConcept.member_id, MemberConcept.kind == 'skill')",
        viewonly=False,
        overlaps="occupations",
    )
    occupations: Mapped[list[MemberConcept]] = relationship(
        cascade="all, delete-orphan",
        primaryjoin=(
            "and_(Member.id == MemberConcept.member_id, MemberConcept.kind == 'occupation')"
        ),
        viewonly=False,
        overlaps="skills",
    )
    availability: Mapped[list[AvailabilityRange]] = relationship(
        cascade="all, delete-orphan", order_by="AvailabilityRange.start"
    )
    links: Mapped[list[PortfolioLink]] = relationship(
        cascade="all, delete-orphan", order_by="PortfolioLink.position"
    )
    # Every phrase the member typed for their skills/occupations, linked or not (issue 11).
    phrases: Mapped[list[MemberPhrase]] = relationship(
        cascade="all, delete-orphan", order_by="MemberPhrase.position"
    )
    # Translators/interpreters: "de>sv en>sv" (source>target, space-separated).
    language_pairs: Mapped[str] = mapped_column(String(255), default="")

    @property
    def handle(self) -> str:
        return f"{self.username}@{self.node}"


class MemberLanguage(Base):
    __tablename__ = "member_languages"
    __table_args__ = (UniqueConstraint("member_id", "code", name="uq_member_languages_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))  # ISO 639-1
    level: Mapped[str] = mapped_column(String(8))  # CEFR level or "native"


class MemberConcept(Base):
    """A member's confirmed skill or occupation: always an ESCO IRI, never free text."""

    __tablename__ = "member_concepts"
    __table_args__ = (
        UniqueConstraint("member_id", "concept_iri", name="uq_member_concepts_concept"),
        Index("ix_member_concepts_concept", "concept_iri"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    concept_iri: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))


class MemberPhrase(Base):
    """A phrase as the member typed it (profiles.understanding): the language it is written
    in and what the vocabulary made of it. ``status`` linked / proposed / unlinked; a proposed
    concept waits for the member to confirm it."""

    __tablename__ = "member_phrases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # skill / occupation
    text: Mapped[str] = mapped_column(String(255))
    lang: Mapped[str] = mapped_column(String(8), default="")
    concept_iri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="unlinked")


class AvailabilityRange(Base):
    __tablename__ = "availability_ranges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)


class PortfolioLink(Base):
    __tablename__ = "portfolio_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(String(200), default="")


class Call(Base):
    """A project call: a coop member looking for collaborators."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("node", "ref", name="uq_calls_node_ref"),
        # Lists show the newest open calls first (profiles.calls.list_calls).
        Index("ix_calls_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    # Short random id used in our URLs (/calls/<public_id>); stable before the row is flushed.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    local: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    node: Mapped[str] = mapped_column(String(255), index=True)
    ref: Mapped[str | None] = mapped_column(String(128), nullable=True)  # importer's external id
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    language: Mapped[str] = mapped_column(String(8), default="en")
    country: Mapped[str] = mapped_column(String(2), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    starts: Mapped[date | None] = mapped_column(Date, nullable=True)
    ends: Mapped[date | None] = mapped_column(Date, nullable=True)
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    compensation: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    visibility: Mapped[str] = mapped_column(String(16), default=DEFAULT_CALL.value)
    url: Mapped[str | None] = mapped_column(String(512), nullable=True)  # page (remote)
    # Collaboration (issue 9, profiles/collab): what the author shares with the accepted team,
    # and whether a fediverse reply to the call counts as a response. Never federated.
    author_contact: Mapped[str] = mapped_column(String(500), default="")
    allow_fediverse_responses: Mapped[bool] = mapped_column(Boolean, default=False)
    # Title, city and description folded for keyword search (profiles.search.fold).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    author: Mapped[Member] = relationship()
    skills: Mapped[list[CallSkill]] = relationship(cascade="all, delete-orphan")
    languages: Mapped[list[CallLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="CallLanguage.code"
    )
    # True: candidates need every working language of the call; False: any one of them.
    languages_all: Mapped[bool] = mapped_column(Boolean, default=False)
    # Translation calls: "de>sv" (source>target, space-separated).
    language_pairs: Mapped[str] = mapped_column(String(64), default="")
    phrases: Mapped[list[CallPhrase]] = relationship(
        cascade="all, delete-orphan", order_by="CallPhrase.position"
    )

    @property
    def required_skills(self) -> list[str]:
        return [s.concept_iri for s in self.skills if s.required]

    @property
    def optional_skills(self) -> list[str]:
        return [s.concept_iri for s in self.skills if not s.required]


class CallSkill(Base):
    __tablename__ = "call_skills"
    __table_args__ = (UniqueConstraint("call_id", "concept_iri", name="uq_call_skills_concept"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    concept_iri: Mapped[str] = mapped_column(String(255), index=True)
    required: Mapped[bool] = mapped_column(Boolean, default=True)


class CallPhrase(Base):
    """A required/optional skill as the author wrote it, and what it was understood as."""

    __tablename__ = "call_phrases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    text: Mapped[str] = mapped_column(String(255))
    lang: Mapped[str] = mapped_column(String(8), default="")
    concept_iri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="unlinked")


class CallLanguage(Base):
    __tablename__ = "call_languages"
    __table_args__ = (UniqueConstraint("call_id", "code", name="uq_call_languages_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))


class LoginAttempt(Base):
    """Failed sign-ins, for rate limiting that holds across web worker processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)  # "user:<name>" or "ip:<addr>"
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MemberSession(Base):
    """A signed-in browser session, server side: the cookie holds a random token, this row its
    SHA-256. Signing out deletes the row, so a copied cookie stops working; a password change
    and "sign out everywhere" delete every row of the member."""

    __tablename__ = "member_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodeMeta(Base):
    """Small key/value facts about this node's data (e.g. the vocabulary revision)."""

    __tablename__ = "node_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


# --- federation (profiles/ap/) -----------------------------------------------------------------

PARTNERSHIP_STATES = ("requested", "pending", "active", "rejected")


class Partnership(Base):
    """A partnership with another coop node: mutual follows between the two instance actors.

    ``requested``: we sent a Follow, no answer yet; ``pending``: they asked, our admin decides;
    ``active``: both sides agreed (we accept their content); ``rejected``. ``direction`` says
    who asked first (``outgoing``/``incoming``). ``backfill_due`` asks the worker to page their
    member and call collections once.
    """

    __tablename__ = "partnerships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(512), unique=True)  # their instance actor IRI
    domain: Mapped[str] = mapped_column(String(255), unique=True)  # host[:port] of that actor
    inbox: Mapped[str] = mapped_column(String(512), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    state: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    direction: Mapped[str] = mapped_column(String(16), default="outgoing")
    backfill_due: Mapped[bool] = mapped_column(Boolean, default=False)
    backfilled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tombstone(Base):
    """A deleted local actor or object. Actors keep their private key so that the Delete sent
    after the row is gone can still be signed (receivers verify it with the key they cached)."""

    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ap_id: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "Person" | "Page"
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)
    private_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)


class FederatedObject(Base):
    """A local member or call as partners last saw it: whether it was sent and with which
    visibility. Decides Create vs Update, and Delete when something becomes coop-only."""

    __tablename__ = "federated_objects"

    ap_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "Person" | "Page"
    visibility: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
