"""The admin's API tokens page: every token (owner, scopes, last use), create one (its secret
is shown on the answer page once, never stored in the session cookie), revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node.web import admin_required, ctx, db
from profiles import api_tokens
from profiles.errors import NotFound, ValidationError
from profiles.members import get_local

bp = Blueprint("admin_tokens", __name__, url_prefix="/admin/tokens")


def _page(secret: str | None = None, error: str | None = None, status: int = 200) -> Any:
    page = render_template(
        "admin_tokens.html",
        tokens=api_tokens.tokens_of(db()),
        scopes=api_tokens.SCOPES,
        secret=secret,
        error=error,
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/")
@admin_required
def index() -> Any:
    return _page()


@bp.route("/", methods=["POST"])
@admin_required
def create() -> Any:
    form = request.form
    session = db()
    try:
        owner = get_local(session, ctx(), form.get("owner", ""))
        _row, secret = api_tokens.create_token(
            session, owner, form.get("name", ""), form.getlist("scope")
        )
    except NotFound:
        session.rollback()
        return _page(error=_("No member with that user name."), status=422)
    except ValidationError as exc:
        session.rollback()
        if "scopes" in exc.errors:
            message = _("Choose at least one scope; manage:members only for an admin's token.")
        else:
            message = _("Give the token a name (at most 100 characters).")
        return _page(error=message, status=422)
    session.commit()
    return _page(secret=secret)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@admin_required
def revoke(token_id: int) -> Any:
    if api_tokens.revoke(db(), token_id):
        db().commit()
        flash(_("The token is revoked."))
    return redirect(url_for("admin_tokens.index"))
