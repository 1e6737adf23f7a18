"""MatchService: one node's match index, kept in step with the database.

Lifecycle. The index is built lazily, on first use in each process, from every member (local
and remote) and every call; it is rebuilt when the vocabulary revision changes (an ESCO import
changes the concept graph and the text links). Each web or worker process holds its own index.

Freshness, three ways:

1. Domain events (``profiles.events``) record what a transaction changed in ``session.info``;
   an ``after_commit`` hook on the node's sessionmaker applies it once the data is committed.
   Deletions are applied inside the hook (no query needed), so a deleted member is gone from the
   very next request; saved rows are marked dirty and re-read on the next use of the index.
   A rolled-back transaction changes nothing.
2. A watermark (``updated_at`` of members and calls) re-reads rows another process changed; it
   runs on use at most every ``refresh_seconds`` and on every worker step (job
   ``matching.refresh``), which also drops rows another process deleted (``reconcile_seconds``).
3. Hydration: suggestions are shown from the database rows they name; a key whose row is gone or
   has become coop-only on another node is dropped then and there, whatever the index says.

The index is not thread-safe, so every use holds the service's lock.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

import matchmaking as mm
from federation.db import utcnow
from node.state import NodeState
from profiles import events, moderation, visibility
from profiles import match_data as convert
from profiles.models import Call, Member
from profiles.vocabulary import Vocabulary

log = logging.getLogger("coopfed.matching")

_INFO_KEY = "coopfed_matching_changes"
# Rows committed by another process carry an updated_at taken before their commit: re-read a
# margin behind the watermark so a slow commit is not skipped.
WATERMARK_MARGIN = timedelta(seconds=60)
GC_FREEZE_AT = 10_000  # members


@dataclass
class Match:
    suggestion: mm.Suggestion
    member: Member


@dataclass
class TeamPick:
    member: Member
    covers: tuple[str, ...]


@dataclass
class CallMatches:
    matches: list[Match]
    team: list[TeamPick]
    uncovered: tuple[str, ...]


@dataclass
class CallFit:
    suggestion: mm.Suggestion
    call: Call


@dataclass
class MemberSuggestions:
    calls: list[CallFit]
    people: list[Match]


class MatchService:
    def __init__(
        self,
        state: NodeState,
        *,
        weights: mm.Weights | None = None,
        refresh_seconds: float = 5.0,
        reconcile_seconds: float = 60.0,
    ) -> None:
        self.state = state
        self.domain = state.ctx.domain
        self.weights = weights
        self.refresh_seconds = refresh_seconds
        self.reconcile_seconds = reconcile_seconds
        self._lock = threading.RLock()
        self._index: mm.MatchIndex | None = None
        self._revision = ""
        self._watermark: datetime | None = None
        self._stamps: dict[str, datetime] = {}  # ap_id -> updated_at applied, inside the margin
        self._last_refresh = 0.0
        self._last_reconcile = 0.0
        self._members: set[str] = set()
        self._calls: dict[str, mm.Call] = {}
        self._dirty_members: set[str] = set()
        self._dirty_calls: set[str] = set()
        self.builds = 0  # how many times the index was (re)built: for tests and the bench

    # ------------------------------------------------------------------ domain events
    def on_event(self, session: Session, name: str, obj: Any) -> None:
        """Listener for ``profiles.events``: remember the change until the commit."""
        changes: dict[tuple[str, str], bool] = session.info.setdefault(_INFO_KEY, {})
        if name in (events.MEMBER_SAVED, events.MEMBER_DELETED) and isinstance(obj, Member):
            changes[("m", obj.ap_id)] = name == events.MEMBER_DELETED
        elif name in (events.CALL_SAVED, events.CALL_DELETED) and isinstance(obj, Call):
            changes[("c", obj.ap_id)] = name == events.CALL_DELETED

    def _after_commit(self, session: Session) -> None:
        changes = session.info.pop(_INFO_KEY, None)
        if changes:
            self.apply(changes)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(_INFO_KEY, None)

    def apply(self, changes: dict[tuple[str, str], bool]) -> None:
        """Committed changes: removals now, upserts on the next use of the index."""
        with self._lock:
            if self._index is None:
                return  # the build will read the committed rows
            for (kind, key), deleted in changes.items():
                if kind == "m":
                    if deleted:
                        self._remove_member(key)
                    else:
                        self._dirty_members.add(key)
                elif deleted:
                    self._remove_call(key)
                else:
                    self._dirty_calls.add(key)

    def _remove_member(self, key: str) -> None:
        assert self._index is not None
        self._index.remove_profile(key)
        self._members.discard(key)
        self._dirty_members.discard(key)
        # Their calls went with them (ON DELETE CASCADE), without events of their own.
        for ckey in [k for k, c in self._calls.items() if c.author_key == key]:
            self._remove_call(ckey)

    def _remove_call(self, key: str) -> None:
        assert self._index is not None
        self._index.remove_call(key)
        self._calls.pop(key, None)
        self._dirty_calls.discard(key)

    # ------------------------------------------------------------------ the index
    @property
    def built(self) -> bool:
        return self._index is not None

    def indexed(self, key: str) -> bool:
        """Whether a member (actor IRI) or call (ap_id) is in this process's index now."""
        with self._lock:
            return self._index is not None and (key in self._index or key in self._calls)

    def _vocab(self, session: Session) -> Vocabulary:
        return self.state.vocabulary.get(session)

    def _ensure(self, session: Session) -> mm.MatchIndex:
        """The index, built or refreshed as needed. Caller holds the lock."""
        vocab = self._vocab(session)
        if self._index is None or vocab.revision != self._revision:
            self._build(session, vocab)
        else:
            self._apply_dirty(session, vocab)
            if time.monotonic() - self._last_refresh >= self.refresh_seconds:
                self._refresh(session, vocab)
        assert self._index is not None
        return self._index

    def _build(self, session: Session, vocab: Vocabulary) -> None:
        started = time.perf_counter()
        now = utcnow()
        # Stamps first: a row committed while we read is then either loaded here or seen as
        # changed by the next refresh (its stamp differs), never lost.
        stamps = convert.changed_since(session, now - WATERMARK_MARGIN)
        index = mm.MatchIndex(convert.concept_graph(vocab), weights=self.weights)
        profiles = convert.load_profiles(session, vocab)
        index.upsert_profiles(profiles)
        calls = convert.load_calls(session, vocab)
        for c in calls:
            index.upsert_call(c)
        self._index, self._revision, self._watermark = index, vocab.revision, now
        self._stamps = {**stamps[0], **stamps[1]}
        self._members = {p.key for p in profiles}
        self._calls = {c.key: c for c in calls}
        self._dirty_members.clear()
        self._dirty_calls.clear()
        self._last_refresh = self._last_reconcile = time.monotonic()
        self.builds += 1
        if len(profiles) >= GC_FREEZE_AT:
            # Millions of long-lived objects (profiles, sets): without this every full run of
            # the cyclic GC walks them all, a pause of hundreds of ms at 100,000 members
            # (bench/bench_callpage.py). Frozen objects are still freed by reference counting
            # when the index is replaced; small nodes (and test runs) skip it.
            gc.freeze()
        log.info(
            "match index for %s: %d members, %d calls in %.2fs",
            self.domain,
            len(profiles),
            len(calls),
            time.perf_counter() - started,
        )

    def _upsert(self, profiles: Iterable[mm.Profile], calls: Iterable[mm.Call]) -> int:
        index = self._index
        assert index is not None
        n = 0
        for p in profiles:
            if index.profile(p.key) != p:
                index.upsert_profile(p)
                self._members.add(p.key)
                n += 1
        for c in calls:
            if self._calls.get(c.key) != c:
                index.upsert_call(c)
                self._calls[c.key] = c
                n += 1
        return n

    def _apply_dirty(self, session: Session, vocab: Vocabulary) -> int:
        if not (self._dirty_members or self._dirty_calls):
            return 0
        mkeys, ckeys = set(self._dirty_members), set(self._dirty_calls)
        profiles = convert.load_profiles(session, vocab, keys=mkeys) if mkeys else []
        calls = convert.load_calls(session, vocab, keys=ckeys) if ckeys else []
        n = self._upsert(profiles, calls)
        # A dirty key with no row was deleted in the meantime (by another path).
        for key in mkeys - {p.key for p in profiles}:
            self._remove_member(key)
        for key in ckeys - {c.key for c in calls}:
            self._remove_call(key)
        self._dirty_members -= mkeys
        self._dirty_calls -= ckeys
        return n

    def _refresh(self, session: Session, vocab: Vocabulary) -> int:
        """Rows changed since the watermark (by any process), each loaded once per change.

        Rows inside the margin are listed again on every refresh (their commit may have come
        after our last look) but reloaded only when their ``updated_at`` is one we have not
        applied yet, so a bulk import is not re-read for a whole minute.
        """
        now = utcnow()
        since = (self._watermark or now) - WATERMARK_MARGIN
        members, calls = convert.changed_since(session, since)
        mkeys = {k for k, at in members.items() if self._stamps.get(k) != at}
        ckeys = {k for k, at in calls.items() if self._stamps.get(k) != at}
        n = 0
        if mkeys or ckeys:
            profiles = convert.load_profiles(session, vocab, keys=mkeys) if mkeys else []
            n = self._upsert(
                profiles, convert.load_calls(session, vocab, keys=ckeys) if ckeys else []
            )
            # A changed member who loads as nothing was deactivated: out of the index now.
            for key in (mkeys - {p.key for p in profiles}) & self._members:
                self._remove_member(key)
        horizon = now - WATERMARK_MARGIN
        self._stamps = {k: at for k, at in self._stamps.items() if at > horizon}
        self._stamps.update(members)
        self._stamps.update(calls)
        self._watermark = now
        self._last_refresh = time.monotonic()
        return n

    def _reconcile(self, session: Session) -> int:
        """Drop what another process deleted (deletions leave no updated_at behind)."""
        members, calls = convert.all_keys(session)
        gone_m = self._members - members
        gone_c = set(self._calls) - calls
        for key in gone_m:
            self._remove_member(key)
        for key in gone_c:
            self._remove_call(key)
        self._last_reconcile = time.monotonic()
        return len(gone_m) + len(gone_c)

    def warm(self, session: Session) -> None:
        """Build the index now (the bench and ``coopfed run`` may call it before serving)."""
        with self._lock:
            self._ensure(session)

    def job_refresh(self, state: NodeState) -> int:
        """Worker job: keep this process's index fresh; nothing to do until it is built."""
        if self._index is None:
            return 0
        with self._lock, state.session() as session:
            vocab = self._vocab(session)
            if vocab.revision != self._revision:
                self._build(session, vocab)
                return 1
            n = self._apply_dirty(session, vocab) + self._refresh(session, vocab)
            if time.monotonic() - self._last_reconcile >= self.reconcile_seconds:
                n += self._reconcile(session)
            return n

    # ------------------------------------------------------------------ hydration
    def _visible_here(self, member: Member) -> bool:
        return member.deactivated_at is None and visibility.matchable(
            member.visibility, local=member.node == self.domain
        )

    def _members_by_key(self, session: Session, keys: Collection[str]) -> dict[str, Member]:
        if not keys:
            return {}
        rows = session.scalars(select(Member).where(Member.ap_id.in_(list(keys))))
        found = {m.ap_id: m for m in rows}
        for key in set(keys) - set(found):
            self._remove_member(key)  # deleted by a process whose commit we did not see
        stale = [k for k, m in found.items() if not self._visible_here(m)]
        for key in stale:
            self._dirty_members.add(key)
            del found[key]
        # Members of a blocked coop stay indexed (an unblock brings them back) but unseen.
        blocked = moderation.blocked_hosts(session)
        return {k: m for k, m in found.items() if m.node not in blocked}

    # ------------------------------------------------------------------ queries
    def call_matches(
        self,
        session: Session,
        call: Call,
        *,
        limit: int = 20,
        cross_border_only: bool = False,
        own_node_only: bool = False,
        remote_only: bool = False,
        team_size: int = 5,
    ) -> CallMatches:
        """Suggested collaborators for ``call`` as seen from this node, and a small team.

        With a filter on, the team is picked from the (filtered) suggestions only; without,
        the index also looks for rare required skills beyond the top of the ranking.
        """
        with self._lock:
            index = self._ensure(session)
            mcall = self._calls.get(call.ap_id)
            if mcall is None:
                loaded = convert.load_calls(session, self._vocab(session), keys=[call.ap_id])
                if not loaded:
                    return CallMatches([], [], ())
                mcall = loaded[0]
            suggestions = index.match_call(
                mcall,
                viewer_node=self.domain,
                limit=limit,
                cross_border_only=cross_border_only,
                own_node_only=own_node_only,
                remote_only=remote_only,
            )
            filtered = cross_border_only or own_node_only or remote_only
            team = index.team_for_call(
                mcall,
                viewer_node=self.domain,
                max_size=team_size,
                pool=suggestions if filtered else None,
            )
            keys = {s.key for s in suggestions} | {t.key for t in team.members}
            rows = self._members_by_key(session, keys)
        matches = [Match(s, rows[s.key]) for s in suggestions if s.key in rows]
        picks = [TeamPick(rows[t.key], t.covers) for t in team.members if t.key in rows]
        uncovered = set(team.uncovered)
        for t in team.members:  # covered by someone we may no longer show
            if t.key not in rows:
                uncovered.update(t.covers)
        return CallMatches(matches, picks, tuple(sorted(uncovered)))

    def member_suggestions(
        self, session: Session, member: Member, *, limit: int = 10
    ) -> MemberSuggestions:
        """Open calls that fit ``member`` and people to meet (reciprocal fit)."""
        with self._lock:
            index = self._ensure(session)
            profile = index.profile(member.ap_id)
            if profile is None:
                return MemberSuggestions([], [])
            fits = index.calls_for_member(profile, viewer_node=self.domain, limit=limit)
            people = index.people_for_member(profile, viewer_node=self.domain, limit=limit)
            rows = self._members_by_key(session, {s.key for s in people})
            calls = self._calls_by_key(session, [s.key for s in fits])
        return MemberSuggestions(
            [CallFit(s, calls[s.key]) for s in fits if s.key in calls],
            [Match(s, rows[s.key]) for s in people if s.key in rows],
        )

    def explain(
        self, session: Session, call: Call, members: Iterable[Member]
    ) -> dict[str, mm.Suggestion]:
        """How well each of ``members`` fits ``call`` (score and reasons, as the suggestions
        word them), by actor IRI; members the index does not hold are left out. For responders
        and invitees (issue 9): no visibility filter (they came to the call themselves), no
        exposure counted."""
        with self._lock:
            index = self._ensure(session)
            mcall = self._calls.get(call.ap_id)
            if mcall is None:
                loaded = convert.load_calls(session, self._vocab(session), keys=[call.ap_id])
                if not loaded:
                    return {}
                mcall = loaded[0]
            found = {}
            for member in members:
                suggestion = index.explain(mcall, member.ap_id)
                if suggestion is not None:
                    found[member.ap_id] = suggestion
            return found

    def rank_members(
        self, session: Session, calls: list[Call], *, limit: int
    ) -> dict[str, list[mm.Suggestion]]:
        """Per call (ap_id), the ``limit`` best members seen from this node, without counting
        exposure (the digest and "a new call fits you": rank members per new call, so the cost
        is new calls x one ranking, never calls x all members)."""
        out: dict[str, list[mm.Suggestion]] = {}
        with self._lock:
            index = self._ensure(session)
            missing = [c.ap_id for c in calls if c.ap_id not in self._calls]
            loaded = {}
            if missing:
                found = convert.load_calls(session, self._vocab(session), keys=missing)
                loaded = {c.key: c for c in found}
            for call in calls:
                mcall = self._calls.get(call.ap_id) or loaded.get(call.ap_id)
                if mcall is None:
                    continue
                out[call.ap_id] = index.match_call(
                    mcall, viewer_node=self.domain, limit=limit, count_exposure=False
                )
        return out

    def _calls_by_key(self, session: Session, keys: list[str]) -> dict[str, Call]:
        if not keys:
            return {}
        found = {
            c.ap_id: c
            for c in session.scalars(
                select(Call).where(Call.ap_id.in_(keys)).options(selectinload(Call.author))
            )
        }
        for key in set(keys) - set(found):
            self._remove_call(key)
        blocked = moderation.blocked_hosts(session)
        return {
            k: c
            for k, c in found.items()
            if c.status == "open"
            and visibility.matchable(c.visibility, local=c.local)
            and c.node not in blocked
        }


def install(state: NodeState) -> MatchService:
    """Create the service, listen to domain events and commits, register the worker job."""
    from node.worker import register_job

    service = MatchService(state)
    state.matching = service
    state.listeners.append(service.on_event)
    event.listen(state.sessionmaker, "after_commit", service._after_commit)
    event.listen(state.sessionmaker, "after_rollback", service._after_rollback)
    register_job(state, "matching.refresh", service.job_refresh)
    return service
