"""Domain policy: which hosts and actors we federate with.

A blocked host blocks its subdomains too (Mastodon's domain blocks do the same: blocking
``evil.example`` also covers ``media.evil.example``). In allowlist mode only listed hosts (and
their subdomains) federate; the blocklist still applies on top.

Two implementations of the same ``is_blocked_host``/``is_blocked_actor`` questions:
- :class:`DomainPolicy` asks the database through one ``Session`` (admin, tests);
- :class:`CachedPolicy` keeps a snapshot, safe to share between threads (the inbox and the
  :class:`federation.transport.Transport` of the delivery worker). It reloads on its next
  question after any transaction of this process that changed the policy commits, and at least
  every ``ttl`` seconds, which bounds how long another process (a second gunicorn worker, the
  CLI) can miss a change. "This process" is precisely: sessions sharing its
  :class:`PolicyChanges` (one per node; see :data:`POLICY_CHANGES`).

Mutating methods flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, object_session

from federation.iri import host_of
from federation.models import ActorBlock, DomainPolicyEntry

# -- change notification ----------------------------------------------------------------------
# A session that writes a policy row is marked; when it commits, the :class:`PolicyChanges` of
# its node moves on and every CachedPolicy reading that object reloads before answering again.
# So an admin's block applies to the very next request this process serves; other processes see
# it within their ttl. The SQLAlchemy listeners below only mark and dispatch: the state lives in
# the PolicyChanges objects, one per node (two nodes in one process do not disturb each other).

_CHANGED = "coopfed.policy_changed"
# session.info key: the PolicyChanges a session's commits move on. A node configures its
# sessionmaker with ``info={POLICY_CHANGES: changes}`` and gives the same object to its
# CachedPolicy; sessions without one move :data:`PROCESS_CHANGES` on.
POLICY_CHANGES = "coopfed.policy_changes"


class PolicyChanges:
    """A generation counter of committed policy changes, owned by a node."""

    def __init__(self) -> None:
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        with self._lock:
            self._generation += 1


# For sessions and caches not given one (tests, scripts, the CLI): one counter per process.
PROCESS_CHANGES = PolicyChanges()


def mark_policy_changed(session: Session) -> None:
    """Tell the caches that ``session``'s transaction changes the policy (applied at commit).

    ORM inserts, updates and deletes of policy rows mark their session by themselves; bulk
    ``delete()``/``update()`` statements must call this."""
    session.info[_CHANGED] = True


def changes_of(session: Session) -> PolicyChanges:
    """The :class:`PolicyChanges` that ``session``'s commits move on."""
    found = session.info.get(POLICY_CHANGES)
    return found if isinstance(found, PolicyChanges) else PROCESS_CHANGES


def _row_written(_mapper: Any, _connection: Any, target: object) -> None:
    session = object_session(target)
    if session is not None:
        mark_policy_changed(session)


for _model in (DomainPolicyEntry, ActorBlock):
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, _row_written)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        changes_of(session).bump()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


class HostPolicy(Protocol):
    def is_blocked_host(self, host: str) -> bool: ...


class ActorPolicy(HostPolicy, Protocol):
    """What the inbox asks: both :class:`DomainPolicy` and :class:`CachedPolicy` qualify."""

    def is_blocked_actor(self, iri: str) -> bool: ...


def normalize_host(host: str) -> str:
    """Lower-case, no trailing dot. A ``host:port`` authority keeps its port."""
    return host.strip().lower().rstrip(".")


def _suffixes(host: str) -> list[str]:
    """``a.b.example`` -> ``[a.b.example, b.example, example]`` (the port is dropped)."""
    name = normalize_host(host).split(":", 1)[0] if not host.startswith("[") else host
    parts = name.split(".")
    out = [normalize_host(host)]
    out.extend(".".join(parts[i:]) for i in range(len(parts)))
    return list(dict.fromkeys(out))


def covered(host: str, names: Iterable[str] | frozenset[str]) -> bool:
    """Whether ``host`` (``host[:port]``) is one of ``names`` or a subdomain of one: a block
    of ``example.org`` covers ``social.example.org``, as Mastodon's domain blocks do."""
    listed = names if isinstance(names, (set, frozenset)) else set(names)
    return any(n in listed for n in _suffixes(host))


def _decide(host: str, blocked: Iterable[str], allowed: Iterable[str], allowlist: bool) -> bool:
    if covered(host, blocked):
        return True
    return allowlist and not covered(host, allowed)


def _actor_host(iri: str) -> str | None:
    try:
        return host_of(iri)
    except ValueError:
        return None


class DomainPolicy:
    """Policy read from and written to the database through ``session``."""

    def __init__(self, session: Session, *, allowlist_mode: bool = False) -> None:
        self.session = session
        self.allowlist_mode = allowlist_mode

    def _hosts(self, action: str) -> list[str]:
        stmt = select(DomainPolicyEntry.host).where(DomainPolicyEntry.action == action)
        return list(self.session.scalars(stmt))

    def is_blocked_host(self, host: str) -> bool:
        allowed = self._hosts("allow") if self.allowlist_mode else []
        # An empty allowlist means "not configured yet": federate with nobody would lock the
        # admin out of testing, so allowlist mode only bites once it has an entry.
        return _decide(host, self._hosts("block"), allowed, self.allowlist_mode and bool(allowed))

    def is_blocked_actor(self, iri: str) -> bool:
        host = _actor_host(iri)
        if host is None or self.is_blocked_host(host):
            return True
        return self.session.scalar(select(ActorBlock.id).where(ActorBlock.actor == iri)) is not None

    def _set_host(self, host: str, action: str, reason: str | None) -> None:
        host = normalize_host(host)
        entry = self.session.scalar(select(DomainPolicyEntry).where(DomainPolicyEntry.host == host))
        if entry is None:
            self.session.add(DomainPolicyEntry(host=host, action=action, reason=reason))
        else:
            entry.action, entry.reason = action, reason
        self.session.flush()

    def block_host(self, host: str, reason: str | None = None) -> None:
        self._set_host(host, "block", reason)

    def allow_host(self, host: str, reason: str | None = None) -> None:
        self._set_host(host, "allow", reason)

    def unblock_host(self, host: str) -> None:
        """Remove any entry (block or allow) for ``host``."""
        host = normalize_host(host)
        self.session.execute(delete(DomainPolicyEntry).where(DomainPolicyEntry.host == host))
        mark_policy_changed(self.session)

    def block_actor(self, iri: str, reason: str | None = None) -> None:
        if self.session.scalar(select(ActorBlock).where(ActorBlock.actor == iri)) is None:
            self.session.add(ActorBlock(actor=iri, reason=reason))
            self.session.flush()

    def unblock_actor(self, iri: str) -> None:
        self.session.execute(delete(ActorBlock).where(ActorBlock.actor == iri))
        mark_policy_changed(self.session)


class CachedPolicy:
    """Thread-safe snapshot of the policy, reloaded after a policy change committed through
    ``changes`` (see :func:`mark_policy_changed`; default: :data:`PROCESS_CHANGES`) and
    whenever it is older than ``ttl`` seconds."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        allowlist_mode: bool = False,
        ttl: float = 30.0,
        changes: PolicyChanges | None = None,
    ) -> None:
        self._factory = session_factory
        self._changes = changes if changes is not None else PROCESS_CHANGES
        self._allowlist_mode = allowlist_mode
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._generation = -1
        self._blocked: frozenset[str] = frozenset()
        self._allowed: frozenset[str] = frozenset()
        self._actors: frozenset[str] = frozenset()

    def refresh(self) -> None:
        # Read before the database: a change committed during the reload triggers another one.
        generation = self._changes.generation
        with self._factory() as session:
            rows = session.execute(select(DomainPolicyEntry.host, DomainPolicyEntry.action)).all()
            actors = frozenset(session.scalars(select(ActorBlock.actor)))
        self._blocked = frozenset(h for h, a in rows if a == "block")
        self._allowed = frozenset(h for h, a in rows if a == "allow")
        self._actors = actors
        self._loaded_at = time.monotonic()
        self._generation = generation

    def _fresh(self) -> None:
        with self._lock:
            stale = time.monotonic() - self._loaded_at > self._ttl
            if stale or self._generation != self._changes.generation:
                self.refresh()

    def is_blocked_host(self, host: str) -> bool:
        self._fresh()
        allowlist = self._allowlist_mode and bool(self._allowed)
        return _decide(host, self._blocked, self._allowed, allowlist)

    def is_blocked_actor(self, iri: str) -> bool:
        host = _actor_host(iri)
        if host is None or self.is_blocked_host(host):
            return True
        return iri in self._actors
