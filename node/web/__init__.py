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
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session

from node.state import NodeState
from profiles import signin
from profiles.context import NodeContext
from profiles.models import Member
from profiles.vocabulary import Vocabulary

F = TypeVar("F", bound=Callable[..., Any])

# On every response unless the view set its own (node.app; the shared inbox's WSGI path too).
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


def state() -> NodeState:
    return cast(NodeState, current_app.extensions["coopfed"])


# Requests that only read: their session begins deferred on SQLite (never waits under WAL).
# The inboxes' POSTs too: they read here (does the member exist?) and write in a session of
# their own (NodeFederation.receive).
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_BLUEPRINTS = frozenset({"ap_inbox"})
# GET pages that record that their viewer saw something (a response marked "seen" for its
# responder, a thread or notification marked read): the one kind of GET that writes, so it
# takes a write session like a POST rather than upgrading a read one (which SQLite may refuse).
_RECORDING_GETS = frozenset(
    {
        "collab.call_responses",
        "collab.thread",
        "collab.invitation_thread",
        "collab_notify.open_notification",
    }
)


def db() -> Session:
    """The request's Session (created on first use, closed at teardown). Views commit.

    GET requests get a read session — GETs never write; every other request a write session,
    which on SQLite takes the write lock with its first statement (``BEGIN IMMEDIATE``), so a
    view that reads, then writes waits its turn instead of failing with "database is locked".
    """
    if "db" not in g:
        node = state()
        if not has_request_context():
            g.db = node.session()  # an app context of its own (the CLI, tests)
        elif request.endpoint in _RECORDING_GETS:
            g.db = node.write_session_factory()
        elif request.method in _READ_METHODS or request.blueprint in _READ_BLUEPRINTS:
            g.db = node.read_session_factory()
        else:
            g.db = node.write_session_factory()
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
    """The member of this request's server-side session (:mod:`profiles.signin`), else None:
    a cookie whose session was closed (sign out, password change) is no session."""
    if "member" not in g:
        member = signin.session_member(db(), session.get("sid"))
        # A session of another account, a remote or a deactivated one is no session.
        if member is not None and (
            session.get("member_id") != member.id
            or not member.local
            or member.deactivated_at is not None
        ):
            member = None
        g.member = member
    return cast(Member | None, g.member)


def sign_in(member: Member) -> None:
    session.clear()
    session["sid"] = signin.open_session(db(), member)
    session["member_id"] = member.id
    session.permanent = True
    g.member = member


def sign_out(*, everywhere: bool = False) -> None:
    """End this session (and with ``everywhere`` every other session of the member); the
    caller commits."""
    member = current_member()
    if everywhere and member is not None:
        signin.close_all_sessions(db(), member.id)
    signin.close_session(db(), session.get("sid"))
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
    """Only same-site relative paths: never redirect a signed-in member to another site.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/", a tab,
    "/evil.example" is "//evil.example": anything with a control character, whitespace or a
    backslash is refused, as is anything with a scheme or a host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("home.home")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in target):
        return url_for("home.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("home.home")
    return target


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
