"""HTTP signatures, sans-I/O: sign outgoing requests, verify incoming ones with Mastodon's rules.

Two schemes arrive in the fediverse:

* draft-cavage-http-signatures (``Signature: keyId=…,algorithm=…,headers=…,signature=…``), which
  every server speaks. We sign with it (rsa-sha256 over ``(request-target) host date [digest]``).
* RFC 9421 HTTP Message Signatures (``Signature-Input`` + ``Signature``), which Fedify sends first
  and Mastodon ≥ 4.5 accepts. We verify it, and can sign with it for tests and interop.

The verifier follows Mastodon's ``app/lib/signed_request.rb`` where it forces a choice, and is
stricter where bovine was found lax (research/bovine.md): ``host`` must be signed, the
``(request-target)`` is tried with and without the query string, the clock window is ~1 h, the
body digest is checked, and an RFC 9421 ``created`` is required and bounded.

Nothing here does I/O. The only outside call is ``key_lookup``, which the caller supplies; it is
not called at all for requests that fail the structural and clock checks, so junk requests cost
no fetch. The draft-cavage message is built as bovine's ``HttpSignature.build_message`` builds it;
we do not import bovine here because any bovine import loads aiohttp and pyld (~0.7 s), and the
tests cross-check both directions against bovine instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.errors import Forbidden, SignatureInvalid, SignatureMissing
from federation.iri import host_of, same_host
from federation.keys import PublicKey, load_private_key, load_public_key

# Mastodon: a signature is valid for 5 min after its date plus 1 h of clock skew, so 1 h 05.
DEFAULT_WINDOW = timedelta(hours=1, minutes=5)
# Mastodon CLOCK_SKEW_MARGIN: a date up to 1 h in the future is accepted.
MAX_FUTURE = timedelta(hours=1)
# An explicit ``expires`` is honoured with a small allowance for clock drift only.
EXPIRES_SKEW = timedelta(minutes=5)
# Nothing legitimate comes near this; it bounds the parsing work on hostile headers.
MAX_SIGNATURE_HEADER = 8192

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda b: hashlib.sha256(b).digest(),
    "sha-512": lambda b: hashlib.sha512(b).digest(),
}
_RFC9421_ALGS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"})

Scheme = Literal["draft-cavage", "rfc9421"]


@dataclass(frozen=True)
class PublicKeyInfo:
    """A public key as published by an actor (``publicKey {id, owner, publicKeyPem}``)."""

    key_id: str
    owner: str
    public_pem: str


@dataclass(frozen=True)
class VerifiedSignature:
    """What a successful verification proves: the request was signed with ``key_id``.

    ``key`` is the key that verified (after a refresh if one was needed); its ``owner`` is what
    :func:`check_actor_matches_key` compares with the activity's actor.
    """

    key_id: str
    scheme: Scheme
    key: PublicKeyInfo | None = None


class KeyLookup(Protocol):
    """Returns the public key for ``key_id``; with ``refresh=True`` it must bypass any cache.

    May raise (e.g. ``NotFound``, ``Gone``, ``TransportError``); the error propagates.
    """

    def __call__(self, key_id: str, *, refresh: bool = False) -> PublicKeyInfo: ...


# --------------------------------------------------------------------------- helpers


def _lower_headers(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """Lower-case names; repeated headers (multi-dicts) are joined with ", " as HTTP allows."""
    out: dict[str, str] = {}
    items: Iterable[tuple[str, str]] = headers.items()
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


def _host_header(url: str) -> str:
    """The Host header an HTTP client sends for ``url`` (default port omitted)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    default = {"https": ":443", "http": ":80"}.get(parts.scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return netloc


def _request_target(method: str, url: str, *, with_query: bool) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if with_query and parts.query:
        path = f"{path}?{parts.query}"
    return f"{method.lower()} {path}"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("naive datetime given as now")
    return now


def _needs_digest(method: str, body: bytes) -> bool:
    return method.upper() in _BODY_METHODS or bool(body)


def _check_times(
    created: datetime, expires: datetime | None, now: datetime, window: timedelta
) -> None:
    if created > now + MAX_FUTURE:
        raise SignatureInvalid(f"signature date {created.isoformat()} is in the future")
    if now - created > window:
        raise SignatureInvalid(f"signature date {created.isoformat()} is outside the window")
    if expires is not None and now > expires + EXPIRES_SKEW:
        raise SignatureInvalid(f"signature expired at {expires.isoformat()}")


def _from_timestamp(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SignatureInvalid(f"{what} is not a timestamp")
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise SignatureInvalid(f"{what} is not a timestamp") from exc


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid(f"{what} is not valid base64") from exc


def _check_digest_header(value: str | None, body: bytes) -> None:
    """``Digest: SHA-256=b64[, SHA-512=b64]`` (RFC 3230): every supported value must match."""
    if value is None:
        raise SignatureInvalid("Digest header is signed but missing")
    offered: list[tuple[str, str]] = []
    for part in value.split(","):
        alg, _, b64 = part.strip().partition("=")
        if alg.lower() in _DIGESTS:
            offered.append((alg.lower(), b64))
    if not offered:
        raise SignatureInvalid("Digest header has no SHA-256 or SHA-512 value")
    for alg, b64 in offered:
        if _b64decode(b64, "Digest") != _DIGESTS[alg](body):
            raise SignatureInvalid(f"Digest {alg} does not match the body")


def _check_content_digest(value: str | None, body: bytes) -> None:
    """``Content-Digest: sha-256=:b64:`` (RFC 9530): every supported value must match."""
    if value is None:
        raise SignatureInvalid("Content-Digest is signed but missing")
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dict")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError) as exc:
        raise SignatureInvalid("Content-Digest is not a structured dictionary") from exc
    assert isinstance(parsed, dict)
    checked = 0
    for alg, member in parsed.items():
        if alg not in _DIGESTS:
            continue
        digest = member[0] if isinstance(member, tuple) else None
        if not isinstance(digest, bytes) or digest != _DIGESTS[alg](body):
            raise SignatureInvalid(f"Content-Digest {alg} does not match the body")
        checked += 1
    if not checked:
        raise SignatureInvalid("Content-Digest has no sha-256 or sha-512 value")


def _verify_raw(public: PublicKey, alg: str, message: bytes, signature: bytes) -> bool:
    """One cryptographic check. ``alg`` names the RFC 9421 algorithm (cavage maps onto it)."""
    try:
        if alg == "rsa-v1_5-sha256" and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "rsa-pss-sha512" and isinstance(public, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
            public.verify(signature, message, pss, hashes.SHA512())
            return True
        if alg == "ed25519" and isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, message)
            return True
    except InvalidSignature:
        return False
    return False


# Parsed public keys by PEM: an inbox sees the same few senders over and over, and parsing one
# costs about half an RSA-2048 verification. Keyed by the PEM text, so a rotated key is a new
# entry; bounded, so hostile senders cannot grow it. Invalid PEMs raise and are not cached.
_parsed_public_key = lru_cache(maxsize=1024)(load_public_key)


def _verify_with_lookup(
    key_id: str, check: Callable[[PublicKey], bool], key_lookup: KeyLookup
) -> PublicKeyInfo:
    """Look the key up; if it does not verify, refetch it once (the actor may have rotated it)."""
    for refresh in (False, True):
        key = key_lookup(key_id, refresh=True) if refresh else key_lookup(key_id)
        try:
            public = _parsed_public_key(key.public_pem)
        except (ValueError, TypeError):
            continue
        if check(public):
            return key
    raise SignatureInvalid(f"signature does not verify with key {key_id}")


# --------------------------------------------------------------------------- draft-cavage

_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^",\s]*))\s*(?:,|$)')


def _parse_cavage(header: str) -> dict[str, str]:
    """Parse ``keyId="…",algorithm="…",headers="…",signature="…"`` (values may contain commas)."""
    params: dict[str, str] = {}
    pos = 0
    header = header.strip()
    while pos < len(header):
        match = _CAVAGE_PARAM.match(header, pos)
        if match is None or match.end() == pos:
            raise SignatureInvalid("Signature header cannot be parsed")
        name = match.group(1)
        if name in params:
            raise SignatureInvalid(f"Signature header repeats {name}")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    return params


_KEYID = re.compile(r'keyid\s*=\s*"([^"]*)"', re.IGNORECASE)


def claimed_key_id(headers: Mapping[str, str]) -> str | None:
    """The key id a request *claims* (``Signature``/``Signature-Input``), unverified."""
    h = _lower_headers(headers)
    found = _KEYID.search(h.get("signature-input", "")) or _KEYID.search(h.get("signature", ""))
    return found.group(1) if found else None


def sign_request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    key_id: str,
    private_pem: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign a request the way Mastodon does and return the headers to send.

    The result is ``headers`` (Content-Type and the rest kept) plus ``Host``, ``Date``,
    ``Digest`` (when ``body`` is not None) and ``Signature``: draft-cavage, rsa-sha256, over
    ``(request-target) host date`` and ``digest`` when there is a body. ``(request-target)``
    includes the query string. Only RSA keys: bovine labels Ed25519 cavage signatures
    ``rsa-sha256`` and nobody else verifies them.
    """
    key = load_private_key(private_pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("HTTP signatures are made with RSA keys only")
    replaced = {"host", "date", "digest", "signature"}
    out = {k: v for k, v in headers.items() if k.lower() not in replaced}
    fields = [
        ("(request-target)", _request_target(method, url, with_query=True)),
        ("host", _host_header(url)),
        ("date", format_datetime(_now(now).astimezone(UTC), usegmt=True)),
    ]
    if body is not None:
        fields.append(
            ("digest", "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode())
        )
    message = "\n".join(f"{name}: {value}" for name, value in fields).encode()
    signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    names = " ".join(name for name, _ in fields)
    out["Host"] = fields[1][1]
    out["Date"] = fields[2][1]
    if body is not None:
        out["Digest"] = fields[3][1]
    out["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{names}",signature="{signature}"'
    )
    return out


# size: one sequential list of Mastodon's checks, each a line; split, it reads worse
def _verify_cavage(
    method: str,
    url: str,
    h: dict[str, str],
    body: bytes,
    key_lookup: KeyLookup,
    now: datetime,
    window: timedelta,
) -> VerifiedSignature:
    params = _parse_cavage(h["signature"])
    key_id = params.get("keyId", "")
    if not key_id or not params.get("signature"):
        raise SignatureInvalid("Signature header lacks keyId or signature")
    # Mastodon: a missing algorithm means hs2019, whose default header list is "(created)".
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ("rsa-sha256", "hs2019"):
        raise SignatureInvalid(f"unsupported signature algorithm {algorithm!r}")
    default_headers = "(created)" if algorithm == "hs2019" else "date"
    signed = params.get("headers", default_headers).lower().split()
    if "(request-target)" not in signed:
        raise SignatureInvalid("the signature must cover (request-target)")
    if "host" not in signed:
        raise SignatureInvalid("the signature must cover host")
    if "date" not in signed and "(created)" not in signed:
        raise SignatureInvalid("the signature must cover date")
    if _needs_digest(method, body) and "digest" not in signed:
        raise SignatureInvalid("the signature must cover digest on a request with a body")
    if ("(created)" in signed or "(expires)" in signed) and algorithm != "hs2019":
        raise SignatureInvalid("(created)/(expires) are only valid with hs2019")

    if "(created)" in signed:
        created = _from_timestamp(params.get("created"), "created")
    else:
        try:
            created = parsedate_to_datetime(h.get("date", ""))
        except (TypeError, ValueError) as exc:
            raise SignatureInvalid("Date header missing or invalid") from exc
        if created.tzinfo is None:
            raise SignatureInvalid("Date header has no time zone")
    expires = _from_timestamp(params["expires"], "expires") if "expires" in params else None
    _check_times(created, expires, now, window)
    if "digest" in signed:
        _check_digest_header(h.get("digest"), body)

    targets = [_request_target(method, url, with_query=True)]
    if urlsplit(url).query:
        # Mastodon's verifier retries without the query: older Mastodon signed the bare path.
        targets.append(_request_target(method, url, with_query=False))
    messages: list[bytes] = []
    for target in targets:
        lines = []
        for name in signed:
            if name == "(request-target)":
                value = target
            elif name in ("(created)", "(expires)"):
                value = params.get(name[1:-1], "")
                if not value:
                    raise SignatureInvalid(f"{name} is signed but its parameter is missing")
            elif name in h:
                value = h[name]
            else:
                raise SignatureInvalid(f"signed header {name!r} is missing from the request")
            lines.append(f"{name}: {value}")
        messages.append("\n".join(lines).encode())
    signature = _b64decode(params["signature"], "signature")

    def check(public: PublicKey) -> bool:
        # hs2019 leaves the algorithm to the key: RSA means PKCS#1 v1.5 + SHA-256 (Mastodon).
        alg = "ed25519" if isinstance(public, ed25519.Ed25519PublicKey) else "rsa-v1_5-sha256"
        if alg == "ed25519" and algorithm != "hs2019":
            return False
        return any(_verify_raw(public, alg, m, signature) for m in messages)

    key = _verify_with_lookup(key_id, check, key_lookup)
    return VerifiedSignature(key_id=key_id, scheme="draft-cavage", key=key)


# --------------------------------------------------------------------------- RFC 9421


def _component_value(name: str, method: str, url: str, h: dict[str, str]) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    match name:
        case "@method":
            return method.upper()
        case "@target-uri":
            return url
        case "@authority":
            return host_of(url)
        case "@scheme":
            return parts.scheme.lower()
        case "@path":
            return path
        case "@query":
            return f"?{parts.query}"
        case "@request-target":
            return f"{path}?{parts.query}" if parts.query else path
    if name.startswith("@"):
        raise SignatureInvalid(f"unsupported derived component {name!r}")
    if name not in h:
        raise SignatureInvalid(f"signed header {name!r} is missing from the request")
    return h[name].strip()


def _signature_base(
    label: str, inner: tuple[Any, Any], method: str, url: str, h: dict[str, str]
) -> bytes:
    lines = [f'"{name}": {_component_value(name, method, url, h)}' for name, _ in inner[0]]
    params = http_sf.ser({label: inner}).split("=", 1)[1]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    key_id: str,
    private_pem: str,
    now: datetime | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """Sign with RFC 9421 as Fedify does; returns ``headers`` plus ``Content-Digest`` (with a
    body), ``Signature-Input`` and ``Signature``.

    Components ``@method @target-uri`` and ``content-digest`` with a body; parameters
    ``created``, ``keyid`` and ``alg`` (``rsa-v1_5-sha256``, or ``ed25519`` for Ed25519 keys).
    """
    key = load_private_key(private_pem)
    replaced = {"signature", "signature-input", "content-digest"}
    out = {k: v for k, v in headers.items() if k.lower() not in replaced}
    components = ["@method", "@target-uri"]
    if body is not None:
        out["Content-Digest"] = http_sf.ser({"sha-256": (hashlib.sha256(body).digest(), {})})
        components.append("content-digest")
    alg = "ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "rsa-v1_5-sha256"
    params: dict[str, Any] = {"created": int(_now(now).timestamp()), "keyid": key_id, "alg": alg}
    inner: tuple[Any, Any] = ([(c, {}) for c in components], params)
    base = _signature_base(label, inner, method, url, _lower_headers(out))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(base)
    else:
        signature = key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    out["Signature-Input"] = http_sf.ser({label: inner})
    out["Signature"] = http_sf.ser({label: (signature, {})})
    return out


def _parse_sf_dict(value: str, what: str) -> dict[str, Any]:
    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dict")
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError) as exc:
        raise SignatureInvalid(f"{what} is not a structured dictionary") from exc
    if not isinstance(parsed, dict):
        raise SignatureInvalid(f"{what} is not a structured dictionary")
    return parsed


# size: one sequential list of RFC 9421 checks (Mastodon 4.5 rules), each a line
def _verify_rfc9421(
    method: str,
    url: str,
    h: dict[str, str],
    body: bytes,
    key_lookup: KeyLookup,
    now: datetime,
    window: timedelta,
) -> VerifiedSignature:
    if "signature" not in h:
        raise SignatureInvalid("Signature-Input without Signature")
    inputs = _parse_sf_dict(h["signature-input"], "Signature-Input")
    signatures = _parse_sf_dict(h["signature"], "Signature")
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise SignatureInvalid("no Signature matches a Signature-Input label")
    inner = inputs[label]
    if not (isinstance(inner, tuple) and isinstance(inner[0], list)):
        raise SignatureInvalid("Signature-Input member is not an inner list")
    names: list[str] = []
    for item in inner[0]:
        name, item_params = item
        if not isinstance(name, str) or name != name.lower():
            raise SignatureInvalid("covered components must be lower-case strings")
        if item_params:
            raise SignatureInvalid(f"component parameters on {name!r} are not supported")
        if name in names:
            raise SignatureInvalid(f"component {name!r} is covered twice")
        names.append(name)
    params = inner[1]
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureInvalid("Signature-Input lacks keyid")
    if "created" not in params:
        raise SignatureInvalid("Signature-Input lacks created")
    alg = params.get("alg")
    if alg is not None and alg not in _RFC9421_ALGS:
        raise SignatureInvalid(f"unsupported signature algorithm {alg!r}")
    if "@method" not in names or "@target-uri" not in names:
        raise SignatureInvalid("the signature must cover @method and @target-uri")
    if _needs_digest(method, body) and "content-digest" not in names:
        raise SignatureInvalid("the signature must cover content-digest on a request with a body")
    created = _from_timestamp(params["created"], "created")
    expires = _from_timestamp(params["expires"], "expires") if "expires" in params else None
    _check_times(created, expires, now, window)
    if "content-digest" in names:
        _check_content_digest(h.get("content-digest"), body)
    signature = signatures[label][0] if isinstance(signatures[label], tuple) else None
    if not isinstance(signature, bytes):
        raise SignatureInvalid("Signature member is not a byte sequence")
    base = _signature_base(label, inner, method, url, h)

    def check(public: PublicKey) -> bool:
        if alg is not None:
            return _verify_raw(public, alg, base, signature)
        # No alg parameter: the key decides (RFC 9421 §3.3.7); for RSA try both paddings.
        candidates = ["ed25519", "rsa-v1_5-sha256", "rsa-pss-sha512"]
        return any(_verify_raw(public, a, base, signature) for a in candidates)

    key = _verify_with_lookup(key_id, check, key_lookup)
    return VerifiedSignature(key_id=key_id, scheme="rfc9421", key=key)


# --------------------------------------------------------------------------- entry points


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | Any,
    body: bytes,
    key_lookup: KeyLookup,
    now: datetime | None = None,
    window: timedelta = DEFAULT_WINDOW,
) -> VerifiedSignature:
    """Verify an incoming request's HTTP signature.

    ``url`` is the full URL the client requested (scheme and host as the client saw them: behind
    a TLS-terminating proxy, rebuild it from the forwarded scheme and the original Host).
    RFC 9421 is used when ``Signature-Input`` is present (as Mastodon does), else draft-cavage.

    Raises :class:`SignatureMissing` when there is no signature, :class:`SignatureInvalid` with a
    precise message for anything else wrong; errors raised by ``key_lookup`` propagate. On
    success the key that verified is in the result; the caller must still check that its owner
    is the activity's actor (:func:`check_actor_matches_key`).
    """
    h = _lower_headers(headers)
    body = body or b""
    current = _now(now)
    for name in ("signature", "signature-input"):
        if len(h.get(name, "")) > MAX_SIGNATURE_HEADER:
            raise SignatureInvalid(f"{name} header is too long")
    if "signature-input" in h:
        return _verify_rfc9421(method, url, h, body, key_lookup, current, window)
    if "signature" in h:
        return _verify_cavage(method, url, h, body, key_lookup, current, window)
    raise SignatureMissing("the request is not signed")


def check_actor_matches_key(activity_actor: str, key: PublicKeyInfo) -> None:
    """Refuse an activity whose actor is not the owner of the key that signed it.

    The owner must equal the actor and the key id must be on the actor's host (GoToSocial's "key
    mismatch"; bovine only logs it). Raises :class:`Forbidden`. Note that activities forwarded
    by a third server (Mastodon relays replies with LD signatures) are refused by this rule.
    """
    if key.owner != activity_actor:
        raise Forbidden(f"key {key.key_id} belongs to {key.owner}, not to actor {activity_actor}")
    if not same_host(key.key_id, activity_actor):
        raise Forbidden(f"key {key.key_id} is not on the host of actor {activity_actor}")


__all__ = [
    "DEFAULT_WINDOW",
    "KeyLookup",
    "PublicKeyInfo",
    "VerifiedSignature",
    "check_actor_matches_key",
    "sign_request",
    "sign_request_rfc9421",
    "verify_request",
]
