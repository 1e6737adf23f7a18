"""The fields of a project call and of a member's profile, defined once.

Everything that reads or writes a call or a profile derives from the definitions here: the
domain's checks (:func:`profiles.calls.validate_call`, :func:`profiles.members.validate_profile`
take their limits from here), the JSON Lines importer (its allowed fields and caps), the
ActivityStreams mapping (:mod:`profiles.ap.mapping`: which AS2 term carries which field, the
caps applied to what a partner sends), and, on the node side, the API's schemas, the OpenAPI
document and the web forms.

The API of this module:

- :class:`CallFields`, :class:`ProfileFields` — pydantic v2 models of what an author or a member
  writes (types, defaults, limits, descriptions; ``extra="forbid"``). Use them as they are for
  input schemas (``CallFields.model_json_schema()``) or subclass them for response schemas.
  Each field's ``json_schema_extra`` holds ``"x-as2"``: the ActivityStreams term that carries
  it (None: never federated).
- :class:`CallData`, :class:`ProfileData` — the plain dataclasses the domain services take
  (already parsed into Python values: dates, ``(code, level)`` pairs…); same field names as the
  models. ``profiles.calls.CallData`` and ``profiles.members.ProfileData`` are these.
- :func:`max_length` ``(model, name)`` — the limit of a text (characters) or list (entries).
- :func:`as2_term` ``(model, name)`` / :data:`CALL_AS2` / :data:`PROFILE_AS2` — field -> AS2 term.
- :data:`CALL_IMPORT_FIELDS`, :data:`MEMBER_IMPORT_FIELDS` — keys a ``calls.jsonl`` /
  ``members.jsonl`` line may have (:mod:`profiles.importers`).
- :data:`CALL_STATUSES` — the states of a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field

from profiles.languages import LANGUAGE_LEVELS
from profiles.visibility import DEFAULT_CALL, DEFAULT_PROFILE, Visibility

CALL_STATUSES = ("open", "closed")


def _f(default: Any, description: str, as2: str | None, **limits: Any) -> Any:
    """A model field with its description, limits and AS2 term."""
    extra: dict[str, Any] = {"x-as2": as2}
    if isinstance(default, list):
        return Field(
            default_factory=list, description=description, json_schema_extra=extra, **limits
        )
    return Field(default, description=description, json_schema_extra=extra, **limits)


# -- a project call ------------------------------------------------------------------------------


class CallFields(BaseModel):
    """A project call as its author writes it (web form, API, one line of ``calls.jsonl``)."""

    model_config = ConfigDict(extra="forbid")

    title: str = _f("", "What the call is about; plain text, required.", "name", max_length=200)
    description: str = _f("", "The call in full; sanitised HTML.", "content", max_length=10_000)
    language: str = _f("en", "Language the text is written in (ISO 639-1).", "inLanguage")
    skills_required: list[str] = _f(
        [],
        "ESCO skills or occupations (IRIs) the call needs; at most 30 skills in all.",
        "requiredSkill",
        max_length=30,
    )
    skills_optional: list[str] = _f(
        [], "ESCO skills or occupations (IRIs) that help.", "optionalSkill", max_length=30
    )
    languages: list[str] = _f([], "Working languages (ISO 639-1).", "workingLanguage", max_length=8)
    country: str = _f(
        "", "ISO 3166 alpha-2 country; required unless remote.", "country", max_length=2
    )
    city: str = _f("", "City; plain text.", "location", max_length=120)
    remote: bool = _f(False, "Can be done remotely.", "remote")
    starts: date | None = _f(None, "First day of the work.", "startTime")
    ends: date | None = _f(None, "Last day of the work; not before starts.", "endTime")
    deadline: date | None = _f(None, "Last day to answer; not after ends.", "deadline")
    compensation: str = _f(
        "", "Pay, in the author's words; plain text.", "compensation", max_length=200
    )
    visibility: Visibility = _f(
        DEFAULT_CALL, "Who sees the call (see profiles.visibility).", "visibility"
    )
    status: Literal["open", "closed"] = _f("open", "open or closed (CALL_STATUSES).", "callStatus")
    ref: str | None = _f(
        None,
        "External id given at import, unique per node (GET /api/v1/calls?ref=…).",
        None,
        max_length=128,
    )


@dataclass
class CallData:
    """A call's fields parsed into Python values (see :class:`CallFields`)."""

    title: str = ""
    description: str = ""
    language: str = "en"  # language the text is written in
    skills_required: list[str] = field(default_factory=list)
    skills_optional: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)  # working languages
    country: str = ""
    city: str = ""
    remote: bool = False
    starts: date | None = None
    ends: date | None = None
    deadline: date | None = None
    compensation: str = ""
    visibility: str = DEFAULT_CALL.value
    status: str = "open"
    ref: str | None = None


# -- a member's profile --------------------------------------------------------------------------


class LanguageSkill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="ISO 639-1")
    level: str = Field(
        "B2", description="CEFR level or native", json_schema_extra={"enum": list(LANGUAGE_LEVELS)}
    )


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date = Field(description="Not before start; a period spans at most three years.")


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="An http(s) address.", max_length=512)
    title: str = Field("", max_length=200)


class ProfileFields(BaseModel):
    """What a member writes on their profile (web form, API)."""

    model_config = ConfigDict(extra="forbid")

    name: str = _f("", "Display name; plain text (default: the user name).", "name", max_length=200)
    summary: str = _f("", "About the member; sanitised HTML.", "summary", max_length=5_000)
    country: str = _f("", "ISO 3166 alpha-2 country.", "country", max_length=2)
    city: str = _f("", "City; plain text.", "location", max_length=120)
    remote: bool = _f(False, "Works remotely.", "remote")
    visibility: Visibility = _f(
        DEFAULT_PROFILE, "Who sees the profile (see profiles.visibility).", "visibility"
    )
    languages: list[LanguageSkill] = _f(
        [], "Languages with their levels.", "knowsLanguage", max_length=12
    )
    occupations: list[str] = _f([], "ESCO occupations (IRIs).", "occupation", max_length=10)
    skills: list[str] = _f([], "ESCO skills (IRIs).", "knowsAbout", max_length=60)
    availability: list[Period] = _f(
        [], "Periods the member can take work.", "availability", max_length=12
    )
    links: list[Link] = _f([], "Portfolio links.", None, max_length=10)


@dataclass
class ProfileData:
    """Everything a member can edit on their profile, already parsed into typed values
    (see :class:`ProfileFields`)."""

    name: str = ""
    summary: str = ""
    country: str = ""
    city: str = ""
    remote: bool = False
    visibility: str = DEFAULT_PROFILE.value
    languages: list[tuple[str, str]] = field(default_factory=list)  # (code, level)
    occupations: list[str] = field(default_factory=list)  # ESCO IRIs
    skills: list[str] = field(default_factory=list)  # ESCO IRIs
    availability: list[tuple[date, date]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (url, title)


# -- derived -------------------------------------------------------------------------------------


def max_length(model: type[BaseModel], name: str) -> int:
    """The limit of a text field (characters) or a list field (entries)."""
    for item in model.model_fields[name].metadata:
        if isinstance(item, MaxLen):
            return int(item.max_length)
    raise KeyError(f"{model.__name__}.{name} has no limit")


def as2_term(model: type[BaseModel], name: str) -> str | None:
    """The ActivityStreams term carrying a field; None for fields never federated."""
    extra = model.model_fields[name].json_schema_extra
    term = extra.get("x-as2") if isinstance(extra, dict) else None
    return term if isinstance(term, str) else None


CALL_AS2: dict[str, str] = {
    n: t for n in CallFields.model_fields if (t := as2_term(CallFields, n)) is not None
}
PROFILE_AS2: dict[str, str] = {
    n: t for n in ProfileFields.model_fields if (t := as2_term(ProfileFields, n)) is not None
}

# A calls.jsonl line: the call's fields and its author (a user name of this node).
CALL_IMPORT_FIELDS = frozenset(CallFields.model_fields) | {"author"}
# A members.jsonl line: the account, the profile, and one availability period given flat.
MEMBER_IMPORT_FIELDS = (frozenset(ProfileFields.model_fields) - {"availability", "links"}) | {
    "username",
    "email",
    "available_from",
    "available_until",
}

__all__ = [
    "CALL_AS2",
    "CALL_IMPORT_FIELDS",
    "CALL_STATUSES",
    "MEMBER_IMPORT_FIELDS",
    "PROFILE_AS2",
    "CallData",
    "CallFields",
    "Link",
    "LanguageSkill",
    "Period",
    "ProfileData",
    "ProfileFields",
    "as2_term",
    "max_length",
]
