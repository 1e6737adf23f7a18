"""Collaboration email through a real SMTP server (aiosmtpd): notifications in each member's UI
language with a working unsubscribe link, only to members who opted in; the digest of new
calls (one email per member, top calls, in their language) and its watermark."""

from __future__ import annotations

import re
from datetime import timedelta

from mail_helpers import PASSWORD
from sqlalchemy import select

from federation.db import utcnow
from node.digest import run_digest, run_fits
from profiles import collab
from profiles import mail as queue
from profiles.calls import CallData, create_call
from profiles.collab.models import Notification
from profiles.members import ProfileData, create_member

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


def _member(state, s, username, lang, **profile):
    member = create_member(
        s,
        state.ctx,
        username=username,
        email=f"{username}@example.org",
        password=PASSWORD,
        profile=ProfileData(name=username.title(), **profile),
        vocab=state.vocabulary.get(s),
    )
    member.ui_language = lang
    return member


def _body(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_response_and_decision_emails_in_each_language(make_node, smtp_server):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    with state.session() as s:
        lena = _member(state, s, "lena", "de")
        felix = _member(state, s, "felix", "sv", skills=[SOUND_MIXING])
        _member(state, s, "quiet", "fr", skills=[SOUND_MIXING])  # opted in to nothing
        s.flush()
        queue.set_preference(s, lena.id, "response", True)
        queue.set_preference(s, felix.id, "response_status", True)
        call = create_call(
            s,
            state.ctx,
            lena,
            CallData(title="Tontechnik", country="AT", skills_required=[SOUND_MIXING]),
            state.vocabulary.get(s),
        )
        s.commit()
        response = collab.respond(
            s, call, felix, collab.ResponseData(message="Ich mische Ton.", skills=[SOUND_MIXING])
        )
        s.commit()
        collab.decide(s, response, lena, "accepted", "Willkommen!")
        s.commit()
    assert state.mail_service().job(state) == 2
    by_rcpt = {m["To"]: m for m in sink.messages()}
    assert set(by_rcpt) == {"lena@example.org", "felix@example.org"}
    to_lena, to_felix = by_rcpt["lena@example.org"], by_rcpt["felix@example.org"]
    assert to_lena["Content-Language"] == "de"
    assert "Felix hat auf Ihre Ausschreibung „Tontechnik“ geantwortet." in _body(to_lena)
    assert "Ich mische Ton." in _body(to_lena)
    assert to_felix["Content-Language"] == "sv"
    assert "Ditt svar på ”Tontechnik” är nu: godkänt." in _body(to_felix)
    assert "Willkommen!" in _body(to_felix)
    # The unsubscribe link switches exactly that kind off.
    url = re.fullmatch(r"<(.+)>", to_felix["List-Unsubscribe"]).group(1)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert app.test_client().post("/" + path).status_code == 200
    with state.session() as s:
        assert queue.preferences(s, felix.id) == set()
        emailed = s.scalars(select(Notification).where(Notification.emailed_at.is_not(None)))
        assert {n.member_id for n in emailed} == {lena.id, felix.id}


def test_digest_one_email_per_member_in_their_language_once(make_node, smtp_server):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    with state.session() as s:
        author = _member(state, s, "anna", "en")
        ida = _member(state, s, "ida", "it", skills=[SOUND_MIXING], languages=[("it", "native")])
        _member(state, s, "nils", "nl", skills=[SOUND_MIXING], languages=[("it", "B2")])
        s.flush()
        queue.set_preference(s, ida.id, "digest", True)  # nils did not opt in
        for title in ("Suono per il teatro", "Mixaggio per un film"):
            create_call(
                s,
                state.ctx,
                author,
                CallData(
                    title=title, country="IT", skills_required=[SOUND_MIXING], languages=["it"]
                ),
                state.vocabulary.get(s),
            )
        s.commit()
    run = run_digest(state, "digest", now=utcnow() + timedelta(seconds=1), force=True)
    assert (run.calls, run.subscribers, run.emails) == (2, 1, 1)
    state.mail_service().job(state)
    [digest] = sink.messages()
    assert digest["To"] == "ida@example.org" and digest["Content-Language"] == "it"
    assert digest["Subject"] == "2 nuovi bandi sono adatti al tuo profilo"
    text = _body(digest)
    assert "Suono per il teatro" in text and "Mixaggio per un film" in text
    assert "Hai le competenze richieste" in text  # the matchmaker's reason, in Italian
    assert "/mail/unsubscribe/" in text
    # The watermark moved: the next run has nothing new.
    again = run_digest(state, "digest", now=utcnow() + timedelta(days=2))
    assert again.emails == 0


def test_digest_leaves_out_calls_the_member_already_responded_to(make_node, smtp_server):
    sink = smtp_server("plain")
    app = make_node(smtp_url=f"smtp://127.0.0.1:{sink.port}")
    state = app.extensions["coopfed"]
    with state.session() as s:
        author = _member(state, s, "anna", "en")
        ida = _member(state, s, "ida", "it", skills=[SOUND_MIXING], languages=[("it", "native")])
        s.flush()
        queue.set_preference(s, ida.id, "digest", True)
        calls = [
            create_call(
                s,
                state.ctx,
                author,
                CallData(
                    title=title, country="IT", skills_required=[SOUND_MIXING], languages=["it"]
                ),
                state.vocabulary.get(s),
            )
            for title in ("Suono per il teatro", "Mixaggio per un film")
        ]
        s.flush()
        collab.respond(s, calls[0], ida, collab.ResponseData(message="Ci sono!"))
        s.commit()
    run = run_digest(state, "digest", now=utcnow() + timedelta(seconds=1), force=True)
    assert run.emails == 1
    state.mail_service().job(state)
    text = _body(next(m for m in sink.messages() if m["To"] == "ida@example.org"))
    assert "Mixaggio per un film" in text
    assert "Suono per il teatro" not in text  # she answered it the same day


def test_new_call_fits_notifies_the_best_members(make_node):
    app = make_node()
    state = app.extensions["coopfed"]
    assert run_fits(state) == 0  # first run: only sets the watermark
    with state.session() as s:
        author = _member(state, s, "anna", "en")
        bert = _member(state, s, "bert", "en", skills=[SOUND_MIXING], languages=[("en", "C1")])
        create_call(
            s,
            state.ctx,
            author,
            CallData(title="Sound", country="SE", skills_required=[SOUND_MIXING], languages=["en"]),
            state.vocabulary.get(s),
        )
        s.commit()
        bert_id, author_id = bert.id, author.id
    assert run_fits(state, now=utcnow() + timedelta(seconds=1)) == 1
    with state.session() as s:
        found = s.scalars(select(Notification)).all()
        assert [(n.member_id, n.kind) for n in found] == [(bert_id, "call_fits")]
        assert author_id != bert_id


def test_the_worker_job_runs_each_digest_once_per_period(make_node):
    from node.digest import DigestJob
    from profiles.models import NodeMeta

    app = make_node()
    state = app.extensions["coopfed"]
    assert any(name == "collab.digest" for name, _job in state.jobs)
    job = DigestJob()
    assert job(state) == 0
    with state.session() as s:
        marks = {k: s.get(NodeMeta, f"collab.{k}_at") for k in ("digest", "digest_weekly", "fits")}
        assert all(m is not None and m.value for m in marks.values())
        first = {k: m.value for k, m in marks.items()}
    assert job(state) == 0  # within the period: nothing runs, nothing moves
    with state.session() as s:
        assert s.get(NodeMeta, "collab.digest_at").value == first["digest"]


def test_every_notification_email_renders_in_all_seven_languages(make_node):
    from node.collab_mail import CollabMail
    from profiles.languages import UI_LANGUAGES
    from profiles.mail import MailMessage

    app = make_node()
    state = app.extensions["coopfed"]
    with state.session() as s:
        lena = _member(state, s, "lena", "en")
        felix = _member(state, s, "felix", "en", skills=[SOUND_MIXING])
        ida = _member(state, s, "ida", "en", skills=[SOUND_MIXING])
        nils = _member(state, s, "nils", "en")
        s.flush()
        call = create_call(
            s,
            state.ctx,
            lena,
            CallData(title="Tontechnik", country="AT", skills_required=[SOUND_MIXING]),
            state.vocabulary.get(s),
        )
        response = collab.respond(s, call, felix, collab.ResponseData(message="Hallo"))
        collab.decide(s, response, lena, "accepted", "Ja")
        collab.send_message(s, response, lena, "Bis bald")
        invitation = collab.invite(s, call, lena, ida, "Komm mit")
        collab.decline_invitation(s, invitation, ida)
        other = collab.respond(s, call, nils, collab.ResponseData(message="Hej"))
        collab.withdraw(s, other, nils)
        collab.notify(s, ida, "call_fits", call=call)
        s.commit()
        notes = s.scalars(select(Notification)).all()
        kinds = {(n.kind, n.member_id) for n in notes}
        assert len(kinds) >= 7, kinds  # every kind, and both sides of invitations/responses
        subjects: dict[str, set[str]] = {}
        for lang in sorted(UI_LANGUAGES):
            for member in (lena, felix, ida, nils):
                member.ui_language = lang
                for kind in ("response", "response_status", "call_invitation", "message"):
                    queue.set_preference(s, member.id, kind, True)
                queue.set_preference(s, member.id, "call_match", True)
            for n in notes:
                assert CollabMail(state).email(s, n), (lang, n.kind)
            s.flush()
            rows = s.scalars(select(MailMessage).where(MailMessage.lang == lang)).all()
            subjects[lang] = {r.subject for r in rows}
            assert len(rows) == len(notes)
            assert all("%(" not in r.subject and "%(" not in r.text for r in rows)
        english = subjects.pop("en")
        for lang, found in subjects.items():
            assert not found & english, (lang, found & english)  # translated, every one
        s.rollback()


def test_two_workers_starting_the_watermark_together_do_not_collide(make_node):
    """Two `coopfed worker` processes' first run: the second used to INSERT the same
    node_meta row and fail on its unique key (seen in the soak). It now waits for the first
    and reads its watermark."""
    import threading

    import pytest

    from node.digest import _set_watermark, _watermark
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("PostgreSQL only: row locks (runs in the PostgreSQL pass)")
    state = make_node().extensions["coopfed"]
    now = utcnow()
    got: list[object] = []
    with state.session() as first:
        assert _watermark(first, "collab.race_at") is None  # the row exists now, uncommitted

        def second() -> None:
            with state.session() as other:
                got.append(_watermark(other, "collab.race_at"))  # waits for the first
                other.commit()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # blocked on the first one's row
        _set_watermark(first, "collab.race_at", now)
        first.commit()
    thread.join(10)
    assert got == [now]
