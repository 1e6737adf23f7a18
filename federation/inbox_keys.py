"""Senders' public keys the inbox verified recently, kept in memory so that an accepted POST
from a known sender costs no query before its INSERT.

The database row (``fed_remote_actors``) stays the source of truth; this only remembers, for
``ttl`` seconds, what a *committed* 202 verified with. Every check still runs on every POST —
the signature is verified cryptographically each time, the key's owner is compared with the
activity's actor, blocks come from the policy — only the indexed look-up of ``key_id -> (owner,
PEM)`` is skipped. What can go stale, and for how long:

- a rotated key: a signature made with the new key does not verify with the cached one, so the
  verifier's refetch (``refresh=True``) runs at once and replaces the entry — as without cache;
- a key that stopped being valid (the actor was deleted, or rotated its key because the old one
  leaked): the old key keeps verifying for at most ``ttl`` in a process that cached it. Without
  the cache it verifies until the worker has processed the actor's Delete or Update, which is
  also "a little later"; a Delete of an actor received here drops its keys from this cache at
  once. Mastodon caches keys in its database until the actor is refreshed (a day or more).

One object per node (like :class:`federation.retry.HostHealth`): give it to
:func:`federation.inbox.receive`. Thread-safe enough for its use: a lost update only costs one
query more.
"""

from __future__ import annotations

import time

from federation.signatures import PublicKeyInfo

KEY_TTL = 60.0
_MAX_KEYS = 10_000


class KeyCache:
    """``key_id -> PublicKeyInfo`` for ``ttl`` seconds, at most ``max_keys`` entries."""

    def __init__(self, ttl: float = KEY_TTL, max_keys: int = _MAX_KEYS) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._keys: dict[str, tuple[float, PublicKeyInfo]] = {}

    def get(self, key_id: str) -> PublicKeyInfo | None:
        """The key if it was remembered less than ``ttl`` seconds ago."""
        entry = self._keys.get(key_id)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._keys.pop(key_id, None)
            return None
        return entry[1]

    def remember(self, key: PublicKeyInfo) -> None:
        """Call only once the request that verified with ``key`` committed (the row exists).

        A key remembered already keeps its deadline: a sender that never pauses must not keep
        its entry alive for ever (the database is read again at least every ``ttl``)."""
        clock = time.monotonic()
        entry = self._keys.get(key.key_id)
        if entry is not None and entry[0] > clock and entry[1] == key:
            return
        if entry is None and len(self._keys) >= self.max_keys:
            # Hostile senders with ever new keys cannot grow it; known ones come back with
            # one query each.
            self._keys.clear()
        self._keys[key.key_id] = (clock + self.ttl, key)

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)

    def forget_owner(self, owner: str) -> None:
        """Drop every key of ``owner`` (its Delete was received)."""
        for key_id, (_until, key) in list(self._keys.items()):
            if key.owner == owner:
                self._keys.pop(key_id, None)

    def clear(self) -> None:
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)
