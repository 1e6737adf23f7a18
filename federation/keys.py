"""Key material for local actors.

RSA-2048 (PEM) signs HTTP requests: every fediverse server verifies rsa-sha256, few anything else.
Ed25519 (multibase, FEP-521a Multikey) signs documents with FEP-8b32 ``eddsa-jcs-2022`` proofs.

bovine is imported inside the functions: any ``bovine`` import runs its package ``__init__``,
which loads aiohttp and pyld (~0.7 s); modules that only verify never need it.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def generate_rsa_keypair() -> tuple[str, str]:
    """A fresh RSA-2048 key pair: ``(public SubjectPublicKeyInfo PEM, private PKCS#8 PEM)``."""
    from bovine.crypto import generate_rsa_public_private_key

    public_pem, private_pem = generate_rsa_public_private_key()
    return public_pem, private_pem


def generate_ed25519_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair: ``(public Multikey multibase "z6Mk…", private multibase)``.

    The private value is what :func:`federation.proofs.sign_document` takes.
    """
    from bovine.crypto import generate_ed25519_private_key
    from bovine.crypto.multibase import encode_public_key_to_multibase, multibase_to_private_key

    private_multibase = generate_ed25519_private_key()
    public = multibase_to_private_key(private_multibase).public_key()
    return encode_public_key_to_multibase(public), private_multibase


@lru_cache(maxsize=256)
def ed25519_public_of(private_multibase: str) -> str:
    """The public Multikey multibase ("z6Mk…") of a private Ed25519 multibase (cached: actor
    documents are served often and the derivation imports bovine)."""
    from bovine.crypto.multibase import encode_public_key_to_multibase, multibase_to_private_key

    public: str = encode_public_key_to_multibase(
        multibase_to_private_key(private_multibase).public_key()
    )
    return public


@lru_cache(maxsize=256)
def load_private_key(pem: str) -> PrivateKey:
    """Parse an unencrypted PEM private key (RSA or Ed25519). Raises ValueError otherwise.

    Cached: loading an RSA key runs its consistency checks (~30 ms), which would otherwise
    dominate every signed delivery. The keys are in this process's memory either way.
    """
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def load_public_key(pem: str) -> PublicKey:
    """Parse a PEM public key (RSA or Ed25519). Raises ValueError on anything else.

    ``cryptography`` also reads the PKCS#1 ``BEGIN RSA PUBLIC KEY`` form some servers publish.
    RSA keys under 2048 bits are refused.
    """
    key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported public key type {type(key).__name__}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ValueError(f"RSA key too small ({key.key_size} bits)")
    return key


def public_pem_of(private_pem: str) -> str:
    """The SubjectPublicKeyInfo PEM of a private PEM (to publish in ``publicKey``)."""
    key = load_private_key(private_pem)
    return (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )


def main_key_id(actor_uri: str) -> str:
    """The key id Mastodon and most servers use: ``ACTOR#main-key``."""
    return f"{actor_uri}#main-key"


def ed25519_key_id(actor_uri: str) -> str:
    """The id of an actor's FEP-521a Multikey (its ``assertionMethod``): ``ACTOR#ed25519-key``,
    the fragment FEP-521a's and Mitra's examples use."""
    return f"{actor_uri}#ed25519-key"
