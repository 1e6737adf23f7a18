"""Getting in: accept an invitation (set a password, signed in), forgot/reset password, and
the admin's invitations page (send, resend, revoke; who has not accepted yet).

Pages reached through an emailed link carry the token in their path: they are answered with
``Referrer-Policy: no-referrer`` (the token must not leak to another site through a link on the
page) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node.onboarding import invite, send_reset
from node.web import admin_required, ctx, db, sign_in, state
from profiles import invitations
from profiles.errors import ValidationError
from profiles.models import Member
from profiles.tokens import TokenError

bp = Blueprint("onboarding", __name__)

PAGE_SIZE = 100
LINK_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _token_problem(exc: TokenError) -> str:
    if exc.reason == "expired":
        return _("This link has expired. Ask your coop for a new one.")
    if exc.reason == "used":
        return _("This link has already been used. Sign in with your password.")
    return _("This link is not valid (any more). Ask your coop for a new one.")


def _errors(exc: ValidationError) -> str:
    if "confirm" in exc.errors:
        return _("The two passwords differ.")
    return _("The password needs at least %(num)d characters.", num=10)


def _password_page(mode: str, token: str, member: Any, error: str | None, status: int) -> Any:
    page = render_template("password_set.html", mode=mode, token=token, member=member, error=error)
    return page, status, LINK_HEADERS


def _invalid_link(exc: TokenError) -> Any:
    page = render_template("password_set.html", mode="invalid", error=_token_problem(exc))
    return page, 400, LINK_HEADERS


def _password_link(
    kind: str, token: str, check: Callable[..., Member], spend: Callable[..., Member]
) -> Any:
    """A one-time link that sets a password (``kind`` "invitation" or "reset"): GET shows the
    form (link scanners fetch links; a GET spends nothing); POST sets the password with
    ``spend``, spends the link and signs the member in. The member, or the page to answer."""
    tokens = state().mail_service().tokens
    session = db()
    try:
        member = check(session, tokens, token)
    except TokenError as exc:
        return _invalid_link(exc)
    if request.method == "GET":
        return _password_page(kind, token, member, None, 200)
    form = request.form
    try:
        member = spend(session, tokens, token, form.get("password", ""), form.get("confirm", ""))
    except ValidationError as exc:
        session.rollback()
        return _password_page(kind, token, member, _errors(exc), 422)
    except TokenError as exc:
        session.rollback()
        return _invalid_link(exc)
    session.commit()
    sign_in(member)
    session.commit()  # the server-side session row (profiles.signin)
    return member


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept(token: str) -> Any:
    member = _password_link("invitation", token, invitations.check_invitation, invitations.accept)
    if not isinstance(member, Member):
        return member
    flash(_("Welcome, %(name)s. Your password is set.", name=member.name or member.username))
    return redirect(url_for("profile.edit_profile"))


def _passwords_off() -> None:
    if state().settings.oidc_only:
        abort(404)  # members sign in through the coop's own service only


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    """Ask for a reset link. The answer is the same whether the address is known or not."""
    _passwords_off()
    if request.method == "GET":
        return render_template("password_forgot.html", sent=False)
    session = db()
    try:
        member = invitations.reset_request(
            session, ctx(), request.form.get("email", ""), request.remote_addr or "?"
        )
    except invitations.TooManyRequests:
        session.rollback()
        error = _("Too many requests. Please wait 15 minutes and try again.")
        return render_template("password_forgot.html", sent=False, error=error), 429
    if member is not None and member.email:
        send_reset(state(), session, member)
    session.commit()
    return render_template("password_forgot.html", sent=True)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    _passwords_off()
    member = _password_link("reset", token, invitations.reset_check, invitations.reset)
    if not isinstance(member, Member):
        return member
    flash(_("Your new password is set."))
    return redirect(url_for("home.home"))


# -- the admin's page ----------------------------------------------------------------------------


@bp.route("/admin/invitations")
@admin_required
def admin_list() -> Any:
    status = request.args.get("status") or None
    if status not in (None, "pending", "invited", "revoked"):
        status = None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = invitations.onboarding_rows(
        db(), ctx(), status, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    pending = len(invitations.pending_ids(db(), ctx()))
    return render_template(
        "admin_invitations.html",
        rows=[(m, i, invitations.status_of(m, i)) for m, i in rows],
        total=total,
        pending=pending,
        status=status,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@bp.route("/admin/invitations/send", methods=["POST"])
@admin_required
def admin_send() -> Any:
    """Send (or resend) to the members ticked, or to every member never invited."""
    session = db()
    if request.form.get("all_pending"):
        ids = invitations.pending_ids(session, ctx())
    else:
        ids = [int(v) for v in request.form.getlist("member_id") if v.isdigit()]
    result = invite(state(), session, ids)
    session.commit()
    flash(_("%(num)d invitations sent.", num=len(result.ready)))
    if result.no_email:
        flash(_("Without an e-mail address: %(names)s", names=", ".join(result.no_email[:50])))
    return redirect(url_for("onboarding.admin_list", status=request.form.get("status") or None))


@bp.route("/admin/invitations/<int:member_id>/revoke", methods=["POST"])
@admin_required
def admin_revoke(member_id: int) -> Any:
    session = db()
    if invitations.revoke(session, member_id):
        session.commit()
        flash(_("The invitation is revoked: its links no longer work."))
    return redirect(url_for("onboarding.admin_list", status=request.form.get("status") or None))
