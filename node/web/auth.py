"""Sign in and out. Failed attempts slow down per client and per account (profiles.signin);
the browser an account signed in from before is a "known device", exempt from the per-account
delay, so the owner is never locked out by someone guessing. Sessions are server-side: signing
out ends this one (or, "everywhere", every session of the member)."""

from __future__ import annotations

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
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from node.web import ctx, db, safe_next, sign_in, sign_out, state
from profiles.members import TooManyAttempts, authenticate

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "coopfed_device"
DEVICE_DAYS = 365
DEVICE_ACCOUNTS = 5  # accounts remembered per browser


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="coopfed-known-device")


def _known_accounts() -> list[str]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        found = _devices().loads(raw)
    except BadSignature:
        return []
    return [str(x) for x in found] if isinstance(found, list) else []


def _remember_device(response: Response, username: str) -> None:
    known = [u for u in _known_accounts() if u != username]
    value = _devices().dumps([username, *known][:DEVICE_ACCOUNTS])
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        secure=request.is_secure,
        samesite="Lax",
    )


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
        name = username.strip().lower()[:64]
        session = db()
        try:
            member = authenticate(
                session,
                ctx(),
                username,
                password,
                request.remote_addr or "?",
                known_device=name in _known_accounts(),
            )
        except TooManyAttempts as exc:
            session.rollback()
            error = _(
                "Too many failed attempts. Please wait %(seconds)s seconds and try again.",
                seconds=exc.retry_after,
            )
            page = _login_page(error)
            return Response(page, 429, headers={"Retry-After": str(exc.retry_after)})
        if member is not None:
            sign_in(member)
            session.commit()
            flash(_("Welcome back, %(name)s.", name=member.name or member.username))
            response = redirect(safe_next(request.args.get("next")))
            _remember_device(response, member.username)
            return response
        session.commit()
        error = _("Wrong user name or password.")
        status = 401
    return _login_page(error), status


def _login_page(error: str | None) -> str:
    settings = state().settings
    return render_template(
        "login.html",
        error=error,
        oidc=bool(settings.oidc_issuer),
        oidc_only=settings.oidc_only,
        next=safe_next(request.args.get("next")),
    )


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    everywhere = request.form.get("everywhere") == "1"
    sign_out(everywhere=everywhere)
    db().commit()
    if everywhere:
        flash(_("You are signed out on every device."))
    else:
        flash(_("You are signed out."))
    return redirect(url_for("home.home"))
