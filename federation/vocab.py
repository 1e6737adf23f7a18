"""ActivityStreams at the boundary: bounded JSON parsing, typed objects, bundled contexts.

Remote JSON is parsed once here into frozen dataclasses whose fields are validated (ids are
absolute http(s) IRIs, strings are capped, HTML is sanitised). Code past this module never
touches raw remote strings except through ``.raw``.

We treat documents as *compacted JSON with the AS context*, as Mastodon does; we never expand
JSON-LD and never fetch a context. Constructs that only matter to a JSON-LD processor and have
been used to smuggle data past one (CVE-2022-24307: ``@graph``; ``@included``, ``@reverse``) are
refused outright. Our own documents carry ``context_for(...)`` so strict processors (Fedify) see
every term defined: ``publicKey`` needs the security context, ``Hashtag`` & co. the extension
(domain terms are added by the domain: ``context_for(kind, extension=...)``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from federation.errors import BadRequest, PayloadTooLarge
from federation.iri import host_of, is_http_iri, same_host
from federation.sanitize import plain_text, sanitize_html
from federation.signatures import PublicKeyInfo

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

# Mastodon also accepts these spellings of the public collection in addressing.
_PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})
ACTOR_TYPES = frozenset({"Person", "Organization", "Group", "Application", "Service"})
_FORBIDDEN_KEYS = frozenset({"@graph", "@included", "@reverse"})

# Field caps (characters). Generous for humans, small enough to bound storage per actor.
MAX_NAME = 200
MAX_USERNAME = 100
MAX_SUMMARY = 10_000
MAX_FIELD_NAME = 200
MAX_FIELD_VALUE = 2_000
MAX_FIELDS = 20
MAX_TYPE = 64
MAX_AUDIENCE = 500
MAX_PEM = 8_192

# Generic extension terms (Mastodon's and schema.org's), inline in our @context. The ``schema``
# prefix is Mastodon's spelling ("http://schema.org#") so PropertyValue expands exactly as
# Mastodon's own documents do. A domain adds its own terms with ``context_for(kind, extension)``
# (the coop terms live in :mod:`profiles.ap.context`).
EXTENSION_CONTEXT: dict[str, Any] = {
    "schema": "http://schema.org#",
    "toot": "http://joinmastodon.org/ns#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "Hashtag": "as:Hashtag",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
}

# Every context our documents reference, as published (data-integrity/v2: w3c/vc-data-integrity
# contexts/; multikey/v1: w3id.org/security/multikey/v1), so nothing is ever fetched.
_BUNDLED_FILES = {
    AS_CONTEXT: "activitystreams.jsonld",
    SECURITY_CONTEXT: "security-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
}


# --------------------------------------------------------------------------- JSON


def parse_json(body: bytes, max_bytes: int = 1_048_576, max_depth: int = 32) -> dict[str, Any]:
    """Parse a remote JSON document defensively.

    Raises :class:`PayloadTooLarge` above ``max_bytes``; :class:`BadRequest` for invalid JSON,
    nesting deeper than ``max_depth``, NaN/Infinity, a non-object top level, or any
    ``@graph``/``@included``/``@reverse`` key at any depth.
    """
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"document is larger than {max_bytes} bytes")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise BadRequest("JSON nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("the JSON document must be an object")
    _check_tree(data, max_depth)
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(root: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"JSON nested deeper than {max_depth}")
        if isinstance(node, dict):
            bad = _FORBIDDEN_KEYS.intersection(node)
            if bad:
                raise BadRequest(f"JSON-LD keyword {sorted(bad)[0]} is not accepted")
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def is_activitypub_content_type(ct: str | None) -> bool:
    """``application/activity+json``, or ``application/ld+json`` with the AS profile."""
    if not ct:
        return False
    media, _, rest = ct.partition(";")
    media = media.strip().lower()
    if media == ACTIVITY_JSON:
        return True
    if media != "application/ld+json":
        return False
    for param in rest.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "profile" and AS_CONTEXT in value.strip().strip('"').split():
            return True
    return False


# --------------------------------------------------------------------------- small helpers


def former_type(type_name: str) -> str:
    """A Tombstone's ``formerType`` value for an AS2 type: ``"as:Page"``. The AS2 context types
    ``formerType`` as ``@id``, so a bare ``"Page"`` expands to a relative IRI that JSON-LD
    processors drop; ``as:Page`` expands to the type's IRI. Fedify writes and reads exactly this
    form (``Tombstone.toJsonLd``); Mastodon ignores ``formerType``."""
    return f"as:{type_name}"


def as_list(value: Any) -> list[Any]:
    """AS2 properties may be a value or an array: always give a list (None → [])."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def first_iri(value: Any) -> str | None:
    """The first http(s) IRI in a property: a string, an object's ``id`` or a Link's ``href``."""
    for item in as_list(value):
        if isinstance(item, str) and is_http_iri(item):
            return item
        if isinstance(item, dict):
            for key in ("id", "href"):
                candidate = item.get(key)
                if isinstance(candidate, str) and is_http_iri(candidate):
                    return candidate
    return None


def _iri(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required")
        return None
    if not isinstance(value, str) or not is_http_iri(value):
        raise BadRequest(f"{key} must be an absolute http(s) IRI")
    return value


def _type_of(data: dict[str, Any]) -> str:
    """The first string ``type`` (documents may give several)."""
    for item in as_list(data.get("type")):
        if isinstance(item, str) and 0 < len(item) <= MAX_TYPE:
            return item
    raise BadRequest("type is missing or invalid")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _audience(value: Any) -> tuple[str, ...]:
    items = as_list(value)
    if len(items) > MAX_AUDIENCE:
        raise BadRequest("too many recipients")
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and item in _PUBLIC_ALIASES:
            out.append(PUBLIC)
        elif (iri := first_iri(item)) is not None:
            out.append(iri)
    return tuple(out)


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --------------------------------------------------------------------------- typed objects


def _public_key(actor_id: str, value: Any) -> PublicKeyInfo | None:
    """The actor's RSA key; its owner must be the actor and its id on the actor's host."""
    for item in as_list(value):
        if not isinstance(item, dict):
            continue
        key_id, owner, pem = item.get("id"), item.get("owner"), item.get("publicKeyPem")
        if not (isinstance(key_id, str) and is_http_iri(key_id) and isinstance(pem, str)):
            continue
        if owner != actor_id or not same_host(key_id, actor_id) or len(pem) > MAX_PEM:
            raise BadRequest("publicKey must be owned by the actor, on the actor's host")
        return PublicKeyInfo(key_id=key_id, owner=actor_id, public_pem=pem)
    return None


def _icon_url(value: Any) -> str | None:
    for item in as_list(value):
        if isinstance(item, dict):
            iri = first_iri(item.get("url"))
            if iri is not None:
                return iri
        elif isinstance(item, str) and is_http_iri(item):
            return item
    return None


def _attachments(value: Any) -> tuple[tuple[str, str], ...]:
    """Mastodon profile fields: ``PropertyValue`` with plain-text name and HTML value."""
    out: list[tuple[str, str]] = []
    for item in as_list(value):
        if not isinstance(item, dict) or item.get("type") != "PropertyValue":
            continue
        name, val = _text(item.get("name")), _text(item.get("value"))
        if name is None or val is None:
            continue
        out.append((plain_text(name, MAX_FIELD_NAME), _capped_html(val, MAX_FIELD_VALUE)))
        if len(out) >= MAX_FIELDS:
            break
    return tuple(out)


def _capped_html(value: str | None, limit: int) -> str:
    cleaned = sanitize_html(value)
    if len(cleaned) > limit:
        # Cutting sanitised HTML could split a tag; re-sanitise the cut to re-balance it.
        cleaned = sanitize_html(cleaned[:limit])
    return cleaned


@dataclass(frozen=True)
class Actor:
    """A remote actor as we keep it. Text fields are safe: ``name`` is plain text, ``summary``
    and attachment values are allow-listed HTML. ``url`` on another host is dropped (Mastodon)."""

    id: str
    type: str
    preferred_username: str
    name: str
    summary: str
    inbox: str
    outbox: str | None
    followers: str | None
    shared_inbox: str | None
    public_key: PublicKeyInfo | None
    url: str | None
    icon_url: str | None
    attachments: tuple[tuple[str, str], ...]
    discoverable: bool
    indexable: bool
    manually_approves_followers: bool
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Actor:
        """Validate an actor document. Raises :class:`BadRequest` with the first problem."""
        actor_id = _iri(data, "id", required=True)
        assert actor_id is not None
        actor_type = _type_of(data)
        if actor_type not in ACTOR_TYPES:
            raise BadRequest(f"{actor_type} is not an actor type")
        username = data.get("preferredUsername")
        if not isinstance(username, str) or not 0 < len(username) <= MAX_USERNAME:
            raise BadRequest("preferredUsername is required (1-100 characters)")
        if any(c.isspace() or c in "@/<>\"'" for c in username):
            raise BadRequest("preferredUsername contains forbidden characters")
        inbox = _iri(data, "inbox", required=True)
        assert inbox is not None
        endpoints = data.get("endpoints")
        shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
        url = first_iri(data.get("url"))
        return cls(
            id=actor_id,
            type=actor_type,
            preferred_username=username,
            name=plain_text(_text(data.get("name")), MAX_NAME),
            summary=_capped_html(_text(data.get("summary")), MAX_SUMMARY),
            inbox=inbox,
            outbox=_iri(data, "outbox"),
            followers=_iri(data, "followers"),
            shared_inbox=shared if isinstance(shared, str) and is_http_iri(shared) else None,
            public_key=_public_key(actor_id, data.get("publicKey")),
            url=url if url is not None and same_host(url, actor_id) else None,
            icon_url=_icon_url(data.get("icon")),
            attachments=_attachments(data.get("attachment")),
            discoverable=data.get("discoverable") is True,
            indexable=data.get("indexable") is True,
            manually_approves_followers=data.get("manuallyApprovesFollowers") is True,
            raw=data,
        )

    @property
    def host(self) -> str:
        return host_of(self.id)


@dataclass(frozen=True)
class Activity:
    """An incoming activity. ``object`` is an IRI or an embedded object (a dict whose ``id``, if
    any, is an http(s) IRI); ``to``/``cc`` hold IRIs with the public collection normalised to
    :data:`PUBLIC`. Origin rules (object on the actor's host…) are the inbox's to enforce."""

    id: str
    type: str
    actor: str
    object: str | dict[str, Any]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    published: datetime | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Activity:
        """Validate an activity. Raises :class:`BadRequest` with the first problem."""
        activity_id = _iri(data, "id", required=True)
        assert activity_id is not None
        activity_type = _type_of(data)
        actor = first_iri(data.get("actor"))
        if actor is None:
            raise BadRequest("actor must be an http(s) IRI")
        obj = data.get("object")
        if isinstance(obj, list) and len(obj) == 1:
            obj = obj[0]
        if isinstance(obj, str):
            if not is_http_iri(obj):
                raise BadRequest("object must be an http(s) IRI or an object")
        elif isinstance(obj, dict):
            _type_of(obj)
            if "id" in obj:
                _iri(obj, "id")
        else:
            raise BadRequest("object is missing or invalid")
        return cls(
            id=activity_id,
            type=activity_type,
            actor=actor,
            object=obj,
            to=_audience(data.get("to")),
            cc=_audience(data.get("cc")),
            published=_datetime(data.get("published")),
            raw=data,
        )

    @property
    def object_id(self) -> str | None:
        """The object's IRI whether it is embedded or referenced."""
        if isinstance(self.object, str):
            return self.object
        value = self.object.get("id")
        return value if isinstance(value, str) else None

    @property
    def is_public(self) -> bool:
        return PUBLIC in self.to or PUBLIC in self.cc


# --------------------------------------------------------------------------- contexts


def context_for(kind: str, extension: Mapping[str, Any] | None = None) -> list[Any]:
    """The ``@context`` of documents we publish: ``"actor"`` → AS + security + terms, anything
    else (``"object"``, ``"activity"``) → AS + terms. The terms are :data:`EXTENSION_CONTEXT`
    plus ``extension`` (a domain's own terms; they win over a generic term of the same name)."""
    terms = {**EXTENSION_CONTEXT, **(extension or {})}
    if kind == "actor":
        return [AS_CONTEXT, SECURITY_CONTEXT, terms]
    return [AS_CONTEXT, terms]


def _normalise_context_url(url: str) -> str:
    url = url.strip()
    if url.startswith("http://"):
        url = "https://" + url[len("http://") :]
    for suffix in (".jsonld", "/"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def bundled_context(url: str) -> dict[str, Any]:
    """The bundled context document for ``url``. Raises :class:`BadRequest` for any other URL:
    nothing is ever fetched."""
    name = _BUNDLED_FILES.get(_normalise_context_url(url))
    if name is None:
        raise BadRequest(f"context {url[:200]} is not bundled")
    text = resources.files("federation").joinpath("contexts", name).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_context(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pyld-compatible document loader that serves only bundled contexts (no network).

    Pass it per call (``jsonld.expand(doc, {"documentLoader": load_context})``); never install it
    globally.
    """
    return {"contextUrl": None, "documentUrl": url, "document": bundled_context(url)}


__all__ = [
    "ACTIVITY_JSON",
    "ACTOR_TYPES",
    "AS_CONTEXT",
    "EXTENSION_CONTEXT",
    "LD_JSON",
    "PUBLIC",
    "SECURITY_CONTEXT",
    "Activity",
    "Actor",
    "as_list",
    "bundled_context",
    "context_for",
    "first_iri",
    "host_of",
    "is_activitypub_content_type",
    "load_context",
    "parse_json",
    "same_host",
]
