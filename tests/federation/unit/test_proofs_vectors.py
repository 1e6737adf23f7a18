"""eddsa-jcs-2022 against the published test vectors, written here from the spec texts:

* W3C "Data Integrity EdDSA Cryptosuites v1.0", section B.3 "Representation: eddsa-jcs-2022"
  (w3c/vc-di-eddsa TestVectors/eddsa-jcs-2022/*, commit abb673eb, 2025-05-15);
* FEP-8b32 ``fep-8b32.feature`` (codeberg.org/fediverse/fep, "Signing document" and
  "Verifying a signature").

Ed25519 signatures are deterministic (RFC 8032), so signing the unsecured document with the
vector's key and ``created`` must give the vector's ``proofValue`` byte for byte.
"""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from federation.errors import SignatureInvalid
from federation.proofs import MultikeyInfo, check_proof_value, sign_document, verify_document

PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
SECRET = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
CREATED = "2023-02-24T23:36:38Z"

W3C_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/ns/credentials/examples/v2",
]
W3C_UNSIGNED = {
    "@context": W3C_CONTEXT,
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
W3C_VM = f"did:key:{PUBLIC}#{PUBLIC}"
W3C_PROOF_CANON = (
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/'
    'examples/v2"],"created":"2023-02-24T23:36:38Z","cryptosuite":"eddsa-jcs-2022",'
    '"proofPurpose":"assertionMethod","type":"DataIntegrityProof","verificationMethod":'
    '"did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6'
    'pvBQ7XJPt4swbTQ2"}'
)
W3C_PROOF_HASH = "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db"
W3C_DOC_HASH = "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"
W3C_PROOF_VALUE = (
    "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"
)

FEP_CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/data-integrity/v2",
]
FEP_UNSIGNED = {
    "@context": FEP_CONTEXT,
    "id": "https://server.example/activities/1",
    "type": "Create",
    "actor": "https://server.example/users/alice",
    "object": {
        "id": "https://server.example/objects/1",
        "type": "Note",
        "attributedTo": "https://server.example/users/alice",
        "content": "Hello world",
        "location": {"type": "Place", "longitude": -71.184902, "latitude": 25.273962},
    },
}
FEP_VM = "https://server.example/users/alice#ed25519-key"
FEP_PROOF_VALUE = (
    "z42ffGu6AUKPCFcFPiabmUvnGLPJzC7e4DGWC52NUasSSH37UMa9c58tdgVszUcZfytxa4fQ5TYHaJENCxUDe9SdL"
)
FEP_SIGNED = {
    **FEP_UNSIGNED,
    "proof": {
        "@context": FEP_CONTEXT,
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": FEP_VM,
        "proofPurpose": "assertionMethod",
        "proofValue": FEP_PROOF_VALUE,
        "created": CREATED,
    },
}


def fep_lookup(method: str) -> MultikeyInfo:
    return MultikeyInfo(
        key_id=method, controller="https://server.example/users/alice", public_multibase=PUBLIC
    )


def test_w3c_vector_intermediate_hashes() -> None:
    """The spec's canonical proof configuration and both hashes (our JCS is bovine's)."""
    from bovine.crypto.helper import jcs_sha256

    signed = sign_document(W3C_UNSIGNED, SECRET, W3C_VM, created=CREATED)
    config = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    assert json.dumps(config, sort_keys=True, separators=(",", ":")) == W3C_PROOF_CANON
    assert hashlib.sha256(W3C_PROOF_CANON.encode()).hexdigest() == W3C_PROOF_HASH
    assert jcs_sha256(config).hex() == W3C_PROOF_HASH
    assert jcs_sha256(W3C_UNSIGNED).hex() == W3C_DOC_HASH


def test_w3c_vector_signature() -> None:
    signed = sign_document(W3C_UNSIGNED, SECRET, W3C_VM, created=CREATED)
    assert signed["@context"] == W3C_CONTEXT  # VC 2.0 already defines the proof terms
    assert signed["proof"]["proofValue"] == W3C_PROOF_VALUE
    check_proof_value(signed, PUBLIC)


def test_fep_8b32_signing_scenario() -> None:
    assert sign_document(FEP_UNSIGNED, SECRET, FEP_VM, created=CREATED) == FEP_SIGNED


def test_fep_8b32_verifying_scenario() -> None:
    assert verify_document(copy.deepcopy(FEP_SIGNED), fep_lookup) == FEP_UNSIGNED["actor"]


def test_proof_without_context_gets_the_documents() -> None:
    """Fedify (and the 2023-24 drafts) send the proof without ``@context`` but hash the
    configuration with the document's ``@context`` in it."""
    doc = copy.deepcopy(FEP_SIGNED)
    del doc["proof"]["@context"]
    assert verify_document(doc, fep_lookup) == FEP_UNSIGNED["actor"]


def test_ld_signature_is_removed_before_verifying() -> None:
    """Issue 8 defect 1: a Mastodon-style LD signature added after the proof (FEP-8b32
    "Backward compatibility") must not be hashed."""
    doc = copy.deepcopy(FEP_SIGNED)
    doc["signature"] = {
        "type": "RsaSignature2017",
        "creator": "https://server.example/users/alice#main-key",
        "created": CREATED,
        "signatureValue": "c2lnbmF0dXJl",
    }
    assert verify_document(doc, fep_lookup) == FEP_UNSIGNED["actor"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["object"].__setitem__("content", "Hello world!"),
        lambda d: d["proof"].__setitem__("created", "2023-02-24T23:36:39Z"),
        # The proof's @context must be a prefix of the document's (Verify Proof step 4).
        lambda d: d["proof"].__setitem__("@context", ["https://www.w3.org/ns/activitystreams#"]),
        lambda d: d.__setitem__("@context", [*FEP_CONTEXT, {"x": "https://x.example/"}]),
        lambda d: d["proof"].__setitem__("created", "yesterday"),
    ],
)
def test_vector_tampered(tamper) -> None:
    doc = copy.deepcopy(FEP_SIGNED)
    tamper(doc)
    with pytest.raises(SignatureInvalid):
        verify_document(doc, fep_lookup)


def test_signing_after_an_ld_signature_is_refused() -> None:
    with pytest.raises(ValueError, match="LD signature"):
        sign_document({**FEP_UNSIGNED, "signature": {}}, SECRET, FEP_VM)


def test_bovine_verifier_is_not_conformant() -> None:
    """bovine 0.5.19's ``verify_document`` hashes the proof configuration without the
    ``@context`` (renamed ``field_context`` by its pydantic model), so it refuses the FEP's own
    vector: it cannot serve as a reference verifier. When this fails, bovine was fixed: make it
    a cross-check of our proofs again."""
    from bovine.crypto.types import CryptographicIdentifier

    identifier = CryptographicIdentifier.from_tuple(FEP_UNSIGNED["actor"], PUBLIC)
    assert identifier.verify_document(copy.deepcopy(FEP_SIGNED)) is None
    without = copy.deepcopy(FEP_SIGNED)
    del without["proof"]["@context"]
    assert identifier.verify_document(without) is None
