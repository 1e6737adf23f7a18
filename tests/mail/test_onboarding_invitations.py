"""Invitations and password reset end to end: a real SMTP server (aiosmtpd) receives the mail,
the link in it sets the password and signs the member in; hostile links (expired, used,
forged, superseded, revoked) do nothing; the reset request never tells who is a member."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from mail_helpers import PASSWORD, add_member
from sqlalchemy import select

from federation.db import utcnow
from node.cli.members import member
from profiles import invitations
from profiles.invitations import AccountInvitation
from profiles.mail import MailMessage
from profiles.members import authenticate, create_member
from profiles.models import Member
from profiles.tokens import Tokens

NEW_PASSWORD = "my brand new password"


@pytest.fixture
def node(make_node, smtp_server):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    app.config["WTF_CSRF_ENABLED"] = False
    return app, sink


def imported(app, username: str, lang: str | None = None, email: bool = True) -> int:
    """A member as the importer makes them: no password."""
    state = app.extensions["coopfed"]
    with state.session() as s:
        m = create_member(
            s, state.ctx, username=username, email=f"{username}@example.org" if email else None
        )
        m.ui_language = lang
        s.commit()
        return int(m.id)


def run(app, *args: str):
    assert args[0] == "member"
    result = CliRunner().invoke(member, list(args[1:]), obj={"state": app.extensions["coopfed"]})
    assert result.exit_code == 0, result.output
    return result.output


def deliver(app, sink) -> list:
    state = app.extensions["coopfed"]
    before = len(sink.accepted)
    while state.mail_service().job(state):
        pass
    return sink.messages()[before:]


def link_in(message, path: str) -> str:
    body = message.get_body(("plain",)).get_content()
    url = re.search(rf"https?://\S+{re.escape(path)}\S+", body).group(0)
    return urlsplit(url).path


def shift_clock(app, by: timedelta) -> None:
    """The node verifies tokens as if ``by`` had passed (a Tokens with a shifted clock)."""
    state = app.extensions["coopfed"]
    secret = state.settings.secret_key
    state.mail_service().tokens = Tokens(secret, clock=lambda: utcnow() + by)


def status(app, username: str) -> str:
    state = app.extensions["coopfed"]
    with state.session() as s:
        m = s.scalar(select(Member).where(Member.username == username))
        return invitations.status_of(m, s.get(AccountInvitation, m.id))


def test_invite_all_pending_then_accept_in_the_members_language(node):
    app, sink = node
    imported(app, "lena", "de")
    imported(app, "marco", "it")
    imported(app, "nomail", email=False)
    add_member(app, "admin", is_admin=True)  # has a password: never invited
    assert status(app, "lena") == "pending"
    out = run(app, "member", "invite", "--all-pending")
    assert "2 invitations queued" in out and "1 have no e-mail address" in out
    messages = deliver(app, sink)
    by_to = {m["To"]: m for m in messages}
    assert set(by_to) == {"lena@example.org", "marco@example.org"}
    lena_mail = by_to["lena@example.org"]
    assert lena_mail["Content-Language"] == "de"
    assert "Einladung" in lena_mail.get_body(("plain",)).get_content()
    assert by_to["marco@example.org"]["Content-Language"] == "it"
    assert status(app, "lena") == "invited"
    # A second --all-pending sends nothing more: they are invited already.
    assert "0 invitations queued" in run(app, "member", "invite", "--all-pending")

    path = link_in(lena_mail, "/invitation/")
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    # A typo in the confirmation does not spend the link.
    typo = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert typo.status_code == 422
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/profile/edit")
    assert client.get("/profile/edit").status_code == 200  # signed in
    assert status(app, "lena") == "active"
    state = app.extensions["coopfed"]
    with state.session() as s:
        assert authenticate(s, state.ctx, "lena", NEW_PASSWORD, "1.2.3.4") is not None
    # Used: the second time it fails, on GET and POST, from another browser too.
    again = app.test_client().post(path, data={"password": "x" * 12, "confirm": "x" * 12})
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


def test_resend_and_revoke_make_older_links_useless(node):
    app, sink = node
    imported(app, "lena")
    run(app, "member", "invite", "lena")
    [first] = deliver(app, sink)
    run(app, "member", "invite", "lena")  # resend
    [second] = deliver(app, sink)
    old, new = link_in(first, "/invitation/"), link_in(second, "/invitation/")
    client = app.test_client()
    assert client.get(old).status_code == 400
    assert client.get(new).status_code == 200
    state = app.extensions["coopfed"]
    with state.session() as s:
        lena = s.scalar(select(Member.id).where(Member.username == "lena"))
        assert s.get(AccountInvitation, lena).sent_count == 2
        assert invitations.revoke(s, lena)
        s.commit()
    assert status(app, "lena") == "revoked"
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post(new, data=data).status_code == 400
    assert status(app, "lena") == "revoked"
    # Revoked members are not in --all-pending; named, they get a fresh, working link.
    assert "0 invitations queued" in run(app, "member", "invite", "--all-pending")
    run(app, "member", "invite", "lena")
    [third] = deliver(app, sink)
    assert client.post(link_in(third, "/invitation/"), data=data).status_code == 302


def test_expired_and_forged_invitation_links(node, make_node):
    app, sink = node
    lena = imported(app, "lena")
    run(app, "member", "invite", "lena")
    [mail] = deliver(app, sink)
    path = link_in(mail, "/invitation/")
    token = path.rsplit("/", 1)[1]
    client = app.test_client()
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    service = app.extensions["coopfed"].mail_service()
    # Expired: the verifier's clock is 15 days on.
    shift_clock(app, timedelta(days=15))
    expired = client.post(path, data=data)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    shift_clock(app, timedelta(0))
    service = app.extensions["coopfed"].mail_service()
    # Forged: a flipped signature character; a token signed with another node's key; a token
    # for another purpose (a reset link's payload under the invitation path).
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    other = Tokens("another node's secret").issue(
        "invitation", {"m": lena, "g": 1}, single_use=True
    )
    wrong_purpose = service.tokens.issue("password_reset", {"m": lena, "g": 1}, single_use=True)
    not_single_use = service.tokens.issue("invitation", {"m": lena, "g": 1})
    for bad in (flipped, other, wrong_purpose, not_single_use, "x", "a" * 300):
        answer = client.post(f"/invitation/{bad}", data=data)
        assert answer.status_code == 400, bad
    assert status(app, "lena") == "invited"
    assert client.post(path, data=data).status_code == 302  # the real one still works


def test_reset_gives_the_same_answer_for_anyone_and_is_rate_limited(node):
    app, sink = node
    add_member(app, "lena", lang="sv")
    client = app.test_client()
    known = client.post("/password/forgot", data={"email": "LENA@example.org"})
    unknown = client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    [mail] = deliver(app, sink)
    assert mail["To"] == "lena@example.org" and mail["Content-Language"] == "sv"
    path = link_in(mail, "/password/reset/")
    for _ in range(2):
        again = client.post("/password/forgot", data={"email": "lena@example.org"})
        assert again.status_code == 200
    limited = client.post("/password/forgot", data={"email": "lena@example.org"})
    assert limited.status_code == 429
    deliver(app, sink)

    elsewhere = app.test_client()  # signed in on another device before the reset
    assert (
        elsewhere.post("/login", data={"username": "lena", "password": PASSWORD}).status_code == 302
    )
    assert elsewhere.get("/account").status_code == 200
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post(path, data=data).status_code == 302
    assert client.get("/account").status_code == 200  # the reset signed this browser in
    assert elsewhere.get("/account").status_code == 302  # a new password ends other sessions
    state = app.extensions["coopfed"]
    with state.session() as s:
        assert authenticate(s, state.ctx, "lena", PASSWORD, "1.2.3.4") is None
        assert authenticate(s, state.ctx, "lena", NEW_PASSWORD, "1.2.3.4") is not None
        s.commit()
    used = client.post(path, data={"password": "another password!", "confirm": "another password!"})
    assert used.status_code == 400
    # An expired reset link.
    service = state.mail_service()
    with state.session() as s:
        token = invitations.reset_token(service.tokens, s.get(Member, 1))
    shift_clock(app, timedelta(hours=2))
    assert client.get(f"/password/reset/{token}").status_code == 400
    shift_clock(app, timedelta(0))
    assert client.get(f"/password/reset/{token}").status_code == 200
    # The login page links to it.
    assert "/password/forgot" in client.get("/login").get_data(as_text=True)


def test_reset_rate_limit_per_client_address(node):
    app, _sink = node
    client = app.test_client()
    for i in range(invitations.RESET_MAX_PER_IP):
        r = client.post("/password/forgot", data={"email": f"n{i}@example.org"})
        assert r.status_code == 200
    assert client.post("/password/forgot", data={"email": "z@example.org"}).status_code == 429


def test_admin_invitations_page(node):
    app, sink = node
    add_member(app, "boss", is_admin=True)
    add_member(app, "plain")
    for name in ("anna", "bert", "carl"):
        imported(app, name)
    client = app.test_client()
    client.post("/login", data={"username": "plain", "password": PASSWORD})
    assert client.get("/admin/invitations").status_code == 403
    client = app.test_client()
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    page = client.get("/admin/invitations").get_data(as_text=True)
    assert 'id="admin-nav"' in page and 'id="invitation-anna"' in page
    assert 'id="invitation-boss"' not in page  # has a password
    state = app.extensions["coopfed"]
    with state.session() as s:
        anna = s.scalar(select(Member.id).where(Member.username == "anna"))
    assert client.post("/admin/invitations/send", data={"member_id": str(anna)}).status_code == 302
    assert [m["To"] for m in deliver(app, sink)] == ["anna@example.org"]
    pending = client.get("/admin/invitations?status=pending").get_data(as_text=True)
    assert "invitation-anna" not in pending and "invitation-bert" in pending
    client.post("/admin/invitations/send", data={"all_pending": "1"})
    assert sorted(m["To"] for m in deliver(app, sink)) == ["bert@example.org", "carl@example.org"]
    client.post(f"/admin/invitations/{anna}/revoke")
    assert status(app, "anna") == "revoked"
    revoked = client.get("/admin/invitations?status=revoked").get_data(as_text=True)
    assert "invitation-anna" in revoked and "invitation-bert" not in revoked
    with state.session() as s:
        kinds = set(s.scalars(select(MailMessage.kind)))
        member_ids = set(s.scalars(select(MailMessage.member_id)))
    assert kinds == {"invitation"} and anna in member_ids
    # Every admin page carries the one menu.
    for path in ("/admin/", "/admin/mail", "/admin/federation/"):
        assert 'id="admin-nav"' in client.get(path).get_data(as_text=True), path


def test_member_add_invite(node):
    app, sink = node
    out = run(app, "member", "add", "nina", "--email", "nina@example.org", "--invite")
    assert "Member nina@smart.test created" in out and "1 invitations queued" in out
    [mail] = deliver(app, sink)
    assert mail["To"] == "nina@example.org" and status(app, "nina") == "invited"


def test_invitation_carries_each_members_values_escaped_in_html(node):
    app, sink = node
    zoe = imported(app, "zoe", "fr")
    imported(app, "lena", "de")
    state = app.extensions["coopfed"]
    with state.session() as s:
        s.get(Member, zoe).name = '<b>Zoë & "Co"</b>'
        s.commit()
    run(app, "member", "invite", "--all-pending")
    by_to = {m["To"]: m for m in deliver(app, sink)}
    zoe_mail, lena_mail = by_to["zoe@example.org"], by_to["lena@example.org"]
    text = zoe_mail.get_body(("plain",)).get_content()
    html = zoe_mail.get_body(("html",)).get_content()
    assert '<b>Zoë & "Co"</b>' in text and "zoe" in text and "\u27e6" not in text
    assert "&lt;b&gt;Zoë &amp; &#34;Co&#34;&lt;/b&gt;" in html and "<b>Zoë" not in html
    assert "\u27e6" not in html and "/invitation/" in html
    assert zoe_mail["Subject"].startswith("Vous êtes invité")
    lena_text = lena_mail.get_body(("plain",)).get_content()
    assert lena_text.startswith("Hallo lena,") and "Benutzername ist lena" in lena_text
    assert link_in(zoe_mail, "/invitation/") != link_in(lena_mail, "/invitation/")
