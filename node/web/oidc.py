"""Sign in with the coop's OpenID Connect provider (Authlib's Flask client, authorization code
flow with state and nonce). Configured by the ``oidc_*`` settings; without an issuer these
routes answer 404.

- ``/login/oidc?next=…``: checks that the provider's discovery document names the configured
  issuer (a provider answering for another issuer is refused), keeps ``next`` (a same-site
  path only: :func:`node.web.safe_next`) and redirects to the provider.
- ``/login/oidc/callback``: Authlib checks the state against the one kept in this browser's
  session (once: it is then forgotten, so a replayed callback fails), exchanges the code and
  verifies the ID token (signature, audience, nonce, and ``iss`` = the configured issuer). The
  member is then matched (:func:`profiles.sso.match_member`), never created.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request
from flask import session as cookie
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from node.web import ctx, db, safe_next, sign_in, state
from profiles.sso import NoMatch, match_member

log = logging.getLogger("coopfed.oidc")

bp = Blueprint("oidc", __name__)
NEXT_KEY = "oidc_next"


def _client() -> Any:
    oauth = current_app.extensions.get("coopfed_oidc")
    if oauth is None:
        abort(404)
    return oauth.create_client("coop")


def _failed(message: str, status: int = 400) -> Any:
    page = render_template("error.html", code=status, message=message)
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/login/oidc")
def start() -> Any:
    client = _client()
    issuer = state().settings.oidc_issuer
    try:
        metadata = client.load_server_metadata()
    except (RequestException, ValueError) as exc:
        log.warning("OpenID provider %s unreachable: %s", issuer, exc)
        return _failed(_("The coop's sign-in service cannot be reached. Try again later."), 502)
    if metadata.get("issuer") != issuer:
        log.warning("OpenID provider answers as %r, configured: %r", metadata.get("issuer"), issuer)
        return _failed(_("The coop's sign-in service is misconfigured."), 502)
    cookie[NEXT_KEY] = safe_next(request.args.get("next"))
    return client.authorize_redirect(ctx().base_url + "/login/oidc/callback")


@bp.route("/login/oidc/callback")
def callback() -> Any:
    client = _client()
    settings = state().settings
    try:
        token = client.authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [settings.oidc_issuer]}}
        )
    except (OAuthError, JoseError, RequestException, ValueError, KeyError) as exc:
        # A replayed or forged state, a denied consent, a token from another issuer, …
        log.warning("OpenID sign-in refused: %s", exc)
        return _failed(_("Sign-in through the coop's service failed. Please start again."))
    claims = token.get("userinfo")
    if not claims:  # no verified ID token (no nonce kept): never trust the bare userinfo
        return _failed(_("Sign-in through the coop's service failed. Please start again."))
    try:
        member = match_member(
            db(),
            ctx(),
            claims,
            ref_claim=settings.oidc_ref_claim,
            username_claim=settings.oidc_username_claim,
        )
    except NoMatch as exc:
        log.info("OpenID sign-in of %r: %s", claims.get("sub"), exc.reason)
        return _failed(
            _("No member account of this coop matches your sign-in. Please ask your coop."), 403
        )
    target = safe_next(cookie.pop(NEXT_KEY, None))
    sign_in(member)
    db().commit()  # the server-side session row (profiles.signin)
    flash(_("Welcome back, %(name)s.", name=member.name or member.username))
    return redirect(target)


def install(app: Flask) -> None:
    """Register the provider (if configured) and the routes."""
    settings = app.extensions["coopfed"].settings
    if settings.oidc_issuer:
        oauth = OAuth(app)
        oauth.register(
            "coop",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile"},
        )
        app.extensions["coopfed_oidc"] = oauth
    app.register_blueprint(bp)
