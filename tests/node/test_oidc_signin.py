"""Sign-in through a real OpenID provider running in the test (oidc-provider-mock, Authlib on
the node's side): matched by user name, member number or e-mail, never a duplicate account;
a replayed or forged state, another issuer's tokens and an open redirect are refused; the
OIDC-only mode has no password sign-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import flask
import pytest
import requests
from oidc_provider_mock import User, run_server_in_thread
from sqlalchemy import func, select
from werkzeug.serving import make_server

from profiles.members import create_member
from profiles.models import Member

# The provider in the test (oidc-provider-mock 0.3, the last release for Python 3.11) calls
# Authlib APIs that Authlib now deprecates: its warnings, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]
PASSWORD = "a long enough password"
USERS = [
    User(sub="s-lena", claims={"preferred_username": "lena", "email": "lena@x.se"}),
    User(sub="s-anna", claims={"email": "ANNA@x.se", "email_verified": True}),
    User(sub="s-num", claims={"member_number": "M-7", "email": "other@x.se"}),
    User(sub="s-unverified", claims={"email": "bo@x.se", "email_verified": False}),
    User(sub="s-nobody", claims={"preferred_username": "nobody", "email": "no@x.se"}),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with run_server_in_thread(user_claims=USERS) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(autouse=True)
def _http_provider(monkeypatch):
    # The provider in the test speaks plain HTTP on localhost; Authlib refuses that by default.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


def node(make_node, issuer: str, **kw):
    app = make_node(oidc_issuer=issuer, oidc_client_id="coopfed", oidc_client_secret="s3", **kw)
    state = app.extensions["coopfed"]
    with state.session() as s:
        for name in ("lena", "anna", "bo"):
            create_member(s, state.ctx, username=name, email=f"{name}@x.se", password=PASSWORD)
        numbered = create_member(s, state.ctx, username="sven", email="sven@x.se")
        numbered.ref = "M-7"
        s.commit()
    return app


def sign_in_at_provider(client, sub: str, next_path: str = "/calls") -> tuple[object, str]:
    """Start at the node, pick ``sub`` on the provider's form; the node's answer to the
    callback, and the callback path (to replay it)."""
    start = client.get(f"/login/oidc?next={next_path}")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    authorize = start.headers["Location"]
    answer = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    back = urlsplit(answer.headers["Location"])
    path = f"{back.path}?{back.query}"
    return client.get(path), path


def count(app) -> int:
    with app.extensions["coopfed"].session() as s:
        return int(s.scalar(select(func.count()).select_from(Member)))


def test_sign_in_matches_existing_accounts_never_duplicates(make_node, provider):
    app = node(make_node, provider)
    before = count(app)
    client = app.test_client()
    done, _path = sign_in_at_provider(client, "s-lena")
    assert done.status_code == 302 and done.headers["Location"] == "/calls"
    assert client.get("/profile/edit").status_code == 200
    again, _path = sign_in_at_provider(app.test_client(), "s-lena")
    assert again.status_code == 302
    by_email, _path = sign_in_at_provider(app.test_client(), "s-anna")  # e-mail, any case
    assert by_email.status_code == 302
    by_number, _path = sign_in_at_provider(app.test_client(), "s-num")  # needs the ref claim
    assert by_number.status_code == 403
    for sub in ("s-unverified", "s-nobody"):  # unverified e-mail; nobody we know
        refused, _path = sign_in_at_provider(app.test_client(), sub)
        assert refused.status_code == 403
    assert count(app) == before  # no account was ever created


def test_member_number_claim(make_node, provider):
    app = node(make_node, provider, oidc_ref_claim="member_number")
    client = app.test_client()
    done, _path = sign_in_at_provider(client, "s-num")
    assert done.status_code == 302
    page = client.get("/profile/edit").get_data(as_text=True)
    assert "sven" in page


def test_replayed_and_forged_state_and_open_redirect(make_node, provider):
    app = node(make_node, provider)
    client = app.test_client()
    done, path = sign_in_at_provider(client, "s-lena", next_path="//evil.example/x")
    assert done.status_code == 302 and done.headers["Location"] == "/"  # not off-site
    replay = app.test_client().get(path)  # another browser replays the callback
    assert replay.status_code == 400
    same_browser = client.get(path)  # the state was spent
    assert same_browser.status_code == 400
    forged = app.test_client()
    forged.get("/login/oidc")
    answer = forged.get("/login/oidc/callback?code=abc&state=forged")
    assert answer.status_code == 400
    assert forged.get("/profile/edit").status_code == 302  # not signed in


@pytest.fixture
def lying_discovery(provider) -> Iterator[tuple[str, str]]:
    """A server whose discovery document claims to be its own issuer but sends the browser
    and the node to the real provider (whose ID tokens name the real issuer); and one that
    names another issuer outright. Yields (its base URL, a base URL naming another issuer)."""
    real = requests.get(f"{provider}/.well-known/openid-configuration", timeout=10).json()
    fake = flask.Flask("lying")
    server = make_server("localhost", 0, fake, threaded=True)
    base = f"http://localhost:{server.server_port}"

    @fake.get("/own/.well-known/openid-configuration")
    def own() -> dict:
        return real | {"issuer": f"{base}/own"}

    @fake.get("/other/.well-known/openid-configuration")
    def other() -> dict:
        return real | {"issuer": "https://someone-else.example"}

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/own", f"{base}/other"
    server.shutdown()
    thread.join(5)


def test_wrong_issuer_is_refused(make_node, lying_discovery):
    own, other = lying_discovery
    app = node(make_node, other)
    assert app.test_client().get("/login/oidc").status_code == 502  # names another issuer
    app = node(make_node, own, domain="own.test")
    client = app.test_client()
    refused, _path = sign_in_at_provider(client, "s-lena")  # ID token: the real issuer
    assert refused.status_code == 400
    assert client.get("/profile/edit").status_code == 302


def test_oidc_only_mode_has_no_passwords(make_node, provider):
    app = node(make_node, provider, oidc_only=True)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="link-oidc"' in page and 'name="password"' not in page
    assert client.post("/login", data={"username": "lena", "password": PASSWORD}).status_code == 403
    assert client.get("/password/forgot").status_code == 404
    done, _path = sign_in_at_provider(client, "s-lena")
    assert done.status_code == 302


def test_no_provider_configured(make_node):
    app = make_node()
    assert app.test_client().get("/login/oidc").status_code == 404
    assert 'id="link-oidc"' not in app.test_client().get("/login").get_data(as_text=True)
