"""Collaboration pages on one node (issue 9): respond, my responses, the author's responses and
decisions, threads, the team, invitations, notifications and the header count, email settings.
The cross-node loop is tested in tests/federation (C-core); here, what a member clicks."""

from __future__ import annotations

import re

import pytest
from node_helpers import add_call, add_member, sign_in
from sqlalchemy import func, select

from profiles import mail as queue
from profiles.collab.models import Notification, Response
from profiles.mail import MailMessage
from profiles.members import get_local

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


@pytest.fixture
def app(make_node):
    app = make_node()
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def setup(app):
    add_member(app, "anna", email="anna@example.org", name="Anna Author")
    add_member(
        app,
        "bert",
        email="bert@example.org",
        name="Bert Sound",
        skills=[SOUND_MIXING],
        languages=[("sv", "native")],
    )
    public_id = add_call(app, "anna", skills_required=[SOUND_MIXING], languages=["sv"])
    return public_id


def _text(response) -> str:
    return response.get_data(as_text=True)


def _respond(app, public_id, message="I mix sound for theatre.", **extra):
    client = app.test_client()
    sign_in(client, "bert")
    data = {"message": message, "skills": [SOUND_MIXING], "available": "1", **extra}
    return client, client.post(f"/calls/{public_id}/respond", data=data)


def test_respond_form_prefills_skills_and_sends(app, setup):
    client = app.test_client()
    sign_in(client, "bert")
    page = _text(client.get(f"/calls/{setup}"))
    assert 'id="btn-respond"' in page
    form = _text(client.get(f"/calls/{setup}/respond"))
    assert re.search(rf'value="{re.escape(SOUND_MIXING)}" checked', form)
    assert "consent" not in form  # a partners-visible member of this coop: nothing to agree to
    empty = client.post(f"/calls/{setup}/respond", data={"message": ""})
    assert empty.status_code == 422 and 'id="message-error"' in _text(empty)
    bad_link = client.post(
        f"/calls/{setup}/respond", data={"message": "hi", "links": ["http://x.test"]}
    )
    assert bad_link.status_code == 422 and 'id="links-error"' in _text(bad_link)
    sent = client.post(
        f"/calls/{setup}/respond",
        data={"message": "I mix sound. https://bert.example/reel", "skills": [SOUND_MIXING]},
    )
    assert sent.status_code == 302 and "/responses/" in sent.headers["Location"]
    thread = _text(client.get(sent.headers["Location"]))
    assert '<a href="https://bert.example/reel" rel="nofollow noopener ugc">' in thread
    again = client.get(f"/calls/{setup}/respond")
    assert again.status_code == 302  # one live response per person and call
    assert 'id="my-response-state"' in _text(client.get(f"/calls/{setup}"))


def test_author_cannot_respond_and_strangers_see_nothing(app, setup):
    _respond(app, setup)
    author = app.test_client()
    sign_in(author, "anna")
    assert author.get(f"/calls/{setup}/respond").status_code == 403
    add_member(app, "carl")
    carl = app.test_client()
    sign_in(carl, "carl")
    with app.extensions["coopfed"].session() as s:
        response_id = s.scalar(select(Response.id))
    assert carl.get(f"/responses/{response_id}").status_code == 404
    assert carl.get(f"/calls/{setup}/responses").status_code == 403
    assert (
        carl.post(f"/responses/{response_id}/decide", data={"decision": "accepted"}).status_code
        == 404
    )
    anonymous = app.test_client()
    assert anonymous.get(f"/responses/{response_id}").status_code == 302  # to sign in
    assert "I mix sound" not in _text(anonymous.get(f"/calls/{setup}"))


def test_author_sees_reasons_decides_and_the_team_forms(app, setup):
    bert, _sent = _respond(app, setup, team_contact="bert@sound.example")
    anna = app.test_client()
    sign_in(anna, "anna")
    home = _text(anna.get("/"))
    assert 'id="unread-count"' in home and ">1</span>" in home
    listing = _text(anna.get(f"/calls/{setup}/responses"))
    assert "Bert Sound" in listing and "I mix sound for theatre." in listing
    assert "Has the required skills" in listing  # node/reasons.py, as the suggestions say it
    with app.extensions["coopfed"].session() as s:
        response = s.scalars(select(Response)).one()
        assert response.state == "seen"
        response_id = response.id
    accepted = anna.post(
        f"/responses/{response_id}/decide",
        data={"decision": "accepted", "message": "Welcome aboard!"},
    )
    assert accepted.status_code == 302
    assert "bert@sound.example" in _text(anna.get(f"/calls/{setup}"))  # the team
    mine = _text(bert.get("/responses"))
    assert "accepted" in mine and "Welcome aboard!" in mine
    call_page = _text(bert.get(f"/calls/{setup}"))
    assert 'id="team"' in call_page and "Anna Author" in call_page
    # The staffed call can be closed from the responses page.
    assert 'id="btn-close-staffed"' in _text(anna.get(f"/calls/{setup}/responses"))
    assert anna.post(f"/responses/{response_id}/decide", data={"decision": "x"}).status_code == 400


def test_messages_both_ways_and_notifications_read(app, setup):
    bert, sent = _respond(app, setup)
    thread_url = sent.headers["Location"]
    anna = app.test_client()
    sign_in(anna, "anna")
    assert anna.post(thread_url, data={"body": "Are you free in March?"}).status_code == 302
    assert anna.post(thread_url, data={"body": ""}).status_code == 422
    assert anna.post(thread_url, data={"body": "x" * 5001}).status_code == 422
    page = _text(bert.get(thread_url))
    assert "Are you free in March?" in page and "admins can technically read" in page
    assert bert.post(thread_url, data={"body": "Yes, <b>all</b> month."}).status_code == 302
    assert "Yes, &lt;b&gt;all&lt;/b&gt; month." in _text(anna.get(thread_url))

    notes = _text(bert.get("/notifications"))
    assert "New message about" in notes
    with app.extensions["coopfed"].session() as s:
        bert_id = get_local(s, app.extensions["coopfed"].ctx, "bert").id
        note = s.scalars(select(Notification).where(Notification.member_id == bert_id)).first()
        unread_before = s.scalar(
            select(func.count()).where(
                Notification.member_id == bert_id, Notification.read_at.is_(None)
            )
        )
    opened = bert.get(f"/notifications/{note.id}")
    assert opened.status_code == 302
    assert anna.get(f"/notifications/{note.id}").status_code == 404  # not hers
    assert bert.post("/notifications/read").status_code == 302
    assert unread_before >= 1
    assert 'id="unread-count"' not in _text(bert.get("/notifications"))


def test_withdraw_from_my_responses(app, setup):
    bert, _sent = _respond(app, setup)
    with app.extensions["coopfed"].session() as s:
        response_id = s.scalar(select(Response.id))
    page = _text(bert.get("/responses"))
    assert f'id="btn-withdraw-{response_id}"' in page
    assert bert.post(f"/responses/{response_id}/withdraw").status_code == 302
    assert "withdrawn" in _text(bert.get("/responses"))
    anna = app.test_client()
    sign_in(anna, "anna")
    assert anna.post(f"/responses/{response_id}/withdraw").status_code == 403


def test_invite_from_suggestions_and_decline(app, setup):
    anna = app.test_client()
    sign_in(anna, "anna")
    page = _text(anna.get(f"/calls/{setup}"))
    with app.extensions["coopfed"].session() as s:
        bert_id = get_local(s, app.extensions["coopfed"].ctx, "bert").id
    assert f'id="btn-invite-{bert_id}"' in page
    invited = anna.post(f"/calls/{setup}/invite", data={"member_id": bert_id, "message": "Join?"})
    assert invited.status_code == 302
    assert 'class="badge invited"' in _text(anna.get(f"/calls/{setup}"))
    bert = app.test_client()
    sign_in(bert, "bert")
    listing = _text(bert.get("/invitations"))
    assert "Sound for a theatre tour" in listing and "Join?" in listing
    assert "You have the required skills" in listing  # the reasons, from the invitee's side
    assert "invites you to respond" in _text(bert.get("/notifications"))
    inv_id = int(re.search(r'id="invitation-(\d+)"', listing).group(1))
    assert bert.post(f"/invitations/{inv_id}/decline").status_code == 302
    assert "declined your invitation" in _text(anna.get("/notifications"))
    assert "You invited Bert Sound to respond" in _text(anna.get(f"/invitations/{inv_id}"))


def test_respond_via_invitation_marks_it_responded(app, setup):
    anna = app.test_client()
    sign_in(anna, "anna")
    with app.extensions["coopfed"].session() as s:
        bert_id = get_local(s, app.extensions["coopfed"].ctx, "bert").id
    anna.post(f"/calls/{setup}/invite", data={"member_id": bert_id})
    _respond(app, setup)
    bert = app.test_client()
    sign_in(bert, "bert")
    assert "responded" in _text(bert.get("/invitations"))


def test_email_settings_opt_in_and_notification_mail(app, setup):
    anna = app.test_client()
    sign_in(anna, "anna")
    assert 'id="kind-response"' in _text(anna.get("/settings/email"))
    assert anna.post("/settings/email", data={"kinds": ["response"]}).status_code == 302
    state = app.extensions["coopfed"]
    with state.session() as s:
        anna_id = get_local(s, state.ctx, "anna").id
        assert queue.preferences(s, anna_id) == {"response"}
    _respond(app, setup)  # anna opted in: one email; bert did not: none for his later news
    with state.session() as s:
        mails = s.scalars(select(MailMessage)).all()
    assert [m.recipient for m in mails] == ["anna@example.org"]
    assert "Bert Sound responded to your call" in mails[0].text
    assert "/mail/unsubscribe/" in mails[0].text


def test_pages_in_german(app, setup):
    bert, sent = _respond(app, setup)
    anna = app.test_client()
    sign_in(anna, "anna")
    with app.extensions["coopfed"].session() as s:
        response_id = s.scalar(select(Response.id))
    paths = (
        f"/calls/{setup}",
        f"/calls/{setup}/responses",
        f"/responses/{response_id}",
        "/notifications",
        "/invitations",
        "/settings/email",
    )
    for lang in ("de", "sv", "fr", "nl", "it", "es", "en"):
        for path in paths:
            page = anna.get(f"{path}?lang={lang}")
            assert page.status_code == 200 and f'<html lang="{lang}">' in _text(page), path
    assert "Antworten" in _text(anna.get(f"/calls/{setup}/responses?lang=de"))
    assert bert.get("/responses?lang=sv").status_code == 200


def _remote_call(app) -> str:
    """A partner's call as federation stores it (author and call rows with local=False)."""
    from profiles.models import Call, CallSkill, Member

    state = app.extensions["coopfed"]
    with state.session() as s:
        author = Member(
            ap_id="https://smart.de/members/jonas",
            local=False,
            node="smart.de",
            username="jonas",
            name="Jonas",
            coop_name="Smart Germany",
            visibility="partners",
        )
        call = Call(
            ap_id="https://smart.de/calls/c1",
            public_id="remotecall1",
            local=False,
            node="smart.de",
            author=author,
            title="Ton für Köln",
            country="DE",
            visibility="partners",
            url="https://smart.de/calls/c1",
        )
        call.skills.append(CallSkill(concept_iri=SOUND_MIXING, required=True))
        s.add_all([author, call])
        s.commit()
        return call.public_id


def test_coop_only_member_must_consent_to_respond_to_a_partner_call(app):
    add_member(app, "dora", name="Dora", skills=[SOUND_MIXING], visibility="coop")
    public_id = _remote_call(app)
    dora = app.test_client()
    sign_in(dora, "dora")
    form = _text(dora.get(f"/calls/{public_id}/respond"))
    assert 'id="consent"' in form and "Smart Germany" in form
    refused = dora.post(f"/calls/{public_id}/respond", data={"message": "Hallo!"})
    assert refused.status_code == 422 and 'id="consent-error"' in _text(refused)
    with app.extensions["coopfed"].session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 0
    sent = dora.post(f"/calls/{public_id}/respond", data={"message": "Hallo!", "consent": "1"})
    assert sent.status_code == 302
    assert "Ton für Köln" in _text(dora.get("/responses"))


def test_author_sets_what_the_team_sees(app, setup):
    bert, _sent = _respond(app, setup)
    anna = app.test_client()
    sign_in(anna, "anna")
    saved = anna.post(
        f"/calls/{setup}/team-settings",
        data={"author_contact": "anna@theatre.example", "allow_fediverse_responses": "1"},
    )
    assert saved.status_code == 302
    assert bert.post(f"/calls/{setup}/team-settings", data={}).status_code == 403
    with app.extensions["coopfed"].session() as s:
        response_id = s.scalar(select(Response.id))
    anna.post(f"/responses/{response_id}/decide", data={"decision": "accepted"})
    assert "anna@theatre.example" in _text(bert.get(f"/calls/{setup}"))


def test_admin_sees_a_partner_call_without_invite_buttons(app):
    state = app.extensions["coopfed"]
    add_member(app, "root", name="Root")
    with state.session() as s:
        get_local(s, state.ctx, "root").is_admin = True
        s.commit()
    public_id = _remote_call(app)
    root = app.test_client()
    sign_in(root, "root")
    page = root.get(f"/calls/{public_id}")
    assert page.status_code == 200
    assert "btn-invite-" not in _text(page)  # invitations start on the call's own node
    assert root.post(f"/calls/{public_id}/invite", data={"member_id": "1"}).status_code == 403
