"""Issue 10, sign-in (defects 10-12): safe ``next``, server-side sessions, throttling that
never locks out a correct password, client addresses through the trusted proxies only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from federation.db import utcnow
from profiles import members as member_service
from profiles.models import LoginAttempt

PASSWORD = "correct horse battery"


def _member(app: Any, username: str = "alice") -> None:
    state = app.extensions["coopfed"]
    with state.session() as s:
        member_service.create_member(
            s,
            state.ctx,
            username=username,
            password=PASSWORD,
            profile=member_service.ProfileData(name=username.title(), visibility="coop"),
            vocab=state.vocabulary.get(s),
        )
        s.commit()


@pytest.fixture
def node(make_node: Any) -> Any:
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    _member(app)
    return app


def _login(client: Any, password: str = PASSWORD, ip: str = "10.0.0.1", **kw: Any) -> Any:
    return client.post(
        kw.pop("path", "/login"),
        data={"username": "alice", "password": password},
        environ_base={"REMOTE_ADDR": ip},
        **kw,
    )


OPEN_REDIRECTS = (
    "/%09/evil.example",  # the case: a tab browsers drop -> //evil.example
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "//evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "https://evil.example/",
    "https%3A%2F%2Fevil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "/%20/evil.example",
    "%0A//evil.example",
    "/%7F/evil.example",
)


def test_next_never_leaves_the_site(node: Any) -> None:
    for target in OPEN_REDIRECTS:  # the raw query value an attacker puts in a link
        response = _login(node.test_client(), path="/login?next=" + target)
        assert response.status_code == 302
        assert response.headers["Location"] == "/", (target, response.headers["Location"])


def test_next_keeps_a_same_site_path(node: Any) -> None:
    response = _login(node.test_client(), path="/login?next=/calls%3Fpage%3D2")
    assert response.headers["Location"] == "/calls?page=2"


def test_a_copied_cookie_stops_working_at_sign_out(node: Any) -> None:
    browser, thief = node.test_client(), node.test_client()
    assert _login(browser).status_code == 302
    cookie = browser.get_cookie("coopfed_session")
    thief.set_cookie("coopfed_session", cookie.value)
    assert thief.get("/profile/edit").status_code == 200  # the copy works while signed in
    assert browser.post("/logout").status_code == 302
    assert thief.get("/profile/edit").status_code == 302  # to the sign-in page
    assert browser.get("/profile/edit").status_code == 302


def test_password_change_and_sign_out_everywhere_end_every_session(node: Any) -> None:
    state = node.extensions["coopfed"]
    one, two = node.test_client(), node.test_client()
    assert _login(one).status_code == 302 and _login(two).status_code == 302
    assert one.post("/logout", data={"everywhere": "1"}).status_code == 302
    assert two.get("/profile/edit").status_code == 302

    assert _login(one).status_code == 302
    with state.session() as s:
        member = member_service.get_local(s, state.ctx, "alice")
        member_service.set_password(member, "another horse battery")
        s.commit()
    assert one.get("/profile/edit").status_code == 302


def _failures(app: Any, key: str, n: int) -> None:
    """``n`` recent failures of a throttling key (as many wrong passwords would leave)."""
    state = app.extensions["coopfed"]
    with state.session() as s:
        now = utcnow()
        for i in range(n):
            s.add(LoginAttempt(key=key, at=now - timedelta(seconds=n - i)))
        s.commit()


def test_a_guessing_client_slows_down_alone(node: Any) -> None:
    _failures(node, "ip:10.6.6.6", 16)  # past the free attempts: a delay of about a minute
    response = _login(node.test_client(), ip="10.6.6.6")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    assert _login(node.test_client(), ip="10.0.0.2").status_code == 302  # others go on


def test_guessing_from_many_addresses_never_locks_out_the_owners_browser(node: Any) -> None:
    owner = node.test_client()
    assert _login(owner).status_code == 302  # this browser is now a known device
    owner.post("/logout")
    _failures(node, "user:alice", 30)  # a botnet guessed alice's password
    assert _login(node.test_client(), ip="10.9.9.9").status_code == 429  # a new browser waits
    assert _login(owner).status_code == 302  # the owner's browser, right password: in
    # ...and a wrong password from the owner's browser is still only a wrong password.
    owner.post("/logout")
    assert _login(owner, password="wrong horse").status_code == 401


def test_one_wrong_password_too_many_is_a_delay_not_a_lockout(node: Any) -> None:
    client = node.test_client()
    for _ in range(5):
        assert _login(client, password="wrong").status_code == 401
    state = node.extensions["coopfed"]
    with state.session() as s:  # the delay is short (seconds) and then the password works
        for row in s.query(LoginAttempt).all():
            row.at = row.at - timedelta(minutes=1)
        s.commit()
    assert _login(client).status_code == 302


def test_client_addresses_come_from_the_trusted_proxies_only(make_node: Any) -> None:
    behind = make_node(domain="proxied.test", trusted_proxies=1)
    behind.config["WTF_CSRF_ENABLED"] = False
    _member(behind)
    _failures(behind, "ip:203.0.113.7", 16)
    client = behind.test_client()

    def attempt(forwarded: str) -> int:
        return int(
            client.post(
                "/login",
                data={"username": "alice", "password": PASSWORD},
                headers={"X-Forwarded-For": forwarded},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            ).status_code
        )

    assert attempt("203.0.113.7") == 429  # nginx said who the client is
    assert attempt("198.51.100.1") == 302  # another client behind the same nginx
    # A client cannot pass itself off: only the last hop (nginx's) is trusted.
    client.post("/logout")
    assert attempt("198.51.100.1, 203.0.113.7") == 429

    direct = make_node(domain="direct.test")  # no proxy configured: the header is ignored
    direct.config["WTF_CSRF_ENABLED"] = False
    _member(direct)
    _failures(direct, "ip:203.0.113.7", 16)
    response = direct.test_client().post(
        "/login",
        data={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.status_code == 302
