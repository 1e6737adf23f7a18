"""The inbox's cache of senders' keys: bounded in time (a key is read from the database again
at least every ttl, however often its sender posts) and in size."""

from __future__ import annotations

import time

from federation.inbox_keys import KeyCache
from federation.signatures import PublicKeyInfo


def _key(n: int, owner: str = "https://a.example/users/x") -> PublicKeyInfo:
    return PublicKeyInfo(key_id=f"{owner}#key{n}", owner=owner, public_pem=f"PEM {n}")


def test_an_entry_expires_after_its_ttl() -> None:
    cache = KeyCache(ttl=0.05)
    cache.remember(_key(1))
    assert cache.get(_key(1).key_id) == _key(1)
    time.sleep(0.06)
    assert cache.get(_key(1).key_id) is None
    assert len(cache) == 0


def test_remembering_a_cached_key_again_keeps_its_deadline() -> None:
    cache = KeyCache(ttl=0.1)
    cache.remember(_key(1))
    time.sleep(0.06)
    cache.remember(_key(1))  # every accepted POST remembers the key it verified with
    time.sleep(0.06)
    assert cache.get(_key(1).key_id) is None


def test_a_new_pem_for_the_same_key_id_replaces_the_entry() -> None:
    cache = KeyCache()
    cache.remember(_key(1))
    rotated = PublicKeyInfo(key_id=_key(1).key_id, owner=_key(1).owner, public_pem="PEM new")
    cache.remember(rotated)
    assert cache.get(rotated.key_id) == rotated


def test_forget_owner_drops_only_that_owners_keys() -> None:
    cache = KeyCache()
    cache.remember(_key(1))
    cache.remember(_key(2))
    other = _key(3, owner="https://b.example/users/y")
    cache.remember(other)
    cache.forget_owner(_key(1).owner)
    assert len(cache) == 1
    assert cache.get(other.key_id) == other


def test_the_cache_is_bounded() -> None:
    cache = KeyCache(max_keys=10)
    for n in range(25):
        cache.remember(_key(n))
    assert len(cache) <= 10
    assert cache.get(_key(24).key_id) == _key(24)
