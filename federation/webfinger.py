"""WebFinger (RFC 7033): the JRD we serve for our actors and the client lookup of handles.

Mastodon needs ``subject`` and a ``rel=self`` link typed ``application/activity+json``, then checks
that ``preferredUsername@<actor host>`` round-trips to the same actor
(https://docs.joinmastodon.org/spec/webfinger/). Fedify looks ``acct:`` handles up over https only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from federation import vocab
from federation.errors import BadRequest, NotFound
from federation.iri import is_http_iri

if TYPE_CHECKING:
    from federation.transport import Transport

JRD_JSON = "application/jrd+json"
PROFILE_PAGE = "http://webfinger.net/rel/profile-page"


@dataclass(frozen=True)
class LocalAccount:
    """What the domain tells us about one of its actors."""

    username: str
    actor_iri: str
    profile_url: str


@dataclass(frozen=True)
class Resource:
    """A parsed WebFinger ``resource``: either ``acct`` (user + host) or an ``url``."""

    kind: str  # "acct" | "url"
    user: str = ""
    host: str = ""
    url: str = ""


def parse_handle(handle: str) -> tuple[str, str]:
    """``"@user@host"``, ``"user@host"`` or ``"acct:user@host"`` -> ``(user, lower-cased host)``."""
    value = handle.strip()
    if value.lower().startswith("acct:"):
        value = value[5:]
    value = value.removeprefix("@")
    user, sep, host = value.rpartition("@")
    if not sep or not user or not host or "@" in user or "/" in host or " " in value:
        raise BadRequest(f"not a handle: {handle[:100]!r}")
    return user, host.lower()


def parse_resource(resource: str) -> Resource:
    """Parse ``acct:user@host`` (also bare ``user@host``) or an http(s) actor/profile URL."""
    if is_http_iri(resource):
        return Resource(kind="url", url=resource)
    user, host = parse_handle(resource)
    return Resource(kind="acct", user=user, host=host)


def build_webfinger(
    resource: str,
    resolve_local: Callable[[str], LocalAccount | None],
    *,
    domain: str,
    resolve_url: Callable[[str], LocalAccount | None] | None = None,
) -> dict[str, Any]:
    """The JRD for ``resource`` on our ``domain`` (host[:port], compared case-insensitively).

    ``resolve_local(username)`` and ``resolve_url(url)`` return the local account or None.
    Raises BadRequest (malformed resource) or NotFound (not one of ours).
    """
    parsed = parse_resource(resource)
    account: LocalAccount | None
    if parsed.kind == "acct":
        if parsed.host != domain.lower():
            raise NotFound("resource is not on this server")
        account = resolve_local(parsed.user)
    else:
        if (urlsplit(parsed.url).netloc or "").lower() != domain.lower() or resolve_url is None:
            raise NotFound("resource is not on this server")
        account = resolve_url(parsed.url)
    if account is None:
        raise NotFound("no such account")
    return {
        "subject": f"acct:{account.username}@{domain.lower()}",
        "aliases": [account.actor_iri, account.profile_url],
        "links": [
            {"rel": "self", "type": vocab.ACTIVITY_JSON, "href": account.actor_iri},
            {"rel": PROFILE_PAGE, "type": "text/html", "href": account.profile_url},
        ],
    }


def webfinger_url(handle: str, *, dev_mode: bool = False) -> str:
    user, host = parse_handle(handle)
    scheme = "http" if dev_mode else "https"
    resource = quote(f"acct:{user}@{host}", safe="@:")
    return f"{scheme}://{host}/.well-known/webfinger?resource={resource}"


def webfinger_lookup(transport: Transport, handle: str) -> str:
    """Resolve ``user@host`` to its actor IRI via the host's WebFinger.

    Over https; plain http only when the transport is in dev mode (loopback test nodes).
    Raises NotFound when the JRD has no ActivityPub ``self`` link.
    """
    return _self_link(transport, webfinger_url(handle, dev_mode=transport.dev_mode), handle)


def webfinger_lookup_url(transport: Transport, url: str) -> str:
    """Resolve a profile page URL (``https://host/@user``) to its actor IRI through the
    WebFinger of the URL's host, asked with the URL as ``resource`` (Mastodon and coopfed
    answer those). Same scheme rules and errors as :func:`webfinger_lookup`."""
    parts = urlsplit(url)
    if not is_http_iri(url) or not parts.netloc:
        raise BadRequest(f"not a profile URL: {url[:100]!r}")
    scheme = "http" if transport.dev_mode else "https"
    query = quote(url, safe="")
    return _self_link(
        transport, f"{scheme}://{parts.netloc}/.well-known/webfinger?resource={query}", url
    )


def _self_link(transport: Transport, url: str, asked: str) -> str:
    """The ``rel=self`` ActivityPub link of the JRD at ``url``."""
    _final, _ctype, body = transport.get(url, accept=f"{JRD_JSON}, application/json")
    jrd = vocab.parse_json(body)
    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        href = link.get("href")
        if not vocab.is_activitypub_content_type(str(link.get("type", ""))):
            continue
        if is_http_iri(href) and (transport.dev_mode or str(href).startswith("https://")):
            return str(href)
    raise NotFound(f"no ActivityPub actor for {asked[:100]!r}")
