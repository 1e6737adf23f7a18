"""The whole delivery retry policy, in one place.

- Backoff: 30 s * 2^(attempt-1), capped at 12 h, with +-25 % jitter so a recovering host is not
  hit by every node at the same second. Mastodon's Sidekiq retries span about 3 days too.
- Give up (``dead``) after 15 attempts or 3 days, whichever comes first.
- ``classify``: 2xx sent; 408/429/5xx and network errors retry; any other status is permanent
  (a 4xx will not get better by repeating it). 410 additionally means the recipient is gone.
- ``Retry-After`` (seconds or HTTP date) is honoured when it asks for longer than our backoff,
  up to the 12 h cap.
- Dead hosts (Mastodon's DeliveryFailureTracker marks a domain unavailable after failures on
  several days): a host with >= 8 consecutive retryable failures spread over >= 12 h is ``dead``;
  deliveries to it are marked dead instead of attempted. Any success on the host — a delivery,
  or a verified activity it sent us — revives it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from federation.models import Host, dialect_insert

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=12)
MAX_ATTEMPTS = 15
GIVE_UP_AFTER = timedelta(days=3)
JITTER = 0.25
DEAD_HOST_FAILURES = 8
DEAD_HOST_SPAN = timedelta(hours=12)

Outcome = Literal["sent", "retry", "permanent"]


def next_delay(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Delay before attempt ``attempt + 1``, after ``attempt`` (>= 1) failed attempts."""
    exponent = min(max(attempt - 1, 0), 20)
    base = min(BASE_DELAY * (2**exponent), MAX_DELAY)
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return min(base * factor, MAX_DELAY)


def classify(status: int | None, headers: dict[str, str] | None = None) -> Outcome:
    """``status`` None means the request never got an answer (network error, timeout).

    ``headers`` are accepted for symmetry with :func:`retry_after`; the outcome depends on the
    status alone."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "sent"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "permanent"


def retry_after(headers: dict[str, str] | None, now: datetime) -> timedelta | None:
    """The delay a ``Retry-After`` header asks for (RFC 9110: seconds or HTTP date)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


@dataclass(frozen=True)
class Decision:
    """What to do with a delivery after one attempt."""

    state: Literal["sent", "pending", "failed", "dead"]
    next_attempt_at: datetime | None = None
    recipient_gone: bool = False
    host_failure: bool = False  # counts toward the dead-host rule


def decide(
    *,
    status: int | None,
    headers: dict[str, str] | None,
    attempts: int,
    created_at: datetime,
    now: datetime,
    rng: random.Random | None = None,
) -> Decision:
    """Outcome of an attempt; ``attempts`` already includes this one."""
    outcome = classify(status, headers)
    if outcome == "sent":
        return Decision("sent")
    if outcome == "permanent":
        return Decision("failed", recipient_gone=status == 410)
    delay = next_delay(attempts, rng)
    asked = retry_after(headers, now)
    if asked is not None:
        delay = min(max(delay, asked), MAX_DELAY)
    when = now + delay
    # 429 means the host is up and protecting itself: not a host failure.
    host_failure = status != 429
    if attempts >= MAX_ATTEMPTS or when - created_at > GIVE_UP_AFTER:
        return Decision("dead", host_failure=host_failure)
    return Decision("pending", next_attempt_at=when, host_failure=host_failure)


# -- host health ------------------------------------------------------------------------------


def _host_row(session: Session, host: str) -> Host:
    insert = dialect_insert(session, Host).values(host=host, state="ok", consecutive_failures=0)
    session.execute(insert.on_conflict_do_nothing(index_elements=[Host.host]))
    stmt = select(Host).where(Host.host == host).execution_options(populate_existing=True)
    row = session.scalar(stmt)
    assert row is not None
    return row


def is_host_dead(session: Session, host: str) -> bool:
    state = session.scalar(select(Host.state).where(Host.host == host))
    return state == "dead"


def record_host_success(session: Session, host: str, now: datetime) -> None:
    """A delivery to ``host`` succeeded, or it sent us a verified activity: it is alive."""
    row = _host_row(session, host)
    row.state = "ok"
    row.consecutive_failures = 0
    row.failing_since = None
    row.dead_since = None
    row.last_success_at = now


def record_host_failure(
    session: Session, host: str, now: datetime, health: HostHealth | None = None
) -> bool:
    """Count a retryable failure; returns True if the host is (now) dead. ``health``: the
    node's cache of healthy hosts, which forgets ``host`` (default: :data:`PROCESS_HEALTH`)."""
    _or_process(health).forget(host)
    row = _host_row(session, host)
    row.consecutive_failures += 1
    if row.failing_since is None:
        row.failing_since = now
    if (
        row.state != "dead"
        and row.consecutive_failures >= DEAD_HOST_FAILURES
        and now - row.failing_since >= DEAD_HOST_SPAN
    ):
        row.state = "dead"
        row.dead_since = now
    return row.state == "dead"


# Built once: statement construction costs more than the look-up itself.
_HOST_HEALTH = (
    select(Host.state, Host.consecutive_failures).where(Host.host == bindparam("host")).limit(1)
)

HEALTHY_TTL = 60.0
_KNOWN_HEALTHY_MAX = 10_000


class HostHealth:
    """Hosts recently seen healthy, so that an inbox POST from a healthy host costs no query.

    Owned by whoever serves the inbox and runs deliveries — one per node: give the same object
    to :func:`federation.inbox.receive` and :class:`federation.delivery.DeliveryWorker`, so a
    failure recorded by the worker makes the inbox look the host up again. Thread-safe enough
    for its use: a lost update only costs one more query.
    """

    def __init__(self, ttl: float = HEALTHY_TTL, max_hosts: int = _KNOWN_HEALTHY_MAX) -> None:
        self.ttl = ttl
        self.max_hosts = max_hosts
        # host -> monotonic time until which it is known ok (cleared in place, never rebound)
        self.known: dict[str, float] = {}

    def forget(self, host: str) -> None:
        self.known.pop(host, None)

    def clear(self) -> None:
        self.known.clear()

    def note_alive(self, session: Session, host: str, now: datetime) -> None:
        """A verified inbound activity from ``host``: revive it if we had it failing or dead.

        Unlike :func:`record_host_success` this creates no row for hosts we never delivered to.
        """
        # A host seen healthy is not looked up again for ``ttl`` seconds; a failure recorded
        # through this object forgets it at once, one recorded by a worker in another process
        # delays its revival by at most ``ttl``: the next activity from it after that revives it
        # (a host is only marked dead after 12 hours of failures).
        clock = time.monotonic()
        if self.known.get(host, 0.0) > clock:
            return
        row = session.connection().execute(_HOST_HEALTH, {"host": host}).first()
        if row is not None and (row[0] != "ok" or row[1]):
            record_host_success(session, host, now)
            return  # not cached: that write is not committed yet
        if len(self.known) >= self.max_hosts:
            self.known.clear()
        self.known[host] = clock + self.ttl


# For callers that do not own one (tests, scripts): one cache for the whole process.
PROCESS_HEALTH = HostHealth()


def _or_process(health: HostHealth | None) -> HostHealth:
    return health if health is not None else PROCESS_HEALTH


def note_host_alive(
    session: Session, host: str, now: datetime, health: HostHealth | None = None
) -> None:
    """:meth:`HostHealth.note_alive` of ``health`` (default: :data:`PROCESS_HEALTH`)."""
    _or_process(health).note_alive(session, host, now)


# Compatibility: the process-wide cache's dict (tests/conftest.py clears it between tests).
_known_healthy = PROCESS_HEALTH.known
