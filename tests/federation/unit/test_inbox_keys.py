"""The inbox's cache of senders' keys: bounded in time (a key is read from the database again
at least every ttl, however often its sender posts) and in size."""

from __future__ import annotations

import pytest

from federation import inbox_keys
from federation.inbox_keys import KeyCache
from federation.signatures import PublicKeyInfo


def _key(n: int, owner: str = "https://a.example/users/x") -> PublicKeyInfo:
    return PublicKeyInfo(key_id=f"{owner}#key{n}", owner=owner, public_pem=f"PEM {n}")


class Clock:
    """The monotonic clock, faked: the test moves it (no sleeping, no flakiness under load)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(inbox_keys.time, "monotonic", clock)
    return clock


def test_an_entry_expires_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _clock(monkeypatch)
    cache = KeyCache(ttl=60)
    cache.remember(_key(1))
    clock.now += 59
    assert cache.get(_key(1).key_id) == _key(1)
    clock.now += 2
    assert cache.get(_key(1).key_id) is None
    assert len(cache) == 0


def test_remembering_a_cached_key_again_keeps_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _clock(monkeypatch)
    cache = KeyCache(ttl=60)
    cache.remember(_key(1))
    clock.now += 40
    cache.remember(_key(1))  # every accepted POST remembers the key it verified with
    clock.now += 40
    assert cache.get(_key(1).key_id) is None  # read from the database again after 60 s


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
