"""The JSON API's response shapes, written once as pydantic models.

Every route builds one of these and the response is its ``model_dump(mode="json")`` (see
:func:`node.api.operation`), so what is sent is what :mod:`node.api.openapi` documents: the
OpenAPI components are these models' JSON Schemas. Field descriptions of calls and profiles
come from :mod:`profiles.fields`, the one definition of those fields.

Members are never serialised with e-mail addresses, password hashes or keys: the models have
no such fields, and ``extra="forbid"`` keeps it so.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from profiles import fields
from profiles.fields import CALL_STATUSES, CallFields, ProfileFields
from profiles.languages import LANGUAGE_LEVELS
from profiles.visibility import Visibility


def _described(model: type[BaseModel], name: str, **kw: Any) -> Any:
    """A field described as in ``profiles.fields`` (the one definition of a call's or a
    profile's fields)."""
    return Field(description=model.model_fields[name].description, **kw)


def _uri(description: str | None = None) -> Any:
    # A plain string with format "uri": pydantic's URL types would normalise what we send
    # (a trailing slash added to an IRI is another IRI).
    return Field(description=description, json_schema_extra={"format": "uri"})


# Our timestamps as Python's isoformat() writes them ("+00:00", not pydantic's "Z").
IsoDateTime = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
CallStatus = Literal["open", "closed"]
assert set(get_args(CallStatus)) == set(CALL_STATUSES)


class Schema(BaseModel):
    """A response object: exactly these fields, immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Error(Schema):
    error: str = Field(description="What went wrong, in English")


class ConceptRef(Schema):
    iri: str = _uri("ESCO concept IRI")
    label: str = Field(description="Preferred label in ?lang (else English)")


# -- members ---------------------------------------------------------------------------------------


class LanguageLevel(Schema):
    code: str = Field(description="ISO 639-1")
    level: str = Field(
        description="CEFR level or native", json_schema_extra={"enum": list(LANGUAGE_LEVELS)}
    )


class Period(Schema):
    start: date
    end: date


class LanguagePair(Schema):
    source: str = _described(fields.LanguagePair, "source")
    target: str = _described(fields.LanguagePair, "target")


class OwnWords(Schema):
    """A phrase the member wrote for their skills or occupations, as written."""

    text: str
    lang: str = Field(description="The language it is written in (ISO 639-1), or empty")
    kind: Literal["skill", "occupation"]
    status: Literal["linked", "proposed", "unlinked"] = Field(
        description="linked: understood as `concept`; proposed: perhaps `concept`, for the "
        "member to confirm; unlinked: matched by its words only"
    )
    concept: ConceptRef | None


class Member(Schema):
    ap_id: str = _uri("ActivityPub actor IRI")
    username: str
    handle: str = Field(description="username@node")
    node: str = Field(description="Domain of the member's coop node")
    local: bool = Field(description="A member of this node")
    coop: str = Field(description="Name of the member's coop")
    name: str = _described(ProfileFields, "name")
    summary: str = _described(ProfileFields, "summary")
    country: str = Field(description="ISO 3166 alpha-2 or empty")
    city: str = _described(ProfileFields, "city")
    remote: bool = _described(ProfileFields, "remote")
    visibility: Visibility = _described(ProfileFields, "visibility")
    languages: list[LanguageLevel] = _described(ProfileFields, "languages")
    occupations: list[ConceptRef] = _described(ProfileFields, "occupations")
    skills: list[ConceptRef] = _described(ProfileFields, "skills")
    availability: list[Period] = _described(ProfileFields, "availability")
    language_pairs: list[LanguagePair] = _described(ProfileFields, "language_pairs")
    own_words: list[OwnWords] = Field(
        description="In their own words: what the member wrote for their skills and occupations"
    )
    url: str = _uri("Profile page")


class MemberPage(Schema):
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1)
    results: list[Member]


# -- calls -----------------------------------------------------------------------------------------


class CallAuthor(Schema):
    """Who wrote a call. Only ``node`` and ``coop_name`` when the author's own visibility
    hides them from the viewer ("a member of <coop>")."""

    ap_id: str | None = Field(default=None, json_schema_extra={"format": "uri"})
    username: str | None = None
    node: str
    name: str | None = None
    coop_name: str = ""


class Call(Schema):
    ap_id: str = _uri()
    public_id: str = Field(description="The id in the call's URL")
    ref: str | None = _described(CallFields, "ref")
    node: str
    local: bool
    author: CallAuthor
    title: str = _described(CallFields, "title")
    description: str = _described(CallFields, "description")
    language: str = _described(CallFields, "language")
    skills_required: list[ConceptRef] = _described(CallFields, "skills_required")
    skills_optional: list[ConceptRef] = _described(CallFields, "skills_optional")
    languages: list[str] = _described(CallFields, "languages")
    languages_all: bool = _described(CallFields, "languages_all")
    language_pairs: list[LanguagePair] = _described(CallFields, "language_pairs")
    country: str = _described(CallFields, "country")
    city: str = _described(CallFields, "city")
    remote: bool = _described(CallFields, "remote")
    starts: date | None = _described(CallFields, "starts")
    ends: date | None = _described(CallFields, "ends")
    deadline: date | None = _described(CallFields, "deadline")
    compensation: str = _described(CallFields, "compensation")
    status: CallStatus = _described(CallFields, "status")
    visibility: Visibility = _described(CallFields, "visibility")
    created_at: IsoDateTime
    url: str = _uri("The call's page")


class CallPage(Schema):
    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1)
    results: list[Call]


# -- taxonomy --------------------------------------------------------------------------------------

ConceptKind = Literal["skill", "occupation"]


class TaxonomyMatch(Schema):
    iri: str = _uri()
    label: str = Field(description="Preferred label in ?lang")
    matched: str = Field(description="The label that matched")
    lang: str = Field(description="Language of that label")
    score: float = Field(ge=0, le=1)
    kind: ConceptKind


class TaxonomyResults(Schema):
    results: list[TaxonomyMatch]


class ConceptLabels(Schema):
    preferred: str
    alt: list[str]


class Concept(Schema):
    iri: str = _uri()
    kind: ConceptKind
    source: Literal["curated", "esco"]
    group: str | None
    codes: list[str] = Field(description="ISCO code / ESCO skill hierarchy codes")
    label: str = Field(description="Preferred label in ?lang")
    labels: dict[str, ConceptLabels] = Field(
        description="Per language code: preferred label and alternatives"
    )


# -- matchmaking -----------------------------------------------------------------------------------


class Reason(Schema):
    code: str = Field(
        description="covers_required, covers_optional, related_skill, implied_skill, wrote, "
        "adds_to_team, occupation_match, text_match, shared_languages, language_pair, "
        "availability_overlap, cross_border, same_country, remote_ok, reciprocal. wrote: values "
        "are (their phrase, the phrase asked for) pairs; implied_skill: concepts are (skill, "
        "occupation) pairs; language_pair: values are (source, target)"
    )
    text: str = Field(description="The reason as a sentence in ?lang")
    concepts: list[ConceptRef]
    values: list[str] = Field(description="Codes and numbers: languages, countries, days and dates")


class Match(Schema):
    actor: str = _uri("Actor IRI")
    username: str
    node: str
    country: str
    score: float = Field(ge=0)
    reasons: list[Reason]


class TeamPick(Schema):
    actor: str = _uri()
    username: str
    covers: list[ConceptRef]


class CallMatches(Schema):
    matches: list[Match]
    team: list[TeamPick] = Field(
        description="A small team covering the required skills: who covers what"
    )
    uncovered: list[ConceptRef] = Field(description="Required skills nobody suggested covers")


class CallFit(Schema):
    call: str = _uri("ap_id")
    title: str
    score: float = Field(ge=0)
    reasons: list[Reason]


class Suggestions(Schema):
    calls: list[CallFit]
    people: list[Match]


class CollabResponse(Schema):
    """A response to a call, as its two parties see it (never listed for anyone else)."""

    id: int
    ap_id: str = _uri("The Offer's id")
    call: str = _uri("The call's ap_id")
    call_title: str
    state: Literal["sent", "seen", "shortlisted", "accepted", "declined", "withdrawn"]
    origin: Literal["coopfed", "fediverse"]
    responder: str = _uri("The responder's actor IRI")
    responder_name: str
    message: str = Field(description="Plain text")
    skills: list[str] = Field(description="Skill IRIs the responder brings (of the call's)")
    available: bool
    available_note: str
    rate: str
    links: list[str]
    decision_message: str
    created_at: IsoDateTime
    state_at: IsoDateTime


class ResponseList(Schema):
    results: list[CollabResponse]


class Notification(Schema):
    id: int
    kind: Literal["response_received", "response_status", "invitation", "message", "call_fits"]
    read: bool
    created_at: IsoDateTime
    call: str | None = _uri("The call's ap_id")
    call_title: str | None
    response_id: int | None
    invitation_id: int | None
    message_id: int | None


class NotificationList(Schema):
    unread: int = Field(description="Unread notifications in all")
    results: list[Notification]


# Every model whose JSON Schema is an OpenAPI component (named by its class name).
COMPONENTS: tuple[type[Schema], ...] = (
    Error,
    ConceptRef,
    Member,
    MemberPage,
    Call,
    CallPage,
    TaxonomyResults,
    Concept,
    Reason,
    Match,
    CallMatches,
    Suggestions,
    CollabResponse,
    ResponseList,
    Notification,
    NotificationList,
)
