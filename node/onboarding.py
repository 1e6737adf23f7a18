"""Sending invitations and password-reset links by email (the rules: :mod:`profiles.invitations`).

Used by ``coopfed member invite``, the admin's invitations page and the login page's "forgot
your password". Mail goes through the node's queue (:mod:`node.mail`), in each member's UI
language; nothing is sent unless the caller's transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy.orm import Session

from node.mail import NodeMail, Rendered
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


# Stand-ins for what differs per member: each language's message is rendered once (rendering
# was three quarters of the cost of 10,000 invitations) and the values are put in after.
_URL, _USERNAME, _NAME = "\u27e6url\u27e7", "\u27e6username\u27e7", "\u27e6name\u27e7"


def _render(state: NodeState, service: NodeMail, lang: str) -> Rendered:
    name = state.ctx.name
    return service.render(
        "notice",
        lang,
        recipient_name=_NAME,
        kind="invitation",
        title=_l("You are invited to %(node)s", node=name),
        paragraphs=[
            _l(
                "Your coop %(node)s invites you to its coopfed node, where members find "
                "projects and each other across Smart's coops. Your user name is "
                "%(username)s.",
                node=name,
                username=_USERNAME,
            ),
            _l(
                "Choose your password with the link below. It works once and expires in "
                "%(days)d days.",
                days=invitations.INVITATION_TTL.days,
            ),
        ],
        action_url=_URL,
        action_label=_l("Accept the invitation"),
    )


def _fill(template: str, url: str, username: str, name: str) -> str:
    # The URL first and the free-text name last: a name cannot smuggle in a stand-in.
    return template.replace(_URL, url).replace(_USERNAME, username).replace(_NAME, name)


def _compose_all(
    state: NodeState, service: NodeMail, session: Session, ready: list[invitations.ToInvite]
) -> Iterator[Outgoing]:
    """One message per member, in the member's UI language (transactional: no opt-in)."""
    rendered: dict[str, Rendered] = {}
    base = state.ctx.base_url
    for item in ready:
        lang = service.language(item.ui_language)
        if lang not in rendered:
            rendered[lang] = _render(state, service, lang)
        r = rendered[lang]
        token = invitations.invitation_token(service.tokens, item.member_id, item.generation)
        url = f"{base}{ACCEPT_PATH}{token}"
        yield Outgoing(
            recipient=item.email,
            subject=r.subject,
            text=_fill(r.text, url, item.username, item.name),
            html=_fill(r.html, str(escape(url)), item.username, str(escape(item.name))),
            kind="invitation",
            lang=lang,
            member_id=item.member_id,
        )


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
