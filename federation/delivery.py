"""The delivery worker: claims due rows of ``fed_deliveries``, signs and POSTs them, records the
outcome under the retry policy of :mod:`federation.retry`.

Claiming is a lease (:mod:`federation.lease`), not a lock held for the duration of the POST. The
lease is short (:data:`DEFAULT_LEASE`, a minute) and renewed every quarter of it while the batch
is in flight (a heartbeat), so a live worker keeps its rows however slow its peers, and a worker
killed mid-batch (kill -9, OOM, power) leaves rows that another worker claims within a minute.
A worker starts a POST only while at least half its lease is left (its heartbeats are getting
through: the database is reachable), and records each outcome only while it still holds the
lease, so a row is sent by one worker at a time. A POST that succeeded but whose outcome could
not be recorded (the process died in between) is sent again after the lease: delivery is
at-least-once and receivers dedupe by activity id (as we do in ``inbox``).

What is left: a POST already in flight when the database becomes unreachable for longer than
the lease (renewals fail) may overlap with another worker's POST of the same row once the
database is back; receivers dedupe it by activity id like any redelivery.

POSTs run in a thread pool; all database writes (claims, renewals, outcomes) happen on the
calling thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from federation import lease, retry, transient
from federation.actors import LocalActorResolver
from federation.db import utcnow
from federation.errors import FederationError, TransportError
from federation.models import Delivery, Follower, Host, RemoteActor
from federation.transport import Transport

log = logging.getLogger(__name__)

# Short, because it is renewed (see the module docstring): how long a dead worker's rows wait.
DEFAULT_LEASE = timedelta(seconds=60)


@dataclass
class _Job:
    delivery_id: int
    inbox_url: str
    host: str
    body: bytes
    key: tuple[str, str]


@dataclass
class _Result:
    delivery_id: int
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    # Not sent and never to be retried: "failed" (policy, SSRF guard, no key) or "dead" (host).
    final_state: str | None = None
    skipped: bool = False  # not attempted (lease too short): release the claim


class DeliveryWorker:
    """One worker identity (``worker_id`` must be unique per process) stepping the queue.

    ``session_factory`` gives the sessions that write (claims, outcomes: on SQLite a write
    session, ``BEGIN IMMEDIATE``), ``read_session_factory`` those that only read.
    ``clock`` and ``rng`` are injectable so tests can step time and jitter deterministically;
    ``concurrency`` POSTs run at once: a batch is done when its slowest POST is, so with slow
    peers in a fan-out (2 s each, a tenth of 2,000 followers every 30 s in bench/soak.py) 8 at
    once could not keep up; POSTs wait on the network, not the CPU. ``health`` is the node's
    :class:`~federation.retry.HostHealth` (default: the process-wide one), the same object its
    inbox gets. ``lease`` is how long a claim lasts without renewal;
    it is renewed every ``renew_every`` (default: a quarter of it, real time) while in flight.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        transport: Transport,
        resolver: LocalActorResolver,
        worker_id: str,
        concurrency: int = 32,
        *,
        batch_size: int = 64,
        lease: timedelta = DEFAULT_LEASE,
        renew_every: timedelta | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        health: retry.HostHealth | None = None,
        read_session_factory: Callable[[], Session] | None = None,
    ) -> None:
        self.session_factory = session_factory
        # Reading what to POST (and resolving keys, which may write in a session of its own)
        # needs no write lock: on SQLite a write session here would hold it across that.
        self.read_session_factory = read_session_factory or session_factory
        self.transport = transport
        self.resolver = resolver
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.lease = lease
        self.clock = clock
        self.rng = rng or random.Random()
        # The node's healthy-host cache (shared with its inbox): a failure here forgets the host.
        self.health = health if health is not None else retry.PROCESS_HEALTH
        self.renew_every = renew_every or lease / 4
        # A POST starts only with this much lease left. Renewed every quarter lease, a held
        # lease never has less than three quarters left; half means heartbeats are failing.
        self.start_margin = lease / 2
        # Leases of the batch in flight, not yet recorded (renewals update them; pool threads
        # read them before starting a POST; a lost lease is removed).
        self._lease_until: dict[int, datetime] = {}

    # -- claiming -----------------------------------------------------------------------------

    def claim_due(self, n: int) -> list[int]:
        """Atomically lease up to ``n`` due pending rows to this worker; returns their ids."""
        return lease.claim_due(
            self.session_factory,
            Delivery,
            worker_id=self.worker_id,
            n=n,
            now=self.clock(),
            lease=self.lease,
        )

    # -- one step -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim a batch, POST it concurrently, record every outcome. Returns how many were sent.

        While POSTs are in flight the leases of the rows not yet recorded are renewed every
        :attr:`renew_every`."""
        ids = self.claim_due(self.batch_size)
        if not ids:
            return 0
        jobs, early = self._prepare(ids)
        sent = 0
        with self.session_factory() as session:
            sent += self._record_all(session, early)
            if jobs:
                with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
                    pending: set[Future[_Result]] = {pool.submit(self._post, j) for j in jobs}
                    renew_at = time.monotonic() + self.renew_every.total_seconds()
                    while pending:
                        done, pending = wait(
                            pending,
                            timeout=max(0.0, renew_at - time.monotonic()),
                            return_when=FIRST_COMPLETED,
                        )
                        sent += self._record_all(session, [f.result() for f in done])
                        if pending and time.monotonic() >= renew_at:
                            renew_at = time.monotonic() + self._renew(session)
        self._lease_until = {}
        return sent

    def _renew(self, session: Session) -> float:
        """Heartbeat: renew the leases of the rows not yet recorded; forget those lost. Returns
        seconds until the next renewal (sooner after a failure: the database restarting)."""
        outstanding = set(self._lease_until)
        now = self.clock()
        try:
            kept = lease.renew(
                session, Delivery, worker_id=self.worker_id, ids=outstanding, now=now,
                lease=self.lease,
            )  # fmt: skip
        except Exception as exc:
            session.rollback()
            log.warning("delivery leases not renewed: %s", transient.reason(exc))
            return min(1.0, self.renew_every.total_seconds())
        for delivery_id in outstanding:
            if delivery_id in kept:
                self._lease_until[delivery_id] = now + self.lease
            else:
                log.warning("lost the lease on delivery %s before recording it", delivery_id)
                self._lease_until.pop(delivery_id, None)
        return self.renew_every.total_seconds()

    def _record_all(self, session: Session, results: list[_Result]) -> int:
        """Record the outcomes that came in together in one transaction (one commit, one WAL
        flush, instead of one per POST): outcomes are recorded as fast as the POSTs complete,
        so a worker killed mid-batch leaves few POSTs done but unrecorded — the ones sent
        again after the lease. If that transaction fails, each outcome is recorded on its own
        (:meth:`_record_retrying`)."""
        if len(results) < 2:
            return sum(self._record_retrying(session, r) for r in results)
        try:
            with session.begin():
                sent = sum(self._apply(session, r) for r in results)
        except Exception as exc:
            session.rollback()
            log.info("recording %d outcomes together failed (%s): one by one", len(results), exc)
            return sum(self._record_retrying(session, r) for r in results)
        for r in results:
            self._lease_until.pop(r.delivery_id, None)
        return sent

    def _record_retrying(self, session: Session, result: _Result) -> int:
        """:meth:`_record`, retried while the failure is transient (the database busy or
        restarting) and we still hold the lease: a POST the peer accepted must be recorded as
        sent, or it would be sent again after the lease. Any other failure is logged and left to
        the lease (the row is claimed again later); the rest of the batch is still recorded."""
        try:
            return self._record_until_done(session, result)
        finally:
            self._lease_until.pop(result.delivery_id, None)  # recorded or given up: no renewal

    def _record_until_done(self, session: Session, result: _Result) -> int:
        delay = 0.05
        while True:
            try:
                return self._record(session, result)
            except Exception as exc:
                session.rollback()
                lease_end = self.clock() + timedelta(seconds=delay)
                if not transient.is_transient(exc) or not self._may_still_record(result, lease_end):
                    log.error(
                        "delivery %s: cannot record its outcome: %s",
                        result.delivery_id,
                        transient.reason(exc),
                    )
                    return 0
                log.info("delivery %s: recording retried: %s", result.delivery_id, exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _may_still_record(self, result: _Result, when: datetime) -> bool:
        until = self._lease_until.get(result.delivery_id)
        return until is not None and when < until

    def _prepare(self, ids: list[int]) -> tuple[list[_Job], list[_Result]]:
        """Load what each POST needs; rows that must not be attempted get a result right away."""
        jobs: list[_Job] = []
        early: list[_Result] = []
        self._lease_until = {}
        with self.read_session_factory() as session:
            rows = session.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
            for row in rows:
                if row.claimed_until is not None:
                    self._lease_until[row.id] = row.claimed_until
                if retry.is_host_dead(session, row.host):
                    early.append(_Result(row.id, error="host is dead", final_state="dead"))
                    continue
                key = self.resolver(row.activity.actor)
                if key is None:
                    early.append(
                        _Result(row.id, error="no key for local actor", final_state="failed")
                    )
                    continue
                jobs.append(
                    _Job(
                        delivery_id=row.id,
                        inbox_url=row.inbox_url,
                        host=row.host,
                        body=row.activity.body.encode("utf-8"),
                        key=key,
                    )
                )
        return jobs, early

    def _post(self, job: _Job) -> _Result:
        """Runs in a pool thread: network only, no database."""
        until = self._lease_until.get(job.delivery_id)
        if until is None or self.clock() + self.start_margin > until:
            return _Result(job.delivery_id, skipped=True)
        try:
            status, headers = self.transport.post(job.inbox_url, job.body, *job.key)
        except TransportError as exc:
            return _Result(job.delivery_id, error=str(exc)[:500])
        except FederationError as exc:  # Forbidden: blocked host, SSRF guard, non-https
            return _Result(job.delivery_id, error=str(exc)[:500], final_state="failed")
        return _Result(job.delivery_id, status=status, headers=headers)

    def _record(self, session: Session, result: _Result) -> int:
        """Apply one outcome in its own transaction."""
        with session.begin():
            return self._apply(session, result)

    def _apply(self, session: Session, result: _Result) -> int:
        """Apply one outcome in the open transaction, only if we still hold the lease."""
        now = self.clock()
        row = session.scalar(
            select(Delivery).where(Delivery.id == result.delivery_id).with_for_update()
        )
        if row is None or not lease.holds_lease(row, self.worker_id, now):
            log.warning("lost the lease on delivery %s; outcome dropped", result.delivery_id)
            return 0
        row.claimed_until = None
        if result.skipped:
            return 0
        if result.final_state is not None:
            row.state = result.final_state
            row.last_error = result.error
            return 0
        row.attempts += 1
        row.last_status = result.status
        row.last_error = result.error
        decision = retry.decide(
            status=result.status,
            headers=dict(result.headers),
            attempts=row.attempts,
            created_at=row.created_at,
            now=now,
            rng=self.rng,
        )
        row.state = decision.state
        if decision.next_attempt_at is not None:
            row.next_attempt_at = decision.next_attempt_at
        if decision.host_failure:
            retry.record_host_failure(session, row.host, now, self.health)
        elif result.status is not None:
            # Any HTTP answer below 500 means the host is up.
            retry.record_host_success(session, row.host, now)
        if decision.state == "sent":
            row.sent_at = now
        if decision.recipient_gone:
            _recipient_gone(session, row.inbox_url)
        return 1 if decision.state == "sent" else 0


def _recipient_gone(session: Session, inbox_url: str) -> None:
    """410 from an inbox: its actor was deleted. Tombstone the cache, drop it as a follower."""
    session.execute(
        update(RemoteActor)
        .where(RemoteActor.inbox == inbox_url)
        .values(gone=True, public_pem=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Follower).where(Follower.follower_inbox == inbox_url))


def health(session: Session) -> dict[str, Any]:
    """Delivery counts per state and per host, with host health, for the admin UI."""
    counts = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    by_state: dict[str, int] = {row[0]: row[1] for row in counts}
    hosts: dict[str, dict[str, Any]] = {}
    for host, state, count in session.execute(
        select(Delivery.host, Delivery.state, func.count()).group_by(Delivery.host, Delivery.state)
    ).all():
        entry = hosts.setdefault(host, {"host": host, "state": "ok", "deliveries": {}})
        entry["deliveries"][state] = count
    for h in session.scalars(select(Host)).all():
        entry = hosts.setdefault(h.host, {"host": h.host, "deliveries": {}})
        entry.update(
            state=h.state,
            consecutive_failures=h.consecutive_failures,
            dead_since=h.dead_since,
            last_success_at=h.last_success_at,
        )
    return {"deliveries": by_state, "hosts": sorted(hosts.values(), key=lambda e: e["host"])}
