"""Admin pages: the node's local members (search, filters, paging; :mod:`profiles.roster`),
with forms to grant/remove admin and to delete.

Admins cannot demote or delete themselves here, so a node always keeps the admin acting on it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from node.web import admin_required, ctx, current_member, db, forms
from profiles import members as member_service
from profiles.models import Member
from profiles.roster import STATES, RosterQuery, export_rows, roster

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _local_member(member_id: int) -> Member:
    member = db().get(Member, member_id)
    if member is None or not member.local:
        abort(404)
    return member


@bp.route("/")
@admin_required
def index() -> Any:
    """Members, searchable and filtered, 50 a page (keyset: ``?after=<last user name>``)."""
    query = _query()
    page = roster(db(), ctx(), query)
    visibilities = {value: label for value, label, _why in forms.visibility_choices()}
    return render_template(
        "admin.html", page=page, query=query, states=STATES, vis_labels=visibilities
    )


def _query() -> RosterQuery:
    args = request.args
    return RosterQuery(
        q=args.get("q", ""),
        state=args.get("state") or None,
        visibility=args.get("visibility") or None,
        after=args.get("after") or None,
    )


@bp.route("/members.csv")
@admin_required
def export_members() -> Any:
    """The filtered member list as CSV (formula-safe cells: :func:`profiles.roster.csv_cell`)."""
    query = _query()

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in export_rows(db(), ctx(), query):
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    headers = {
        "Content-Disposition": 'attachment; filename="members.csv"',
        "Cache-Control": "no-store",
    }
    return Response(stream_with_context(lines()), mimetype="text/csv", headers=headers)


@bp.route("/members/<int:member_id>/admin", methods=["POST"])
@admin_required
def set_admin(member_id: int) -> Any:
    member = _local_member(member_id)
    make_admin = request.form.get("is_admin") == "1"
    if member.id == current_member().id and not make_admin:  # type: ignore[union-attr]
        flash(_("You cannot remove your own admin rights."))
        return redirect(url_for("admin.index"))
    member.is_admin = make_admin
    db().commit()
    if make_admin:
        flash(_("%(name)s is now an admin.", name=member.username))
    else:
        flash(_("%(name)s is no longer an admin.", name=member.username))
    return redirect(url_for("admin.index"))


@bp.route("/members/<int:member_id>/delete", methods=["POST"])
@admin_required
def delete_member(member_id: int) -> Any:
    member = _local_member(member_id)
    if member.id == current_member().id:  # type: ignore[union-attr]
        flash(_("You cannot delete your own account here."))
        return redirect(url_for("admin.index"))
    if not request.form.get("confirm"):
        flash(_("Tick the box to confirm the deletion of %(name)s.", name=member.username))
        return redirect(url_for("admin.index"))
    avatar = member.avatar
    username = member.username
    member_service.delete_member(db(), member)
    db().commit()
    forms.remove_avatar_file(Path(current_app.instance_path) / "avatars", avatar)
    flash(_("The member %(name)s is deleted.", name=username))
    return redirect(url_for("admin.index"))
