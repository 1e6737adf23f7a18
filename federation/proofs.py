"""FEP-8b32 object integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

Both directions follow W3C "Data Integrity EdDSA Cryptosuites v1.0", section 3.3
(https://www.w3.org/TR/vc-di-eddsa/#eddsa-jcs-2022), as FEP-8b32 requires:

* the proof configuration that is hashed is the proof without ``proofValue`` *with the
  document's* ``@context`` (Create Proof step 2 / Proof Configuration). We send that
  ``@context`` inside the proof as the spec and the FEP-8b32 examples do; a proof received
  without one (Fedify, and the 2023-24 drafts) gets the document's ``@context``, which is what
  its signer hashed (Fedify's ``createProof``);
* the document hashed is the received one minus ``proof`` and minus an LD ``signature``
  (FEP-8b32 "Backward compatibility": the LD signature is added after the proof, so the verifier
  removes it). Not stripping ``signature`` refused every activity Fedify sends (issue 8).

The code is ours, not bovine's: bovine 0.5.19 signs and verifies without the ``@context`` in the
proof configuration (and its verifier re-serialises ``@context`` as ``field_context``), so it
verifies neither the spec's test vectors nor Fedify's proofs. We use its JCS and multibase
helpers only. Only JCS suites: the RDF-canonicalisation suites run a JSON-LD processor that
fetches contexts. bovine is imported inside the functions (any bovine import loads aiohttp and
pyld).

Keys are FEP-521a ``Multikey``s listed in the actor's ``assertionMethod`` (:func:`multikey`,
:func:`actor_context`, :func:`find_multikey`). Outgoing activities are signed by
:func:`federation.outbox.publish`; the inbox calls :func:`check_incoming`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from federation.errors import FederationError, SignatureInvalid
from federation.iri import is_http_iri, same_host
from federation.keys import ed25519_key_id

if TYPE_CHECKING:
    from bovine.crypto.types import CryptographicSecret

    from federation.actors import RemoteActors

log = logging.getLogger(__name__)

DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"
# Contexts that define the DataIntegrityProof terms (VC 2.0's includes them).
_INTEGRITY_CONTEXTS = {
    DATA_INTEGRITY_CONTEXT,
    "https://w3id.org/security/data-integrity/v1",
    "https://www.w3.org/ns/credentials/v2",
}
CRYPTOSUITE = "eddsa-jcs-2022"
# FEP-521a: the Multikey type comes from this context; ``assertionMethod`` is defined by none of
# the contexts an actor already lists (security/v1 predates it), so we define the term inline
# with the IRI and container of data-integrity/v2's scoped definition.
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
ASSERTION_METHOD_TERM: dict[str, Any] = {
    "@id": "https://w3id.org/security#assertionMethod",
    "@type": "@id",
    "@container": "@set",
}


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


def _created_now() -> str:
    """``created`` as ``YYYY-MM-DDTHH:MM:SSZ``: whole seconds and ``Z``, because Fedify rebuilds
    the proof configuration from the parsed instant (``Temporal.Instant.toString()``), which
    prints exactly this form; ``+00:00`` or microseconds would hash differently there."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_data(proof_config: dict[str, Any], unsecured: dict[str, Any]) -> bytes:
    """Hashing (eddsa-jcs-2022): SHA-256 of the JCS proof configuration, then of the document."""
    from bovine.crypto.helper import jcs_sha256

    return bytes(jcs_sha256(proof_config) + jcs_sha256(unsecured))


def sign_document(
    doc: dict[str, Any],
    private_multibase_or_secret: str | CryptographicSecret,
    verification_method: str,
    *,
    created: str | None = None,
) -> dict[str, Any]:
    """Return a copy of ``doc`` with an ``eddsa-jcs-2022`` ``proof`` (assertionMethod) made with
    the Ed25519 key, naming ``verification_method`` (the Multikey id, e.g. ``ACTOR#ed25519-key``).
    The data-integrity context is appended to ``@context`` if absent; the proof carries the
    resulting ``@context``. ``created`` (an XML Schema dateTime) defaults to now. ``doc`` must
    carry neither a ``proof`` nor an LD ``signature`` (FEP-8b32: the proof comes first)."""
    from bovine.crypto.multibase import multibase_58btc_encode
    from bovine.crypto.types import CryptographicSecret
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if "proof" in doc:
        raise ValueError("document already has a proof")
    if "signature" in doc:
        raise ValueError("the proof must be made before an LD signature is added")
    if isinstance(private_multibase_or_secret, str):
        secret = CryptographicSecret.from_multibase(
            verification_method, private_multibase_or_secret
        )
    else:
        secret = CryptographicSecret(verification_method, private_multibase_or_secret.private_key)
    if not isinstance(secret.private_key, ed25519.Ed25519PrivateKey):
        raise ValueError("eddsa-jcs-2022 proofs need an Ed25519 key")
    unsecured = _with_integrity_context(doc)
    proof: dict[str, Any] = {
        "@context": copy.deepcopy(unsecured["@context"]),  # not shared with the document
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "created": created or _created_now(),
    }
    signature = secret.private_key.sign(_hash_data(proof, unsecured))
    proof["proofValue"] = multibase_58btc_encode(signature)
    return {**unsecured, "proof": proof}


def _as_list(context: Any) -> list[Any]:
    return context if isinstance(context, list) else [context]


def _proof_inputs(doc: dict[str, Any], proof: dict[str, Any]) -> tuple[dict, dict]:
    """``(proof configuration, unsecured document)`` of a received proof (Verify Proof steps
    1-6, plus the removal of an LD ``signature`` FEP-8b32 asks for)."""
    unsecured = {k: v for k, v in doc.items() if k not in ("proof", "signature")}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    created = config.get("created")
    if created is not None and not _is_datetime(created):
        raise SignatureInvalid("proof created is not an XML Schema dateTime")
    if "@context" in config:
        ours = _as_list(config["@context"])
        theirs = _as_list(doc.get("@context"))
        # The spec only asks that the document's @context *start with* the proof's; a context
        # appended after signing is not hashed yet redefines terms for a JSON-LD processor, and
        # nobody in the fediverse appends contexts to signed activities: require equality.
        if theirs != ours:
            raise SignatureInvalid("the document @context differs from the proof's")
        unsecured["@context"] = config["@context"]
    elif "@context" in doc:
        config["@context"] = doc["@context"]
    return config, unsecured


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_proof_value(doc: dict[str, Any], public_multibase: str) -> None:
    """The cryptographic part of Verify Proof (eddsa-jcs-2022) for ``doc``'s single ``proof``
    and an Ed25519 Multikey ``public_multibase``; no policy on the key (see
    :func:`verify_document`). Raises :class:`SignatureInvalid`."""
    from bovine.crypto.multibase import decode_multibase_public_key, multibase_decode
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519

    proof = doc.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("proofValue"), str):
        raise SignatureInvalid("the document has no single proof with a proofValue")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise SignatureInvalid(f"only DataIntegrityProof with {CRYPTOSUITE} is supported")
    config, unsecured = _proof_inputs(doc, proof)
    try:
        public = decode_multibase_public_key(public_multibase)
        signature = multibase_decode(proof["proofValue"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureInvalid(f"unusable key or proof value: {exc}") from exc
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise SignatureInvalid("eddsa-jcs-2022 needs an Ed25519 key")
    try:
        public.verify(signature, _hash_data(config, unsecured))
    except InvalidSignature as exc:
        raise SignatureInvalid("the proof does not verify") from exc


def verify_document(
    doc: dict[str, Any], public_multikey_lookup: Callable[[str], MultikeyInfo]
) -> str:
    """Verify the document's ``eddsa-jcs-2022`` proof; return the key's controller (actor IRI).

    ``public_multikey_lookup(verification_method)`` returns the Multikey (it may fetch, and may
    raise). The key must have the id the proof names, be an Ed25519 key, and live on its
    controller's host. The caller checks that the controller is the document's author.
    An LD ``signature`` next to the proof is ignored (removed before hashing).
    Raises :class:`SignatureInvalid` with the reason.
    """
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
    check_proof_value(doc, key.public_multibase)
    return key.controller


# -- actors (FEP-521a) --------------------------------------------------------------------------


def actor_context(context: list[Any]) -> list[Any]:
    """``context`` (an actor's ``@context`` list) with the Multikey context and the
    ``assertionMethod`` term added, for actor documents that list a Multikey. Pure."""
    out = [c for c in context if c != MULTIKEY_CONTEXT]
    terms: list[Any] = [MULTIKEY_CONTEXT, {"assertionMethod": ASSERTION_METHOD_TERM}]
    # Before the first inline term dict, so the extension context stays last.
    index = next((i for i, c in enumerate(out) if isinstance(c, dict)), len(out))
    return [*out[:index], *terms, *out[index:]]


def multikey(actor_iri: str, public_multibase: str) -> dict[str, Any]:
    """The FEP-521a ``Multikey`` of a local actor, as listed in its ``assertionMethod``."""
    return {
        "id": ed25519_key_id(actor_iri),
        "type": "Multikey",
        "controller": actor_iri,
        "publicKeyMultibase": public_multibase,
    }


def find_multikey(actor_doc: dict[str, Any], key_id: str) -> MultikeyInfo | None:
    """The ``Multikey`` ``key_id`` among the actor's embedded ``assertionMethod`` entries, if
    it is controlled by that actor; None otherwise (keys given only by reference are not
    followed: nobody in the fediverse publishes them that way today)."""
    entries = actor_doc.get("assertionMethod")
    actor_id = actor_doc.get("id")
    for entry in entries if isinstance(entries, list) else [entries]:
        if not isinstance(entry, dict) or entry.get("id") != key_id:
            continue
        public = entry.get("publicKeyMultibase")
        if (
            entry.get("type") == "Multikey"
            and entry.get("controller") == actor_id
            and isinstance(actor_id, str)
            and isinstance(public, str)
        ):
            return MultikeyInfo(key_id=key_id, controller=actor_id, public_multibase=public)
    return None


# -- inbound ----------------------------------------------------------------------------------


def carries_proof(doc: dict[str, Any]) -> bool:
    """Whether ``doc`` has a single ``eddsa-jcs-2022`` proof (the only kind we check)."""
    proof = doc.get("proof")
    return isinstance(proof, dict) and proof.get("cryptosuite") == CRYPTOSUITE


PROOF_REFETCH_AFTER = timedelta(minutes=10)


def _may_refetch(actors: RemoteActors, actor_iri: str) -> bool:
    row = actors.cached(actor_iri)
    return row is None or actors.clock() - row.fetched_at >= PROOF_REFETCH_AFTER


def check_incoming(doc: dict[str, Any], actor_iri: str, actors: RemoteActors) -> str | None:
    """Verify an inbound activity's ``eddsa-jcs-2022`` proof when its key can be resolved.

    Returns the verified key id, or None when there is nothing we can check: no proof, another
    cryptosuite or a proof set, or a key we cannot resolve (not a Multikey in the actor's
    ``assertionMethod``, even after one refetch; actor unreachable). Then the HTTP signature,
    already verified, is what authenticates the activity — as before proofs existed.
    Raises :class:`SignatureInvalid` (401) when the key resolves and the proof does not verify,
    or when the proof names a key of another actor than ``actor_iri``.
    Call it before anything rewrites ``doc``: the proof covers the document as received.
    """
    if not carries_proof(doc):
        return None
    method = doc["proof"].get("verificationMethod")
    if not isinstance(method, str) or not is_http_iri(method):
        raise SignatureInvalid("proof verificationMethod must be an http(s) IRI")
    if method.split("#", 1)[0] != actor_iri:
        if not same_host(method, actor_iri):
            raise SignatureInvalid("the proof is made with another actor's key")
        log.info("proof key %s is not embedded in %s: not checked", method[:200], actor_iri)
        return None
    try:
        key = find_multikey(actors.get(actor_iri).raw, method)
        if key is None and _may_refetch(actors, actor_iri):
            # Cached before the actor had (or rotated) this key: look again — at most once per
            # PROOF_REFETCH_AFTER, or a peer naming a key it never publishes makes us fetch its
            # actor for every activity.
            key = find_multikey(actors.get(actor_iri, refresh=True).raw, method)
    except FederationError as exc:
        log.info("cannot resolve proof key %s: %s", method[:200], exc)
        return None
    if key is None:
        log.info("%s does not publish proof key %s: not checked", actor_iri, method[:200])
        return None
    found = key

    def lookup(_method: str) -> MultikeyInfo:
        return found

    if verify_document(doc, lookup) != actor_iri:
        raise SignatureInvalid("the proof is not made by the activity's actor")
    return method
