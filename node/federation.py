"""NodeFederation: the ActivityPub service of one node, installed by ``node.extensions.install``.

It owns the node's single outbound :class:`Transport` (with a cached domain policy), the domain
side (:class:`profiles.federation.CoopFederation`), the inbox handler registry, and the worker
jobs: inbox processing, deliveries, partner backfill. Web routes live in ``node.views.ap``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import delivery, inbox, signatures
from federation.actors import RemoteActors
from federation.errors import FederationError
from federation.policy import CachedPolicy, DomainPolicy
from federation.transport import Transport
from node.state import NodeState
from profiles.federation import CoopFederation
from profiles.models import Member, Partnership

log = logging.getLogger("coopfed.federation")

_NO_LOCK = contextlib.nullcontext()
INBOX_BATCH = 50
BACKFILL_BATCH = 2


class NodeFederation:
    def __init__(self, state: NodeState) -> None:
        self.state = state
        settings = state.settings
        self.policy = CachedPolicy(state.session, ttl=5.0)
        self.transport = Transport(
            user_agent=f"coopfed/0.1 (+{settings.base_url}/)",
            dev_mode=settings.dev_mode,
            policy=self.policy,
        )
        self.domain = CoopFederation(
            state.ctx,
            session_factory=state.session,
            vocabulary=state.vocabulary.get,
            avatar_url=self.avatar_url,
        )
        self.registry = self.domain.registry()
        self._sqlite_lock = threading.Lock()
        self.worker_id = f"{state.ctx.domain}-{os.getpid()}-{id(self):x}"
        self.deliveries = delivery.DeliveryWorker(
            state.session, self.transport, self.domain.resolver, self.worker_id
        )

    def avatar_url(self, member: Member) -> str | None:
        if not member.avatar:
            return None
        if member.avatar.startswith(("https://", "http://")):
            return member.avatar
        return f"{self.state.ctx.base_url}/avatars/{member.avatar}"

    def actors(self, session: Session) -> RemoteActors:
        """Remote actors bound to ``session``; GETs signed by our instance actor."""
        return RemoteActors(session, self.transport, self.domain.signer(session))

    # -- inbox ----------------------------------------------------------------------------------

    def receive(self, *, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """POST to any of our inboxes (one shared path: the activity says who it is for)."""
        # SQLite (embedded mode): a transaction that reads, then writes fails at once with
        # "database is locked" (no busy wait) if another connection wrote in between, which
        # concurrent POSTs do. One receive at a time per process there; PostgreSQL runs freely.
        lock = self._sqlite_lock if self.state.engine.dialect.name == "sqlite" else _NO_LOCK
        with lock, self.state.session() as session:
            actors = self.actors(session)
            session.commit()  # the instance key, if it was just made
            return inbox.receive(
                session,
                method="POST",
                url=url,
                headers=headers,
                body=body,
                actors=actors,
                policy=DomainPolicy(session),
                max_bytes=min(inbox.MAX_BYTES, self.state.settings.max_request_bytes),
            )

    def signed_partner(
        self, session: Session, *, method: str, url: str, headers: Mapping[str, str]
    ) -> Partnership | None:
        """The active partner whose instance actor signed this GET, else None (unsigned or
        invalid signatures are simply not partners: public data is still served)."""
        if not any(k.lower() == "signature" or k.lower() == "signature-input" for k in headers):
            return None
        actors = self.actors(session)
        try:
            verified = signatures.verify_request(method, url, dict(headers), b"", actors.key_lookup)
            key = verified.key or actors.key_lookup(verified.key_id)
        except FederationError as exc:
            log.info("signed GET refused: %s", exc)
            session.rollback()
            return None
        session.commit()  # keep the fetched key
        return session.scalar(
            select(Partnership).where(Partnership.actor == key.owner, Partnership.state == "active")
        )

    # -- worker jobs ----------------------------------------------------------------------------

    def job_inbox(self, state: NodeState) -> int:
        with state.session() as session:
            actors = self.actors(session)
            session.commit()
            return inbox.process_pending(session, self.registry, INBOX_BATCH, actors=actors)

    def job_deliveries(self, state: NodeState) -> int:
        return self.deliveries.run_once()

    def job_backfill(self, state: NodeState) -> int:
        done = 0
        with state.session() as session:
            ids = session.scalars(
                select(Partnership.id)
                .where(Partnership.backfill_due.is_(True), Partnership.state == "active")
                .limit(BACKFILL_BATCH)
            ).all()
            for pid in ids:
                partner = session.get(Partnership, pid)
                if partner is None:
                    continue
                try:
                    done += self.domain.backfill(session, self.actors(session), partner)
                    session.commit()
                except FederationError as exc:
                    session.rollback()
                    log.warning("backfill from partner %s failed: %s", pid, exc)
        return done

    def health(self) -> dict[str, Any]:
        with self.state.session() as session:
            return delivery.health(session)


def install(state: NodeState) -> NodeFederation:
    """Create the service, listen to domain events, register the worker jobs."""
    from node.worker import register_job

    fed = NodeFederation(state)
    state.services["federation"] = fed
    state.listeners.append(fed.domain.on_event)
    register_job(state, "federation.inbox", fed.job_inbox)
    register_job(state, "federation.deliveries", fed.job_deliveries)
    register_job(state, "federation.backfill", fed.job_backfill)
    return fed
