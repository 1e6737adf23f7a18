"""Backfill: when a partnership starts, and periodically after (the partner sync), page through
the partner's member and call collections (GETs signed by our instance actor, bounded), store
what it lets us see and remove what it no longer lists (:func:`reconcile`: erasure completes
even when a partner was offline past the Delete's retry horizon)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.actors import RemoteActors
from federation.db import utcnow
from federation.errors import BadRequest, Forbidden, NotFound
from federation.iri import same_host
from federation.transport import Signer, Transport
from profiles import events, privacy
from profiles.ap.keys import KeyStore
from profiles.ap.mapping import parse_call, parse_person
from profiles.ap.remote_rows import store_call
from profiles.members import save_remote_member
from profiles.models import Call, Member, Partnership

log = logging.getLogger(__name__)

BACKFILL_MAX_PAGES = 40


class Backfill:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def _pages(
        self, transport: Transport, signer: Signer, first: str, origin: str
    ) -> Iterable[list[Any]]:
        url: str | None = first
        for _ in range(BACKFILL_MAX_PAGES):
            if url is None:
                return
            final, doc = transport.get_json(url, signer)
            if not same_host(final, origin):
                raise Forbidden("a collection page redirected to another host")
            items = doc.get("orderedItems")
            yield items if isinstance(items, list) else []
            nxt = doc.get("next")
            url = nxt if isinstance(nxt, str) and same_host(nxt, origin) else None

    def backfill(
        self,
        session: Session,
        actors: RemoteActors,
        partner: Partnership,
        page_done: Callable[[], None] | None = None,
    ) -> int:
        """Page the partner's member and call collections (signed GETs, bounded) into our
        tables. Returns how many rows were stored. ``page_done`` (e.g. ``session.commit``) runs
        after each page is stored: the next page is then fetched outside any transaction (on
        SQLite a write transaction held across network fetches blocks every other writer);
        storing is idempotent, so an interrupted backfill is simply done again."""
        signer = self.keys.signer(session)
        stored = 0
        listed: dict[str, set[str]] = {"members": set(), "calls": set()}
        complete = True
        for kind in ("members", "calls"):
            first = f"{partner.actor}/{kind}?page=1"
            pages = 0
            for items in self._pages(actors.transport, signer, first, partner.actor):
                pages += 1
                for item in items:
                    if isinstance(item, dict) and same_host(str(item.get("id", "")), partner.actor):
                        listed[kind].add(str(item["id"]))
                        stored += _store(session, actors, partner, kind, item)
                if page_done is not None:
                    page_done()
            complete = complete and pages < BACKFILL_MAX_PAGES
        if complete:  # a truncated listing proves nothing about what is missing
            reconcile(session, partner, listed["members"], listed["calls"])
        partner.backfill_due = False
        partner.backfilled_at = utcnow()
        session.flush()
        return stored


def reconcile(session: Session, partner: Partnership, members: set[str], calls: set[str]) -> int:
    """Remove the partner's rows its collections no longer list (deleted or hidden while we
    were unreachable and the Delete was given up): calls first, then members that neither
    are listed nor author a call we keep (the nameless stubs speaking for hidden authors).
    Returns how many rows were removed."""
    removed = 0
    gone_calls = session.scalars(
        select(Call).where(Call.node == partner.domain, Call.local.is_(False))
    ).all()
    for call in gone_calls:
        if call.ap_id not in calls:
            events.emit(session, events.CALL_DELETED, call)
            session.delete(call)
            privacy.purge_remote_object(session, call.ap_id)
            removed += 1
    session.flush()
    authors = set(
        session.scalars(
            select(Call.author_id).where(Call.node == partner.domain, Call.local.is_(False))
        )
    )
    for member in session.scalars(
        select(Member).where(Member.node == partner.domain, Member.local.is_(False))
    ).all():
        if member.ap_id not in members and member.id not in authors:
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
            privacy.purge_remote_actor(session, member.ap_id)
            removed += 1
    session.flush()
    if removed:
        log.info("partner sync with %s removed %d rows it no longer lists", partner.domain, removed)
    return removed


def _store(
    session: Session, actors: RemoteActors, partner: Partnership, kind: str, item: dict[str, Any]
) -> int:
    """Store one collection item; 1 if stored, 0 if skipped (logged)."""
    try:
        if kind == "members":
            save_remote_member(session, parse_person(item, coop_name=partner.name))
        else:
            store_call(session, actors, parse_call(item), partner)
    except (BadRequest, Forbidden, NotFound) as exc:
        log.info("backfill from %s skipped %s: %s", partner.domain, item.get("id"), exc)
        return 0
    return 1


__all__ = ["BACKFILL_MAX_PAGES", "Backfill", "reconcile"]
