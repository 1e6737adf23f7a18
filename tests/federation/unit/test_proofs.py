"""FEP-8b32 eddsa-jcs-2022 proofs: round trip and refusals (the published vectors are in
test_proofs_vectors.py; Fedify checks both directions in tests/interop)."""

from __future__ import annotations

import copy

import pytest

from federation.errors import SignatureInvalid
from federation.keys import generate_ed25519_keypair
from federation.proofs import MultikeyInfo, sign_document, verify_document

ACTOR = "https://a.example/members/alice"
VM = f"{ACTOR}#ed25519-key"
NOTE = {
    "@context": ["https://www.w3.org/ns/activitystreams"],
    "id": "https://a.example/calls/1",
    "type": "Page",
    "attributedTo": ACTOR,
    "name": "Translator wanted",
}


@pytest.fixture(scope="module")
def ed_keys() -> tuple[str, str]:
    return generate_ed25519_keypair()


def lookup_for(public: str):
    calls: list[str] = []

    def lookup(method: str) -> MultikeyInfo:
        calls.append(method)
        return MultikeyInfo(key_id=method, controller=ACTOR, public_multibase=public)

    return lookup, calls


def test_round_trip(ed_keys):
    public, private = ed_keys
    assert public.startswith("z6Mk")
    signed = sign_document(NOTE, private, VM)
    assert signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert signed["@context"][-1] == "https://w3id.org/security/data-integrity/v2"
    assert "proof" not in NOTE  # input untouched
    lookup, calls = lookup_for(public)
    assert verify_document(signed, lookup) == ACTOR
    assert calls == [VM]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.__setitem__("name", "Translator wanted!"),
        lambda d: d.__setitem__("attributedTo", "https://a.example/members/mallory"),
        lambda d: d["proof"].__setitem__("created", "2020-01-01T00:00:00Z"),
        lambda d: d["proof"].__setitem__("proofPurpose", "authentication"),
        lambda d: d["proof"].__setitem__("cryptosuite", "eddsa-rdfc-2022"),
        lambda d: d.__delitem__("proof"),
    ],
)
def test_tampered_document_refused(ed_keys, tamper):
    public, private = ed_keys
    signed = copy.deepcopy(sign_document(NOTE, private, VM))
    tamper(signed)
    lookup, _ = lookup_for(public)
    with pytest.raises(SignatureInvalid):
        verify_document(signed, lookup)


def test_other_key_refused(ed_keys):
    _, private = ed_keys
    other_public, _ = generate_ed25519_keypair()
    signed = sign_document(NOTE, private, VM)
    lookup, _ = lookup_for(other_public)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_document(signed, lookup)


def test_key_on_another_host_refused(ed_keys):
    public, private = ed_keys
    signed = sign_document(NOTE, private, VM)

    def lookup(method: str) -> MultikeyInfo:
        return MultikeyInfo(
            key_id=method, controller="https://evil.example/u", public_multibase=public
        )

    with pytest.raises(SignatureInvalid, match="controller's host"):
        verify_document(signed, lookup)


def test_rsa_multikey_refused(ed_keys):
    from bovine.crypto.multibase import encode_public_key_to_multibase
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, private = ed_keys
    rsa_multibase = encode_public_key_to_multibase(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    )
    signed = sign_document(NOTE, private, VM)
    lookup, _ = lookup_for(rsa_multibase)
    with pytest.raises(SignatureInvalid, match="Ed25519"):
        verify_document(signed, lookup)
