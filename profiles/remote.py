"""What a partner coop sent us about a member or a call, checked and typed.

:mod:`profiles.ap.mapping` parses a remote ``Person`` into a :class:`RemoteProfile` and a call
``Page`` into a :class:`RemoteCall`: bounded, sanitised, origin-checked values, frozen. They are
written by the same domain writers as local edits (:func:`profiles.members.save_remote_member`,
:func:`profiles.calls.save_remote_call`), which add the rules about rows (never overwrite a
local row, a call never changes its author, a user name that moved to another actor id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from profiles.fields import CallData, ProfileData
from profiles.visibility import Visibility


@dataclass(frozen=True)
class RemotePhrase:
    """What a partner's member or call author wrote for a skill (a ``MemberPhrase`` or
    ``CallPhrase`` of theirs), checked."""

    text: str  # plain text, at most MAX_PHRASE_CHARS
    lang: str  # ISO 639-1 or ""
    kind: str  # skill | occupation (a member's phrase)
    status: str  # linked | proposed | unlinked (profiles.understanding)
    concept: str | None = None  # an ESCO IRI when linked or proposed
    required: bool = True  # a call's phrase: for a required skill (else an optional one)


@dataclass(frozen=True)
class RemoteProfile:
    """A member of a partner coop (``Member`` row with ``local=False``)."""

    ap_id: str
    node: str  # host of the member's coop node
    username: str
    name: str
    summary: str  # sanitised HTML
    country: str
    city: str
    remote: bool
    visibility: str  # public or partners; coop only for an author stub (see :meth:`stub`)
    avatar: str | None
    url: str
    coop_name: str
    skills: tuple[str, ...] = ()  # ESCO IRIs, none of them also in occupations
    occupations: tuple[str, ...] = ()
    languages: tuple[tuple[str, str], ...] = ()  # (code, level), sorted
    availability: tuple[tuple[date, date], ...] = ()
    language_pairs: tuple[tuple[str, str], ...] = ()  # (source, target), sorted
    phrases: tuple[RemotePhrase, ...] = ()  # their own words, in their order

    @classmethod
    def stub(cls, ap_id: str, node: str, username: str, name: str, coop_name: str) -> RemoteProfile:
        """The author of a partner's call whose profile its coop keeps to itself: a name so the
        call has an author, never listed nor matched (coop-level)."""
        return cls(
            ap_id=ap_id,
            node=node,
            username=username.lower()[:64],
            name=name or username,
            summary="",
            country="",
            city="",
            remote=False,
            visibility=Visibility.COOP.value,
            avatar=None,
            url=ap_id,
            coop_name=coop_name,
        )

    def data(self) -> ProfileData:
        """The profile fields, as the domain writer applies them."""
        return ProfileData(
            name=self.name,
            summary=self.summary,
            country=self.country,
            city=self.city,
            remote=self.remote,
            visibility=self.visibility,
            languages=list(self.languages),
            occupations=list(self.occupations),
            skills=list(self.skills),
            availability=list(self.availability),
            language_pairs=list(self.language_pairs),
        )


@dataclass(frozen=True)
class RemoteCall:
    """A call of a partner coop (``Call`` row with ``local=False``)."""

    ap_id: str
    author_ap_id: str  # an actor on the call's own host
    node: str
    title: str
    description: str  # sanitised HTML
    language: str
    country: str
    city: str
    remote: bool
    starts: date | None
    ends: date | None
    deadline: date | None
    compensation: str
    status: str
    visibility: str  # public or partners
    url: str
    skills_required: tuple[str, ...] = ()
    skills_optional: tuple[str, ...] = ()  # none of them also required
    languages: tuple[str, ...] = ()  # working languages, sorted
    languages_all: bool = False  # candidates need every working language
    language_pairs: tuple[tuple[str, str], ...] = ()  # (source, target), sorted
    phrases: tuple[RemotePhrase, ...] = ()  # what the author wrote for its skills

    def data(self) -> CallData:
        """The call's fields, as the domain writer applies them."""
        return CallData(
            title=self.title,
            description=self.description,
            language=self.language,
            skills_required=list(self.skills_required),
            skills_optional=list(self.skills_optional),
            languages=list(self.languages),
            languages_all=self.languages_all,
            language_pairs=list(self.language_pairs),
            country=self.country,
            city=self.city,
            remote=self.remote,
            starts=self.starts,
            ends=self.ends,
            deadline=self.deadline,
            compensation=self.compensation,
            visibility=self.visibility,
            status=self.status,
        )


__all__ = ["RemoteCall", "RemotePhrase", "RemoteProfile"]
