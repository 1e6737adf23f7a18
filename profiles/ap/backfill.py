"""Backfill: when a partnership starts, page through the partner's member and call collections
(GETs signed by our instance actor, bounded) and store what it lets us see."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from federation.actors import RemoteActors
from federation.db import utcnow
from federation.errors import BadRequest, Forbidden, NotFound
from federation.iri import same_host
from federation.transport import Signer, Transport
from profiles.ap.keys import KeyStore
from profiles.ap.mapping import parse_call, parse_person
from profiles.ap.remote_rows import store_call
from profiles.members import save_remote_member
from profiles.models import Partnership

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
        for kind in ("members", "calls"):
            first = f"{partner.actor}/{kind}?page=1"
            for items in self._pages(actors.transport, signer, first, partner.actor):
                for item in items:
                    if isinstance(item, dict) and same_host(str(item.get("id", "")), partner.actor):
                        stored += _store(session, actors, partner, kind, item)
                if page_done is not None:
                    page_done()
        partner.backfill_due = False
        partner.backfilled_at = utcnow()
        session.flush()
        return stored


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


__all__ = ["BACKFILL_MAX_PAGES", "Backfill"]
