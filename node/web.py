"""Request-scoped helpers shared by the blueprints: the DB session, the signed-in member,
the vocabulary, access checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, session, url_for
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
    return state().vocabulary.get(db())


def current_member() -> Member | None:
    if "member" not in g:
        member_id = session.get("member_id")
        member = db().get(Member, member_id) if isinstance(member_id, int) else None
        # A session of a deleted or remote account is no session.
        if member is not None and (not member.local or session.get("auth") != _auth_tag(member)):
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
    return url_for("main.home")
