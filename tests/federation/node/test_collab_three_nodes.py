"""Collaboration across three real nodes on loopback (real signed HTTP, workers stepped):
AT (the call's author), DE (the responder), SE (a partner of both, a third party).

DE's Felix responds to AT's call; Lena (AT) opens it, shortlists, accepts; they write to each
other; both get notifications; and SE — and anybody fetching anonymously or as SE — sees
nothing of it on any node: every GET route of every node is fetched and searched.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from sqlalchemy import func, select

from federation.models import InboxItem, OutboxActivity
from profiles import calls as call_service
from profiles import collab
from profiles import members as member_service
from profiles.collab.models import Invitation, Message, Notification, Response
from profiles.models import Call

from .conftest import Node, pump
from .test_partnership import add_call, add_member, cli, skills

AP = "application/activity+json"
SECRET_OFFER = "Zebrafish7731"
SECRET_MSG_AT = "Quokka4410"
SECRET_MSG_DE = "Pangolin5521"
SECRET_CONTACT = "wombat2209@example.org"
SECRET_DECISION = "Axolotl3307"
SECRETS = (SECRET_OFFER, SECRET_MSG_AT, SECRET_MSG_DE, SECRET_CONTACT, SECRET_DECISION)


def partner_all(*nodes: Node) -> None:
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            cli(a, "request", b.domain)
            pump(*nodes)
            cli(b, "accept", a.domain)
            pump(*nodes)


def member(node: Node, s: Any, username: str) -> Any:
    return member_service.get_local(s, node.state.ctx, username)


def copy_of(node: Node, s: Any, ap_id: str) -> Call:
    call = s.scalar(select(Call).where(Call.ap_id == ap_id))
    assert call is not None, f"{node.domain} has no copy of {ap_id}"
    return call


def response_on(node: Node, s: Any, ap_id: str) -> Response:
    row = s.scalar(select(Response).where(Response.ap_id == ap_id))
    assert row is not None
    return row


def kinds(node: Node, username: str) -> list[str]:
    with node.session() as s:
        m = member(node, s, username)
        return sorted(n.kind for n in collab.list_notifications(s, m))


def test_respond_decide_and_talk_across_nodes_and_nobody_else_sees_it(nodes) -> None:
    at, de, se = nodes(3)
    add_member(at, "lena", "partners")
    add_member(de, "felix", "partners")
    add_member(se, "sven", "partners")
    add_member(at, "otto", "partners")  # a third member on the author's own node
    partner_all(at, de, se)
    public_id = add_call(at, "lena", "Sound engineer wanted", visibility="public")
    pump(at, de, se)
    with at.session() as s:
        call_iri = call_service.get_by_public_id(s, public_id).ap_id

    # DE: Felix responds to his node's copy of the call.
    skill = skills(at, 1)[0]
    with de.session() as s:
        felix = member(de, s, "felix")
        data = collab.ResponseData(
            message=f"Hello Lena, <b>{SECRET_OFFER}</b>\nPortfolio: https://felix.example/work",
            skills=[skill],
            available=True,
            rate="EUR 400/day",
            links=["https://felix.example/work"],
            team_contact=SECRET_CONTACT,
        )
        offer_id = collab.respond(s, copy_of(de, s, call_iri), felix, data).ap_id
        s.commit()
    assert offer_id.startswith(de.base + "/responses/")
    pump(at, de, se)

    with at.session() as s:
        r = response_on(at, s, offer_id)
        assert r.state == "sent" and r.origin == "coopfed" and r.call.local
        assert r.responder is not None and r.responder.username == "felix"
        # Plain text travels as escaped HTML and comes back the same text, markup and all.
        assert r.message == data.message
        assert r.skills == [skill] and r.available and r.links == ["https://felix.example/work"]
    assert kinds(at, "lena") == ["response_received"]

    def decide(state: str | None, message: str = "") -> None:
        with at.session() as s:
            lena = member(at, s, "lena")
            r = response_on(at, s, offer_id)
            if state is None:
                collab.mark_seen(s, r, lena)
            else:
                collab.decide(s, r, lena, state, message)
            s.commit()
        pump(at, de, se)

    def state_on_de() -> str:
        with de.session() as s:
            return response_on(de, s, offer_id).state

    decide(None)
    assert state_on_de() == "seen"
    decide("shortlisted")
    assert state_on_de() == "shortlisted"
    decide("accepted", f"Welcome aboard {SECRET_DECISION}")
    assert state_on_de() == "accepted"
    decide("accepted")  # idempotent: nothing new is sent
    with de.session() as s:
        r = response_on(de, s, offer_id)
        assert SECRET_DECISION in r.decision_message
        team = collab.team(s, r.call, member(de, s, "felix"))
        assert [(t.role, t.name) for t in team] == [("author", "Lena"), ("member", "Felix")]
        assert team[1].contact == SECRET_CONTACT
        assert collab.team(s, r.call, None) == []
    assert kinds(de, "felix") == ["response_status", "response_status"]

    # Messages both ways, threaded.
    with at.session() as s:
        r = response_on(at, s, offer_id)
        collab.send_message(
            s, r, member(at, s, "lena"), f"Can you start on the 14th? {SECRET_MSG_AT}"
        )
        s.commit()
    pump(at, de, se)
    with de.session() as s:
        r = response_on(de, s, offer_id)
        felix = member(de, s, "felix")
        got = collab.thread_messages(s, r, felix)
        assert [m.body for m in got] == [f"Can you start on the 14th? {SECRET_MSG_AT}"]
        collab.send_message(s, r, felix, f"Yes! <script>x</script>{SECRET_MSG_DE}")
        s.commit()
    pump(at, de, se)
    with at.session() as s:
        r = response_on(at, s, offer_id)
        lena = member(at, s, "lena")
        bodies = [m.body for m in collab.thread_messages(s, r, lena)]
        assert bodies[0].endswith(SECRET_MSG_AT) and SECRET_MSG_DE in bodies[1]
        msgs = collab.thread_messages(s, r, lena)
        assert msgs[1].in_reply_to == msgs[0].ap_id
        assert collab.unread_count(s, lena) == 2  # the response and Felix's message
    assert kinds(at, "lena") == ["message", "response_received"]
    assert kinds(de, "felix") == ["message", "response_status", "response_status"]

    # What went over the wire was addressed to the other party only.
    collab_types = ("Offer", "Read", "TentativeAccept", "Accept", "Create", "Update")
    sent: set[str] = set()
    for node in (at, de):
        with node.session() as s:
            for row in s.scalars(select(OutboxActivity)):
                doc = json.loads(row.body)
                obj_type = (
                    doc.get("object", {}).get("type")
                    if isinstance(doc.get("object"), dict)
                    else None
                )
                if doc["type"] in collab_types and obj_type not in ("Page", "Person", "Follow"):
                    assert len(doc["to"]) == 1 and doc.get("cc", []) == [], doc
                    sent.add(f"{doc['type']}({obj_type})" if obj_type else doc["type"])
                    assert "https://www.w3.org/ns/activitystreams#Public" not in row.body

    assert sent == {
        "Offer(Agreement)",
        "Read(Offer)",
        "TentativeAccept(Offer)",
        "Accept(Offer)",
        "Update(Collection)",
        "Create(Note)",
    }

    # SE received nothing of it, holds nothing of it.
    with se.session() as s:
        for model in (Response, Message, Notification, Invitation):
            assert s.scalar(select(func.count()).select_from(model)) == 0
        bodies = " ".join(s.scalars(select(InboxItem.body)))
        assert offer_id not in bodies and not any(x in bodies for x in SECRETS)

    assert_nobody_else_sees(at, de, se, public_id=public_id, offer_id=offer_id)
    assert_otto_sees_nothing(at, public_id=public_id, offer_id=offer_id)


def assert_otto_sees_nothing(at: Node, *, public_id: str, offer_id: str) -> None:
    """A member signed in on the author's node, not a party: every page and API route."""
    at.app.config["WTF_CSRF_ENABLED"] = False
    otto = requests.Session()
    r = otto.post(
        f"{at.base}/login",
        data={"username": "otto", "password": "correct horse battery"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code in (302, 303), r.status_code
    assert "Otto" in otto.get(f"{at.base}/", timeout=10).text  # really signed in
    for path in routes(at, public_id):
        r = otto.get(at.base + path, timeout=10, allow_redirects=False)
        assert offer_id not in r.text, path
        for secret in SECRETS:
            assert secret not in r.text, (path, secret)
        if path.startswith(("/responses/", "/invitations/", "/notifications/")):
            assert r.status_code in (302, 303, 403, 404), (path, r.status_code)


def routes(node: Node, public_id: str) -> list[str]:
    """Every GET route of the node, its arguments filled with real values (ids 1..3)."""
    values = {
        "username": ["lena", "felix", "sven"],
        "public_id": [public_id],
        "filename": ["x.png"],
    }
    out: list[str] = []
    for rule in node.app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        args = sorted(rule.arguments)
        if not args:
            out.append(str(rule.rule))
            continue
        if len(args) != 1:
            continue
        name = args[0]
        choices = values.get(name) or (["1", "2", "3"] if "id" in name else ["x"])
        for value in choices:
            out.append(str(rule.rule).replace(f"<{name}>", value).replace(f"<int:{name}>", value))
    return [r for r in out if "<" not in r]


def assert_nobody_else_sees(at: Node, de: Node, se: Node, *, public_id: str, offer_id: str) -> None:
    """Anonymous GETs (HTML and AP) and GETs signed by SE's coop actor, on every route of all
    three nodes: no secret, no offer id, and the thread pages are not served."""
    with se.session() as s:
        se_signer = se.state.federation.coop.keys.signer(s)
        s.commit()
    transport = se.state.federation.transport
    checked = 0
    for node in (at, de, se):
        for path in routes(node, public_id):
            url = node.base + path
            bodies = []
            for accept in ("text/html", AP, "application/json"):
                r = requests.get(url, headers={"Accept": accept}, timeout=10, allow_redirects=False)
                bodies.append(r.text)
                if path.startswith(("/responses/", "/invitations/", "/notifications")):
                    assert r.status_code in (302, 303, 401, 403, 404), (url, r.status_code)
            try:
                _url, _ctype, body = transport.get(url, accept=AP, signer=se_signer)
                bodies.append(body.decode("utf-8", "replace"))
            except Exception:  # 4xx for SE is fine: it sees nothing either way
                pass
            for body in bodies:
                assert offer_id not in body, url
                for secret in SECRETS:
                    assert secret not in body, (url, secret)
            checked += 1
    assert checked > 60  # the route walk really walked (collections, feeds, API, pages)
