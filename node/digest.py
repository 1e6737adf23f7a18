"""New calls that fit members (issue 9): in-app "a new call fits you" notifications and the
daily/weekly email digest.

Both start from the calls created since their last run and ask the matchmaker to rank members
*per new call* (:meth:`node.match_service.MatchService.rank_members`, no exposure counted): the
cost is (new calls x one ranking), never (calls x all members). Each member then keeps their
top ``TOP_N`` calls (a heap), and gets one email in their UI language (node.mail; opt-in kinds
``digest`` = daily, ``digest_weekly`` = weekly). Watermarks live in ``node_meta`` so a restart
neither repeats nor skips a period. bench/bench_digest.py measures 10,000 members.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

import matchmaking as mm
from federation.db import utcnow
from node import reasons
from node.state import NodeState
from profiles import visibility
from profiles.collab import notify
from profiles.collab.models import Invitation, Response
from profiles.mail import MailPreference, Outgoing
from profiles.models import Call, Member, NodeMeta

log = logging.getLogger("coopfed.digest")

PERIODS = {"digest": timedelta(days=1), "digest_weekly": timedelta(days=7)}
TOP_N = 5  # calls per member and email
PER_CALL = 300  # members ranked per new call for the digest
FITS_PER_CALL = 10  # members told in the app that a new call fits them
FITS_EVERY = timedelta(minutes=5)
REASONS_SHOWN = 2
MAX_NEW_CALLS = 500  # per run: a flood of imported calls must not stall the worker


@dataclass
class DigestRun:
    kind: str
    calls: int = 0
    subscribers: int = 0
    emails: int = 0
    cpu_seconds: float = 0.0


class _Reasons:
    """A pick's reasons, worded when the email is rendered (inside the recipient's locale)."""

    def __init__(self, found: tuple[mm.Reason, ...], vocab: Any, lang: str) -> None:
        self.found, self.vocab, self.lang = found[:REASONS_SHOWN], vocab, lang

    def __iter__(self) -> Iterator[str]:
        return iter(reasons.render(self.found, self.vocab, self.lang, "self"))


def _watermark(session: Session, key: str) -> datetime | None:
    # FOR UPDATE (PostgreSQL): two worker processes never send the same period's digest twice;
    # the second waits for the first's commit and then sees the moved watermark.
    meta = session.get(NodeMeta, key, with_for_update=True)
    if meta is None:
        # First run: two worker processes may both get here, and both INSERTing the row made
        # the second fail (unique key). The row is created in a savepoint; the loser of that
        # race only loses its savepoint, then both lock the one row.
        try:
            with session.begin_nested():
                session.add(NodeMeta(key=key, value=""))
        except IntegrityError:
            pass
        meta = session.get(NodeMeta, key, with_for_update=True, populate_existing=True)
    if meta is None or not meta.value:
        return None
    return datetime.fromisoformat(meta.value)


def _set_watermark(session: Session, key: str, when: datetime) -> None:
    meta = session.get(NodeMeta, key)
    if meta is None:
        session.add(NodeMeta(key=key, value=when.isoformat()))
    else:
        meta.value = when.isoformat()


def new_calls(session: Session, since: datetime, until: datetime) -> list[Call]:
    """Open calls created in (since, until] that members here may be matched with."""
    rows = session.scalars(
        select(Call)
        .where(Call.created_at > since, Call.created_at <= until, Call.status == "open")
        .options(selectinload(Call.author))
        .order_by(Call.created_at)
        .limit(MAX_NEW_CALLS)
    )
    return [c for c in rows if visibility.matchable(c.visibility, local=c.local)]


def top_calls(
    ranked: dict[str, list[mm.Suggestion]],
    calls: dict[str, Call],
    wanted: set[str] | None,
    top_n: int = TOP_N,
) -> dict[str, list[tuple[mm.Suggestion, Call]]]:
    """Per member key (of ``wanted``, or all): their ``top_n`` best new calls, best first."""
    per: dict[str, list[tuple[float, str, mm.Suggestion]]] = defaultdict(list)
    for call_key, suggestions in ranked.items():
        for s in suggestions:
            if wanted is None or s.key in wanted:
                per[s.key].append((s.score, call_key, s))
    return {
        key: [(s, calls[ck]) for _score, ck, s in heapq.nlargest(top_n, picks)]
        for key, picks in per.items()
    }


def run_digest(
    state: NodeState, kind: str = "digest", *, now: datetime | None = None, force: bool = False
) -> DigestRun:
    """Send the ``kind`` digest if its period is over (``force``: now). One email per
    subscribed member with at least one fitting new call; the watermark moves in the same
    transaction as the queued emails."""
    started = time.process_time()
    now = now or utcnow()
    period, key = PERIODS[kind], f"collab.{kind}_at"
    run = DigestRun(kind)
    with state.session() as session:
        last = _watermark(session, key) or now - period
        if not force and now - last < period:
            return run
        calls = new_calls(session, last, now)
        run.calls = len(calls)
        subscribers = {
            m.ap_id: m
            for m in session.scalars(
                select(Member)
                .join(MailPreference, MailPreference.member_id == Member.id)
                .where(MailPreference.kind == kind, Member.local, Member.email.is_not(None))
            )
        }
        run.subscribers = len(subscribers)
        if calls and subscribers:
            ranked = state.match_service().rank_members(session, calls, limit=PER_CALL)
            _drop_acted_on(session, ranked, calls, subscribers)
            picks = top_calls(ranked, {c.ap_id: c for c in calls}, set(subscribers))
            run.emails = state.mail_service().send_many(
                session, _compose_all(state, session, kind, picks, subscribers)
            )
        _set_watermark(session, key, now)
        session.commit()
    run.cpu_seconds = time.process_time() - started
    return run


def _drop_acted_on(
    session: Session,
    ranked: dict[str, list[mm.Suggestion]],
    calls: list[Call],
    members: dict[str, Member],
) -> None:
    """Remove, in place, each (call, member) pair where the member already responded to the
    call or was invited to it: they know the call, and an email telling them it "fits" reads
    as if we had not noticed. One query for the run's calls, not one per pair."""
    ids = {c.id: c.ap_id for c in calls}
    by_member_id = {m.id: key for key, m in members.items()}
    responded = select(Response.call_id, Response.responder_id).where(
        Response.call_id.in_(list(ids)), Response.responder_id.is_not(None)
    )
    invited = select(Invitation.call_id, Invitation.invitee_id).where(
        Invitation.call_id.in_(list(ids))
    )
    known = {
        (ids[call_id], by_member_id[member_id])
        for call_id, member_id in session.execute(union_all(responded, invited)).all()
        if member_id in by_member_id
    }
    for call_key, suggestions in ranked.items():
        ranked[call_key] = [s for s in suggestions if (call_key, s.key) not in known]


def _compose_all(
    state: NodeState,
    session: Session,
    kind: str,
    picks: dict[str, list[tuple[mm.Suggestion, Call]]],
    members: dict[str, Member],
) -> Iterator[Outgoing | None]:
    mail = state.mail_service()
    vocab = state.vocabulary.get(session)
    base = state.ctx.base_url
    for member_key, chosen in picks.items():
        member = members[member_key]
        lang = mail.language(member.ui_language)
        items = [
            {
                "call": call,
                "url": f"{base}/calls/{call.public_id}",
                "reasons": _Reasons(s.reasons, vocab, lang),
            }
            for s, call in chosen
        ]
        yield mail.compose(session, member, "digest", kind=kind, items=items)


def run_fits(state: NodeState, *, now: datetime | None = None) -> int:
    """In-app "a new call fits you" for the best few local members of each new call (and an
    email to those who opted in to ``call_match``, through the notification listener)."""
    now = now or utcnow()
    key = "collab.fits_at"
    with state.session() as session:
        last = _watermark(session, key)
        if last is None:  # first run: start from now, do not notify the whole history
            _set_watermark(session, key, now)
            session.commit()
            return 0
        calls = new_calls(session, last, now)
        told = 0
        if calls:
            ranked = state.match_service().rank_members(session, calls, limit=FITS_PER_CALL)
            keys = {s.key for found in ranked.values() for s in found}
            local = {
                m.ap_id: m
                for m in session.scalars(
                    select(Member).where(Member.ap_id.in_(list(keys)), Member.local)
                )
            }
            for call in calls:
                for s in ranked.get(call.ap_id, []):
                    member = local.get(s.key)
                    if member is not None and member.id != call.author_id:
                        notify(session, member, "call_fits", call=call)
                        told += 1
        _set_watermark(session, key, now)
        session.commit()
    return told


class DigestJob:
    """The worker job: "fits" every few minutes, each digest when its period is over."""

    def __init__(self) -> None:
        self._fits_at: datetime | None = None
        self._checked_at: datetime | None = None

    def __call__(self, state: NodeState) -> int:
        now = utcnow()
        done = 0
        if self._fits_at is None or now - self._fits_at >= FITS_EVERY:
            self._fits_at = now
            done += run_fits(state, now=now)
        if self._checked_at is None or now - self._checked_at >= timedelta(minutes=10):
            self._checked_at = now
            for kind in PERIODS:
                found = run_digest(state, kind, now=now)
                if found.emails:
                    log.info("%s: %d emails for %d new calls", kind, found.emails, found.calls)
                done += found.emails
        return done


def install(app: Flask, state: NodeState) -> None:
    """Register the digest job."""
    state.add_job("collab.digest", DigestJob())
