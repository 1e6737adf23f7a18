"""A member's own account: "download my data" (a ZIP) and "delete my account" (confirmed with
the password; at once, or after the operator's grace period ``account_deletion_grace_days``,
cancellable by signing in). Admins download the same ZIP for any local member (GDPR access
requests). Erasure itself is :mod:`profiles.privacy`'s; this module also removes the avatar
file of every deleted member (whatever deleted it: page, admin, CLI, worker).
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from node.state import NodeState
from node.web import admin_required, current_member, db, forms, login_required, sign_out, state
from profiles import events, privacy
from profiles.models import Member
from profiles.passwords import verify_password

bp = Blueprint("account", __name__)


def _zip(member: Member) -> Response:
    coop = state().federation_service().coop
    session = db()
    files = privacy.export_member(
        session,
        member,
        as_person=lambda m: coop.person(session, m),
        as_page=lambda c: coop.page(session, c),
    )
    session.commit()  # the actor document may have made the member's keys
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{member.username}/{name}", data)
        if member.avatar and forms.AVATAR_NAME.match(member.avatar):
            path = Path(state().settings.instance_path) / "avatars" / member.avatar
            if path.is_file():
                archive.write(path, f"{member.username}/avatar/{member.avatar}")
    response = Response(buffer.getvalue(), content_type="application/zip")
    filename = f"coopfed-{member.username}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account")
@login_required
def account() -> Any:
    grace = state().settings.account_deletion_grace_days
    return render_template("account.html", grace_days=grace, error=None)


@bp.route("/account/export")
@login_required
def export() -> Response:
    me = current_member()
    assert me is not None
    return _zip(me)


@bp.route("/admin/members/<int:member_id>/export")
@admin_required
def admin_export(member_id: int) -> Response:
    member = db().get(Member, member_id)
    if member is None or not member.local:
        abort(404)
    return _zip(member)


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete() -> Any:
    me = current_member()
    assert me is not None
    grace = state().settings.account_deletion_grace_days
    if request.form.get("confirm") != me.username or not verify_password(
        me.password_hash, request.form.get("password", "")
    ):
        error = _("Type your user name and your password to confirm.")
        return render_template("account.html", grace_days=grace, error=error), 422
    session = db()
    erased = privacy.request_deletion(session, me, timedelta(days=grace))
    sign_out()
    session.commit()
    if erased:
        flash(_("Your account and your data are deleted."))
    else:
        flash(_("Your account will be deleted in %(days)s days. Sign in to cancel.", days=grace))
    return redirect(url_for("home.home"))


@bp.route("/account/cancel-deletion", methods=["POST"])
@login_required
def cancel_deletion() -> Any:
    me = current_member()
    assert me is not None
    privacy.cancel_deletion(me)
    db().commit()
    flash(_("Your account will not be deleted."))
    return redirect(url_for("account.account"))


def install(app: Flask, node_state: NodeState) -> None:
    """The pages, the avatar-file listener and the worker job erasing scheduled deletions."""
    from node.worker import register_job

    app.register_blueprint(bp)
    avatars = Path(node_state.settings.instance_path) / "avatars"

    def remove_avatar(session: Session, event: str, obj: Any) -> None:
        if event == events.MEMBER_DELETED and isinstance(obj, Member):  # partners' copies too
            forms.remove_avatar_file(avatars, obj.avatar)

    node_state.listeners.append(remove_avatar)

    def erase_due(s: NodeState) -> int:
        with s.session() as session:
            done = privacy.erase_due(session)
            session.commit()
            return done

    register_job(node_state, "privacy.erase_due", erase_due)
