"""The node's operating figures read from the database, for Prometheus and the dashboard.

Everything here is computed from rows every process shares (deliveries, hosts, the inbox queue,
the mail queue), so it does not matter which process answers ``/metrics`` or writes a snapshot:
the ``coopfed worker`` processes need no metrics endpoint of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.db import utcnow
from federation.models import Delivery, Host, InboxItem
from profiles.mail import MailMessage

DELIVERY_STATES = ("pending", "sent", "failed", "dead")
HOST_STATES = ("ok", "failing", "dead")
INBOX_STATES = ("pending", "done", "failed")
MAIL_STATES = ("pending", "sent", "failed", "dead")


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def _by_state(session: Session, column: Any, known: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(known, 0)
    for state, count in session.execute(select(column, func.count()).group_by(column)):
        counts[str(state)] = int(count)
    return counts


def collect(session: Session, now: datetime | None = None) -> dict[str, float]:
    """Flat ``name -> value``: counts by state and the ages (seconds) of the oldest waiting rows.

    ``delivery_queue_depth``/``delivery_oldest_seconds``: deliveries still to send;
    ``worker_lag_seconds``: how long the oldest unprocessed inbox item has waited (0 when the
    workers keep up); ``emails_queued``: mail not sent yet.
    """
    now = now or utcnow()
    figures: dict[str, float] = {}
    for state, n in _by_state(session, Delivery.state, DELIVERY_STATES).items():
        figures[f"deliveries_{state}"] = n
    figures["delivery_queue_depth"] = figures["deliveries_pending"]
    oldest = select(func.min(Delivery.created_at)).where(Delivery.state == "pending")
    figures["delivery_oldest_seconds"] = _age(now, session.scalar(oldest))
    for state, n in _by_state(session, Host.state, HOST_STATES).items():
        figures[f"hosts_{state}"] = n
    for state, n in _by_state(session, InboxItem.state, INBOX_STATES).items():
        figures[f"inbox_{state}"] = n
    figures["worker_lag_seconds"] = _age(
        now,
        session.scalar(select(func.min(InboxItem.received_at)).where(InboxItem.state == "pending")),
    )
    mail = _by_state(session, MailMessage.state, MAIL_STATES)
    for state, n in mail.items():
        figures[f"emails_{state}"] = n
    figures["emails_queued"] = mail["pending"]
    return figures
