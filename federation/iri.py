"""IRI helpers shared by signatures and vocab (kept apart so neither imports the other)."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Any Unicode whitespace (the same characters as str.isspace), found in C rather than a loop.
_SPACE = re.compile(r"\s")


def is_http_iri(value: object) -> bool:
    """True for an absolute ``http``/``https`` IRI with a host and no user-info or fragment-only."""
    if not isinstance(value, str) or len(value) > 2048:
        return False
    return _is_http_iri(value)


@lru_cache(maxsize=8192)
def _is_http_iri(value: str) -> bool:
    # Cached: the same actor, key and inbox IRIs are checked many times per inbox POST.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    return "@" not in parts.netloc and _SPACE.search(value) is None


@lru_cache(maxsize=8192)
def host_of(iri: str) -> str:
    """The authority of ``iri`` for origin comparisons: lower-cased host, plus ``:port`` when the
    port is not the scheme's default. Raises ValueError if ``iri`` is not an http(s) IRI."""
    if not is_http_iri(iri):
        raise ValueError(f"not an http(s) IRI: {iri[:200]!r}")
    parts = urlsplit(iri)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{host}:{port}"
    return host


def same_host(a: str, b: str) -> bool:
    """True when both are http(s) IRIs on the same host (and non-default port)."""
    try:
        return host_of(a) == host_of(b)
    except ValueError:
        return False
