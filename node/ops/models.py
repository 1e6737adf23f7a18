"""The operations snapshot table: the figures of :func:`node.ops.figures.collect`, taken by the
worker every ``snapshot_seconds``, drawn as charts on the admin dashboard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from federation.db import Base, utcnow


class OpsSnapshot(Base):
    """One point in time: ``figures`` is a JSON object of name -> number."""

    __tablename__ = "ops_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    figures: Mapped[str] = mapped_column(Text)
