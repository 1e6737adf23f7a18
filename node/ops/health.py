"""Readiness checks, without Flask (the deploy script and tests call them too).

``ready(state)`` answers the three questions a load balancer or systemd needs before sending
traffic: the database answers, its schema is at the newest migration, and this process's match
index is built (so the first request does not pay for it).
"""

from __future__ import annotations

from functools import lru_cache

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from node import db as node_db
from node.state import NodeState


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The newest revision(s) shipped with this code (read once: the scripts do not change)."""
    config = node_db.alembic_config(None)  # type: ignore[arg-type]  # no engine needed to read
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def ready(state: NodeState) -> list[str]:
    """The reasons this process is not ready to serve; empty when it is."""
    reasons: list[str] = []
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # any driver error means the same thing here: no database
        return [f"database unreachable: {type(exc).__name__}"]
    if current != migration_heads():
        have = ", ".join(sorted(current)) or "none"
        want = ", ".join(sorted(migration_heads()))
        reasons.append(f"migrations not current (database at {have}, code at {want})")
    if state.matching is not None and not state.matching.built:
        reasons.append("match index not loaded")
    return reasons


def warm_up(state: NodeState) -> None:
    """Build the heavy read-only state now (vocabulary, match index), before traffic."""
    with state.session() as session:
        state.vocabulary.get(session)
        if state.matching is not None:
            state.matching.warm(session)
