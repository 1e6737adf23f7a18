"""Sending invitations and password-reset links by email (the rules: :mod:`profiles.invitations`).

Used by ``coopfed member invite``, the admin's invitations page and the login page's "forgot
your password". Mail goes through the node's queue (:mod:`node.mail`), in each member's UI
language; nothing is sent unless the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from node.mail import NodeMail
from node.state import NodeState
from profiles import invitations
from profiles.mail import Outgoing
from profiles.models import Member

ACCEPT_PATH = "/invitation/"  # node.web.onboarding serves them
RESET_PATH = "/password/reset/"


def invite(state: NodeState, session: Session, member_ids: Sequence[int]) -> invitations.Prepared:
    """(Re)send invitations to these members in ``session`` (the caller commits); each new
    link makes the older ones useless. Returns who was invited and who was not, and why."""
    service = state.mail_service()
    prepared = invitations.prepare(session, member_ids)
    service.send_many(session, _compose_all(state, service, session, prepared.ready))
    return prepared


def _compose_all(
    state: NodeState, service: NodeMail, session: Session, ready: list[invitations.ToInvite]
) -> Iterator[Outgoing | None]:
    base, name = state.ctx.base_url, state.ctx.name
    days = invitations.INVITATION_TTL.days
    for item in ready:
        token = invitations.invitation_token(service.tokens, item.member_id, item.generation)
        # An address, not the Member: the row is not loaded (10,000 at a time); the kind is
        # transactional so no opt-in is checked.
        outgoing = service.compose(
            session,
            item.email,
            "notice",
            item.ui_language,
            kind="invitation",
            recipient_name=item.name,
            title=_l("You are invited to %(node)s", node=name),
            paragraphs=[
                _l(
                    "Your coop %(node)s invites you to its coopfed node, where members find "
                    "projects and each other across Smart's coops. Your user name is "
                    "%(username)s.",
                    node=name,
                    username=item.username,
                ),
                _l(
                    "Choose your password with the link below. It works once and expires in "
                    "%(days)d days.",
                    days=days,
                ),
            ],
            action_url=f"{base}{ACCEPT_PATH}{token}",
            action_label=_l("Accept the invitation"),
        )
        if outgoing is not None:
            outgoing = _for_member(outgoing, item.member_id)
        yield outgoing


def _for_member(outgoing: Outgoing, member_id: int) -> Outgoing:
    from dataclasses import replace

    return replace(outgoing, member_id=member_id)


def send_reset(state: NodeState, session: Session, member: Member) -> None:
    """Queue a password-reset link for ``member`` (the caller commits)."""
    service = state.mail_service()
    token = invitations.reset_token(service.tokens, member)
    minutes = int(invitations.RESET_TTL.total_seconds() // 60)
    service.send(
        session,
        member,
        "notice",
        kind="password_reset",
        title=_l("Reset your password on %(node)s", node=state.ctx.name),
        paragraphs=[
            _l(
                "Someone, probably you, asked to reset the password of %(username)s. If it was "
                "not you, ignore this message: your password stays as it is.",
                username=member.username,
            ),
            _l(
                "The link below works once and expires in %(minutes)d minutes.",
                minutes=minutes,
            ),
        ],
        action_url=f"{state.ctx.base_url}{RESET_PATH}{token}",
        action_label=_l("Choose a new password"),
    )
