"""The admin's list of the node's local members: search, filters, keyset paging.

Built for tens of thousands of members: pages are read in user-name order with a keyset
(``username > after``, the ``uq_members_node_username`` index) rather than OFFSET, which would
read and skip every earlier row; the total is one COUNT with the same filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from profiles.context import NodeContext
from profiles.invitations import AccountInvitation
from profiles.models import Member
from profiles.visibility import VALUES as VISIBILITIES

STATES = ("active", "invited", "pending", "revoked", "deactivated", "admin")
PAGE = 50


@dataclass(frozen=True)
class RosterQuery:
    q: str = ""  # user name prefix, or a piece of the name or the e-mail address
    state: str | None = None  # one of STATES
    visibility: str | None = None
    after: str | None = None  # the last user name of the previous page
    limit: int = PAGE


@dataclass(frozen=True)
class RosterRow:
    member: Member
    state: str  # active | invited | pending | revoked | deactivated


@dataclass(frozen=True)
class RosterPage:
    rows: list[RosterRow]
    total: int  # members matching the filters, on every page
    next_after: str | None  # None: this is the last page


def _state_clause(state: str) -> ColumnElement[bool]:
    no_password = and_(Member.password_hash.is_(None), Member.deactivated_at.is_(None))
    clauses: dict[str, ColumnElement[bool]] = {
        "active": and_(Member.password_hash.is_not(None), Member.deactivated_at.is_(None)),
        "invited": and_(no_password, AccountInvitation.state == "invited"),
        "pending": and_(no_password, AccountInvitation.member_id.is_(None)),
        "revoked": and_(no_password, AccountInvitation.state == "revoked"),
        "deactivated": Member.deactivated_at.is_not(None),
        "admin": Member.is_admin.is_(True),
    }
    return clauses[state]


def _where(ctx: NodeContext, query: RosterQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Member.local.is_(True), Member.node == ctx.domain]
    text = query.q.strip().lower()[:100]
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(
            or_(
                Member.username.like(f"{escaped}%", escape="\\"),
                func.lower(Member.name).like(f"%{escaped}%", escape="\\"),
                Member.email.like(f"%{escaped}%", escape="\\"),
                Member.ref == query.q.strip(),
            )
        )
    if query.state in STATES:
        where.append(_state_clause(query.state))
    if query.visibility in VISIBILITIES:
        where.append(Member.visibility == query.visibility)
    return where


def row_state(member: Member, invitation_state: str | None) -> str:
    if member.deactivated_at is not None:
        return "deactivated"
    if member.password_hash:
        return "active"
    if invitation_state is None:
        return "pending"
    return "revoked" if invitation_state == "revoked" else "invited"


def roster(session: Session, ctx: NodeContext, query: RosterQuery) -> RosterPage:
    """One page of local members matching ``query``, in user-name order."""
    where = _where(ctx, query)
    joined = select(Member, AccountInvitation.state).outerjoin(
        AccountInvitation, AccountInvitation.member_id == Member.id
    )
    page_where = [*where, Member.username > query.after] if query.after else where
    found = session.execute(
        joined.where(*page_where).order_by(Member.username).limit(query.limit + 1)
    ).all()
    rows = [RosterRow(m, row_state(m, s)) for m, s in found[: query.limit]]
    total = session.scalar(
        select(func.count(Member.id))
        .outerjoin(AccountInvitation, AccountInvitation.member_id == Member.id)
        .where(*where)
    )
    next_after = rows[-1].member.username if len(found) > query.limit else None
    return RosterPage(rows, int(total or 0), next_after)


# -- CSV export ----------------------------------------------------------------------------------

EXPORT_COLUMNS = ("username", "name", "email", "ref", "state", "visibility", "country", "city")
# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets ("CSV injection",
# OWASP): "=HYPERLINK(...)" in a member's name would run on the admin's machine.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


def csv_cell(value: object) -> str:
    """A cell as text that a spreadsheet shows and never evaluates (a leading ``'``)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def export_rows(session: Session, ctx: NodeContext, query: RosterQuery) -> Iterator[list[str]]:
    """The header, then every member matching ``query`` (all pages), as safe CSV cells."""
    yield list(EXPORT_COLUMNS)
    after = None
    while True:
        page = roster(
            session,
            ctx,
            RosterQuery(
                q=query.q, state=query.state, visibility=query.visibility, after=after, limit=1000
            ),
        )
        for row in page.rows:
            m = row.member
            values = (
                m.username,
                m.name,
                m.email,
                m.ref,
                row.state,
                m.visibility,
                m.country,
                m.city,
            )
            yield [csv_cell(v) for v in values]
        if page.next_after is None:
            return
        after = page.next_after
