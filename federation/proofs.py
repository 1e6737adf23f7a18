"""FEP-8b32 object integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

Signing uses bovine's ``CryptographicSecret.sign_document``. Verification is ours, built on
bovine's ``CryptographicIdentifier`` and JCS hashing: bovine's own ``verify_document``
re-serialises the proof through pydantic (a ``created`` with fractional seconds would then hash
differently from what another implementation signed), so we hash the proof exactly as received.

Only JCS suites: the RDF-canonicalisation suites run a JSON-LD processor that fetches contexts.
bovine is imported inside the functions (any bovine import loads aiohttp and pyld).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from federation.errors import SignatureInvalid
from federation.iri import is_http_iri, same_host

if TYPE_CHECKING:
    from bovine.crypto.types import CryptographicSecret

DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
_INTEGRITY_CONTEXTS = {DATA_INTEGRITY_CONTEXT, "https://w3id.org/security/data-integrity/v1"}
CRYPTOSUITE = "eddsa-jcs-2022"


@dataclass(frozen=True)
class MultikeyInfo:
    """A FEP-521a ``Multikey``: ``{id, controller, publicKeyMultibase}``."""

    key_id: str
    controller: str
    public_multibase: str


def _with_integrity_context(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the data-integrity context ourselves: bovine would otherwise run ``jsonld.compact``,
    which fetches contexts over the network."""
    context = doc.get("@context")
    if context is None:
        return {"@context": DATA_INTEGRITY_CONTEXT, **doc}
    contexts = context if isinstance(context, list) else [context]
    if any(isinstance(c, str) and c in _INTEGRITY_CONTEXTS for c in contexts):
        return doc
    return {**doc, "@context": [*contexts, DATA_INTEGRITY_CONTEXT]}


def sign_document(
    doc: dict[str, Any],
    private_multibase_or_secret: str | CryptographicSecret,
    verification_method: str,
) -> dict[str, Any]:
    """Return a copy of ``doc`` with an ``eddsa-jcs-2022`` ``proof`` (assertionMethod) made with
    the Ed25519 key, naming ``verification_method`` (the Multikey id, e.g. ``ACTOR#ed25519-key``).
    The data-integrity context is appended to ``@context`` if absent. ``doc`` must not already
    carry a ``proof``."""
    from bovine.crypto.types import CryptographicSecret
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if "proof" in doc:
        raise ValueError("document already has a proof")
    if isinstance(private_multibase_or_secret, str):
        secret = CryptographicSecret.from_multibase(
            verification_method, private_multibase_or_secret
        )
    else:
        secret = CryptographicSecret(verification_method, private_multibase_or_secret.private_key)
    if not isinstance(secret.private_key, ed25519.Ed25519PrivateKey):
        raise ValueError("eddsa-jcs-2022 proofs need an Ed25519 key")
    signed: dict[str, Any] = secret.sign_document(_with_integrity_context(doc))
    return signed


def verify_document(
    doc: dict[str, Any], public_multikey_lookup: Callable[[str], MultikeyInfo]
) -> str:
    """Verify the document's ``eddsa-jcs-2022`` proof; return the key's controller (actor IRI).

    ``public_multikey_lookup(verification_method)`` returns the Multikey (it may fetch, and may
    raise). The key must have the id the proof names, be an Ed25519 key, and live on its
    controller's host. The caller checks that the controller is the document's author.
    Raises :class:`SignatureInvalid` with the reason.
    """
    from bovine.crypto.helper import jcs_sha256
    from bovine.crypto.multibase import multibase_decode
    from bovine.crypto.types import CryptographicIdentifier
    from cryptography.hazmat.primitives.asymmetric import ed25519

    proof = doc.get("proof")
    if not isinstance(proof, dict):
        raise SignatureInvalid("the document has no single proof object")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise SignatureInvalid(f"only DataIntegrityProof with {CRYPTOSUITE} is supported")
    if proof.get("proofPurpose") != "assertionMethod":
        raise SignatureInvalid("proofPurpose must be assertionMethod")
    method = proof.get("verificationMethod")
    value = proof.get("proofValue")
    if not isinstance(method, str) or not is_http_iri(method):
        raise SignatureInvalid("verificationMethod must be an http(s) IRI")
    if not isinstance(value, str) or not value.startswith("z"):
        raise SignatureInvalid("proofValue must be base58-btc multibase")

    key = public_multikey_lookup(method)
    if key.key_id != method:
        raise SignatureInvalid(f"looked-up key {key.key_id} is not {method}")
    if not same_host(key.key_id, key.controller):
        raise SignatureInvalid("the key is not on its controller's host")
    try:
        identifier = CryptographicIdentifier.from_tuple(key.controller, key.public_multibase)
        signature = multibase_decode(value)
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureInvalid(f"unusable key or proof value: {exc}") from exc
    if not isinstance(identifier.public_key, ed25519.Ed25519PublicKey):
        raise SignatureInvalid("eddsa-jcs-2022 needs an Ed25519 key")

    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    proof_config = {k: v for k, v in proof.items() if k != "proofValue"}
    digest = jcs_sha256(proof_config) + jcs_sha256(unsecured)
    if identifier.verify(digest, signature) is None:
        raise SignatureInvalid("the proof does not verify")
    return key.controller
