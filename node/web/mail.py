"""Mail pages: the unsubscribe link of every notification email, and the admin's email log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, send_from_directory
from flask_babel import force_locale
from sqlalchemy import select

from node.mail import KIND_LABELS, mailer
from node.web import admin_required, db
from profiles import mail as queue
from profiles.mail import MailMessage
from profiles.models import Member
from profiles.tokens import TokenError

bp = Blueprint("mail", __name__)

LOG_LIMIT = 200


def _masked(address: str) -> str:
    """l***@example.org: enough to recognise one's address, little to whoever sees the page."""
    user, _, domain = address.partition("@")
    return f"{user[:1]}***@{domain}"


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    """GET: a page that confirms (link scanners fetch links; they must not unsubscribe anyone).
    POST: unsubscribe, without sign-in — from that page, or a mail client's RFC 8058 one-click
    POST (body ``List-Unsubscribe=One-Click``). Idempotent."""
    service = mailer()
    try:
        member_id, kind, lang = service.read_unsubscribe(token)
    except TokenError:
        return _invalid()
    member = db().get(Member, member_id)
    if member is None or not member.local:
        return _invalid()
    with force_locale(lang):  # the language the message was written in
        values = {
            "kind_label": KIND_LABELS[kind],
            "address": _masked(member.email or ""),
            "token": token,
        }
        if request.method == "POST":
            queue.set_preference(db(), member.id, kind, False)
            db().commit()
            page = render_template("mail_unsubscribe.html", done=True, **values)
        else:
            page = render_template("mail_unsubscribe.html", done=False, **values)
    return page, 200, {"Cache-Control": "no-store"}


def _invalid() -> Any:
    page = render_template("mail_unsubscribe.html", invalid=True)
    return page, 400, {"Cache-Control": "no-store"}


@bp.route("/admin/mail")
@admin_required
def admin_log() -> Any:
    """The email log: the newest messages with their state and the server's last answer."""
    state = request.args.get("state")
    stmt = select(MailMessage).order_by(MailMessage.id.desc()).limit(LOG_LIMIT)
    if state in queue.STATES:
        stmt = stmt.where(MailMessage.state == state)
    else:
        state = None
    service = mailer()
    return render_template(
        "admin_mail.html",
        messages=db().scalars(stmt).all(),
        counts=queue.counts(db()),
        state=state,
        folder=service.folder,
        server=service.describe(),
    )


@bp.route("/admin/mail/<int:message_id>.eml")
@admin_required
def admin_eml(message_id: int) -> Any:
    """The stored .eml of a message (folder mode), shown as text."""
    service = mailer()
    message = db().get(MailMessage, message_id)
    if service.folder is None or message is None or not message.stored_as:
        abort(404)
    # send_from_directory refuses names that leave the folder.
    return send_from_directory(service.folder, message.stored_as, mimetype="text/plain", max_age=0)
