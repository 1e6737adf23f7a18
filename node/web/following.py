"""A member's "Following" page: follow fediverse accounts by ``@user@host`` or profile URL, see
each follow's state (pending, accepted, rejected) and unfollow.

Following is a relationship only: the node does not show the accounts' posts (see
:mod:`profiles.ap.following`); the list links to each account's own page. Looking an account up
(WebFinger, its actor document) happens inside the POST; the Follow and the Undo are queued and
delivered by the worker. Every action is a POST with the CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from node.web import current_member, db, login_required, state
from profiles.ap.following import FollowRefused

bp = Blueprint("following", __name__)


def _refusal(exc: FollowRefused, target: str) -> str:
    """The reason in the member's language (the exception's text is English for the CLI)."""
    messages = {
        "invalid": _("Give a handle such as @name@example.social or a profile URL."),
        "not_found": _("No fediverse account found for %(target)s.", target=target),
        "unreachable": _(
            "The server of %(target)s could not be reached or refused the request.", target=target
        ),
        "blocked": _("This server or account is blocked on this node."),
        "own_node": _("That is an account of this node."),
        "not_federated": _(
            "Your profile is visible to your coop only: make it visible to partner coops or "
            "to everyone to follow accounts elsewhere."
        ),
        "not_following": _("You do not follow %(target)s.", target=target),
    }
    return messages.get(exc.reason, _("Could not do that: %(error)s", error=str(exc)))


def _render(error: str | None = None, account: str = "", status: int = 200) -> Any:
    me = current_member()
    assert me is not None
    fed = state().federation_service()
    try:
        accounts = fed.following(db(), me.username)
    except FollowRefused as exc:  # a coop-only profile: the form explains, the list is empty
        accounts = []
        error = error or _refusal(exc, "")
    return (
        render_template("following.html", accounts=accounts, error=error, account=account),
        status,
    )


@bp.route("/following", methods=["GET"])
@login_required
def following() -> Any:
    return _render()


@bp.route("/following", methods=["POST"])
@login_required
def follow() -> Any:
    me = current_member()
    assert me is not None
    target = request.form.get("account", "").strip()
    if not target:
        return _render(_refusal(FollowRefused("invalid", ""), target), target, 422)
    session = db()
    try:
        followed = state().federation_service().follow(session, me.username, target)
    except FollowRefused as exc:
        session.rollback()
        return _render(_refusal(exc, target), target, 422)
    session.commit()
    if followed.state == "accepted":
        flash(_("You already follow %(account)s.", account=followed.handle))
    else:
        flash(_("Follow request sent to %(account)s.", account=followed.handle))
    return redirect(url_for("following.following"))


@bp.route("/following/unfollow", methods=["POST"])
@login_required
def unfollow() -> Any:
    me = current_member()
    assert me is not None
    target = request.form.get("actor", "").strip()
    session = db()
    try:
        gone = state().federation_service().unfollow(session, me.username, target)
    except FollowRefused as exc:
        session.rollback()
        flash(_refusal(exc, target))
        return redirect(url_for("following.following"))
    session.commit()
    flash(_("You no longer follow %(account)s.", account=gone.handle))
    return redirect(url_for("following.following"))
