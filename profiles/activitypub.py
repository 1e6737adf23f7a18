"""The mapping between coop domain objects and ActivityStreams documents (see FEDERATION.md).

- Member  <-> ``Person`` at ``/members/USERNAME`` (profile fields as Mastodon PropertyValues,
  structured data as schema.org / coopfed extension terms).
- Call    <-> ``Page`` at ``/calls/PUBLIC_ID``. Mastodon converts ``Page`` to "name + summary +
  link" (docs.joinmastodon.org/spec/activitypub: Article/Page/Event are "converted as best as
  possible"), so the title goes in ``name``, a plain one-paragraph digest (text, place, dates,
  deadline) in ``summary``, skills as ``Hashtag`` tags. Coop nodes read the full description from
  ``content`` and the structured fields (ESCO IRIs, languages, dates…) from extension terms.

Parsing is defensive: everything remote is bounded, sanitised and checked for origin.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from federation import proofs
from federation.errors import BadRequest
from federation.iri import host_of, is_http_iri, same_host
from federation.sanitize import plain_text, sanitize_html
from federation.vocab import PUBLIC, as_list, context_for, first_iri
from profiles import validation
from profiles.context import NodeContext
from profiles.models import VISIBILITIES, Call, Member
from profiles.vocabulary import Vocabulary

ESCO_PREFIX = "http://data.europa.eu/esco/"
MAX_REMOTE_CONCEPTS = 80
MAX_REMOTE_LANGUAGES = 12
MAX_REMOTE_RANGES = 12


# --- addressing --------------------------------------------------------------------------------


def instance_actor_iri(ctx: NodeContext) -> str:
    return f"{ctx.base_url}/actor"


def calls_actor_iri(ctx: NodeContext) -> str:
    return f"{ctx.base_url}/groups/calls"


def partners_collection(ctx: NodeContext) -> str:
    """Followers of the coop's instance actor = the partner coops."""
    return instance_actor_iri(ctx) + "/followers"


def audience(ctx: NodeContext, member: Member, visibility: str) -> tuple[list[str], list[str]]:
    """(to, cc) for a member's or a call's activities. Coop-only things never leave the node:
    callers must not publish them at all."""
    followers = member.ap_id + "/followers"
    if visibility == "public":
        return [PUBLIC], [followers, partners_collection(ctx)]
    return [partners_collection(ctx)], []


# --- Person ------------------------------------------------------------------------------------


def _language_names(codes: list[tuple[str, str]], lang: str) -> str:
    from babel import Locale

    names = Locale(lang).languages
    return ", ".join(
        f"{names.get(code, code)} ({'native' if level == 'native' else level})"
        for code, level in codes
    )


def person(
    ctx: NodeContext, member: Member, vocab: Vocabulary, avatar_url: str | None
) -> dict[str, Any]:
    """The actor document of a local member."""
    lang = member.ui_language or "en"
    skills = [c.concept_iri for c in member.skills]
    occupations = [c.concept_iri for c in member.occupations]
    place = ", ".join(p for p in (member.city, member.country) if p)
    fields = [
        (
            "Coop",
            f'<a href="{ctx.base_url}/" rel="nofollow noopener noreferrer">{_esc(ctx.name)}</a>',
        ),
    ]
    if occupations:
        fields.append(("Occupations", _esc(", ".join(vocab.label(i, lang) for i in occupations))))
    if skills:
        fields.append(("Skills", _esc(", ".join(vocab.label(i, lang) for i in skills[:25]))))
    if member.languages:
        fields.append(
            (
                "Languages",
                _esc(_language_names([(x.code, x.level) for x in member.languages], lang)),
            )
        )
    if place or member.remote:
        fields.append(("Place", _esc(place + (" · remote" if member.remote else ""))))
    doc: dict[str, Any] = {
        "@context": context_for("actor"),
        "id": member.ap_id,
        "type": "Person",
        "preferredUsername": member.username,
        "name": member.name or member.username,
        "summary": member.summary,
        "url": member.ap_id,
        "inbox": member.ap_id + "/inbox",
        "outbox": member.ap_id + "/outbox",
        "followers": member.ap_id + "/followers",
        "following": member.ap_id + "/following",
        "endpoints": {"sharedInbox": f"{ctx.base_url}/inbox"},
        "manuallyApprovesFollowers": False,
        "discoverable": member.visibility == "public",
        "indexable": member.visibility == "public",
        "published": _iso(member.created_at),
        "updated": _iso(member.updated_at),
        "publicKey": {
            "id": member.ap_id + "#main-key",
            "owner": member.ap_id,
            "publicKeyPem": member.public_key_pem or "",
        },
        "attachment": [{"type": "PropertyValue", "name": n, "value": v} for n, v in fields],
        "tag": [_hashtag(ctx, vocab.label(i, lang), i) for i in skills[:10]],
        "knowsAbout": skills,
        "occupation": occupations,
        "knowsLanguage": [x.code for x in member.languages],
        "languageLevels": {x.code: x.level for x in member.languages},
        "availability": [
            {"start": r.start.isoformat(), "end": r.end.isoformat()} for r in member.availability
        ],
        "country": member.country,
        "remote": member.remote,
        "coop": instance_actor_iri(ctx),
        "visibility": member.visibility,
    }
    if member.ed25519_public_multibase:
        doc["@context"] = proofs.actor_context(doc["@context"])
        doc["assertionMethod"] = [proofs.multikey(member.ap_id, member.ed25519_public_multibase)]
    if place:
        doc["location"] = {"type": "Place", "name": place}
    if avatar_url:
        doc["icon"] = {"type": "Image", "url": avatar_url}
    return doc


def parse_person(doc: dict[str, Any], *, coop_name: str = "") -> dict[str, Any]:
    """Validated values of a remote coopfed Person for a ``Member`` row (local=False).

    Raises BadRequest. Unknown or malformed structured fields are dropped, not trusted."""
    ap_id = doc.get("id")
    if not isinstance(ap_id, str) or not is_http_iri(ap_id) or doc.get("type") != "Person":
        raise BadRequest("not a Person with an http(s) id")
    username = doc.get("preferredUsername")
    if not isinstance(username, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", username):
        raise BadRequest("preferredUsername missing or invalid")
    visibility = doc.get("visibility") if doc.get("visibility") in VISIBILITIES else "partners"
    if visibility == "coop":
        raise BadRequest("a coop-only profile must not leave its node")
    langs: dict[str, str] = {}
    raw_levels = doc.get("languageLevels")
    levels: dict[str, Any] = raw_levels if isinstance(raw_levels, dict) else {}
    for code in as_list(doc.get("knowsLanguage"))[:MAX_REMOTE_LANGUAGES]:
        try:
            langs[validation.language(code)] = validation.level(str(levels.get(code, "B2")))
        except (ValueError, TypeError):
            continue
    ranges: list[tuple[date, date]] = []
    for item in as_list(doc.get("availability"))[:MAX_REMOTE_RANGES]:
        try:
            start, end = validation.iso_date(item["start"]), validation.iso_date(item["end"])
        except (ValueError, TypeError, KeyError):
            continue
        if start and end and start <= end:
            ranges.append((start, end))
    icon = doc.get("icon")
    icon_url = icon.get("url") if isinstance(icon, dict) else None
    try:
        country = validation.country(str(doc.get("country") or ""))
    except ValueError:
        country = ""
    location = doc.get("location")
    city = ""
    if isinstance(location, dict) and isinstance(location.get("name"), str):
        city = plain_text(location["name"], 120).split(",")[0].strip()
    return {
        "ap_id": ap_id,
        "node": host_of(ap_id),
        "username": username.lower(),
        "name": plain_text(doc.get("name") if isinstance(doc.get("name"), str) else username, 200),
        "summary": sanitize_html(
            doc.get("summary") if isinstance(doc.get("summary"), str) else "", 5000
        ),
        "country": country,
        "city": city,
        "remote": doc.get("remote") is True,
        "visibility": visibility,
        "avatar": icon_url if is_http_iri(icon_url) else None,
        "url": ap_id,
        "coop_name": plain_text(coop_name, 200),
        "skills": _concepts(doc.get("knowsAbout")),
        "occupations": _concepts(doc.get("occupation")),
        "languages": sorted(langs.items()),
        "availability": ranges,
    }


# --- Page (project call) -----------------------------------------------------------------------


def call_page(ctx: NodeContext, call: Call, vocab: Vocabulary) -> dict[str, Any]:
    """The ``Page`` document of a local call."""
    lang = call.language
    to, cc = audience(ctx, call.author, call.visibility)
    if call.visibility == "public":
        cc.append(calls_actor_iri(ctx) + "/followers")
    place = (
        "Remote"
        if call.remote and not call.city
        else ", ".join(p for p in (call.city, call.country) if p)
        + (" · remote possible" if call.remote else "")
    )
    dates = " – ".join(d.isoformat() for d in (call.starts, call.ends) if d)
    digest_parts = [plain_text(call.description, 280)]
    if place:
        digest_parts.append(f"📍 {place}")
    if dates:
        digest_parts.append(f"📅 {dates}")
    if call.deadline:
        digest_parts.append(f"⏳ {call.deadline.isoformat()}")
    if call.status != "open":
        digest_parts.insert(0, "[closed]")
    skills = call.required_skills + call.optional_skills
    doc: dict[str, Any] = {
        "@context": context_for("object"),
        "id": call.ap_id,
        "type": "Page",
        "attributedTo": call.author.ap_id,
        "name": call.title,
        "summary": " · ".join(p for p in digest_parts if p),
        "content": call.description,
        "contentMap": {lang: call.description},
        "mediaType": "text/html",
        "url": call.ap_id,
        "published": _iso(call.created_at),
        "updated": _iso(call.updated_at),
        "to": to,
        "cc": cc,
        "tag": [_hashtag(ctx, vocab.label(i, lang), i) for i in skills],
        "requiredSkill": call.required_skills,
        "optionalSkill": call.optional_skills,
        "workingLanguage": [x.code for x in call.languages],
        "inLanguage": lang,
        "country": call.country,
        "remote": call.remote,
        # xsd:dateTime (AS2 startTime/endTime, our deadline): RFC 3339 with a zone, or strict
        # processors refuse the whole activity (Fedify: "invalid RFC 9557 string"). A call's
        # dates are days: 00:00 UTC of that day; readers take the date part.
        "startTime": _day_start(call.starts),
        "endTime": _day_start(call.ends),
        "deadline": _day_start(call.deadline),
        "compensation": call.compensation,
        "callStatus": call.status,
        "visibility": call.visibility,
        "coop": instance_actor_iri(ctx),
    }
    if call.city or call.country:
        doc["location"] = {
            "type": "Place",
            "name": ", ".join(p for p in (call.city, call.country) if p),
        }
    return {k: v for k, v in doc.items() if v is not None}


def parse_call(doc: dict[str, Any]) -> dict[str, Any]:
    """Validated values of a remote coopfed call ``Page`` for a ``Call`` row (local=False)."""
    ap_id = doc.get("id")
    author = first_iri(doc.get("attributedTo"))
    if not isinstance(ap_id, str) or not is_http_iri(ap_id) or doc.get("type") != "Page":
        raise BadRequest("not a Page with an http(s) id")
    if not isinstance(author, str) or not same_host(ap_id, author):
        raise BadRequest("attributedTo must be an actor on the call's own host")
    visibility = doc.get("visibility") if doc.get("visibility") in VISIBILITIES else "partners"
    if visibility == "coop":
        raise BadRequest("a coop-only call must not leave its node")
    status = doc.get("callStatus") if doc.get("callStatus") in ("open", "closed") else "open"

    def day(key: str) -> date | None:
        try:
            value = doc.get(key)
            return validation.iso_date(value[:10]) if isinstance(value, str) else None
        except ValueError:
            return None

    try:
        language = validation.language(str(doc.get("inLanguage") or "en"))
    except ValueError:
        language = "en"
    languages: list[str] = []
    for code in as_list(doc.get("workingLanguage"))[:MAX_REMOTE_LANGUAGES]:
        try:
            languages.append(validation.language(code))
        except (ValueError, TypeError):
            continue
    try:
        country = validation.country(str(doc.get("country") or ""))
    except ValueError:
        country = ""
    location = doc.get("location")
    city = ""
    if isinstance(location, dict) and isinstance(location.get("name"), str):
        city = plain_text(location["name"], 120).split(",")[0].strip()
    raw_title = doc.get("name")
    title = raw_title if isinstance(raw_title, str) else ""
    if not title.strip():
        raise BadRequest("a call needs a name")
    required = _concepts(doc.get("requiredSkill"))
    optional = [i for i in _concepts(doc.get("optionalSkill")) if i not in required]
    starts, ends = day("startTime"), day("endTime")
    if starts and ends and ends < starts:
        ends = None
    return {
        "ap_id": ap_id,
        "author_ap_id": author,
        "node": host_of(ap_id),
        "title": plain_text(title, 200),
        "description": sanitize_html(
            doc.get("content") if isinstance(doc.get("content"), str) else "", 10000
        ),
        "language": language,
        "country": country,
        "city": city if city != country else "",
        "remote": doc.get("remote") is True,
        "starts": starts,
        "ends": ends,
        "deadline": day("deadline"),
        "compensation": plain_text(
            doc.get("compensation") if isinstance(doc.get("compensation"), str) else "", 200
        ),
        "status": status,
        "visibility": visibility,
        "url": ap_id,
        "skills_required": required,
        "skills_optional": optional,
        "languages": sorted(set(languages)),
    }


# --- helpers -----------------------------------------------------------------------------------


def _concepts(value: Any) -> list[str]:
    out: list[str] = []
    for item in as_list(value):
        iri = item.get("id") if isinstance(item, dict) else item
        if (
            isinstance(iri, str)
            and iri.startswith(ESCO_PREFIX)
            and len(iri) < 255
            and iri not in out
        ):
            out.append(iri)
        if len(out) >= MAX_REMOTE_CONCEPTS:
            break
    return out


def _hashtag(ctx: NodeContext, label: str, iri: str) -> dict[str, str]:
    """Mastodon hashtags are word characters only: "sound mixing" -> #SoundMixing."""
    words = re.findall(r"[^\W_]+", label)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "skill"
    from urllib.parse import quote

    return {
        "type": "Hashtag",
        "name": "#" + name[:60],
        "href": f"{ctx.base_url}/calls?skill={quote(iri, safe='')}",
    }


def _esc(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def _day_start(value: date | None) -> str | None:
    return f"{value.isoformat()}T00:00:00Z" if value else None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
