"""The member web UI, one module per resource, and the request helpers every blueprint of the
node (pages, ``node.api``, ``node.ap``) shares: the DB session, the signed-in member, the
vocabulary, access checks.

Pages: :mod:`~node.web.home` (home, about, favicon), :mod:`~node.web.members` (member pages,
avatars), :mod:`~node.web.profile` (editing one's profile), :mod:`~node.web.directory`,
:mod:`~node.web.calls`, :mod:`~node.web.auth`, :mod:`~node.web.admin`,
:mod:`~node.web.admin_federation`, :mod:`~node.web.matches` (suggestions on pages),
:mod:`~node.web.following` (following fediverse accounts); forms are
parsed by :mod:`~node.web.forms`, shared page helpers live in :mod:`~node.web.pages`.

Every page works without JavaScript. Views parse the request, call one service from
``profiles`` and map its errors: ValidationError re-renders the form (422) with what the member
typed, PermissionDenied/NotFound go to the app's error pages (403/404). Who may see or edit
what is :mod:`profiles.visibility`'s to say, never a view's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session

from node.state import NodeState
from profiles.context import NodeContext
from profiles.models import Member
from profiles.vocabulary import Vocabulary

F = TypeVar("F", bound=Callable[..., Any])


def state() -> NodeState:
    return cast(NodeState, current_app.extensions["coopfed"])


def db() -> Session:
    """The request's Session (created on first use, closed at teardown). Views commit."""
    if "db" not in g:
        g.db = state().session()
    return cast(Session, g.db)


def ctx() -> NodeContext:
    return state().ctx


def vocab() -> Vocabulary:
    """The vocabulary, looked up once per request: a page labelling many concepts would
    otherwise check the vocabulary's revision once per label (one query each)."""
    if "vocab" not in g:
        g.vocab = state().vocabulary.get(db())
    return cast(Vocabulary, g.vocab)


def current_member() -> Member | None:
    if "member" not in g:
        member_id = session.get("member_id")
        member = db().get(Member, member_id) if isinstance(member_id, int) else None
        # A session of a deleted or remote account is no session.
        if member is not None and (
            not member.local
            or member.deactivated_at is not None
            or session.get("auth") != _auth_tag(member)
        ):
            member = None
        g.member = member
    return cast(Member | None, g.member)


def _auth_tag(member: Member) -> str:
    """Changes when the password changes, so other sessions of that account end."""
    return (member.password_hash or "")[-16:]


def sign_in(member: Member) -> None:
    session.clear()
    session["member_id"] = member.id
    session["auth"] = _auth_tag(member)
    session.permanent = True
    g.member = member


def sign_out() -> None:
    session.clear()
    g.pop("member", None)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_member() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        member = current_member()
        if member is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if not member.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect a signed-in member to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.home")


def blueprints() -> tuple[Blueprint, ...]:
    """The page blueprints (federation's admin pages and matches come with their services)."""
    from node.web import (
        admin,
        admin_tokens,
        auth,
        calls,
        collab,
        collab_notify,
        directory,
        following,
        home,
        members,
        messages,
        onboarding,
        pages,
        profile,
    )

    return (
        pages.bp,
        auth.bp,
        home.bp,
        members.bp,
        profile.bp,
        directory.bp,
        calls.bp,
        admin.bp,
        following.bp,
        collab.bp,
        collab_notify.bp,
        messages.bp,
        onboarding.bp,
        admin_tokens.bp,
    )


def install(app: Flask) -> None:
    from node.web import oidc

    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    oidc.install(app)
