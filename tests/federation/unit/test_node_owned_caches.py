"""Per-node caches: two nodes in one process keep their own healthy-host set and their own
policy generation (a change on one node never shows on, nor reloads, the other)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from federation import policy, retry
from federation.db import Base
from federation.models import Host

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _failures(session: Session, host: str) -> int:
    return session.scalar(select(Host.consecutive_failures).where(Host.host == host)) or 0


def test_each_node_has_its_own_healthy_hosts(engine: Engine) -> None:
    a, b = retry.HostHealth(), retry.HostHealth()
    with Session(engine) as session:
        a.note_alive(session, "peer.test", NOW)  # no row yet: known healthy on node a
        assert "peer.test" in a.known and not b.known and "peer.test" not in retry._known_healthy
        retry.record_host_failure(session, "peer.test", NOW, b)  # node b's worker failed
        session.commit()
        a.note_alive(session, "peer.test", NOW)  # node a still trusts its cache: no look-up
        assert _failures(session, "peer.test") == 1
        b.note_alive(session, "peer.test", NOW)  # node b looks it up and revives it
        assert _failures(session, "peer.test") == 0
        retry.record_host_failure(session, "peer.test", NOW, a)
        session.commit()
        assert "peer.test" not in a.known
        a.note_alive(session, "peer.test", NOW)
        assert _failures(session, "peer.test") == 0


def test_module_functions_use_the_process_cache(engine: Engine) -> None:
    with Session(engine) as session:
        retry.note_host_alive(session, "solo.test", NOW)
        assert "solo.test" in retry.PROCESS_HEALTH.known
        assert retry._known_healthy is retry.PROCESS_HEALTH.known  # tests/conftest.py clears it
        retry.record_host_failure(session, "solo.test", NOW)
        assert "solo.test" not in retry.PROCESS_HEALTH.known


def test_each_node_reloads_on_its_own_policy_changes(engine: Engine) -> None:
    changes_a, changes_b = policy.PolicyChanges(), policy.PolicyChanges()
    sessions_a = sessionmaker(engine, info={policy.POLICY_CHANGES: changes_a})
    sessions_b = sessionmaker(engine, info={policy.POLICY_CHANGES: changes_b})
    cached_a = policy.CachedPolicy(sessions_a, ttl=3600, changes=changes_a)
    cached_b = policy.CachedPolicy(sessions_b, ttl=3600, changes=changes_b)
    process_before = policy.PROCESS_CHANGES.generation
    assert not cached_a.is_blocked_host("evil.test") and not cached_b.is_blocked_host("evil.test")
    with sessions_a() as session:
        policy.DomainPolicy(session).block_host("evil.test")
        session.commit()
    assert (changes_a.generation, changes_b.generation) == (1, 0)
    assert policy.PROCESS_CHANGES.generation == process_before
    assert cached_a.is_blocked_host("evil.test")  # the next question on node a sees it
    assert not cached_b.is_blocked_host("evil.test")  # node b: within its ttl
    cached_b.refresh()
    assert cached_b.is_blocked_host("evil.test")


def test_a_rolled_back_change_moves_nothing(engine: Engine) -> None:
    changes = policy.PolicyChanges()
    sessions = sessionmaker(engine, info={policy.POLICY_CHANGES: changes})
    with sessions() as session:
        policy.DomainPolicy(session).block_host("evil.test")
        session.rollback()
        session.commit()
    assert changes.generation == 0
