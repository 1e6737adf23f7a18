"""The collaboration services on one node's database: rules, the state machine, threads,
notifications and the events the federation publisher listens to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from federation.db import Base
from profiles import collab
from profiles.collab import text
from profiles.collab.events import COLLAB, NOTIFIED
from profiles.collab.models import MemberConsent, Message, Response
from profiles.collab.responses import apply_state
from profiles.collab.threads import forget_actor
from profiles.errors import Conflict, NotFound, PermissionDenied, ValidationError
from profiles.models import Call, CallSkill, Member

SKILL = "http://data.europa.eu/esco/skill/s1"
OTHER_SKILL = "http://data.europa.eu/esco/skill/s2"


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://", poolclass=StaticPool)

    @event.listens_for(engine, "connect")
    def _fk(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.info["events"] = []
        s.info["coopfed_listeners"] = [lambda _s, name, obj: s.info["events"].append((name, obj))]
        yield s
    engine.dispose()


def person(s: Session, name: str, *, host: str = "a.example", vis: str = "partners", **kw: Any):
    m = Member(
        ap_id=f"https://{host}/members/{name}",
        local=host == "a.example",
        node=host,
        username=name,
        name=name.title(),
        visibility=vis,
        **kw,
    )
    s.add(m)
    s.flush()
    return m


def call(s: Session, author: Member, *, vis: str = "partners", status: str = "open") -> Call:
    host = author.node
    pid = f"c{s.scalar(select(func.count()).select_from(Call))}"
    c = Call(
        ap_id=f"https://{host}/calls/{pid}",
        public_id=f"{host}-{pid}",
        local=author.local,
        node=host,
        author=author,
        title="Lights",
        visibility=vis,
        status=status,
        skills=[CallSkill(concept_iri=SKILL, required=True)],
    )
    s.add(c)
    s.flush()
    return c


def changes(s: Session) -> list[str]:
    return [obj.kind for name, obj in s.info["events"] if name == COLLAB]


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    lena = person(session, "lena")
    felix = person(session, "felix")
    sven = person(session, "sven")
    admin = person(session, "root", is_admin=True)
    return {
        "s": session,
        "lena": lena,
        "felix": felix,
        "sven": sven,
        "admin": admin,
        "call": call(session, lena),
    }


def test_respond_creates_a_response_notifies_the_author_and_emits_an_offer(world) -> None:
    s, c, felix, lena = world["s"], world["call"], world["felix"], world["lena"]
    data = collab.ResponseData(
        message="  Hi\r\n\r\n\r\nthere\x00 ", skills=[SKILL], links=["https://x.example/a"]
    )
    r = collab.respond(s, c, felix, data)
    assert r.ap_id.startswith("https://a.example/responses/") and r.state == "sent" and r.live
    assert r.message == "Hi\n\nthere" and r.skills == [SKILL]
    assert [n.kind for n in collab.list_notifications(s, lena)] == ["response_received"]
    assert collab.unread_count(s, lena) == 1 and collab.unread_count(s, felix) == 0
    assert changes(s) == ["offer"]
    assert [name for name, _ in s.info["events"]] == [NOTIFIED, COLLAB]
    assert collab.responses_of(s, felix) == [r]
    assert collab.responses_for_call(s, c, lena) == [r]
    with pytest.raises(PermissionDenied):
        collab.responses_for_call(s, c, felix)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (collab.ResponseData(skills=[OTHER_SKILL]), "skills"),
        (collab.ResponseData(links=["http://x.example"]), "links"),
        (collab.ResponseData(links=[f"https://x.example/{i}" for i in range(6)]), "links"),
        (collab.ResponseData(message="x" * 4001), "message"),
        (collab.ResponseData(rate="x" * 201), "rate"),
        (collab.ResponseData(team_contact="x" * 501), "team_contact"),
    ],
)
def test_respond_validates(world, data: collab.ResponseData, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        collab.respond(world["s"], world["call"], world["felix"], data)
    assert field in err.value.errors


def test_respond_refusals(world) -> None:
    s, lena, felix = world["s"], world["lena"], world["felix"]
    with pytest.raises(PermissionDenied):
        collab.respond(s, world["call"], lena, collab.ResponseData())
    with pytest.raises(Conflict):
        collab.respond(s, call(s, lena, status="closed"), felix, collab.ResponseData())
    collab.respond(s, world["call"], felix, collab.ResponseData())
    with pytest.raises(Conflict):
        collab.respond(s, world["call"], felix, collab.ResponseData())
    # A coop-level stub of a partner's call is seen by nobody here: 404.
    remote_author = person(s, "bo", host="b.example")
    with pytest.raises(NotFound):
        collab.respond(s, call(s, remote_author, vis="coop"), felix, collab.ResponseData())


def test_coop_only_member_consents_once_per_partner(world) -> None:
    s = world["s"]
    shy = person(s, "shy", vis="coop")
    bo = person(s, "bo", host="b.example")
    first, second = call(s, bo), call(s, bo)
    assert collab.needs_consent(s, first, shy)
    assert not collab.needs_consent(s, world["call"], shy)  # own coop's call
    with pytest.raises(ValidationError) as err:
        collab.respond(s, first, shy, collab.ResponseData())
    assert "consent" in err.value.errors
    collab.respond(s, first, shy, collab.ResponseData(consent=True))
    assert s.scalar(select(MemberConsent.host)) == "b.example"
    assert not collab.needs_consent(s, second, shy)
    collab.respond(s, second, shy, collab.ResponseData())


def test_state_machine(world) -> None:
    s, lena, felix, sven, admin = (world[k] for k in ("s", "lena", "felix", "sven", "admin"))
    r = collab.respond(s, world["call"], felix, collab.ResponseData())
    collab.mark_seen(s, r, lena)
    collab.mark_seen(s, r, lena)  # once
    assert r.state == "seen"
    with pytest.raises(PermissionDenied):
        collab.decide(s, r, sven, "accepted")
    with pytest.raises(PermissionDenied):
        collab.decide(s, r, felix, "accepted")
    with pytest.raises(ValidationError):
        collab.decide(s, r, lena, "seen")
    collab.decide(s, r, lena, "shortlisted")
    collab.decide(s, r, admin, "accepted", "Welcome")  # an admin of the call's node may decide
    assert r.state == "accepted" and r.decision_message == "Welcome"
    before = changes(s)
    collab.decide(s, r, lena, "accepted")  # idempotent
    assert changes(s) == before == ["offer", "read", "shortlist", "accept", "team"]
    with pytest.raises(Conflict):
        collab.decide(s, r, lena, "shortlisted")
    with pytest.raises(Conflict):
        collab.withdraw(s, r, felix)
    assert not apply_state(s, r, "seen")  # a late activity never regresses
    collab.decide(s, r, lena, "declined", "Sorry")  # an explicit later decision may
    assert r.state == "declined" and not r.live
    assert changes(s)[-2:] == ["decline", "team"]
    statuses = [n.kind for n in collab.list_notifications(s, felix)]
    assert statuses == ["response_status"] * 3
    # After a decline a new response is a new row.
    again = collab.respond(s, world["call"], felix, collab.ResponseData())
    assert again.id != r.id
    with pytest.raises(PermissionDenied):
        collab.withdraw(s, again, sven)
    collab.withdraw(s, again, felix)
    assert again.state == "withdrawn" and not again.live
    with pytest.raises(Conflict):
        collab.decide(s, again, lena, "accepted")


def test_team_is_for_the_author_and_accepted_people_only(world) -> None:
    s, lena, felix, sven = (world[k] for k in ("s", "lena", "felix", "sven"))
    c = world["call"]
    collab.set_call_options(s, c, lena, author_contact="lena@example.org")
    r = collab.respond(s, c, felix, collab.ResponseData(team_contact="+43 1 234"))
    collab.respond(s, c, sven, collab.ResponseData(team_contact="hidden"))
    assert collab.team(s, c, felix) == []
    collab.decide(s, r, lena, "accepted")
    for viewer in (lena, felix):
        got = [(t.role, t.name, t.contact) for t in collab.team(s, c, viewer)]
        assert got == [("author", "Lena", "lena@example.org"), ("member", "Felix", "+43 1 234")]
    assert collab.team(s, c, sven) == [] and collab.team(s, c, None) == []
    with pytest.raises(PermissionDenied):
        collab.set_call_options(s, c, felix, allow_fediverse_responses=True)


def test_threads_are_for_their_two_parties(world) -> None:
    s, lena, felix, sven = (world[k] for k in ("s", "lena", "felix", "sven"))
    r = collab.respond(s, world["call"], felix, collab.ResponseData())
    first = collab.send_message(s, r, lena, "When can you start?")
    second = collab.send_message(s, r, felix, "Monday\r\nhttps://x.example")
    assert second.in_reply_to == first.ap_id and second.recipient_actor == lena.ap_id
    assert second.body == "Monday\nhttps://x.example"
    with pytest.raises(PermissionDenied):
        collab.send_message(s, r, sven, "me too")
    with pytest.raises(NotFound):
        collab.thread_messages(s, r, sven)
    with pytest.raises(NotFound):
        collab.get_response(s, r.id, sven)
    for body in ("", "   ", "x" * (text.MESSAGE_MAX + 1)):
        with pytest.raises(ValidationError):
            collab.send_message(s, r, felix, body)
    assert [m.body for m in collab.thread_messages(s, r, lena)] == [first.body, second.body]
    assert collab.mark_thread_read(s, r, lena) == 1
    kinds = [n.kind for n in collab.list_notifications(s, lena)]
    assert kinds == ["message", "response_received"]
    assert collab.mark_read(s, felix, [n.id for n in collab.list_notifications(s, lena)]) == 0
    assert collab.mark_read(s, lena) == 2 and collab.unread_count(s, lena) == 0


def test_invitations(world) -> None:
    s, lena, felix, sven = (world[k] for k in ("s", "lena", "felix", "sven"))
    c = world["call"]
    with pytest.raises(PermissionDenied):
        collab.invite(s, c, felix, sven)
    with pytest.raises(Conflict):
        collab.invite(s, c, lena, lena)
    inv = collab.invite(s, c, lena, felix, "You fit")
    assert collab.invite(s, c, lena, felix) is inv  # pending: the same one
    assert inv.ap_id.startswith(c.ap_id + "/invitations/")
    assert [n.kind for n in collab.list_notifications(s, felix)] == ["invitation"]
    with pytest.raises(PermissionDenied):
        collab.decline_invitation(s, inv, sven)
    msg = collab.send_message(s, inv, felix, "What dates?")
    assert msg.invitation_id == inv.id and msg.recipient_actor == lena.ap_id
    r = collab.respond(s, c, felix, collab.ResponseData())
    assert r.invitation is inv and inv.state == "responded"
    other = collab.invite(s, c, lena, sven)
    with pytest.raises(PermissionDenied):
        collab.cancel_invitation(s, other, sven)
    collab.cancel_invitation(s, other, lena)
    assert other.state == "cancelled" and changes(s)[-1] == "invite_cancelled"
    other = collab.invite(s, c, lena, sven)  # a new one after a cancelled one
    collab.decline_invitation(s, other, sven)
    assert other.state == "declined"
    assert collab.invitations_of(s, sven)[0] is other
    assert len(collab.invitations_for_call(s, c, lena)) == 3


def test_first_message_to_a_fediverse_responder_replies_to_their_note(world) -> None:
    s, lena = world["s"], world["lena"]
    note = "https://social.example/users/mia/statuses/1"
    r = Response(
        ap_id=note,
        call=world["call"],
        responder_actor="https://social.example/users/mia",
        origin="fediverse",
    )
    s.add(r)
    s.flush()
    first = collab.send_message(s, r, lena, "Hi Mia")
    assert first.in_reply_to == note and first.recipient_actor == r.responder_actor
    assert collab.send_message(s, r, lena, "Again").in_reply_to == first.ap_id


def test_forget_actor_erases_their_responses_and_messages(world) -> None:
    s, lena, felix = world["s"], world["lena"], world["felix"]
    r = collab.respond(s, world["call"], felix, collab.ResponseData())
    collab.send_message(s, r, lena, "hello")
    assert forget_actor(s, felix.ap_id) == 1
    s.expire_all()
    assert s.scalar(select(func.count()).select_from(Response)) == 0
    assert s.scalar(select(func.count()).select_from(Message)) == 0
    assert collab.unread_count(s, lena) == 0


def test_text_helpers() -> None:
    assert text.html_to_text("<p>a <b>b</b></p><p>c<br>d</p><script>x()</script>", 100) == (
        "a b\nc\nd"
    )
    assert text.html_to_text("<p>" + "y" * 50 + "</p>", 10) == "y" * 10
    html = text.text_to_html("<i>hi</i>\n\nsee https://a.example/x?y=1&z=2.")
    assert html == (
        '<p>&lt;i&gt;hi&lt;/i&gt;</p><p>see <a href="https://a.example/x?y=1&amp;z=2" '
        'rel="nofollow noopener noreferrer">https://a.example/x?y=1&amp;z=2</a>.</p>'
    )
    assert text.clean_text("a\x07b\t c", 10) == "ab c"
