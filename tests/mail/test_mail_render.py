"""Rendering and the embedded folder mode: messages in the recipient's language with text and
HTML parts, written as valid .eml files; the opt-in rule; hostile addresses."""

from __future__ import annotations

import stat
from email import message_from_bytes, policy

import pytest
from flask_babel import lazy_gettext as _l
from mail_helpers import add_member
from sqlalchemy import select

from profiles import mail as queue
from profiles.mail import MailMessage
from profiles.models import Member


@pytest.fixture
def app(make_node):
    return make_node(domain="smart.test", name="Smart Sverige")


def _send_and_read(app, to_username: str, lang: str | None = None):
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.username == to_username))
        row = service.send(s, member, "test", lang, kind="test")
        s.commit()
    assert service.job(state) == 1
    with state.session() as s:
        row = s.get(MailMessage, row.id)
    path = service.folder / row.stored_as
    return row, path, message_from_bytes(path.read_bytes(), policy=policy.default)


@pytest.mark.parametrize(
    ("lang", "subject", "greeting"),
    [
        ("de", "Testnachricht von Smart Sverige", "Hallo,"),
        ("sv", "Testmeddelande från Smart Sverige", "Hej,"),
    ],
)
def test_folder_mode_writes_an_eml_in_the_recipients_language(app, lang, subject, greeting):
    add_member(app, "lena", lang=lang)
    row, path, msg = _send_and_read(app, "lena")
    assert path.parent == app.extensions["coopfed"].settings.instance_path.resolve() / "mail"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # links in mail are secrets
    assert row.state == "sent" and row.lang == lang
    assert msg["Subject"] == subject and msg["To"] == "lena@example.org"
    assert msg["Content-Language"] == lang
    assert msg["From"] == "Smart Sverige <noreply@smart.test>"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.startswith(greeting) and "Smart Sverige" in text
    assert f'<html lang="{lang}">' in html and f"<title>{subject}</title>" in html
    assert "test message" not in text  # not English


def test_language_falls_back_to_the_nodes_default_and_can_be_forced(app):
    add_member(app, "anna")  # no UI language chosen
    _row, _path, msg = _send_and_read(app, "anna")
    assert msg["Subject"] == "Test message from Smart Sverige"
    _row, _path, msg = _send_and_read(app, "anna", "fr")
    assert msg["Subject"] == "Message de test de Smart Sverige"


def test_notifications_only_to_members_who_opted_in(app):
    lena = add_member(app, "lena", lang="de")
    state = app.extensions["coopfed"]
    service = state.mail_service()
    context = {
        "title": _l("Test message from %(node)s", node="X"),
        "paragraphs": ["Felix responded to your call."],
        "action_url": "http://smart.test/calls/1",
        "action_label": "Open",
    }
    with state.session() as s:
        member = s.get(Member, lena)
        assert service.send(s, member, "notice", kind="response", **context) is None
        queue.set_preference(s, lena, "response", True)
        queue.set_preference(s, lena, "response", True)  # idempotent
        s.commit()
        row = service.send(s, member, "notice", kind="response", **context)
        s.commit()
    assert row is not None
    assert row.subject == "Testnachricht von X"  # lazy strings are rendered in her language
    assert "Hallo lena," in row.text and "Felix responded" in row.text
    assert "http://smart.test/calls/1" in row.html
    headers = __import__("json").loads(row.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http://smart.test/mail/unsubscribe/")
    assert headers["List-Unsubscribe"][1:-1] in row.text  # the same link in the footer
    with state.session() as s:
        assert queue.preferences(s, lena) == {"response"}
        assert queue.opted_in(s, "response") == {lena}
        # Transactional mail is always sent and cannot be opted out of.
        assert queue.wants(s, lena, "password_reset")
        with pytest.raises(ValueError):
            queue.set_preference(s, lena, "password_reset", False)


def test_kinds_and_addresses_are_checked(app):
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        with pytest.raises(ValueError, match="unknown mail kind"):
            service.send(s, "lena@example.org", "test", kind="tset")
        with pytest.raises(ValueError, match="opt-in"):  # notifications need a member
            service.send(s, "lena@example.org", "notice", kind="message", title="x", paragraphs=[])
        for bad in (
            "lena@example.org\r\nBcc: all@example.org",
            "Lena <lena@example.org>",
            "a@b.org, c@d.org",
            "no-at-sign",
            "@example.org",
            "x" * 250 + "@example.org",
        ):
            with pytest.raises(ValueError):
                service.send(s, bad, "test", kind="test")
        s.rollback()
    assert service.job(state) == 0


def test_enqueue_many_is_one_transaction(app):
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        outgoing = [
            service.compose(s, f"m{i}@example.org", "test", "it", kind="test") for i in range(30)
        ]
        assert service.send_many(s, outgoing) == 30
        s.rollback()
        assert queue.counts(s)["pending"] == 0
        assert service.send_many(s, outgoing) == 30
        s.commit()
        assert queue.counts(s) == {"pending": 30, "sent": 0, "failed": 0, "dead": 0}
    assert service.job(state) == 30
    files = sorted(service.folder.glob("*.eml"))
    assert len(files) == 30
    ids = {message_from_bytes(f.read_bytes(), policy=policy.default)["Message-ID"] for f in files}
    assert len(ids) == 30


def test_deleting_a_member_drops_opt_ins_and_keeps_queued_mail(app):
    """A confirmation of erasure must still go out after the member is gone (issue 10)."""
    from profiles.members import delete_member

    lena = add_member(app, "lena")
    state = app.extensions["coopfed"]
    with state.session() as s:
        queue.set_preference(s, lena, "message", True)
        row = state.mail_service().send(s, s.get(Member, lena), "test", kind="account")
        s.commit()
        delete_member(s, s.get(Member, lena))
        s.commit()
    with state.session() as s:
        assert queue.preferences(s, lena) == set()
        kept = s.get(MailMessage, row.id)
        assert kept.member_id is None and kept.recipient == "lena@example.org"
    assert state.mail_service().job(state) == 1


def test_a_message_that_cannot_be_built_fails_instead_of_blocking_the_queue(app):
    state = app.extensions["coopfed"]
    service = state.mail_service()
    with state.session() as s:
        broken = service.send(s, "lena@example.org", "test", kind="test")
        fine = service.send(s, "anna@example.org", "test", kind="test")
        s.flush()
        broken.headers = "{not json"
        s.commit()
    assert service.job(state) == 2
    with state.session() as s:
        assert s.get(MailMessage, fine.id).state == "sent"
        failed = s.get(MailMessage, broken.id)
        assert failed.state == "failed" and "cannot build" in failed.last_error


def test_send_mail_inside_a_request_keeps_the_pages_language(app):
    from flask_babel import get_locale

    from node.mail import send_mail

    state = app.extensions["coopfed"]
    with app.test_request_context("/?lang=fr"), state.session() as s:
        assert str(get_locale()) == "fr"
        row = send_mail(s, "lena@example.org", "test", "de", kind="test")
        assert row.subject == "Testnachricht von Smart Sverige"
        assert str(get_locale()) == "fr"  # the page goes on in French
        s.commit()
