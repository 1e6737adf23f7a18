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
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from federation import (
    delivery,
    inbox,
    inbox_keys,
    outbox,
    policy,
    retry,
    signatures,
    transient,
)
from federation.actors import RemoteActors
from federation.db import utcnow
from federation.errors import FederationError
from federation.iri import is_http_iri
from federation.models import ActorBlock, DomainPolicyEntry
from federation.policy import CachedPolicy, DomainPolicy
from federation.transport import Transport
from node.state import NodeState
from profiles import avatars, member_keys, privacy, signin
from profiles.ap import CoopFederation
from profiles.ap.following import FollowedAccount
from profiles.errors import DomainError
from profiles.models import Member, Partnership

log = logging.getLogger("coopfed.federation")

_NO_LOCK = contextlib.nullcontext()
# How long an inbox POST retries a transient database failure before answering 5xx (a proxy
# in front usually gives up after 60 s).
RECEIVE_RETRY_SECONDS = 20.0
INBOX_BATCH = 50
KEYS_RECHECK_SECONDS = 60.0
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
        self.inbox_keys = inbox_keys.KeyCache()
        self.policy_changes = policy.PolicyChanges()
        # Read sessions: the policy is loaded inside other transactions (the inbox's).
        self.policy = CachedPolicy(state.read_session_factory, ttl=5.0, changes=self.policy_changes)
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
            session_factory=state.read_session_factory,
            write_session_factory=state.write_session_factory,
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
        self._keys_idle_until = 0.0
        self.worker_id = f"{state.ctx.domain}-{os.getpid()}-{id(self):x}"
        self.deliveries = delivery.DeliveryWorker(
            state.write_session_factory,
            self.transport,
            self.coop.resolver,
            self.worker_id,
            health=self.host_health,
            read_session_factory=state.read_session_factory,
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
        if session.in_transaction():
            session.commit()
        return actors

    # -- inbox ----------------------------------------------------------------------------------

    def receive(self, *, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """POST to any of our inboxes (one shared path: the activity says who it is for).

        Not a write session, on purpose: the checks (signature verification, the bulk of the
        work) read, in a deferred transaction, so that several processes (gunicorn -w 2) check
        in parallel; ``inbox.receive`` then writes the item in a transaction of its own whose
        first statement is the INSERT — on SQLite such a transaction waits for the write lock
        (busy_timeout) like ``BEGIN IMMEDIATE`` does. The one read-then-write left is caching a
        first-seen sender's key: if another connection committed meanwhile it fails with
        "database is locked", and, like any transient failure (a database restart), the whole
        POST is tried again on a fresh transaction for up to :data:`RECEIVE_RETRY_SECONDS` —
        on SQLite in a write session, which cannot lose that race again. Nothing was kept
        meanwhile (``inbox.receive`` rolled back): 202 means stored. The
        process lock keeps this process's POSTs from racing each other for that lock on
        SQLite; PostgreSQL runs freely.
        """
        sqlite = self.state.engine.dialect.name == "sqlite"
        lock = self._sqlite_lock if sqlite else _NO_LOCK
        give_up = time.monotonic() + RECEIVE_RETRY_SECONDS
        delay = 0.05
        new_session = self.state.session
        while True:
            try:
                with lock, new_session() as session:
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
                        keys=self.inbox_keys,
                    )
            except (OperationalError, DBAPIError) as exc:
                if not transient.is_transient(exc) or time.monotonic() + delay > give_up:
                    raise
                log.info("inbox POST retried after a transient failure: %s", transient.reason(exc))
                if sqlite:
                    # The deferred transaction read, fetched the sender's key, and could not
                    # write it: another connection had committed meanwhile. Under steady writes
                    # (the worker) it would lose that race again and again: the next attempt
                    # takes the write lock up front (it then holds it across the key's fetch).
                    new_session = self.state.write_session_factory
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- keys -----------------------------------------------------------------------------------

    def ensure_node_keys(self) -> None:
        """The coop's and the calls Group's keys exist (made once, in a write session of their
        own: the worker's first round does it; a GET that comes first too, so the GET's own
        session still only reads). A no-op once they are cached."""
        keys = self.coop.keys
        if keys.node_keys_cached():
            return
        with self.state.write_session() as session:
            for which in ("coop", "calls"):
                keys.meta_private(session, which)
                keys.meta_ed25519(session, which)
        with self.state.read_session() as session:  # caches them (see KeyStore._meta_key)
            for which in ("coop", "calls"):
                keys.meta_private(session, which)
                keys.meta_ed25519(session, which)

    def make_member_keys(self) -> int:
        """Keys for every local member without, now (``coopfed db upgrade``); how many."""
        made = 0
        while True:
            with self.state.read_session() as session:
                ids = member_keys.missing(session)
            if not ids:
                return made
            keys = member_keys.made_keys(ids)
            with self.state.write_session() as session:
                member_keys.store_keys(session, keys)
            made += len(ids)

    def job_member_keys(self, state: NodeState) -> int:
        """Worker job: the node's keys, then the keys of members created without (bulk imports,
        databases from before keys were made with the member), a batch per round. Checks again
        every :data:`KEYS_RECHECK_SECONDS` once none is missing."""
        self.ensure_node_keys()
        if time.monotonic() < self._keys_idle_until:
            return 0
        with state.read_session() as session:
            ids = member_keys.missing(session)
        if ids:
            keys = member_keys.made_keys(ids)  # outside any transaction: RSA takes a while
            with state.write_session() as session:
                member_keys.store_keys(session, keys)
        made = len(ids)
        if made == 0:
            self._keys_idle_until = time.monotonic() + KEYS_RECHECK_SECONDS
        return made

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
        invalid signatures are simply not partners: public data is still served).

        ``session`` (the GET's) only reads: the signature is checked in a write session of its
        own, which keeps the signer's key if it had to be fetched (a cache of remote data)."""
        if not any(k.lower() == "signature" or k.lower() == "signature-input" for k in headers):
            return None
        # A partner's key is cached from the partnership on: verify with the GET's read
        # session. Only a key we must fetch takes a write session: on SQLite that holds the
        # write lock across the fetch, and two nodes backfilling from each other then each
        # waited for the other's lock (the demo's backfill GETs timed out, 1 run in 3).
        stored = partial(_cached_key, RemoteActors(session, self.transport))
        try:
            verified = signatures.verify_request(method, url, dict(headers), b"", stored)
        except _NotCached:
            verified = None
        except FederationError as exc:
            log.info("signed GET refused: %s", exc)
            return None
        if verified is not None and verified.key is not None:
            return session.scalar(
                select(Partnership).where(
                    Partnership.actor == verified.key.owner, Partnership.state == "active"
                )
            )
        self.ensure_node_keys()  # signs the key fetch
        with self.state.write_session_factory() as own:
            actors = self.actors(own)
            try:
                verified = signatures.verify_request(
                    method, url, dict(headers), b"", actors.key_lookup
                )
                key = verified.key or actors.key_lookup(verified.key_id)
            except FederationError as exc:
                log.info("signed GET refused: %s", exc)
                own.rollback()
                return None
            own.commit()  # keep the fetched key
        return session.scalar(
            select(Partnership).where(Partnership.actor == key.owner, Partnership.state == "active")
        )

    # -- worker jobs ----------------------------------------------------------------------------

    def job_inbox(self, state: NodeState) -> int:
        # A write session: each item's transaction holds SQLite's write lock from its first read
        # (the item) to its commit, so a handler's writes cannot fail for a concurrent commit.
        with state.write_session_factory() as session:
            actors = self._committed_actors(session)
            return inbox.process_pending(session, self.registry, INBOX_BATCH, actors=actors)

    def job_deliveries(self, state: NodeState) -> int:
        return self.deliveries.run_once()

    def job_backfill(self, state: NodeState) -> int:
        done = 0
        with state.write_session_factory() as session:
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
                    done += self.coop.backfill(
                        session, self.actors(session), partner, page_done=session.commit
                    )
                    session.commit()
                except (FederationError, DBAPIError) as exc:
                    session.rollback()
                    if isinstance(exc, DBAPIError) and not transient.is_transient(exc):
                        raise
                    # Still due: tried again next round (storing is idempotent).
                    log.warning("backfill from partner %s: %s", pid, transient.reason(exc))
        return done

    def job_partner_sync(self, state: NodeState) -> int:
        """Mark partners whose last sync is older than ``partner_sync_hours`` for a new
        backfill (which reconciles: removes what they no longer list)."""
        hours = state.settings.partner_sync_hours
        if hours <= 0:
            return 0
        cutoff = utcnow() - timedelta(hours=hours)
        due = (
            Partnership.state == "active",
            Partnership.backfill_due.is_(False),
            (Partnership.backfilled_at.is_(None)) | (Partnership.backfilled_at < cutoff),
        )
        # Most rounds find none: a read session, which never waits. The update then takes
        # the write lock up front (SQLite): a deferred transaction that read first could not
        # wait for it ("database is locked" when another connection had committed meanwhile).
        with state.read_session() as session:
            if session.scalar(select(Partnership.id).where(*due).limit(1)) is None:
                return 0
        with state.write_session() as session:
            marked = session.execute(
                update(Partnership).where(*due).values(backfill_due=True)
            ).rowcount
        return int(marked or 0)

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
        with state.write_session() as session:
            if not self.coop.outbox_upgrade.pending(session):
                return 0
            return self.coop.outbox_upgrade.run_batch(session)

    def upgrade_outbox(self) -> int:
        """Every stored outbox row to the current format now; how many were rewritten."""
        with self.state.write_session_factory() as session:
            return self.coop.outbox_upgrade.run_all(session)

    # -- administration -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Delivery counts per state and per remote host (``federation.delivery.health``), and
        under ``"inbox"`` the inbox items per state with the refused ones by reason
        (``federation.inbox.summary``)."""
        with self.state.read_session() as session:
            return {**delivery.health(session), "inbox": inbox.summary(session)}

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


def install(state: NodeState) -> NodeFederation:
    """Create the service, listen to domain events, register the worker jobs."""
    from node.worker import register_job

    fed = NodeFederation(state)
    state.federation = fed
    state.listeners.append(fed.coop.on_event)
    register_job(state, "profiles.member_keys", fed.job_member_keys)
    register_job(state, "federation.inbox", fed.job_inbox)
    register_job(state, "federation.deliveries", fed.job_deliveries)
    register_job(state, "federation.backfill", fed.job_backfill)
    register_job(state, "federation.outbox_upgrade", fed.job_outbox_upgrade)
    register_job(state, "federation.partner_sync", fed.job_partner_sync)
    register_job(state, "privacy.retention", fed.job_retention)
    register_job(state, "privacy.remote_avatars", fed.job_remote_avatars)
    return fed


class _NotCached(Exception):
    """The key is not in the cache (or must be refreshed): fetch it in a write session."""


def _cached_key(
    actors: RemoteActors, key_id: str, refresh: bool = False
) -> signatures.PublicKeyInfo:
    """A key lookup for the verifier that never fetches (raises :class:`_NotCached`)."""
    key = None if refresh else actors.cached_key(key_id)
    if key is None:
        raise _NotCached(key_id)
    return key
