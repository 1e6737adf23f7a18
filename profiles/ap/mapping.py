"""The mapping between coop domain objects and ActivityStreams documents (see FEDERATION.md).

- Member  <-> ``Person`` at ``/members/USERNAME`` (profile fields as Mastodon PropertyValues,
  structured data as schema.org / coopfed extension terms).
- Call    <-> ``Page`` at ``/calls/PUBLIC_ID``. Mastodon converts ``Page`` to "name + summary +
  link" (docs.joinmastodon.org/spec/activitypub: Article/Page/Event are "converted as best as
  possible"), so the title goes in ``name``, a plain one-paragraph digest (text, place, dates,
  deadline) in ``summary``, skills as ``Hashtag`` tags. Coop nodes read the full description from
  ``content`` and the structured fields (ESCO IRIs, languages, dates…) from extension terms.

Which term carries which field, and the limits, come from :mod:`profiles.fields`
(:data:`~profiles.fields.CALL_AS2`, :data:`~profiles.fields.PROFILE_AS2`); the terms are defined
for JSON-LD in :mod:`profiles.ap.context`.

Parsing is defensive: everything remote is bounded, sanitised and checked for origin, and comes
out as a frozen :class:`~profiles.remote.RemoteProfile` / :class:`~profiles.remote.RemoteCall`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from federation import proofs
from federation.errors import BadRequest
from federation.iri import host_of, is_http_iri, same_host
from federation.sanitize import plain_text, sanitize_html
from federation.vocab import as_list, first_iri
from profiles import validation, visibility
from profiles.ap.addressing import audience, calls_actor_iri, instance_actor_iri
from profiles.ap.context import context_for
from profiles.context import NodeContext
from profiles.fields import (
    CALL_AS2,
    CALL_STATUSES,
    MAX_PHRASE_CHARS,
    MAX_PHRASES,
    PHRASES_AS2,
    PROFILE_AS2,
    CallFields,
    ProfileFields,
    language_pair,
    max_length,
    pairs_from_text,
)
from profiles.models import Call, CallPhrase, Member
from profiles.remote import RemoteCall, RemotePhrase, RemoteProfile
from profiles.understanding import LINKED, PROPOSED, STATUSES, UNLINKED
from profiles.visibility import Recipients, Visibility
from profiles.vocabulary import Vocabulary

ESCO_PREFIX = "http://data.europa.eu/esco/"
MAX_REMOTE_CONCEPTS = 80
MAX_REMOTE_LANGUAGES = 12
MAX_REMOTE_RANGES = 12
C, P = CALL_AS2, PROFILE_AS2  # field name -> AS2 term


# --- Person ------------------------------------------------------------------------------------


def _language_names(codes: list[tuple[str, str]], lang: str) -> str:
    from babel import Locale

    names = Locale(lang).languages
    return ", ".join(
        f"{names.get(code, code)} ({'native' if level == 'native' else level})"
        for code, level in codes
    )


def _profile_fields(
    ctx: NodeContext, member: Member, vocab: Vocabulary, lang: str
) -> list[tuple[str, str]]:
    """Mastodon profile fields (``PropertyValue``): what Mastodon users see of a member."""
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
        pairs = [(x.code, x.level) for x in member.languages]
        fields.append(("Languages", _esc(_language_names(pairs, lang))))
    if place or member.remote:
        fields.append(("Place", _esc(place + (" · remote" if member.remote else ""))))
    return fields


def person(
    ctx: NodeContext, member: Member, vocab: Vocabulary, avatar_url: str | None
) -> dict[str, Any]:
    """The actor document of a local member."""
    lang = member.ui_language or "en"
    skills = [c.concept_iri for c in member.skills]
    occupations = [c.concept_iri for c in member.occupations]
    place = ", ".join(p for p in (member.city, member.country) if p)
    searchable = visibility.searchable(member.visibility)
    doc: dict[str, Any] = {
        "@context": context_for("actor"),
        "id": member.ap_id,
        "type": "Person",
        "preferredUsername": member.username,
        P["name"]: member.name or member.username,
        P["summary"]: member.summary,
        "url": member.ap_id,
        "inbox": member.ap_id + "/inbox",
        "outbox": member.ap_id + "/outbox",
        "followers": member.ap_id + "/followers",
        "following": member.ap_id + "/following",
        "endpoints": {"sharedInbox": f"{ctx.base_url}/inbox"},
        "manuallyApprovesFollowers": False,
        "discoverable": searchable,
        "indexable": searchable,
        "published": _iso(member.created_at),
        "updated": _iso(member.updated_at),
        "publicKey": {
            "id": member.ap_id + "#main-key",
            "owner": member.ap_id,
            "publicKeyPem": member.public_key_pem or "",
        },
        "attachment": [
            {"type": "PropertyValue", "name": n, "value": v}
            for n, v in _profile_fields(ctx, member, vocab, lang)
        ],
        "tag": [_hashtag(ctx, vocab.label(i, lang), i) for i in skills[:10]],
        P["skills"]: skills,
        P["occupations"]: occupations,
        P["languages"]: [x.code for x in member.languages],
        "languageLevels": {x.code: x.level for x in member.languages},
        P["availability"]: [
            {"start": r.start.isoformat(), "end": r.end.isoformat()} for r in member.availability
        ],
        P["country"]: member.country,
        P["remote"]: member.remote,
        "coop": instance_actor_iri(ctx),
        P["visibility"]: member.visibility,
    }
    doc.update(_pairs_and_words(member))
    if member.ed25519_public_multibase:
        doc["@context"] = proofs.actor_context(doc["@context"])
        doc["assertionMethod"] = [proofs.multikey(member.ap_id, member.ed25519_public_multibase)]
    if place:
        doc[P["city"]] = {"type": "Place", "name": place}
    if avatar_url:
        doc["icon"] = {"type": "Image", "url": avatar_url}
    return doc


def _remote_visibility(doc: dict[str, Any], what: str) -> str:
    """The visibility a partner declared (partners when missing or unknown); a coop-level
    thing must not have left its node."""
    raw = doc.get("visibility")
    vis = Visibility(raw) if raw in visibility.VALUES else Visibility.PARTNERS
    if not visibility.federated(vis):
        raise BadRequest(f"a coop-only {what} must not leave its node")
    return vis.value


def _remote_languages(doc: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    langs: dict[str, str] = {}
    raw_levels = doc.get("languageLevels")
    levels: dict[str, Any] = raw_levels if isinstance(raw_levels, dict) else {}
    for code in as_list(doc.get(P["languages"]))[:MAX_REMOTE_LANGUAGES]:
        try:
            langs[validation.language(code)] = validation.level(str(levels.get(code, "B2")))
        except (ValueError, TypeError):
            continue
    return tuple(sorted(langs.items()))


def _pairs_and_words(member: Member) -> dict[str, Any]:
    """A member's language pairs and own words, each only when there are any."""
    out: dict[str, Any] = {}
    if member.language_pairs:
        out[P["language_pairs"]] = _pairs_out(member.language_pairs)
    if member.phrases:
        out[PHRASES_AS2] = [_phrase_out(p) for p in member.phrases]
    return out


def _pairs_out(stored: str) -> list[dict[str, str]]:
    return [{"source": a, "target": b} for a, b in pairs_from_text(stored)]


def _phrase_out(phrase: Any) -> dict[str, Any]:
    """A member's (``kind``) or a call's (``required``) phrase on the wire; the concept only
    with what it says about it."""
    out: dict[str, Any] = {"text": phrase.text, "lang": phrase.lang}
    if isinstance(phrase, CallPhrase):
        out["required"] = phrase.required
    else:
        out["kind"] = phrase.kind
    out["status"] = phrase.status
    if phrase.concept_iri and phrase.status in (LINKED, PROPOSED):
        out["concept"] = phrase.concept_iri
    return out


def _remote_pairs(value: Any, limit: int) -> tuple[tuple[str, str], ...]:
    """A partner's language pairs: entries that are not a pair of two different ISO 639-1
    codes are dropped, at most ``limit`` kept (of the first ``limit * 2`` read)."""
    found: set[tuple[str, str]] = set()
    for entry in as_list(value)[: limit * 2]:
        try:
            found.add(language_pair(entry))
        except (ValueError, TypeError):
            continue
    return tuple(sorted(found)[:limit])


def _remote_phrases(value: Any) -> tuple[RemotePhrase, ...]:
    """A partner member's own words or a partner call's skills as written: plain text,
    bounded; odd entries dropped, never trusted beyond what a phrase may say (a concept only
    as an ESCO IRI)."""
    out: list[RemotePhrase] = []
    for item in as_list(value)[: MAX_PHRASES * 2]:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        text = " ".join(plain_text(item["text"], MAX_PHRASE_CHARS).split())
        if not text:
            continue
        try:
            lang = validation.language(str(item.get("lang") or ""))
        except ValueError:
            lang = ""
        kind = "occupation" if item.get("kind") == "occupation" else "skill"
        concept = next(iter(_concepts(item.get("concept"))), None)
        status = item.get("status")
        if status not in STATUSES or status == UNLINKED or concept is None:
            status, concept = UNLINKED, None
        required = item.get("required") is not False
        out.append(RemotePhrase(text, lang, kind, str(status), concept, required))
        if len(out) >= MAX_PHRASES:
            break
    return tuple(out)


def _remote_ranges(doc: dict[str, Any]) -> tuple[tuple[date, date], ...]:
    ranges: list[tuple[date, date]] = []
    for item in as_list(doc.get(P["availability"]))[:MAX_REMOTE_RANGES]:
        try:
            start, end = validation.iso_date(item["start"]), validation.iso_date(item["end"])
        except (ValueError, TypeError, KeyError):
            continue
        if start and end and start <= end:
            ranges.append((start, end))
    return tuple(ranges)


def parse_person(doc: dict[str, Any], *, coop_name: str = "") -> RemoteProfile:
    """A remote coopfed Person, checked, for a ``Member`` row (local=False).

    Raises BadRequest. Unknown or malformed structured fields are dropped, not trusted."""
    ap_id = doc.get("id")
    if not isinstance(ap_id, str) or not is_http_iri(ap_id) or doc.get("type") != "Person":
        raise BadRequest("not a Person with an http(s) id")
    username = doc.get("preferredUsername")
    if not isinstance(username, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", username):
        raise BadRequest("preferredUsername missing or invalid")
    vis = _remote_visibility(doc, "profile")
    icon = doc.get("icon")
    icon_url = icon.get("url") if isinstance(icon, dict) else None
    name = doc.get(P["name"])
    summary = doc.get(P["summary"])
    occupations = _concepts(doc.get(P["occupations"]))
    return RemoteProfile(
        ap_id=ap_id,
        node=host_of(ap_id),
        username=username.lower(),
        name=plain_text(
            name if isinstance(name, str) else username, max_length(ProfileFields, "name")
        ),
        summary=sanitize_html(
            summary if isinstance(summary, str) else "", max_length(ProfileFields, "summary")
        ),
        country=_country(doc),
        city=_city(doc),
        remote=doc.get(P["remote"]) is True,
        visibility=vis,
        avatar=icon_url if is_http_iri(icon_url) else None,
        url=ap_id,
        coop_name=plain_text(coop_name, 200),
        skills=tuple(i for i in _concepts(doc.get(P["skills"])) if i not in occupations),
        occupations=tuple(occupations),
        languages=_remote_languages(doc),
        availability=_remote_ranges(doc),
        language_pairs=_remote_pairs(
            doc.get(P["language_pairs"]), max_length(ProfileFields, "language_pairs")
        ),
        phrases=_remote_phrases(doc.get(PHRASES_AS2)),
    )


# --- Page (project call) -----------------------------------------------------------------------


def _digest(call: Call) -> str:
    """The one-paragraph plain ``summary`` Mastodon shows of a call."""
    place = (
        "Remote"
        if call.remote and not call.city
        else ", ".join(p for p in (call.city, call.country) if p)
        + (" · remote possible" if call.remote else "")
    )
    dates = " – ".join(d.isoformat() for d in (call.starts, call.ends) if d)
    parts = [plain_text(call.description, 280)]
    if place:
        parts.append(f"📍 {place}")
    if dates:
        parts.append(f"📅 {dates}")
    if call.deadline:
        parts.append(f"⏳ {call.deadline.isoformat()}")
    if call.status != "open":
        parts.insert(0, "[closed]")
    return " · ".join(p for p in parts if p)


def wire_actor(ctx: NodeContext, call: Call) -> str:
    """Who a local call is by on the wire (``attributedTo``, the actor of its Create, Update
    and Delete): its author when everyone the call reaches may see the author's profile
    (:func:`profiles.visibility.call_names_author`), else the coop's calls Group."""
    if visibility.call_names_author(call.visibility, call.author.visibility):
        return call.author.ap_id
    return calls_actor_iri(ctx)


def call_page(ctx: NodeContext, call: Call, vocab: Vocabulary) -> dict[str, Any]:
    """The ``Page`` document of a local call."""
    lang = call.language
    by = wire_actor(ctx, call)
    to, cc = audience(ctx, call.author, call.visibility)
    if by != call.author.ap_id:  # the Group speaks for a hidden author: no trace of them
        cc = [c for c in cc if not c.startswith(call.author.ap_id)]
    if Recipients.GROUP_FOLLOWERS in visibility.recipients(call.visibility, kind="call"):
        cc.append(calls_actor_iri(ctx) + "/followers")
    skills = call.required_skills + call.optional_skills
    doc: dict[str, Any] = {
        "@context": context_for("object"),
        "id": call.ap_id,
        "type": "Page",
        "attributedTo": by,
        C["title"]: call.title,
        "summary": _digest(call),
        C["description"]: call.description,
        "contentMap": {lang: call.description},
        "mediaType": "text/html",
        "url": call.ap_id,
        "published": _iso(call.created_at),
        "updated": _iso(call.updated_at),
        "to": to,
        "cc": cc,
        "tag": [_hashtag(ctx, vocab.label(i, lang), i) for i in skills],
        C["skills_required"]: call.required_skills,
        C["skills_optional"]: call.optional_skills,
        C["languages"]: [x.code for x in call.languages],
        C["languages_all"]: call.languages_all,
        C["language_pairs"]: _pairs_out(call.language_pairs) or None,
        PHRASES_AS2: [_phrase_out(p) for p in call.phrases] or None,
        C["language"]: lang,
        C["country"]: call.country,
        C["remote"]: call.remote,
        # xsd:dateTime (AS2 startTime/endTime, our deadline): RFC 3339 with a zone, or strict
        # processors refuse the whole activity (Fedify: "invalid RFC 9557 string"). A call's
        # dates are days: 00:00 UTC of that day; readers take the date part.
        C["starts"]: _day_start(call.starts),
        C["ends"]: _day_start(call.ends),
        C["deadline"]: _day_start(call.deadline),
        C["compensation"]: call.compensation,
        C["status"]: call.status,
        C["visibility"]: call.visibility,
        "coop": instance_actor_iri(ctx),
    }
    if call.city or call.country:
        doc[C["city"]] = {
            "type": "Place",
            "name": ", ".join(p for p in (call.city, call.country) if p),
        }
    return {k: v for k, v in doc.items() if v is not None}


def _day(doc: dict[str, Any], key: str) -> date | None:
    try:
        value = doc.get(key)
        return validation.iso_date(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def _natural(doc: dict[str, Any], key: str, language: object) -> tuple[str, str | None]:
    """A natural-language property: ``key`` (e.g. ``content``) if it is a string, else one value
    of its language map ``keyMap`` (AS2 §4.7: a peer may send only the map) — the one in
    ``language`` if the map has it, else the first. Returns ``(text, map language or None)``."""
    plain = doc.get(key)
    if isinstance(plain, str):
        return plain, None
    values = doc.get(f"{key}Map")
    if not isinstance(values, dict):
        return "", None
    texts = {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, str)}
    if not texts:
        return "", None
    pick = language if isinstance(language, str) and language in texts else next(iter(texts))
    return texts[pick], pick


def parse_call(doc: dict[str, Any]) -> RemoteCall:
    """A remote coopfed call ``Page``, checked, for a ``Call`` row (local=False)."""
    ap_id = doc.get("id")
    author = first_iri(doc.get("attributedTo"))
    if not isinstance(ap_id, str) or not is_http_iri(ap_id) or doc.get("type") != "Page":
        raise BadRequest("not a Page with an http(s) id")
    if not isinstance(author, str) or not same_host(ap_id, author):
        raise BadRequest("attributedTo must be an actor on the call's own host")
    vis = _remote_visibility(doc, "call")
    raw_status = doc.get(C["status"])
    status = raw_status if isinstance(raw_status, str) and raw_status in CALL_STATUSES else "open"
    declared = doc.get(C["language"])
    description, map_language = _natural(doc, C["description"], declared)
    try:
        language = validation.language(str(declared or map_language or "en"))
    except ValueError:
        language = "en"
    languages: list[str] = []
    for code in as_list(doc.get(C["languages"]))[:MAX_REMOTE_LANGUAGES]:
        try:
            languages.append(validation.language(code))
        except (ValueError, TypeError):
            continue
    country, city = _country(doc), _city(doc)
    title = _natural(doc, C["title"], declared or map_language)[0]
    if not title.strip():
        raise BadRequest("a call needs a name")
    required = _concepts(doc.get(C["skills_required"]))
    optional = [i for i in _concepts(doc.get(C["skills_optional"])) if i not in required]
    starts, ends = _day(doc, C["starts"]), _day(doc, C["ends"])
    if starts and ends and ends < starts:
        ends = None
    return RemoteCall(
        ap_id=ap_id,
        author_ap_id=author,
        node=host_of(ap_id),
        title=plain_text(title, max_length(CallFields, "title")),
        description=sanitize_html(description, max_length(CallFields, "description")),
        language=language,
        country=country,
        city=city if city != country else "",
        remote=doc.get(C["remote"]) is True,
        starts=starts,
        ends=ends,
        deadline=_day(doc, C["deadline"]),
        compensation=plain_text(
            _text(doc, C["compensation"]), max_length(CallFields, "compensation")
        ),
        status=status,
        visibility=vis,
        url=ap_id,
        skills_required=tuple(required),
        skills_optional=tuple(optional),
        languages=tuple(sorted(set(languages))),
        languages_all=doc.get(C["languages_all"]) is True,
        language_pairs=_remote_pairs(
            doc.get(C["language_pairs"]), max_length(CallFields, "language_pairs")
        ),
        phrases=_remote_phrases(doc.get(PHRASES_AS2)),
    )


# --- helpers -----------------------------------------------------------------------------------


def _country(doc: dict[str, Any]) -> str:
    try:
        return validation.country(str(doc.get("country") or ""))
    except ValueError:
        return ""


def _city(doc: dict[str, Any]) -> str:
    """The city: the first part of the ``location`` Place's name (``"Malmö, SE"``)."""
    location = doc.get("location")
    if isinstance(location, dict) and isinstance(location.get("name"), str):
        return plain_text(location["name"], max_length(CallFields, "city")).split(",")[0].strip()
    return ""


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
    return {
        "type": "Hashtag",
        "name": "#" + name[:60],
        "href": f"{ctx.base_url}/calls?skill={quote(iri, safe='')}",
    }


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _day_start(value: date | None) -> str | None:
    return f"{value.isoformat()}T00:00:00Z" if value else None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


__all__ = ["call_page", "parse_call", "parse_person", "person"]
