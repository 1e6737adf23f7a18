"""The unsubscribe link end to end (real SMTP server, RFC 8058 one-click POST), the admin's
email log with bounces and the .eml view, and `coopfed mail test`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from click.testing import CliRunner
from mail_helpers import PASSWORD, add_member
from sqlalchemy import select

from node.cli import cli
from node.cli.mail import mail
from profiles import mail as queue
from profiles.mail import MailMessage
from profiles.models import Member


def _notify(state, member_id: int, kind: str = "message"):
    service = state.mail_service()
    with state.session() as s:
        row = service.send(
            s,
            s.get(Member, member_id),
            "notice",
            kind=kind,
            title="Felix wrote to you",
            paragraphs=["Hi Lena, about the theatre tour…"],
        )
        s.commit()
    return row


def test_unsubscribe_link_works_end_to_end(make_node, smtp_server):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    lena = add_member(app, "lena", lang="de")
    with state.session() as s:
        queue.set_preference(s, lena, "message", True)
        queue.set_preference(s, lena, "digest", True)
        s.commit()
    assert _notify(state, lena) is not None
    assert state.mail_service().job(state) == 1
    [received] = sink.messages()
    header = received["List-Unsubscribe"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", header).group(1)
    assert url in received.get_body(("plain",)).get_content()
    path = urlsplit(url).path

    client = app.test_client()  # no session, CSRF protection on (as in production)
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert '<html lang="de">' in html and "neue Nachrichten" in html and "l***@example.org" in html
    with state.session() as s:  # a GET (a link scanner) changes nothing
        assert queue.preferences(s, lena) == {"message", "digest"}

    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", no cookie, no CSRF token.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert 'id="unsubscribe-done"' in done.get_data(as_text=True)
    assert client.post(path).status_code == 200  # idempotent
    with state.session() as s:
        assert queue.preferences(s, lena) == {"digest"}  # only that kind
    assert _notify(state, lena) is None  # and no more of those
    assert _notify(state, lena, "digest") is not None


def test_forged_or_foreign_unsubscribe_tokens_change_nothing(make_node):
    app = make_node()
    other = make_node(domain="other.test")
    state = app.extensions["coopfed"]
    lena = add_member(app, "lena")
    with state.session() as s:
        queue.set_preference(s, lena, "message", True)
        s.commit()
    good = state.mail_service().unsubscribe_url(lena, "message", "en")
    foreign = other.extensions["coopfed"].mail_service().unsubscribe_url(lena, "message", "en")
    token = good.rsplit("/", 1)[1]
    client = app.test_client()
    for path in (
        urlsplit(foreign).path,  # signed by another node
        "/mail/unsubscribe/" + token[:-3] + "abc",  # tampered
        "/mail/unsubscribe/garbage",
    ):
        response = client.post(path)
        assert response.status_code == 400, path
        assert 'id="unsubscribe-invalid"' in response.get_data(as_text=True)
    # A token of another purpose (a password reset) is no unsubscribe token.
    reset = state.mail_service().tokens.issue("password_reset", {"m": lena, "k": "message"})
    assert client.post("/mail/unsubscribe/" + reset).status_code == 400
    with state.session() as s:
        assert queue.preferences(s, lena) == {"message"}


def _admin_client(app):
    add_member(app, "admin", is_admin=True)
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    assert (
        client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    )
    return client


def test_admin_email_log_shows_bounces(make_node, smtp_server):
    sink = smtp_server("plain")
    sink.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: Recipient address rejected"
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        service.send(s, "gone@example.org", "test", kind="test")
        service.send(s, "lena@example.org", "test", kind="test")
        s.commit()
    service.job(state)
    client = _admin_client(app)
    page = client.get("/admin/mail").get_data(as_text=True)
    assert f"127.0.0.1:{sink.port}" in page and "Recipient address rejected" in page
    assert "bounced (1)" in page and "sent (1)" in page
    failed = client.get("/admin/mail?state=failed").get_data(as_text=True)
    assert "gone@example.org" in failed and "lena@example.org" not in failed
    assert "/admin/mail/" not in failed  # no .eml links when sending through SMTP
    assert 'href="/admin/mail"' in client.get("/admin/").get_data(as_text=True)
    # Members who are not admins see none of it.
    add_member(app, "lena")
    member = app.test_client()
    member.post("/login", data={"username": "lena", "password": PASSWORD})
    assert member.get("/admin/mail").status_code == 403


def test_admin_can_read_the_eml_of_a_message_in_folder_mode(make_node):
    app = make_node()
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        row = service.send(s, "lena@example.org", "test", "nl", kind="test")
        s.commit()
    service.job(state)
    client = _admin_client(app)
    page = client.get("/admin/mail").get_data(as_text=True)
    assert str(service.folder) in page
    eml = client.get(f"/admin/mail/{row.id}.eml")
    assert eml.status_code == 200 and eml.mimetype == "text/plain"
    assert "Subject: Testbericht van Smart Test" in eml.get_data(as_text=True)
    eml.close()
    assert client.get("/admin/mail/999.eml").status_code == 404


def test_cli_mail_test_reports_success_and_failure(make_node, smtp_server, free_tcp_port):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    runner = CliRunner()
    assert "--to" in runner.invoke(cli, ["mail", "test", "--help"]).output  # in `coopfed`
    ok = runner.invoke(
        mail, ["test", "--to", "ops@example.org", "--lang", "es"], obj={"state": state}
    )
    assert ok.exit_code == 0, ok.output
    assert "sent" in ok.output
    assert sink.messages()[0]["Subject"] == "Mensaje de prueba de Smart Test"
    bad = runner.invoke(mail, ["test", "--to", "not an address"], obj={"state": state})
    assert bad.exit_code == 2
    down = make_node(domain="down.test", smtp_url=f"smtp://127.0.0.1:{free_tcp_port}")
    down_state = down.extensions["coopfed"]
    failed = runner.invoke(mail, ["test", "--to", "ops@example.org"], obj={"state": down_state})
    assert failed.exit_code == 1
    assert "ConnectionRefusedError" in failed.output and "will be retried" in failed.output
    with down_state.session() as s:
        assert s.scalar(select(MailMessage.state)) == "pending"
