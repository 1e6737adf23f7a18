"""HTTP signatures: our signer, our verifier, and both against bovine as an independent peer."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from federation.errors import Forbidden, NotFound, SignatureInvalid, SignatureMissing
from federation.keys import generate_rsa_keypair, load_private_key
from federation.signatures import (
    PublicKeyInfo,
    check_actor_matches_key,
    sign_request,
    sign_request_rfc9421,
    verify_request,
)

ACTOR = "https://a.example/members/alice"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://b.example/members/bob/inbox"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BODY = b'{"type":"Follow","actor":"https://a.example/members/alice"}'


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return generate_rsa_keypair()


@pytest.fixture(scope="module")
def other_keypair() -> tuple[str, str]:
    return generate_rsa_keypair()


class FakeKeyStore:
    """The outside world: a remote actor's published key, and a record of every lookup."""

    def __init__(self, pem: str, refreshed_pem: str | None = None) -> None:
        self.pem = pem
        self.refreshed_pem = refreshed_pem if refreshed_pem is not None else pem
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, key_id: str, *, refresh: bool = False) -> PublicKeyInfo:
        self.calls.append((key_id, refresh))
        pem = self.refreshed_pem if refresh else self.pem
        return PublicKeyInfo(key_id=key_id, owner=ACTOR, public_pem=pem)


def cavage(
    private_pem: str,
    fields: list[tuple[str, str]],
    *,
    algorithm: str | None = "rsa-sha256",
    key_id: str = KEY_ID,
) -> str:
    """Build a draft-cavage Signature header by hand, as a remote server would."""
    message = "\n".join(f"{n}: {v}" for n, v in fields).encode()
    key = load_private_key(private_pem)
    sig = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()  # type: ignore[call-arg,union-attr]
    names = " ".join(n for n, _ in fields)
    alg = f'algorithm="{algorithm}",' if algorithm else ""
    return f'keyId="{key_id}",{alg}headers="{names}",signature="{sig}"'


def digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def date(at: datetime = NOW) -> str:
    return format_datetime(at, usegmt=True)


# ------------------------------------------------------------------ draft-cavage


def test_round_trip_post(keypair):
    public, private = keypair
    headers = sign_request(
        "POST", INBOX, {"Content-Type": "application/activity+json"}, BODY, KEY_ID, private, NOW
    )
    assert headers["Host"] == "b.example"
    assert headers["Digest"] == digest(BODY)
    assert headers["Content-Type"] == "application/activity+json"
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    store = FakeKeyStore(public)
    result = verify_request("POST", INBOX, headers, BODY, store, now=NOW + timedelta(minutes=1))
    assert result.key_id == KEY_ID
    assert result.scheme == "draft-cavage"
    assert result.key is not None and result.key.owner == ACTOR
    assert store.calls == [(KEY_ID, False)]


def test_signed_get_with_query_and_port(keypair):
    public, private = keypair
    url = "http://127.0.0.1:8001/members?page=2&x=%20y"
    headers = sign_request("GET", url, {}, None, KEY_ID, private, NOW)
    assert headers["Host"] == "127.0.0.1:8001"
    assert "Digest" not in headers
    verify_request("GET", url, headers, b"", FakeKeyStore(public), now=NOW)
    # The query is covered: the same signature on another query is refused.
    with pytest.raises(SignatureInvalid):
        verify_request(
            "GET", url.replace("page=2", "page=3"), headers, b"", FakeKeyStore(public), now=NOW
        )


def test_mastodon_shaped_request_signed_by_bovine_verifies(keypair):
    """bovine builds the signature (an independent implementation), Mastodon's header set."""
    from bovine.crypto.http_signature import HttpSignature
    from bovine.crypto.types import CryptographicSecret

    public, private = keypair
    headers = {
        "Host": "b.example",
        "Date": date(),
        "Digest": digest(BODY),
        "Content-Type": "application/activity+json",
    }
    signature = (
        HttpSignature()
        .with_field("(request-target)", "post /members/bob/inbox")
        .with_field("host", headers["Host"])
        .with_field("date", headers["Date"])
        .with_field("digest", headers["Digest"])
        .with_field("content-type", headers["Content-Type"])
        .sign_for_http_draft(CryptographicSecret.from_pem(KEY_ID, private))
    )
    headers["Signature"] = signature
    lower = {k.lower(): v for k, v in headers.items()}  # Flask/werkzeug hand them over like this
    result = verify_request("POST", INBOX, lower, BODY, FakeKeyStore(public), now=NOW)
    assert result.key_id == KEY_ID


def test_our_signature_verifies_with_bovine(keypair):
    from bovine.crypto.http_signature import HttpSignature
    from bovine.crypto.signature import Signature
    from bovine.crypto.types import CryptographicIdentifier

    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    parsed = Signature.from_signature_header(headers["Signature"])
    http_sig = HttpSignature()
    values = {
        "(request-target)": "post /members/bob/inbox",
        "host": headers["Host"],
        "date": headers["Date"],
        "digest": headers["Digest"],
    }
    for name in parsed.fields:
        http_sig.with_field(name, values[name])
    identity = CryptographicIdentifier.from_pem(public, ACTOR)
    assert http_sig.verify_with_identity(identity, parsed.signature) == ACTOR


def test_signature_without_query_accepted_like_mastodon(keypair):
    """Older Mastodon signed the bare path; Mastodon's verifier still accepts it."""
    public, private = keypair
    url = "https://b.example/members/bob/outbox?page=true"
    fields = [
        ("(request-target)", "get /members/bob/outbox"),
        ("host", "b.example"),
        ("date", date()),
    ]
    headers = {"Host": "b.example", "Date": date(), "Signature": cavage(private, fields)}
    verify_request("GET", url, headers, b"", FakeKeyStore(public), now=NOW)


def test_wrong_path_refused(keypair):
    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_request(
            "POST", "https://b.example/inbox", headers, BODY, FakeKeyStore(public), now=NOW
        )


@pytest.mark.parametrize(
    ("left_out", "message"),
    [
        ("host", "must cover host"),
        ("date", "must cover date"),
        ("digest", "must cover digest"),
        ("(request-target)", "must cover \\(request-target\\)"),
    ],
)
def test_required_signed_headers(keypair, left_out, message):
    public, private = keypair
    fields = [
        ("(request-target)", "post /members/bob/inbox"),
        ("host", "b.example"),
        ("date", date()),
        ("digest", digest(BODY)),
    ]
    signed = [f for f in fields if f[0] != left_out]
    headers = {"Host": "b.example", "Date": date(), "Digest": digest(BODY)}
    headers["Signature"] = cavage(private, signed)
    store = FakeKeyStore(public)
    with pytest.raises(SignatureInvalid, match=message):
        verify_request("POST", INBOX, headers, BODY, store, now=NOW)
    assert store.calls == []  # refused before any key fetch


def test_tampered_body_refused(keypair):
    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    with pytest.raises(SignatureInvalid, match="Digest sha-256 does not match"):
        verify_request("POST", INBOX, headers, BODY + b" ", FakeKeyStore(public), now=NOW)


def test_sha512_digest_checked(keypair):
    public, private = keypair
    value = "SHA-512=" + base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    fields = [
        ("(request-target)", "post /members/bob/inbox"),
        ("host", "b.example"),
        ("date", date()),
        ("digest", value),
    ]
    headers = {"Host": "b.example", "Date": date(), "Digest": value}
    headers["Signature"] = cavage(private, fields)
    verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)
    with pytest.raises(SignatureInvalid, match="sha-512 does not match"):
        verify_request("POST", INBOX, headers, b"{}", FakeKeyStore(public), now=NOW)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(hours=1), True),
        (timedelta(hours=2), False),  # stale: replay window is 1 h 05
        (timedelta(minutes=-50), True),  # a peer's clock slightly ahead
        (timedelta(hours=-2), False),  # dated 2 h in the future
    ],
)
def test_date_window(keypair, offset, ok):
    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    store = FakeKeyStore(public)
    if ok:
        verify_request("POST", INBOX, headers, BODY, store, now=NOW + offset)
    else:
        with pytest.raises(SignatureInvalid, match="date"):
            verify_request("POST", INBOX, headers, BODY, store, now=NOW + offset)
        assert store.calls == []


def test_hs2019_accepted(keypair):
    public, private = keypair
    fields = [
        ("(request-target)", "post /members/bob/inbox"),
        ("host", "b.example"),
        ("date", date()),
        ("digest", digest(BODY)),
    ]
    headers = {"Host": "b.example", "Date": date(), "Digest": digest(BODY)}
    headers["Signature"] = cavage(private, fields, algorithm="hs2019")
    assert (
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW).key_id == KEY_ID
    )
    # No algorithm at all means hs2019 (Mastodon).
    headers["Signature"] = cavage(private, fields, algorithm=None)
    verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)


def test_unknown_algorithm_refused(keypair):
    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hmac-sha256")
    with pytest.raises(SignatureInvalid, match="unsupported signature algorithm"):
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)


def test_key_id_with_comma_parses(keypair):
    public, private = keypair
    key_id = "https://a.example/keys?ids=1,2"
    headers = sign_request("GET", INBOX, {}, None, key_id, private, NOW)
    assert (
        verify_request("GET", INBOX, headers, b"", FakeKeyStore(public), now=NOW).key_id == key_id
    )


def test_unsigned_request_is_missing_signature():
    with pytest.raises(SignatureMissing):
        verify_request("POST", INBOX, {"Host": "b.example"}, BODY, FakeKeyStore("x"), now=NOW)


def test_garbage_signature_header_refused():
    with pytest.raises(SignatureInvalid):
        verify_request("POST", INBOX, {"Signature": "@@@"}, BODY, FakeKeyStore("x"), now=NOW)


# ------------------------------------------------------------------ key lookup and refresh


def test_refresh_on_failure_called_exactly_once(keypair, other_keypair):
    """The cached key is stale (the actor rotated it): refetch once, then verify."""
    public, private = keypair
    old_public, _ = other_keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    store = FakeKeyStore(old_public, refreshed_pem=public)
    result = verify_request("POST", INBOX, headers, BODY, store, now=NOW)
    assert result.key is not None and result.key.public_pem == public
    assert store.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_wrong_key_after_refresh_refused(keypair, other_keypair):
    _, private = keypair
    wrong_public, _ = other_keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    store = FakeKeyStore(wrong_public)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_request("POST", INBOX, headers, BODY, store, now=NOW)
    assert store.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_unparseable_pem_triggers_refresh(keypair):
    public, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    store = FakeKeyStore("not a pem", refreshed_pem=public)
    verify_request("POST", INBOX, headers, BODY, store, now=NOW)
    assert store.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_key_lookup_errors_propagate(keypair):
    _, private = keypair
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, private, NOW)

    def lookup(key_id: str, *, refresh: bool = False) -> PublicKeyInfo:
        raise NotFound("no such key")

    with pytest.raises(NotFound):
        verify_request("POST", INBOX, headers, BODY, lookup, now=NOW)


# ------------------------------------------------------------------ actor/key match


def test_actor_matches_key():
    key = PublicKeyInfo(key_id=KEY_ID, owner=ACTOR, public_pem="")
    check_actor_matches_key(ACTOR, key)
    with pytest.raises(Forbidden, match="not to actor"):
        check_actor_matches_key("https://a.example/members/mallory", key)
    elsewhere = PublicKeyInfo(key_id="https://evil.example/k#main-key", owner=ACTOR, public_pem="")
    with pytest.raises(Forbidden, match="not on the host"):
        check_actor_matches_key(ACTOR, elsewhere)


# ------------------------------------------------------------------ RFC 9421


def test_rfc9421_round_trip(keypair):
    public, private = keypair
    headers = sign_request_rfc9421(
        "POST", INBOX, {"Content-Type": "application/activity+json"}, BODY, KEY_ID, private, NOW
    )
    assert headers["Content-Digest"].startswith("sha-256=:")
    assert '"@method" "@target-uri" "content-digest"' in headers["Signature-Input"]
    result = verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)
    assert result.scheme == "rfc9421"
    assert result.key_id == KEY_ID


def _rfc9421_headers(private: str, components: str, created: int, extra: str = "") -> dict:
    """Build RFC 9421 headers by hand (RSA PKCS#1 v1.5) for arbitrary component lists."""
    cd = "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":"
    values = {"@method": "POST", "@target-uri": INBOX, "content-digest": cd}
    params = f'({components});created={created};keyid="{KEY_ID}"{extra}'
    lines = [f'"{c.strip(chr(34))}": {values[c.strip(chr(34))]}' for c in components.split()]
    lines.append(f'"@signature-params": {params}')
    key = load_private_key(private)
    sig = key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg,union-attr]
    return {
        "Content-Digest": cd,
        "Signature-Input": f"sig1={params}",
        "Signature": "sig1=:" + base64.b64encode(sig).decode() + ":",
    }


def test_rfc9421_hand_built_without_alg_verifies(keypair):
    public, private = keypair
    created = int(NOW.timestamp())
    headers = _rfc9421_headers(private, '"@method" "@target-uri" "content-digest"', created)
    assert (
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW).scheme
        == "rfc9421"
    )


def test_rfc9421_missing_target_uri_refused(keypair):
    public, private = keypair
    headers = _rfc9421_headers(private, '"@method" "content-digest"', int(NOW.timestamp()))
    with pytest.raises(SignatureInvalid, match="@target-uri"):
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)


def test_rfc9421_missing_content_digest_refused(keypair):
    public, private = keypair
    headers = _rfc9421_headers(private, '"@method" "@target-uri"', int(NOW.timestamp()))
    with pytest.raises(SignatureInvalid, match="content-digest"):
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)


def test_rfc9421_stale_created_refused(keypair):
    public, private = keypair
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    with pytest.raises(SignatureInvalid, match="outside the window"):
        verify_request(
            "POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW + timedelta(days=30)
        )


def test_rfc9421_missing_created_refused(keypair):
    public, private = keypair
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    created = f";created={int(NOW.timestamp())}"
    headers["Signature-Input"] = headers["Signature-Input"].replace(created, "")
    with pytest.raises(SignatureInvalid, match="lacks created"):
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW)


def test_rfc9421_expires_honoured(keypair):
    public, private = keypair
    created = int(NOW.timestamp())
    headers = _rfc9421_headers(
        private, '"@method" "@target-uri" "content-digest"', created, f";expires={created + 60}"
    )
    verify_request(
        "POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW + timedelta(minutes=2)
    )
    with pytest.raises(SignatureInvalid, match="expired"):
        verify_request(
            "POST", INBOX, headers, BODY, FakeKeyStore(public), now=NOW + timedelta(minutes=30)
        )


def test_rfc9421_tampered_body_refused(keypair):
    public, private = keypair
    headers = sign_request_rfc9421("POST", INBOX, {}, BODY, KEY_ID, private, NOW)
    with pytest.raises(SignatureInvalid, match="Content-Digest sha-256 does not match"):
        verify_request("POST", INBOX, headers, b"{}", FakeKeyStore(public), now=NOW)


def test_rfc9421_signature_base_matches_rfc_test_vector():
    """RFC 9421 appendix B.2.6 (Ed25519): our signature base reproduces the RFC's signature."""
    from federation.signatures import _parse_sf_dict, _signature_base, _verify_raw

    public = serialization.load_pem_public_key(
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
        b"-----END PUBLIC KEY-----\n"
    )
    signature_input = (
        'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
        ';created=1618884473;keyid="test-key-ed25519"'
    )
    signature = (
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
    )
    headers = {
        "host": "example.com",
        "date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "content-type": "application/json",
        "content-length": "18",
    }
    inner = _parse_sf_dict(signature_input, "Signature-Input")["sig-b26"]
    base = _signature_base(
        "sig-b26", inner, "POST", "https://example.com/foo?param=Value&Pet=dog", headers
    )
    assert _verify_raw(public, "ed25519", base, base64.b64decode(signature))  # type: ignore[arg-type]


# ------------------------------------------------------------------ import cost


def test_import_does_not_load_aiohttp():
    code = "import sys, federation.signatures, federation.vocab; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_small_rsa_key_refused():
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak_private = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    weak_public = (
        weak.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    headers = sign_request("POST", INBOX, {}, BODY, KEY_ID, weak_private, NOW)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_request("POST", INBOX, headers, BODY, FakeKeyStore(weak_public), now=NOW)
