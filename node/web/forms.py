"""Form parsing and choice lists for the server-rendered UI.

Forms are parsed into the ``profiles`` dataclasses; everything the member typed is also kept as
strings (``raw``) so a form re-rendered after an error or a "find" step shows it unchanged.
Parse errors are collected per field, like the services' ``ValidationError.errors``.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, MultiDict

from profiles import validation
from profiles.fields import CallData, ProfileData, split_pairs
from profiles.languages import LANGUAGE_LEVELS
from profiles.linking import LinkSuggestion
from profiles.visibility import DEFAULT_CALL, DEFAULT_PROFILE, Visibility
from profiles.vocabulary import Vocabulary

EMPTY_ROWS = 2
AVATAR_TYPES = {  # magic bytes -> extension; the browser's content type is not trusted
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}
AVATAR_NAME = re.compile(r"^[A-Za-z0-9_-]{8,64}\.(png|jpg|gif|webp)$")


# --- choices in the UI language ----------------------------------------------------------------


@lru_cache(maxsize=16)
def country_choices(lang: str) -> tuple[tuple[str, str], ...]:
    """(ISO code, name in ``lang``) for every country code validation accepts, by name."""
    names = Locale.parse(lang).territories
    codes = validation.country_codes()
    return tuple(sorted(((c, names.get(c, c)) for c in codes), key=lambda p: p[1].casefold()))


@lru_cache(maxsize=16)
def language_choices(lang: str) -> tuple[tuple[str, str], ...]:
    """(ISO 639-1 code, name in ``lang``) for every language code validation accepts."""
    names = Locale.parse(lang).languages
    codes = validation.language_codes()
    return tuple(sorted(((c, names.get(c, c)) for c in codes), key=lambda p: p[1].casefold()))


def country_name(code: str, lang: str) -> str:
    return Locale.parse(lang).territories.get(code, code) if code else ""


def language_name(code: str, lang: str) -> str:
    return Locale.parse(lang).languages.get(code, code) if code else ""


def level_choices() -> list[tuple[str, str]]:
    return [(lv, _("native speaker") if lv == "native" else lv) for lv in LANGUAGE_LEVELS]


def visibility_choices() -> list[tuple[str, str, str]]:
    """(value, label, explanation) of each :class:`~profiles.visibility.Visibility`, widest
    first: the radio buttons of the profile and call forms."""
    texts = {
        Visibility.PUBLIC: (_("Everyone"), _("Anyone on the web, and every partner coop.")),
        Visibility.PARTNERS: (
            _("Partner coops"),
            _("Members of this coop and of our partner coops."),
        ),
        Visibility.COOP: (_("My coop only"), _("Only signed-in members of this coop.")),
    }
    return [(v.value, *texts[v]) for v in Visibility]


# --- concept pickers ---------------------------------------------------------------------------


@dataclass
class Choice:
    """One checkbox/radio of a concept picker."""

    iri: str
    label: str  # in the viewer's language
    matched: str = ""  # the label that matched a search, when it differs from ``label``
    checked: bool = True


def concept_choices(vocab: Vocabulary, iris: list[str], lang: str) -> list[Choice]:
    return [Choice(iri, label) for iri, label in vocab.labels(iris, lang)]


def suggestion_choices(
    vocab: Vocabulary, found: list[LinkSuggestion], lang: str, exclude: list[str]
) -> list[Choice]:
    out = []
    for s in found:
        if s.iri in exclude:
            continue
        label = vocab.label(s.iri, lang)
        matched = s.label if s.label.casefold() != label.casefold() else ""
        out.append(Choice(s.iri, label, matched, checked=False))
    return out


# --- small parsers -----------------------------------------------------------------------------


def text_to_html(text: str) -> str:
    """Plain text (no tags) becomes paragraphs; HTML is left for the sanitiser."""
    if "<" in text:
        return text
    paras = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paras)


def parse_date(raw: str, field_name: str, errors: dict[str, str]) -> date | None:
    try:
        return validation.iso_date(raw)
    except ValueError:
        errors[field_name] = _("Not a date (YYYY-MM-DD): %(value)s", value=raw)
        return None


def page_number(args: MultiDict[str, str]) -> int:
    try:
        return max(1, min(int(args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _rows(form: MultiDict[str, str], *names: str) -> list[tuple[str, ...]]:
    columns = [form.getlist(n) for n in names]
    width = max((len(c) for c in columns), default=0)
    rows = []
    for i in range(width):
        row = tuple((c[i] if i < len(c) else "").strip() for c in columns)
        rows.append(row)
    return rows


# --- the profile form --------------------------------------------------------------------------


@dataclass
class ProfileForm:
    data: ProfileData
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def profile_form_from_member(data: ProfileData, ui_language: str | None) -> ProfileForm:
    raw: dict[str, Any] = {
        "name": data.name,
        "summary": data.summary,
        "country": data.country,
        "city": data.city,
        "remote": data.remote,
        "visibility": data.visibility,
        "ui_language": ui_language or "",
        "languages": [list(p) for p in data.languages],
        "availability": [[s.isoformat(), e.isoformat()] for s, e in data.availability],
        "links": [list(p) for p in data.links],
        "find_skill": "",
        "find_occupation": "",
    }
    return ProfileForm(data, raw)


def parse_profile_form(form: MultiDict[str, str]) -> ProfileForm:
    errors: dict[str, str] = {}
    languages = [r for r in _rows(form, "language_code", "language_level") if r[0] or r[1]]
    ranges = [r for r in _rows(form, "avail_start", "avail_end") if r[0] or r[1]]
    links = [r for r in _rows(form, "link_url", "link_title") if r[0] or r[1]]
    availability = []
    for start_raw, end_raw in ranges:
        start = parse_date(start_raw, "availability", errors)
        end = parse_date(end_raw, "availability", errors)
        if start is None or end is None:
            errors.setdefault("availability", _("Give both a start and an end date."))
        else:
            availability.append((start, end))
    for code, level in languages:
        if not code or not level:
            errors["languages"] = _("Choose both a language and a level.")
    summary = form.get("summary", "")
    data = ProfileData(
        name=form.get("name", ""),
        summary=text_to_html(summary),
        country=form.get("country", ""),
        city=form.get("city", ""),
        remote=bool(form.get("remote")),
        visibility=form.get("visibility", DEFAULT_PROFILE.value),
        languages=[(c, lv) for c, lv in languages if c and lv],
        occupations=form.getlist("occupations"),
        skills=form.getlist("skills"),
        availability=availability,
        links=[(u, t) for u, t in links if u],
        language_pairs=split_pairs(form.get("language_pairs", "")[:300]),
    )
    raw = {
        "name": data.name,
        "summary": summary,
        "country": data.country,
        "city": data.city,
        "remote": data.remote,
        "visibility": data.visibility,
        "ui_language": form.get("ui_language", ""),
        "languages": [list(r) for r in languages],
        "availability": [list(r) for r in ranges],
        "links": [list(r) for r in links],
        "find_skill": form.get("find_skill", ""),
        "find_occupation": form.get("find_occupation", ""),
    }
    if any(u == "" for u, _t in links):
        errors["links"] = _("A link needs an address.")
    return ProfileForm(data, raw, errors)


# --- the call form -----------------------------------------------------------------------------


@dataclass
class CallForm:
    data: CallData
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def call_form_from_data(data: CallData) -> CallForm:
    raw = {
        "title": data.title,
        "description": data.description,
        "language": data.language,
        "languages": list(data.languages),
        "country": data.country,
        "city": data.city,
        "remote": data.remote,
        "starts": data.starts.isoformat() if data.starts else "",
        "ends": data.ends.isoformat() if data.ends else "",
        "deadline": data.deadline.isoformat() if data.deadline else "",
        "compensation": data.compensation,
        "visibility": data.visibility,
        "status": data.status,
        "find_required": "",
        "find_optional": "",
    }
    return CallForm(data, raw)


def parse_call_form(form: MultiDict[str, str]) -> CallForm:
    errors: dict[str, str] = {}
    languages = [c for c in form.getlist("languages") if c]
    other = form.get("language_other", "").strip()
    if other and other not in languages:
        languages.append(other)
    description = form.get("description", "")
    data = CallData(
        title=form.get("title", ""),
        description=text_to_html(description),
        language=form.get("language", "en"),
        skills_required=form.getlist("skills_required"),
        skills_optional=form.getlist("skills_optional"),
        languages=languages,
        languages_all=form.get("languages_all") == "1",
        language_pairs=split_pairs(form.get("language_pairs", "")[:200]),
        country=form.get("country", ""),
        city=form.get("city", ""),
        remote=bool(form.get("remote")),
        starts=parse_date(form.get("starts", ""), "starts", errors),
        ends=parse_date(form.get("ends", ""), "ends", errors),
        deadline=parse_date(form.get("deadline", ""), "deadline", errors),
        compensation=form.get("compensation", ""),
        visibility=form.get("visibility", DEFAULT_CALL.value),
        status=form.get("status", "open"),
    )
    raw = {
        "title": data.title,
        "description": description,
        "language": data.language,
        "languages": languages,
        "country": data.country,
        "city": data.city,
        "remote": data.remote,
        "starts": form.get("starts", ""),
        "ends": form.get("ends", ""),
        "deadline": form.get("deadline", ""),
        "compensation": data.compensation,
        "visibility": data.visibility,
        "status": data.status,
        "find_required": form.get("find_required", ""),
        "find_optional": form.get("find_optional", ""),
    }
    return CallForm(data, raw, errors)


# --- avatars -----------------------------------------------------------------------------------


class BadAvatar(ValueError):
    pass


def avatar_extension(head: bytes) -> str | None:
    """The file type from its first bytes (PNG, JPEG, GIF, WebP), or None."""
    for magic, ext in AVATAR_TYPES.items():
        if head.startswith(magic):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def save_avatar(upload: FileStorage, folder: Path, max_bytes: int) -> str:
    """Check and store an uploaded image; return its new random file name."""
    content = upload.stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise BadAvatar(_("The picture is too large (at most %(kb)d kB).", kb=max_bytes // 1024))
    ext = avatar_extension(content[:16])
    if ext is None:
        raise BadAvatar(_("The picture must be a PNG, JPEG, WebP or GIF image."))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(16)}.{ext}"
    (folder / name).write_bytes(content)
    return name


def remove_avatar_file(folder: Path, name: str | None) -> None:
    if name and AVATAR_NAME.match(name):
        (folder / name).unlink(missing_ok=True)
