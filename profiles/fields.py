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
- :class:`LanguagePair` and :func:`language_pairs` ``(entries, limit)`` — translation
  directions (``source`` -> ``target``) of a call or a translator, checked; :func:`pairs_text` /
  :func:`pairs_from_text` — their stored form (``"de>sv en>sv"``); :func:`split_pairs` — what
  a form's text field says.
- :data:`PHRASES_AS2`, :data:`MAX_PHRASES`, :data:`MAX_PHRASE_CHARS` — a member's own words
  (:mod:`profiles.understanding`) on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field, model_validator

from profiles import validation
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


# -- language pairs ------------------------------------------------------------------------------

# A pair written as text ("de>sv", "de→sv"): longer than this is not a pair.
MAX_PAIR_CHARS = 16
_ARROWS = ("→", "->", ">")


class LanguagePair(BaseModel):
    """A translation direction: from ``source`` into ``target`` (ISO 639-1, not the same)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Language translated from (ISO 639-1).", max_length=8)
    target: str = Field(description="Language translated into (ISO 639-1).", max_length=8)

    @model_validator(mode="after")
    def _checked(self) -> LanguagePair:
        self.source, self.target = language_pair((self.source, self.target))
        return self


# What a writer may give for one pair: the object, or the same as text ("de>sv").
PairInput = (
    LanguagePair
    | Annotated[
        str,
        Field(
            max_length=MAX_PAIR_CHARS,
            pattern=r"^\s*[A-Za-z]{2}\s*(>|->|→)\s*[A-Za-z]{2}\s*$",
            description='The pair as text: "de>sv".',
        ),
    ]
)


def language_pair(entry: Any) -> tuple[str, str]:
    """One pair as given — ``{"source": "de", "target": "sv"}``, ``("de", "sv")`` or ``"de>sv"``
    (also ``→``, ``->``) — as ``("de", "sv")``. Raises ValueError saying what is wrong."""
    source: Any
    target: Any
    if isinstance(entry, LanguagePair):
        return entry.source, entry.target
    if isinstance(entry, str):
        if len(entry) > MAX_PAIR_CHARS:
            raise ValueError(f"{entry[:MAX_PAIR_CHARS]!r}…: not a pair such as de>sv")
        text = entry
        for arrow in _ARROWS:
            text = text.replace(arrow, ">")
        source, sep, target = text.partition(">")
        if not sep:
            raise ValueError(f"{entry!r} is not a pair such as de>sv (source>target)")
    elif isinstance(entry, dict) and set(entry) <= {"source", "target"}:
        source, target = entry.get("source"), entry.get("target")
    elif isinstance(entry, tuple | list) and len(entry) == 2:
        source, target = entry
    else:
        raise ValueError('a pair is {"source": "de", "target": "sv"} or "de>sv"')
    if not isinstance(source, str) or not isinstance(target, str):
        raise ValueError('a pair is {"source": "de", "target": "sv"} or "de>sv"')
    if not target.strip():
        raise ValueError(f"{source[:MAX_PAIR_CHARS]!r} is not a pair such as de>sv (source>target)")
    src, dst = validation.language(source[:8]), validation.language(target[:8])
    if src == dst:
        raise ValueError(f"{src}>{dst}: source and target are the same language")
    return src, dst


def language_pairs(entries: Any, limit: int) -> list[tuple[str, str]]:
    """Every pair of ``entries`` checked (:func:`language_pair`), unique and sorted; ValueError
    for a bad entry or more than ``limit`` pairs."""
    if entries is None:
        return []
    if isinstance(entries, str | bytes | dict) or not hasattr(entries, "__iter__"):
        raise ValueError('a list of pairs such as [{"source": "de", "target": "sv"}]')
    found: set[tuple[str, str]] = set()
    for n, entry in enumerate(entries):
        if n >= limit * 4:  # a hostile list: stop reading long before its end
            break
        found.add(language_pair(entry))
    if len(found) > limit:
        raise ValueError(f"at most {limit} language pairs")
    return sorted(found)


def split_pairs(text: str) -> list[tuple[str, str]]:
    """A form's text ("DE>sv, en→sv") as pairs to check; a part that is not ``a>b`` comes back
    as ``(part, "")`` so that :func:`language_pairs` names it."""
    out: list[tuple[str, str]] = []
    for part in text.replace(",", " ").replace(";", " ").split():
        for arrow in _ARROWS:
            part = part.replace(arrow, ">")
        source, sep, target = part.partition(">")
        out.append((source, target) if sep else (part, ""))
    return out


def pairs_text(pairs: Any) -> str:
    """The stored form of checked pairs: ``"de>sv en>sv"``."""
    return " ".join(f"{s}>{t}" for s, t in pairs)


def pairs_from_text(text: str | None) -> list[tuple[str, str]]:
    """Stored pairs back as tuples (what :func:`pairs_text` wrote; odd parts skipped)."""
    out = []
    for part in (text or "").split():
        source, sep, target = part.partition(">")
        if sep and source and target:
            out.append((source, target))
    return out


# A member's own words (profiles.understanding): the phrases they typed for their skills and
# occupations, as written. Not a field one edits (the importer and the register keep what the
# skills and occupations said), but part of the profile on the wire.
PHRASES_AS2 = "ownWords"
MAX_PHRASES = 80  # skills (60) and occupations (10) as free text, with room
MAX_PHRASE_CHARS = 255  # member_phrases.text


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
    languages_all: bool = _f(
        False,
        "true: candidates need every working language; false: any one of them.",
        "allWorkingLanguages",
    )
    language_pairs: list[PairInput] = _f(
        [],
        "Translation calls: the directions wanted (a candidate must state one of them); "
        'objects, or text such as "de>sv".',
        "languagePair",
        max_length=8,
    )
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
    languages_all: bool = False  # candidates need every working language, not just one
    language_pairs: list[tuple[str, str]] = field(default_factory=list)  # (source, target)
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
    language_pairs: list[PairInput] = _f(
        [],
        "Translators and interpreters: the directions they work in; objects, or text such as "
        '"de>sv".',
        "languagePair",
        max_length=20,
    )


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
    language_pairs: list[tuple[str, str]] = field(default_factory=list)  # (source, target)


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
    "LanguagePair",
    "LanguageSkill",
    "MAX_PHRASES",
    "MAX_PHRASE_CHARS",
    "PHRASES_AS2",
    "Period",
    "ProfileData",
    "ProfileFields",
    "as2_term",
    "language_pair",
    "language_pairs",
    "max_length",
    "pairs_from_text",
    "pairs_text",
    "split_pairs",
]
