"""The collaboration loop through the PAGES of two nodes, with email through a real SMTP server
(aiosmtpd): Felix on DE (Swedish UI) responds to Lena's AT call (German UI) with the form; Lena
accepts on her responses page; both are notified in the app and by email in their own language;
they exchange messages; a third node's member sees none of it on his pages."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from profiles import calls as call_service
from profiles import mail as queue
from profiles import members as member_service
from profiles.models import Call

from .conftest import Node, free_port, pump
from .test_collab_three_nodes import partner_all
from .test_partnership import add_call, add_member, skills

PASSWORD = "correct horse battery"


class Sink:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def _node(make_node: Any, serve: Any, name: str, smtp_port: int) -> Node:
    port = free_port()
    app = make_node(
        domain=f"127.0.0.1:{port}",
        name=name,
        country="SE",
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
    )
    app.config["WTF_CSRF_ENABLED"] = False
    serve(app, port)
    return Node(app, port)


def _prepare(node: Node, username: str, lang: str, kinds: tuple[str, ...]) -> None:
    with node.session() as s:
        m = member_service.get_local(s, node.state.ctx, username)
        m.email = f"{username}@example.org"
        m.ui_language = lang
        for kind in kinds:
            queue.set_preference(s, m.id, kind, True)
        s.commit()


def _client(node: Node, username: str, lang: str) -> Any:
    client = node.app.test_client()
    reply = client.post("/login", data={"username": username, "password": PASSWORD})
    assert reply.status_code == 302
    client.get(f"/?lang={lang}")  # the UI language, remembered in the session
    return client


def _text(reply: Any) -> str:
    assert reply.status_code == 200, reply.status_code
    return reply.get_data(as_text=True)


def test_respond_accept_talk_across_nodes_through_the_pages_with_email(make_node, serve, sink):
    handler, smtp_port = sink
    at = _node(make_node, serve, "Smart Austria", smtp_port)
    de = _node(make_node, serve, "Smart Germany", smtp_port)
    se = _node(make_node, serve, "Smart Sweden", smtp_port)
    add_member(at, "lena", "partners")
    add_member(de, "felix", "partners")
    add_member(se, "sven", "partners")
    _prepare(at, "lena", "de", ("response", "message"))
    _prepare(de, "felix", "sv", ("response_status", "message"))
    partner_all(at, de, se)
    public_id = add_call(at, "lena", "Tontechnik für Wien", visibility="partners")
    pump(at, de, se)
    with at.session() as s:
        call_iri = call_service.get_by_public_id(s, public_id).ap_id
    with de.session() as s:
        copy_id = s.scalar(select(Call.public_id).where(Call.ap_id == call_iri))

    felix = _client(de, "felix", "sv")
    form = _text(felix.get(f"/calls/{copy_id}/respond"))
    assert "Svara på" in form
    sent = felix.post(
        f"/calls/{copy_id}/respond",
        data={"message": "Hej Lena, jag kan mixa ljud.", "skills": skills(at, 1), "available": "1"},
    )
    assert sent.status_code == 302
    felix_thread = sent.headers["Location"]
    pump(at, de, se)

    lena = _client(at, "lena", "de")
    assert 'id="unread-count"' in _text(lena.get("/"))
    listing = _text(lena.get(f"/calls/{public_id}/responses"))
    assert "Felix" in listing and "Hej Lena, jag kan mixa ljud." in listing
    assert "Hat die geforderten Kompetenzen" in listing  # the match reasons, in German
    response_id = listing.split('id="response-', 1)[1].split('"', 1)[0]
    decided = lena.post(
        f"/responses/{response_id}/decide", data={"decision": "accepted", "message": "Willkommen!"}
    )
    assert decided.status_code == 302
    pump(at, de, se)

    notes = _text(felix.get("/notifications"))
    assert "Ditt svar på ”Tontechnik für Wien” är nu: godkänt." in notes
    assert felix.post(felix_thread, data={"body": "Tack! Vi hörs."}).status_code == 302
    pump(at, de, se)
    assert "Tack! Vi hörs." in _text(lena.get(f"/responses/{response_id}"))
    assert lena.post(f"/responses/{response_id}", data={"body": "Bis bald!"}).status_code == 302
    pump(at, de, se)
    assert "Bis bald!" in _text(felix.get(felix_thread))

    # Email, in each member's language (the workers sent them during pump).
    mails = {(m["To"], m["Subject"]) for m in handler.messages}
    assert ("lena@example.org", "Neue Antwort auf „Tontechnik für Wien“") in mails
    assert ("lena@example.org", "Neue Nachricht zu „Tontechnik für Wien“") in mails
    assert ("felix@example.org", "Ditt svar på ”Tontechnik für Wien”: godkänt") in mails
    assert ("felix@example.org", "Nytt meddelande om ”Tontechnik für Wien”") in mails
    assert all(m["List-Unsubscribe"] for m in handler.messages)
    assert not any("sven" in m["To"] for m in handler.messages)

    # The third node's member sees nothing of it on his pages.
    sven = _client(se, "sven", "sv")
    for path in ("/notifications", "/responses", "/invitations", "/"):
        page = _text(sven.get(path))
        assert "Hej Lena" not in page and "Tack! Vi hörs." not in page, path
    assert "unread-count" not in _text(sven.get("/"))
    assert at.app.test_client().get(f"/responses/{response_id}").status_code == 302  # sign in
