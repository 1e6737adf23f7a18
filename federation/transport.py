"""The single outbound HTTP path of a node: one ``requests.Session`` for every fetch and POST.

Every request, and every redirect hop, goes through :meth:`Transport.check_url`:
- https only (http allowed in dev mode, where nodes run on loopback ports);
- the domain policy (blocked hosts are never contacted);
- SSRF guard: the host is resolved and *every* address must be public — loopback, private,
  link-local, multicast, reserved and unspecified addresses are refused unless in dev mode or
  ``allow_private_peers`` (a node federating on a private network, or the TLS test harness:
  still https only, still the domain policy).

TLS certificates are verified against the system's CAs (and certifi's), plus ``ca_bundle`` when
given (a PEM file: a private CA). The environment (``REQUESTS_CA_BUNDLE``, ``*_PROXY``) is
ignored on purpose: see ``trust_env`` below.

requests resolves the name again when it connects, so a DNS answer that changes between our
check and the connect (rebinding) would slip through the name check. Outside dev mode the
session's connections therefore also check the address they actually connected to
(:class:`_Adapter` with ``guard``) and drop the socket before a byte is sent if it is not
public. TLS (SNI, certificate) still checks the name, so nothing else changes.

Responses are read streamed and cut at ``max_bytes`` (413) and at a total deadline, because the
read timeout of requests is per socket read, not per response (a slow drip would never end).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from federation import signatures, vocab
from federation.errors import (
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    RemoteRefused,
    TransportError,
    UnsupportedMediaType,
)
from federation.iri import host_of
from federation.policy import HostPolicy

MAX_BYTES = 1_048_576
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Mastodon asks for exactly this on fetches; some servers only answer AS2 to the ld+json form.
AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

Resolver = Callable[..., list[tuple[Any, ...]]]
Signer = tuple[str, str]  # (key_id, private_pem)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_unspecified
    )


class NonPublicPeer(Exception):
    """The socket connected to a non-public address (DNS rebinding). Deliberately not an
    urllib3/requests error, so that no retry or wrapping hides it."""


def _check_peer(sock: socket.socket, host: str) -> None:
    peer = str(sock.getpeername()[0]).split("%", 1)[0]
    if not _is_public(ipaddress.ip_address(peer)):
        sock.close()
        raise NonPublicPeer(f"refusing to talk to non-public address {peer} of {host}")


class _GuardedHTTPConnection(HTTPConnection):
    """Every new socket has its peer checked (also mixed into the TLS class below)."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


@lru_cache(maxsize=8)
def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificate verification against the system's CAs and certifi's, plus ``ca_bundle``.
    Cached (loading the CA files costs ~20 ms; a context is safe to share between threads)."""
    import certifi

    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


# Kept-alive connections per host: as many as the delivery worker POSTs at once
# (federation.delivery, 32), so a fan-out to one busy host reuses its TLS connections instead of
# discarding them ("Connection pool is full", seen in bench/soak.py) and handshaking again.
POOL_PER_HOST = 32
POOL_HOSTS = 64  # hosts whose pools stay open between batches


class _Adapter(HTTPAdapter):
    """Our one TLS context on every connection; with ``guard``, connections also refuse
    non-public peers after connect (see module doc). requests uses a pool manager's own
    ``ssl_context`` instead of its default one when it has one."""

    def __init__(self, *, guard: bool, ssl_context: ssl.SSLContext) -> None:
        self._guard = guard
        self._ssl_context = ssl_context
        super().__init__(pool_connections=POOL_HOSTS, pool_maxsize=POOL_PER_HOST)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)
        if self._guard:
            self.poolmanager.pool_classes_by_scheme = {
                "http": _GuardedHTTPPool,
                "https": _GuardedHTTPSPool,
            }


class Transport:
    """Outbound HTTP with timeouts, size cap, signing, domain policy and SSRF guard.

    ``resolver`` has the signature of :func:`socket.getaddrinfo`; tests inject a stub so that
    reserved names (``*.test``) resolve to public or loopback addresses as the case needs. It
    is used for the SSRF check (default: :func:`socket.getaddrinfo` looked up at call time,
    which is also what urllib3 connects with).
    ``allow_private_peers`` turns the SSRF guard off (https stays required outside dev mode);
    ``ca_bundle`` is a PEM file of extra CAs to trust. Safe to share between threads (requests'
    connection pool is).
    """

    def __init__(
        self,
        user_agent: str,
        dev_mode: bool = False,
        timeout: tuple[float, float] = (5, 10),
        max_bytes: int = MAX_BYTES,
        policy: HostPolicy | None = None,
        resolver: Resolver | None = None,
        *,
        allow_private_peers: bool = False,
        ca_bundle: str | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.dev_mode = dev_mode
        self.allow_private_peers = allow_private_peers
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.policy = policy
        self.resolver = resolver
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        # No HTTP(S)_PROXY from the environment: a proxy would do its own DNS, out of the SSRF
        # guard's sight. Outbound federation traffic goes direct.
        self.session.trust_env = False
        guard = not (dev_mode or allow_private_peers)
        context = tls_context(ca_bundle)
        self.session.mount("https://", _Adapter(guard=guard, ssl_context=context))
        self.session.mount("http://", _Adapter(guard=guard, ssl_context=context))
        # Whole-response deadline: connect + a few read timeouts.
        self.deadline = timeout[0] + 3 * timeout[1]

    # -- guards -------------------------------------------------------------------------------

    def check_url(self, url: str) -> None:
        """Raise :class:`Forbidden` unless we may send a request to ``url``."""
        parts = urlsplit(url)
        allowed = ("https", "http") if self.dev_mode else ("https",)
        if parts.scheme not in allowed or not parts.hostname:
            raise Forbidden(f"refusing non-https URL {url[:200]!r}")
        if self.policy is not None and self.policy.is_blocked_host(host_of(url)):
            raise Forbidden(f"host {parts.hostname} is blocked by domain policy")
        if self.dev_mode or self.allow_private_peers:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            # Looked up at call time when not injected: the same resolver urllib3 connects with.
            resolve = self.resolver or socket.getaddrinfo
            infos = resolve(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TransportError(f"cannot resolve {parts.hostname}: {exc}") from exc
        if not infos:
            raise TransportError(f"cannot resolve {parts.hostname}")
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            if not _is_public(ipaddress.ip_address(address)):
                raise Forbidden(f"refusing to connect to non-public address of {parts.hostname}")

    # -- requests -----------------------------------------------------------------------------

    def _read(self, response: requests.Response, started: float) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise PayloadTooLarge(f"remote document larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise PayloadTooLarge(f"remote document larger than {self.max_bytes} bytes")
            if time.monotonic() - started > self.deadline:
                raise TransportError("remote document took too long")
            chunks.append(chunk)
        return b"".join(chunks)

    def get(self, url: str, *, accept: str, signer: Signer | None = None) -> tuple[str, str, bytes]:
        """GET ``url`` following at most 3 redirects, each hop checked and (re)signed.

        Returns ``(final_url, content_type, body)``. Raises Gone (410), NotFound (404),
        RemoteRefused (other non-2xx), PayloadTooLarge, TransportError, Forbidden.
        """
        started = time.monotonic()
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            self.check_url(current)
            headers = {"Accept": accept}
            if signer is not None:
                headers = signatures.sign_request("GET", current, headers, None, *signer)
            try:
                response = self.session.get(
                    current,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except NonPublicPeer as exc:
                raise Forbidden(str(exc)) from exc
            except requests.RequestException as exc:
                raise TransportError(f"GET {current[:200]} failed: {exc}") from exc
            with response:
                if response.status_code in REDIRECT_STATUSES and "Location" in response.headers:
                    current = urljoin(current, response.headers["Location"])
                    continue
                if response.status_code == 410:
                    raise Gone(f"{current[:200]} is gone")
                if response.status_code == 404:
                    raise NotFound(f"{current[:200]} not found")
                if not 200 <= response.status_code < 300:
                    raise RemoteRefused(
                        f"GET {current[:200]} answered {response.status_code}",
                        remote_status=response.status_code,
                    )
                body = self._read(response, started)
                return current, response.headers.get("Content-Type", ""), body
        raise TransportError(f"more than {MAX_REDIRECTS} redirects from {url[:200]}")

    def get_json(self, url: str, signer: Signer | None = None) -> tuple[str, dict[str, Any]]:
        """Fetch an ActivityPub document: ``(final_url, parsed JSON object)``.

        The response must carry an ActivityPub content type (origin-confusion defence,
        Mastodon CVE-2024-23832); the caller compares the document ``id`` with ``final_url``.
        """
        final_url, content_type, body = self.get(url, accept=AP_ACCEPT, signer=signer)
        if not vocab.is_activitypub_content_type(content_type):
            raise UnsupportedMediaType(f"{final_url[:200]} is {content_type[:80]!r}, not AP JSON")
        return final_url, vocab.parse_json(body, max_bytes=self.max_bytes)

    def post(
        self, url: str, body: bytes, key_id: str, private_pem: str
    ) -> tuple[int, Mapping[str, str]]:
        """POST a signed activity. Returns ``(status, response headers)`` whatever the status.

        Redirects are not followed (a redirected POST would be re-sent unsigned or to a host we
        did not check). Raises TransportError on network failure, Forbidden if not allowed.
        """
        self.check_url(url)
        headers = signatures.sign_request(
            "POST", url, {"Content-Type": vocab.ACTIVITY_JSON}, body, key_id, private_pem
        )
        try:
            response = self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except NonPublicPeer as exc:
            raise Forbidden(str(exc)) from exc
        except requests.RequestException as exc:
            raise TransportError(f"POST {url[:200]} failed: {exc}") from exc
        with response:
            # Read (and drop) the start of the answer so a short body leaves the connection
            # reusable for the next POST to the same host.
            next(response.iter_content(65536), b"")
            return response.status_code, dict(response.headers)

    def close(self) -> None:
        self.session.close()
