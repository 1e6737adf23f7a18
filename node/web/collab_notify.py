"""Collaboration, the other half (issue 9): inviting suggested people, the invitee's invitations,
the notifications page and the unread count in the header, and email preferences.

The count in the header is one ``SELECT count(*)`` on the index (member_id, read_at)
(:func:`profiles.collab.unread_count`), once per page for signed-in members:
bench/bench_notifications.py measures what it adds to a page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node import reasons
from node.collab_mail import STATE_NAMES
from node.i18n import current_language
from node.mail import KIND_LABELS
from node.web import current_member, db, login_required, state, vocab
from node.web.collab import MAX_MESSAGE, _me, _visible_call
from profiles import collab, visibility
from profiles import mail as mail_prefs
from profiles.collab.models import Notification
from profiles.models import Call, Member

bp = Blueprint("collab_notify", __name__)

PER_PAGE = 50


# -- header -------------------------------------------------------------------------------------


@bp.app_template_global()
def unread_notifications() -> int:
    """The signed-in member's unread notifications (0 when signed out); once per request."""
    me = current_member()
    if me is None:
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = collab.unread_count(db(), me)
    return int(g.unread_notifications)


# -- inviting -----------------------------------------------------------------------------------


@bp.app_template_global()
def invited_members(call: Call) -> set[int] | None:
    """Ids of the members already invited to ``call``; None when the viewer may not invite
    (only the author or an admin of the call's own node: a partner's call is invited to there).
    """
    me = current_member()
    if not visibility.may_edit_call(call, me) or call.status != "open":
        return None
    assert me is not None
    found = collab.invitations_for_call(db(), call, me)
    return {i.invitee_id for i in found if i.state in ("pending", "responded")}


@bp.route("/calls/<public_id>/invite", methods=["POST"])
@login_required
def invite(public_id: str) -> Any:
    call = _visible_call(public_id)
    session = db()
    member_id = request.form.get("member_id", "")
    invitee = session.get(Member, int(member_id)) if member_id.isdigit() else None
    if invitee is None:
        abort(404)
    message = request.form.get("message", "").strip()[:MAX_MESSAGE]
    collab.invite(session, call, _me(), invitee, message)  # PermissionDenied -> 403
    session.commit()
    flash(_("%(name)s is invited to respond.", name=invitee.name or invitee.username))
    return redirect(url_for("calls.call", public_id=public_id) + "#matches")


@bp.route("/invitations")
@login_required
def invitations() -> Any:
    me = _me()
    found = collab.invitations_of(db(), me)
    why: dict[int, list[str]] = {}
    service = state().match_service()
    v, lang = vocab(), current_language()
    for inv in found:
        explained = service.explain(db(), inv.call, [me]).get(me.ap_id)
        if explained is not None:
            why[inv.id] = reasons.render(explained.reasons, v, lang, "self")
    return render_template("collab_invitations.html", invitations=found, why=why)


@bp.route("/invitations/<int:invitation_id>/decline", methods=["POST"])
@login_required
def decline_invitation(invitation_id: int) -> Any:
    session = db()
    invitation = collab.get_invitation(session, invitation_id, _me())
    message = request.form.get("message", "").strip()[:MAX_MESSAGE]
    collab.decline_invitation(session, invitation, _me(), message)  # PermissionDenied -> 403
    session.commit()
    flash(_("You declined the invitation."))
    return redirect(url_for("collab_notify.invitations"))


# -- notifications ------------------------------------------------------------------------------


def describe(n: Any) -> tuple[str, str]:
    """(sentence in the UI language, relative URL) of a notification."""
    response, invitation, call = n.response, n.invitation, n.call
    if response is not None:
        call = call or response.call
    if invitation is not None:
        call = call or invitation.call
    title = call.title if call is not None else ""
    if n.kind == "response_received" and response is not None:
        name = response.responder_name or (
            response.responder.name if response.responder is not None else ""
        )
        text = _("%(name)s responded to your call “%(title)s”.", name=name, title=title)
        return text, url_for("collab.thread", response_id=response.id)
    if (
        n.kind == "response_status"
        and response is not None
        and response.responder_id != n.member_id
    ):
        name = response.responder_name
        text = _("%(name)s withdrew their response to “%(title)s”.", name=name, title=title)
        return text, url_for("collab.thread", response_id=response.id)
    if n.kind == "response_status" and response is not None:
        state_name = response_state_name(response.state)
        text = _("Your response to “%(title)s” is now: %(state)s.", title=title, state=state_name)
        return text, url_for("collab.thread", response_id=response.id)
    if n.kind == "invitation" and invitation is not None and invitation.invitee_id != n.member_id:
        invitee = invitation.invitee.name or invitation.invitee.username
        text = _(
            "%(name)s declined your invitation to respond to “%(title)s”.",
            name=invitee,
            title=title,
        )
        return text, url_for("collab.invitation_thread", invitation_id=invitation.id)
    if n.kind == "invitation" and invitation is not None:
        inviter = invitation.inviter.name or invitation.inviter.username
        text = _("%(name)s invites you to respond to “%(title)s”.", name=inviter, title=title)
        return text, url_for("collab.invitation_thread", invitation_id=invitation.id)
    if n.kind == "message":
        text = _("New message about “%(title)s”.", title=title)
        if response is not None:
            return text, url_for("collab.thread", response_id=response.id) + "#messages"
        if invitation is not None:
            target = url_for("collab.invitation_thread", invitation_id=invitation.id)
            return text, target + "#messages"
    if n.kind == "call_fits" and call is not None:
        text = _("A new call fits your profile: “%(title)s”.", title=title)
        return text, url_for("calls.call", public_id=call.public_id)
    return _("Something changed."), url_for("collab_notify.notifications")


def response_state_name(value: str) -> str:
    return str(STATE_NAMES.get(value, value))


@bp.route("/notifications")
@login_required
def notifications() -> Any:
    found = collab.list_notifications(db(), _me(), limit=PER_PAGE)
    items = [(n, *describe(n)) for n in found]
    return render_template("collab_notifications.html", items=items)


@bp.route("/notifications/<int:notification_id>")
@login_required
def open_notification(notification_id: int) -> Any:
    """Mark one notification read and go where it points (a link: works without JavaScript;
    reading is idempotent, so a prefetch does no harm)."""
    session = db()
    me = _me()
    found = session.get(Notification, notification_id)
    if found is None or found.member_id != me.id:
        abort(404)
    target = describe(found)[1]
    collab.mark_read(session, me, [notification_id])
    session.commit()
    return redirect(target)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_all() -> Any:
    collab.mark_read(db(), _me(), None)
    db().commit()
    flash(_("All notifications are marked as read."))
    return redirect(url_for("collab_notify.notifications"))


# -- email preferences --------------------------------------------------------------------------


@bp.route("/settings/email", methods=["GET", "POST"])
@login_required
def email_settings() -> Any:
    me = _me()
    session = db()
    if request.method == "POST":
        chosen = set(request.form.getlist("kinds"))
        for kind in mail_prefs.NOTIFICATION_KINDS:
            mail_prefs.set_preference(session, me.id, kind, kind in chosen)
        session.commit()
        flash(_("Your email settings are saved."))
        return redirect(url_for("collab_notify.email_settings"))
    return render_template(
        "collab_email_settings.html",
        kinds=[(k, KIND_LABELS.get(k, k)) for k in mail_prefs.NOTIFICATION_KINDS],
        chosen=mail_prefs.preferences(session, me.id),
        has_email=bool(me.email),
    )
