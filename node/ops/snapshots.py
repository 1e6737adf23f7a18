"""Snapshots of the operating figures over time, written by the worker for the dashboard.

A worker job: at most one snapshot every ``snapshot_seconds`` for the whole node (a worker
process that finds a recent one written by another skips), older ones pruned after
``snapshot_keep_days``. Counters that only web processes hold (inbox refusals, match latency)
are in Prometheus, not here.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from federation.db import utcnow
from node.ops import figures
from node.ops.models import OpsSnapshot
from node.state import NodeState


class SnapshotJob:
    """The ``ops.snapshot`` worker job: looks at the database at most once per interval."""

    def __init__(self) -> None:
        self._next_check = 0.0

    def __call__(self, state: NodeState) -> int:
        if time.monotonic() < self._next_check:
            return 0
        every = state.settings.snapshot_seconds
        self._next_check = time.monotonic() + every
        with state.session() as session:
            return take(session, every, state.settings.snapshot_keep_days)


def take(session: Session, every: float, keep_days: int, now: datetime | None = None) -> int:
    """Write a snapshot unless one is younger than ``every`` seconds; 1 if written. Commits."""
    now = now or utcnow()
    latest = session.scalar(select(func.max(OpsSnapshot.taken_at)))
    if latest is not None and (now - latest).total_seconds() < every * 0.9:
        return 0
    values = figures.collect(session, now)
    session.add(OpsSnapshot(taken_at=now, figures=json.dumps(values, separators=(",", ":"))))
    expired = now - timedelta(days=keep_days)
    session.execute(delete(OpsSnapshot).where(OpsSnapshot.taken_at < expired))
    session.commit()
    return 1


def series(
    session: Session, since: datetime, names: list[str]
) -> tuple[list[datetime], dict[str, list[float]]]:
    """The snapshots since ``since``, oldest first: their times and one list per figure."""
    rows = session.execute(
        select(OpsSnapshot.taken_at, OpsSnapshot.figures)
        .where(OpsSnapshot.taken_at >= since)
        .order_by(OpsSnapshot.taken_at)
    ).all()
    times = [row[0] for row in rows]
    out: dict[str, list[float]] = {name: [] for name in names}
    for _, raw in rows:
        values = json.loads(raw)
        for name in names:
            out[name].append(float(values.get(name, 0.0)))
    return times, out
