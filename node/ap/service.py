"""NodeFederation: the ActivityPub service of one node, installed by ``node.extensions.install``.

It owns the node's single outbound :class:`Transport` (with a cached domain policy), the coop
side (:class:`profiles.ap.CoopFederation`, as ``.coop``), the inbox handler registry, and
the worker jobs: inbox processing, deliveries, partner backfill. It is also the one door from
the web and the CLI to the federation engine (blocks, delivery health), so that ``node.web``
and ``node.api`` never import ``federation``. The routes live in the other ``node.ap`` modules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from federation import delivery, inbox, outbox, policy, retry, signatures
from federation.actors import RemoteActors
from federation.db import utcnow
from federation.errors import FederationError
from federation.iri import is_http_iri
from federation.models import ActorBlock, DomainPolicyEntry
from federation.policy import CachedPolicy, DomainPolicy
from federation.transport import Transport
from node.state import NodeState
from profiles import avatars, privacy, signin
from profiles.ap import CoopFederation
from profiles.ap.following import FollowedAccount
from profiles.errors import DomainError
from profiles.models import Member, Partnership

log = logging.getLogger("coopfed.federation")

_NO_LOCK = contextlib.nullcontext()
# SQLite: attempts of one inbox POST whose write lost the race with another process.
SQLITE_BUSY_ATTEMPTS = 3
INBOX_BATCH = 50
BACKFILL_BATCH = 2
AVATAR_BATCH = 5

# What an administrator's federation action (partnerships, blocks) may raise: the engine's
# errors (a partner's server unreachable, a bad IRI) and the domain's (no such partnership).
ADMIN_ERRORS: tuple[type[Exception], ...] = (FederationError, DomainError)


class NodeFederation:
    def __init__(self, state: NodeState) -> None:
        self.state = state
        settings = state.settings
        # Per-node caches (two nodes in one process must not share them): the hosts seen alive
        # recently, and the generation of this node's domain policy.
        self.host_health = retry.HostHealth()
        self.policy_changes = policy.PolicyChanges()
        self.policy = CachedPolicy(state.session, ttl=5.0, changes=self.policy_changes)
        self.transport = Transport(
            user_agent=f"coopfed/0.1 (+{settings.base_url}/)",
            dev_mode=settings.dev_mode,
            policy=self.policy,
            allow_private_peers=settings.allow_private_peers,
            ca_bundle=settings.ca_bundle or None,
        )
        if settings.allow_private_peers and not settings.dev_mode:
            log.warning(
                "COOPFED_ALLOW_PRIVATE_PEERS is on: outbound federation may reach loopback and "
                "private addresses (SSRF guard off). Only for private networks and tests."
            )
        # The coop's side of federation (documents, publishing, partnerships, inbound handlers).
        self.coop = CoopFederation(
            state.ctx,
            session_factory=state.session,
            vocabulary=state.vocabulary.get,
            avatar_url=self.avatar_url,
        )
        self.registry = self.coop.registry()
        # Every session of this node signs what it publishes with FEP-8b32 proofs, including
        # the activities the engine builds itself (Accept/Reject of follows).
        # configure(info=) replaces the whole dict: both keys in one call.
        state.sessionmaker.configure(
            info={
                outbox.PROOF_SIGNER: self.coop.prove,
                policy.POLICY_CHANGES: self.policy_changes,
            }
        )
        self._sqlite_lock = threading.Lock()
        self.worker_id = f"{state.ctx.domain}-{os.getpid()}-{id(self):x}"
        self.deliveries = delivery.DeliveryWorker(
            state.session,
            self.transport,
            self.coop.resolver,
            self.worker_id,
            health=self.host_health,
        )

    def avatar_url(self, member: Member) -> str | None:
        if not member.avatar:
            return None
        if member.avatar.startswith(("https://", "http://")):
            return member.avatar
        return f"{self.state.ctx.base_url}/avatars/{member.avatar}"

    def actors(self, session: Session) -> RemoteActors:
        """Remote actors bound to ``session``; GETs signed by our instance actor."""
        return RemoteActors(session, self.transport, self.coop.signer(session))

    def _committed_actors(self, session: Session) -> RemoteActors:
        """:meth:`actors`, committing the instance key if it was just made. Once committed the
        key store caches it (CoopFederation._meta_key): no query, and this commit is a no-op."""
        actors = self.actors(session)
        session.commit()
        return actors

    # -- inbox ----------------------------------------------------------------------------------

    def receive(self, *, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """POST to any of our inboxes (one shared path: the activity says who it is for)."""
        # SQLite (embedded mode): a transaction that reads, then writes fails at once with
        # "database is locked" (no busy wait) if another connection wrote in between, which
        # concurrent POSTs do. One receive at a time per process there; PostgreSQL runs freely.
        sqlite = self.state.engine.dialect.name == "sqlite"
        lock = self._sqlite_lock if sqlite else _NO_LOCK
        for attempt in range(1, SQLITE_BUSY_ATTEMPTS + 1):
            try:
                with lock, self.state.session() as session:
                    return inbox.receive(
                        session,
                        method="POST",
                        url=url,
                        headers=headers,
                        body=body,
                        actors=self._committed_actors(session),
                        # The cached snapshot: reloaded after any policy change committed in this
                        # process (an admin's block applies to the next POST), within its ttl
                        # after a change made by another process.
                        policy=self.policy,
                        max_bytes=min(inbox.MAX_BYTES, self.state.settings.max_request_bytes),
                        health=self.host_health,
                        check=self.coop.check_activity,
                    )
            except OperationalError as exc:
                # The lock above is per process: with several (gunicorn -w 2) a transaction that
                # read before another process committed cannot write (SQLITE_BUSY_SNAPSHOT, no
                # busy wait). inbox.receive writes the item in a fresh transaction, but fetching
                # a sender's key reads then writes. Nothing was kept (inbox.receive rolled
                # back), so the whole POST is simply tried again on a fresh snapshot.
                if not (sqlite and _sqlite_busy(exc)) or attempt == SQLITE_BUSY_ATTEMPTS:
                    raise
                log.debug("inbox POST retried after SQLite busy (attempt %d)", attempt)
        raise AssertionError("unreachable")

    def blocked_signer(self, headers: Mapping[str, str]) -> bool:
        """Does this request claim a signature by a blocked server or actor? (Unverified: a
        blocked server gets nothing, whatever key it names; a forger naming a blocked key only
        turns itself away.)"""
        key_id = signatures.claimed_key_id(headers)
        if not key_id:
            return False
        actor = key_id.split("#", 1)[0]
        return is_http_iri(actor) and self.policy.is_blocked_actor(actor)

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
            actors = self._committed_actors(session)
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
                    done += self.coop.backfill(session, self.actors(session), partner)
                    session.commit()
                except FederationError as exc:
                    session.rollback()
                    log.warning("backfill from partner %s failed: %s", pid, exc)
        return done

    def job_partner_sync(self, state: NodeState) -> int:
        """Mark partners whose last sync is older than ``partner_sync_hours`` for a new
        backfill (which reconciles: removes what they no longer list)."""
        hours = state.settings.partner_sync_hours
        if hours <= 0:
            return 0
        cutoff = utcnow() - timedelta(hours=hours)
        with state.session() as session:
            due = session.scalars(
                select(Partnership).where(
                    Partnership.state == "active",
                    Partnership.backfill_due.is_(False),
                    (Partnership.backfilled_at.is_(None)) | (Partnership.backfilled_at < cutoff),
                )
            ).all()
            for partner in due:
                partner.backfill_due = True
            session.commit()
            return len(due)

    def job_remote_avatars(self, state: NodeState) -> int:
        """Fetch partner members' new avatars once through the guarded transport, check and
        re-encode them (:func:`profiles.avatars.reencode`) and keep the copy in the avatars
        folder: pages never hot-link another server (issue 10, leak 5)."""
        folder = Path(state.settings.instance_path) / "avatars"
        with state.session() as session:
            rows = session.scalars(
                select(Member)
                .where(Member.local.is_(False), Member.avatar.startswith("http"))
                .limit(AVATAR_BATCH)
            ).all()
            for member in rows:
                url = member.avatar or ""
                try:
                    # Signed: a partners-only member's picture is for partner coops only.
                    signer = self.coop.signer(session)
                    _final, _type, body = self.transport.get(url, accept="image/*", signer=signer)
                    data = avatars.reencode(body)
                except (FederationError, ValueError) as exc:
                    log.info("avatar of %s not kept: %s", member.ap_id, exc)
                    member.avatar = ""
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{secrets.token_urlsafe(16)}.png"
                (folder / name).write_bytes(data)
                member.avatar = name
            if rows:
                self._drop_unused_avatars(session, folder)
            session.commit()
            return len(rows)

    @staticmethod
    def _drop_unused_avatars(session: Session, folder: Path) -> None:
        """Files no member refers to any more (a partner member's replaced picture)."""
        used = set(session.scalars(select(Member.avatar).where(Member.avatar.is_not(None))))
        for path in folder.glob("*"):
            if path.is_file() and path.name not in used and path.stat().st_mtime < time.time() - 60:
                path.unlink(missing_ok=True)

    def job_retention(self, state: NodeState) -> int:
        """Prune inbox items, cached actors and spent tombstone keys (``retention_days``) and
        expired sessions."""
        with state.session() as session:
            done = privacy.prune(session, timedelta(days=state.settings.retention_days))
            # Server-side sessions outlive no cookie (PERMANENT_SESSION_LIFETIME, 14 days).
            done += signin.expire_sessions(session, timedelta(days=14))
            session.commit()
            return 0 if done == 0 else 1

    # -- following fediverse accounts -----------------------------------------------------------
    # ``who``: a member's user name, or "calls" for the project-calls Group. The caller commits;
    # errors are FollowRefused (a DomainError, in ADMIN_ERRORS) with a reason code.

    def follow(self, session: Session, who: str, target: str) -> FollowedAccount:
        """``who`` follows ``target`` (``@user@host``, ``acct:user@host`` or a URL)."""
        return self.coop.follows.follow(session, self.actors(session), self.policy, who, target)

    def unfollow(self, session: Session, who: str, target: str) -> FollowedAccount:
        return self.coop.follows.unfollow(session, self.actors(session), self.policy, who, target)

    def following(self, session: Session, who: str) -> list[FollowedAccount]:
        return self.coop.follows.following(session, who)

    def job_outbox_upgrade(self, state: NodeState) -> int:
        """Stored outbox rows brought up to the current format, a batch per round, until done
        (then a cached no-op). ``coopfed db upgrade`` does all of it at once."""
        with state.session() as session:
            if not self.coop.outbox_upgrade.pending(session):
                return 0
            done = self.coop.outbox_upgrade.run_batch(session)
            session.commit()
            return done

    def upgrade_outbox(self) -> int:
        """Every stored outbox row to the current format now; how many were rewritten."""
        with self.state.session() as session:
            return self.coop.outbox_upgrade.run_all(session)

    # -- administration -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Delivery counts per state and per remote host (``federation.delivery.health``)."""
        with self.state.session() as session:
            return delivery.health(session)

    def blocks(self, session: Session) -> tuple[list[DomainPolicyEntry], list[ActorBlock]]:
        """The domain policy entries and the blocked actors, sorted for display."""
        domains = session.scalars(select(DomainPolicyEntry).order_by(DomainPolicyEntry.host))
        actors = session.scalars(select(ActorBlock).order_by(ActorBlock.actor))
        return list(domains), list(actors)

    def block_host(self, session: Session, host: str, reason: str | None = None) -> None:
        DomainPolicy(session).block_host(host, reason)

    def unblock_host(self, session: Session, host: str) -> None:
        DomainPolicy(session).unblock_host(host)

    def block_actor(self, session: Session, iri: str, reason: str | None = None) -> None:
        DomainPolicy(session).block_actor(iri, reason)

    def unblock_actor(self, session: Session, iri: str) -> None:
        DomainPolicy(session).unblock_actor(iri)


def _sqlite_busy(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


def install(state: NodeState) -> NodeFederation:
    """Create the service, listen to domain events, register the worker jobs."""
    from node.worker import register_job

    fed = NodeFederation(state)
    state.federation = fed
    state.listeners.append(fed.coop.on_event)
    register_job(state, "federation.inbox", fed.job_inbox)
    register_job(state, "federation.deliveries", fed.job_deliveries)
    register_job(state, "federation.backfill", fed.job_backfill)
    register_job(state, "federation.outbox_upgrade", fed.job_outbox_upgrade)
    register_job(state, "federation.partner_sync", fed.job_partner_sync)
    register_job(state, "privacy.retention", fed.job_retention)
    register_job(state, "privacy.remote_avatars", fed.job_remote_avatars)
    return fed
