"""Collections a node serves from its own rows: the calls Group's outbox (an ``Announce`` per
public call) and the member and call collections partners page through to backfill.

What each audience may fetch is :func:`profiles.visibility.served_levels`: a GET signed by an
active partner gets public and partners-level rows, anyone else public ones; coop-level rows
and rows received from partners are never served.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from profiles.ap.documents import Documents
from profiles.ap.keys import KeyStore
from profiles.models import Call, Member
from profiles.visibility import Audience, served_levels

COLLECTION_PAGE = 50


def _served(*, partner: bool) -> tuple[str, ...]:
    return served_levels(Audience.PARTNER if partner else Audience.PUBLIC)


class Collections:
    def __init__(self, keys: KeyStore, docs: Documents) -> None:
        self.keys = keys
        self.docs = docs

    def calls_outbox(
        self, session: Session, page: int | None, page_size: int = 20
    ) -> tuple[int, list[dict[str, Any]], bool]:
        """The calls Group's outbox: an Announce per public call of this node, newest first.

        Built from the calls rather than from sent activities, so that it lists every public
        call (also those made before anybody followed) and never a deleted one.
        Returns ``(total, items of page, has_next)``; ``page=None`` gives the total only.
        """
        public = (Call.local.is_(True), Call.visibility.in_(served_levels(Audience.PUBLIC)))
        total = session.scalar(select(func.count()).select_from(Call).where(*public)) or 0
        if page is None:
            return total, [], False
        rows = session.scalars(
            select(Call)
            .where(*public)
            .order_by(Call.created_at.desc(), Call.id.desc())
            .offset((max(page, 1) - 1) * page_size)
            .limit(page_size + 1)
        ).all()
        items = [
            self.keys.prove(
                session,
                self.docs.announce(
                    c, self.docs.page(session, c), self.docs.announce_id(session, c)
                ),
            )
            for c in rows[:page_size]
        ]
        return total, items, len(rows) > page_size

    def members_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        base = select(Member).where(
            Member.local,
            Member.visibility.in_(_served(partner=partner)),
            Member.deactivated_at.is_(None),  # left the coop's register
        )
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            base.order_by(Member.id).offset((page - 1) * COLLECTION_PAGE).limit(COLLECTION_PAGE + 1)
        ).all()
        return (
            [self.docs.person_for_wire(session, m) for m in rows[:COLLECTION_PAGE]],
            len(rows) > COLLECTION_PAGE,
            total,
        )

    def calls_page(
        self, session: Session, page: int, *, partner: bool
    ) -> tuple[list[dict[str, Any]], bool, int]:
        base = select(Call).where(Call.local, Call.visibility.in_(_served(partner=partner)))
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.scalars(
            base.options(
                selectinload(Call.author),
                selectinload(Call.skills),
                selectinload(Call.languages),
                selectinload(Call.phrases),  # its own words travel in the Page
            )
            .order_by(Call.id)
            .offset((page - 1) * COLLECTION_PAGE)
            .limit(COLLECTION_PAGE + 1)
        ).all()
        return (
            [self.docs.page(session, c) for c in rows[:COLLECTION_PAGE]],
            len(rows) > COLLECTION_PAGE,
            total,
        )


__all__ = ["COLLECTION_PAGE", "Collections"]
