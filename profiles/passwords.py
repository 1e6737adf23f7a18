"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendation)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password-0123456789")


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches. A missing account costs the same time as a wrong
    password, so timing does not reveal which usernames exist."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and bool(stored)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
