"""Leased claiming of due rows of a work queue table (outgoing deliveries, outgoing mail, …).

A queue table has the columns ``id``, ``state``, ``next_attempt_at``, ``claimed_by`` and
``claimed_until``. Claiming is a lease, not a lock held while the work runs: one statement sets
``claimed_by``/``claimed_until`` on up to ``n`` due rows —
``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING id`` on PostgreSQL,
the same UPDATE on SQLite where the database write lock makes the statement atomic. A worker
killed mid-batch leaves rows whose lease expires; another worker then claims them. A worker
records an outcome only while :func:`holds_lease` is true, so a row is worked by one worker at a
time (at-least-once: work done but not recorded before a crash is done again).

Leases are short and renewed (:func:`renew`, a heartbeat) while the work is in flight: a live
worker keeps its rows however slow the work, and a dead one's rows are free again within one
lease (a minute) instead of after the longest the work could possibly take.

Generic on purpose: it knows nothing of what the rows are for.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session


def claim_due(
    session_factory: Callable[[], Session],
    model: Any,
    *,
    worker_id: str,
    n: int,
    now: datetime,
    lease: timedelta,
    state: str = "pending",
) -> list[int]:
    """Atomically lease up to ``n`` rows of ``model`` in ``state`` whose ``next_attempt_at`` is
    due and whose lease is free or expired; commits and returns their ids, sorted."""
    free = or_(model.claimed_until.is_(None), model.claimed_until < now)
    due = (
        select(model.id)
        .where(model.state == state, model.next_attempt_at <= now, free)
        .order_by(model.next_attempt_at, model.id)
        .limit(n)
        # PostgreSQL: concurrent workers skip each other's candidate rows instead of
        # queueing on them. SQLite ignores it; its write lock serialises the UPDATE.
        .with_for_update(skip_locked=True)
        # A CTE is evaluated once. As a plain IN (subquery) PostgreSQL may re-run the
        # LIMIT … SKIP LOCKED scan per candidate row and claim every due row, not n.
        .cte("due")
    )
    stmt = (
        update(model)
        .where(model.id.in_(select(due.c.id)), model.state == state, free)
        .values(claimed_by=worker_id, claimed_until=now + lease)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    with session_factory() as session, session.begin():
        return sorted(session.scalars(stmt))


def holds_lease(row: Any, worker_id: str, now: datetime, state: str = "pending") -> bool:
    """True if ``row`` (loaded ``FOR UPDATE``) is still in ``state`` and leased to ``worker_id``."""
    return (
        row is not None
        and row.state == state
        and row.claimed_by == worker_id
        and row.claimed_until is not None
        and row.claimed_until >= now
    )


def renew(
    session: Session,
    model: Any,
    *,
    worker_id: str,
    ids: Collection[int],
    now: datetime,
    lease: timedelta,
    state: str = "pending",
) -> set[int]:
    """Extend to ``now + lease`` the leases ``worker_id`` still holds on ``ids`` (in ``state``,
    not expired at ``now``); commits and returns the ids renewed. A row missing from the answer
    was lost (expired, taken over, or finished elsewhere): its work must not start, and its
    outcome will not be recorded (:func:`holds_lease`)."""
    if not ids:
        return set()
    stmt = (
        update(model)
        .where(
            model.id.in_(sorted(ids)),
            model.state == state,
            model.claimed_by == worker_id,
            model.claimed_until >= now,
        )
        .values(claimed_until=now + lease)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    with session.begin():
        return set(session.scalars(stmt))
