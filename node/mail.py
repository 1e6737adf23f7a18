"""Email for a node: settings -> transport, rendering in the recipient's language, the opt-in
rule, unsubscribe links, and the worker job that sends the queue (:mod:`profiles.mail`).

Features send mail with one call, inside their own transaction::

    from node.mail import send_mail
    send_mail(session, member, "invitation", kind="invitation", accept_url=url)
    session.commit()  # queued only now; the worker sends it

A template ``name`` is a pair under ``templates/mail/``: ``name.txt`` (the text part; its
``subject`` block is the subject) and ``name.html`` (the HTML part), both extending the layouts
``_layout.txt`` / ``_layout.html`` (node name, footer, unsubscribe link). They are rendered
outside any request (the worker, the CLI) in the recipient's UI language: use absolute URLs
(``node.base_url``), not ``url_for``. Each gets ``node`` (name, base_url), ``lang``,
``recipient_name``, ``kind``, ``kind_label`` and ``unsubscribe_url`` (None for transactional
kinds), plus the caller's context; lazy strings (``_l``) in it are translated at render time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from federation.db import utcnow
from node.settings import Settings
from node.state import NodeState
from profiles import mail as queue
from profiles.languages import UI_LANGUAGES
from profiles.mail import MailMessage, MailSender, Outgoing
from profiles.models import Member
from profiles.smtp import FolderTransport, SmtpTransport, Transport, parse_smtp_url
from profiles.tokens import Tokens

log = logging.getLogger("coopfed.mail")

UNSUBSCRIBE = "unsubscribe"  # token purpose
UNSUBSCRIBE_PATH = "/mail/unsubscribe/"  # node.web.mail serves it
PRUNE_EVERY = timedelta(hours=1)

# What a member opted in to, as the unsubscribe page and the preferences name it.
KIND_LABELS = {
    "response": _l("responses to your calls"),
    "response_status": _l("news about your responses"),
    "call_invitation": _l("invitations to respond to a call"),
    "message": _l("new messages"),
    "call_match": _l("new calls that fit your profile"),
    "digest": _l("the digest of calls that fit your profile"),
    "digest_weekly": _l("the weekly digest of calls that fit your profile"),
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def make_transport(settings: Settings) -> Transport:
    """SMTP when ``smtp_url`` is set, else the folder ``<instance>/mail``. A malformed URL stops
    the node at start-up, with a message that never repeats the password."""
    if not settings.smtp_url:
        return FolderTransport(mail_folder(settings))
    try:
        config = parse_smtp_url(settings.smtp_url)
    except ValueError as exc:
        raise RuntimeError(f"COOPFED_SMTP_URL / smtp_url: {exc}") from None
    return SmtpTransport(
        config, local_hostname=_host(settings.domain), ca_bundle=settings.smtp_ca_bundle
    )


def mail_folder(settings: Settings) -> Path:
    return (settings.instance_path / "mail").resolve()


def from_address(settings: Settings) -> str:
    """The From header: ``mail_from`` as given, or the coop's name with noreply@<domain>."""
    if settings.mail_from:
        _name, addr = parseaddr(settings.mail_from)
        try:
            queue.check_address(addr)
        except ValueError as exc:
            raise RuntimeError(f"COOPFED_MAIL_FROM / mail_from: {exc}") from None
        return settings.mail_from
    return str(
        Address(display_name=settings.name, username="noreply", domain=_host(settings.domain))
    )


def _host(domain: str) -> str:
    return domain.split(":", 1)[0]  # dev mode domains carry a port


class NodeMail:
    """The mail service of one node (``state.mail``)."""

    def __init__(self, app: Flask, state: NodeState) -> None:
        self.app = app
        self.state = state
        settings = state.settings
        self.tokens = Tokens(settings.secret_key)
        self.transport = make_transport(settings)
        self.folder = mail_folder(settings) if not settings.smtp_url else None
        self.from_address = from_address(settings)
        self.envelope_from = parseaddr(self.from_address)[1]
        self.id_domain = self.envelope_from.rpartition("@")[2] or _host(settings.domain)
        self.sender = MailSender(
            # Every transaction of the queue writes: take SQLite's write lock up front.
            state.write_session_factory,
            self.transport,
            from_address=self.from_address,
            envelope_from=self.envelope_from,
            worker_id=f"{state.ctx.domain}-mail-{os.getpid()}-{id(self):x}",
        )
        self._pruned_at: datetime | None = None

    # -- rendering ------------------------------------------------------------------------------

    def language(self, lang: str | None) -> str:
        if lang in UI_LANGUAGES:
            return str(lang)
        return self.state.settings.default_language

    def render(self, template: str, lang: str | None, **context: Any) -> Rendered:
        """Render ``mail/<template>.txt`` and ``.html`` in ``lang`` (a UI language)."""
        lang = self.language(lang)
        env = self.app.jinja_env
        values = {
            "node": self.state.ctx,
            "lang": lang,
            "recipient_name": "",
            "kind": None,
            "kind_label": None,
            "unsubscribe_url": None,
            **context,
        }
        # An app context of our own: the worker and the CLI have none, and Flask-Babel keeps the
        # forced locale in it (flask_babel.force_locale).
        with self.app.app_context(), force_locale(lang):
            text_template = env.get_template(f"mail/{template}.txt")
            # One context for the subject block and the whole text (a context costs more than
            # rendering this small a template).
            context = text_template.new_context(values)
            subject = " ".join("".join(text_template.blocks["subject"](context)).split())
            text = "".join(text_template.root_render_func(context))
            html = env.get_template(f"mail/{template}.html").render(values, subject=subject)
        return Rendered(subject=subject, text=text.strip() + "\n", html=html)

    # -- composing and queueing -----------------------------------------------------------------

    def compose(
        self,
        session: Session,
        to: Member | str,
        template: str,
        lang: str | None = None,
        *,
        kind: str,
        **context: Any,
    ) -> Outgoing | None:
        """The rendered message, or None when it must not be sent (a member who did not opt in
        to this kind, or who has no address). Notification kinds go to members only."""
        transactional = queue.is_transactional(kind)
        member_id: int | None = None
        name = ""
        if isinstance(to, Member):
            if not to.local or not to.email or not queue.wants(session, to.id, kind):
                return None
            address, member_id, name = to.email, to.id, to.name or to.username
            lang = lang or to.ui_language
        elif transactional:
            address = to
        else:
            raise ValueError(f"{kind!r} mail needs a member's opt-in: pass the Member")
        # Bulk senders pass an address and the name (no ORM row for 10,000 invitations).
        name = str(context.pop("recipient_name", "") or name)
        lang = self.language(lang)
        headers: dict[str, str] = {}
        unsubscribe_url = None
        if not transactional:
            assert member_id is not None
            unsubscribe_url = self.unsubscribe_url(member_id, kind, lang)
            # RFC 2369 + RFC 8058 one-click: mail clients show "Unsubscribe" and POST to it.
            headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        rendered = self.render(
            template,
            lang,
            recipient_name=name,
            kind=kind,
            kind_label=KIND_LABELS.get(kind),
            unsubscribe_url=unsubscribe_url,
            **context,
        )
        return Outgoing(
            recipient=address,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            kind=kind,
            lang=lang,
            headers=headers,
            member_id=member_id,
        )

    def send(
        self,
        session: Session,
        to: Member | str,
        template: str,
        lang: str | None = None,
        *,
        kind: str,
        **context: Any,
    ) -> MailMessage | None:
        """Render and queue one message in ``session`` (the caller commits). None if skipped."""
        outgoing = self.compose(session, to, template, lang, kind=kind, **context)
        if outgoing is None:
            return None
        return queue.enqueue(session, outgoing, id_domain=self.id_domain)

    def send_many(self, session: Session, messages: Iterable[Outgoing | None]) -> int:
        """Queue composed messages in bulk (skipping Nones); the caller commits."""
        wanted = (m for m in messages if m is not None)
        return queue.enqueue_many(session, wanted, id_domain=self.id_domain)

    # -- unsubscribe ----------------------------------------------------------------------------

    def unsubscribe_url(self, member_id: int, kind: str, lang: str) -> str:
        # Not single-use and no expiry: clients may POST it twice, and people unsubscribe
        # from old messages. It can do nothing but switch this one kind off.
        token = self.tokens.issue(UNSUBSCRIBE, {"m": member_id, "k": kind, "l": lang})
        return f"{self.state.ctx.base_url}{UNSUBSCRIBE_PATH}{token}"

    def read_unsubscribe(self, token: str) -> tuple[int, str, str]:
        """(member id, kind, language) of an unsubscribe token; raises TokenError."""
        from profiles.tokens import TokenError

        data = self.tokens.read(UNSUBSCRIBE, token, max_age=None)
        member_id, kind, lang = data.get("m"), data.get("k"), data.get("l")
        if not isinstance(member_id, int) or kind not in queue.NOTIFICATION_KINDS:
            raise TokenError("invalid")
        return member_id, str(kind), self.language(lang if isinstance(lang, str) else None)

    # -- the worker job -------------------------------------------------------------------------

    def job(self, state: NodeState) -> int:
        """Send one batch; once an hour also forget old finished messages."""
        done = self.sender.run_once()
        now = utcnow()
        if self._pruned_at is None or now - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = now
            with state.write_session() as session:
                pruned = queue.prune(session, now)
            if pruned:
                log.info("forgot %d finished messages older than %s", pruned, queue.KEEP_FINISHED)
        return done

    def describe(self) -> str:
        """Where mail goes, for the admin page and the CLI (never the password)."""
        return self.transport.describe()


def mailer(state: NodeState | None = None) -> NodeMail:
    """The node's mail service (of ``state``, else of the current app)."""
    state = state or current_app.extensions["coopfed"]
    return state.mail_service()


def send_mail(
    session: Session,
    to: Member | str,
    template: str,
    lang: str | None = None,
    *,
    kind: str,
    **context: Any,
) -> MailMessage | None:
    """:meth:`NodeMail.send` of the current app's node (inside a request or app context)."""
    return mailer().send(session, to, template, lang, kind=kind, **context)


def install(app: Flask, state: NodeState) -> NodeMail:
    """Create the service, register the worker job, the unsubscribe and admin pages."""
    from node.web import mail as mail_views

    service = NodeMail(app, state)
    state.mail = service
    state.add_job("mail.send", service.job)
    app.register_blueprint(mail_views.bp)
    # The unsubscribe POST comes from mail clients (RFC 8058) without a CSRF token: the signed
    # token in the URL is the authorisation, and it can only switch one kind of mail off.
    app.extensions["csrf"].exempt(mail_views.unsubscribe)
    return service
