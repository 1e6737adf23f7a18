"""The composition root: ``create_app(settings)`` builds one node. No work at import time."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from node import db as node_db
from node import request_retry
from node.i18n import LANGUAGE_NAMES, babel, current_language, select_locale
from node.settings import Settings
from node.state import NodeState
from profiles.context import NodeContext
from profiles.errors import DomainError
from profiles.languages import UI_LANGUAGES

log = logging.getLogger("coopfed")


def create_app(settings: Settings | None = None, *, engine: Any = None) -> Flask:
    """Build a node. ``engine`` lets tests share one database engine; normally the settings'
    database URL is used."""
    settings = settings or Settings.load()
    if not settings.secret_key:
        raise RuntimeError("no secret_key: run `coopfed init` or set COOPFED_SECRET_KEY")
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.dev_mode,
        SESSION_COOKIE_NAME="coopfed_session",
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead: forms left open still work
        BABEL_TRANSLATION_DIRECTORIES=str(app.root_path + "/translations"),
        BABEL_DEFAULT_LOCALE="en",
        JSON_SORT_KEYS=False,
    )
    engine = engine or node_db.make_engine(settings.sqlalchemy_url)
    state = NodeState(
        settings=settings,
        engine=engine,
        sessionmaker=node_db.make_sessionmaker(engine),
        ctx=NodeContext(
            domain=settings.domain,
            base_url=settings.base_url,
            name=settings.name,
            country=settings.country,
        ),
    )
    app.extensions["coopfed"] = state
    # A request cut off by a database restart runs again if it committed nothing (no 500).
    request_retry.install(app, engine)
    if settings.trusted_proxies > 0:
        # Client address and scheme from the configured number of trusted proxies only: a
        # client cannot spoof X-Forwarded-For past them (sign-in throttling is per address).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0, x_prefix=0
        )
    CSRFProtect(app)
    babel.init_app(app, locale_selector=select_locale)

    from node import api, extensions, web
    from node.ops import wiring as ops_wiring

    web.install(app)
    api.install(app)
    extensions.install(app, state)
    ops_wiring.install(app, state)
    _install_hooks(app, state)
    _install_error_pages(app)
    return app


def _install_hooks(app: Flask, state: NodeState) -> None:
    """Per-request plumbing: the DB session's end, template globals, security headers."""
    from node import web

    @app.teardown_appcontext
    def _close_db(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from node.web import current_member

        return {
            "node": state.ctx,
            "me": current_member(),
            "ui_languages": [(code, LANGUAGE_NAMES[code]) for code in UI_LANGUAGES],
            "lang": current_language(),
        }

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in web.SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        vary = response.headers.get("Vary", "")
        if "Accept-Language" not in vary:
            response.headers["Vary"] = (vary + ", " if vary else "") + "Accept-Language, Cookie"
        return response


def _install_error_pages(app: Flask) -> None:
    """Errors as pages, or as ``{"error": ...}`` under /api/."""

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400, message=exc.description), 400

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Any:
        if request.path.startswith("/api/"):
            return {"error": str(exc)}, exc.status
        return render_template("error.html", code=exc.status, message=str(exc)), exc.status

    for code in (400, 403, 404, 405, 413, 429):

        def _handler(exc: Any, code: int = code) -> Any:
            if request.path.startswith("/api/"):
                return {"error": getattr(exc, "description", str(exc))}, code
            return render_template(
                "error.html", code=code, message=getattr(exc, "description", "")
            ), code

        app.register_error_handler(code, _handler)


def node_state(app: Flask) -> NodeState:
    state: NodeState = app.extensions["coopfed"]
    return state
