"""Sign in and out. Failed attempts are rate-limited per user name and per address."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node.web import ctx, db, safe_next, sign_in, sign_out, state
from profiles.members import TooManyAttempts, authenticate

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    status = 200
    settings = state().settings
    if request.method == "POST" and settings.oidc_only:
        abort(403, _("This coop signs its members in through its own service only."))
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        session = db()
        try:
            member = authenticate(session, ctx(), username, password, request.remote_addr or "?")
        except TooManyAttempts:
            session.rollback()
            error = _("Too many failed attempts. Please wait 15 minutes and try again.")
            status = 429
        else:
            session.commit()
            if member is not None:
                sign_in(member)
                flash(_("Welcome back, %(name)s.", name=member.name or member.username))
                return redirect(safe_next(request.args.get("next")))
            error = _("Wrong user name or password.")
            status = 401
    return render_template(
        "login.html",
        error=error,
        oidc=bool(settings.oidc_issuer),
        oidc_only=settings.oidc_only,
        next=safe_next(request.args.get("next")),
    ), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    sign_out()
    flash(_("You are signed out."))
    return redirect(url_for("home.home"))
