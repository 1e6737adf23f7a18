"""Hostile collaboration activities against real nodes (real signed HTTP): each is refused
with a 4xx at the inbox and changes nothing, or (replays) is a no-op.

AT: Lena's call; DE: Felix responded to it; SE: Sven, a partner of both, who tries things.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select

from federation.models import OutboxActivity
from profiles import calls as call_service
from profiles import collab
from profiles.collab.models import Message, Response

from .conftest import Node, pump
from .test_collab_three_nodes import copy_of, member, partner_all, response_on
from .test_partnership import add_call, add_member, skills

AS = "https://www.w3.org/ns/activitystreams"


def post(sender: Node, username: str, target: Node, activity: dict[str, Any]) -> int:
    """POST ``activity`` by ``sender``'s member to ``target``'s shared inbox, signed."""
    actor = f"{sender.base}/members/{username}"
    activity = {"@context": AS, "actor": actor, **activity}
    activity.setdefault("id", f"{actor}#hostile/{uuid.uuid4().hex}")
    with sender.session() as s:
        key_id, pem = sender.state.federation.coop.keys.key_for(s, actor)
        s.commit()
    body = json.dumps(activity).encode()
    status, _headers = sender.state.federation.transport.post(
        f"{target.base}/inbox", body, key_id, pem
    )
    return status


def make_world(nodes: Any) -> dict[str, Any]:
    at, de, se = nodes(3)
    (x,) = nodes(1)  # no partner of anyone
    add_member(x, "mia", "public")
    add_member(at, "lena", "partners")
    add_member(de, "felix", "partners")
    add_member(se, "sven", "partners")
    partner_all(at, de, se)
    public_id = add_call(at, "lena", "Sound engineer wanted")
    pump(at, de, se)
    with at.session() as s:
        call_iri = call_service.get_by_public_id(s, public_id).ap_id
    with de.session() as s:
        data = collab.ResponseData(message="Hello", skills=skills(at, 1))
        offer_id = collab.respond(s, copy_of(de, s, call_iri), member(de, s, "felix"), data).ap_id
        s.commit()
    pump(at, de, se)
    return {
        "at": at,
        "de": de,
        "se": se,
        "x": x,
        "public_id": public_id,
        "call": call_iri,
        "offer": offer_id,
        "lena": f"{at.base}/members/lena",
        "felix": f"{de.base}/members/felix",
        "sven": f"{se.base}/members/sven",
    }


def states(w: dict[str, Any]) -> tuple[str, str]:
    with w["at"].session() as s:
        a = response_on(w["at"], s, w["offer"]).state
    with w["de"].session() as s:
        d = response_on(w["de"], s, w["offer"]).state
    return a, d


def messages(node: Node) -> list[str]:
    with node.session() as s:
        return list(s.scalars(select(Message.body).order_by(Message.id)))


def check_decisions_on_someone_elses_call_are_refused(w: dict[str, Any]) -> None:
    for kind in ("Accept", "Reject", "TentativeAccept", "Read"):
        status = post(
            w["se"],
            "sven",
            w["de"],
            {"type": kind, "object": {"id": w["offer"], "type": "Offer"}, "to": [w["felix"]]},
        )
        assert status == 403, kind
    # A bare IRI object is no way around it.
    bare = {"type": "Accept", "object": w["offer"], "to": [w["felix"]]}
    assert post(w["se"], "sven", w["de"], bare) == 403
    # Nor is deciding from the responder's side (Felix accepting his own offer at AT).
    own = {"type": "Accept", "object": {"id": w["offer"], "type": "Offer"}, "to": [w["lena"]]}
    assert post(w["de"], "felix", w["at"], own) == 403
    # Only the responder withdraws.
    undo = {"type": "Undo", "object": {"id": w["offer"], "type": "Offer"}, "to": [w["lena"]]}
    assert post(w["se"], "sven", w["at"], undo) == 403
    pump(w["at"], w["de"], w["se"])
    assert states(w) == ("sent", "sent")


def check_messages_spoofing_a_party_are_refused(w: dict[str, Any]) -> None:

    def note(to: str, **extra: Any) -> dict[str, Any]:
        nid = f"{w['se'].base}/members/sven/notes/{uuid.uuid4().hex}"
        return {
            "type": "Create",
            "to": [to],
            "object": {
                "id": nid,
                "type": "Note",
                "attributedTo": w["sven"],
                "to": [to],
                "content": "<p>Pay me here instead</p>",
                "context": w["offer"],
                **extra,
            },
        }

    assert post(w["se"], "sven", w["de"], note(w["felix"])) == 403
    assert post(w["se"], "sven", w["at"], note(w["lena"])) == 403
    # A party copying a third party in is refused too.
    cc = {
        "type": "Create",
        "to": [w["lena"]],
        "cc": [w["sven"]],
        "object": {
            "id": f"{w['felix']}/notes/{uuid.uuid4().hex}",
            "type": "Note",
            "attributedTo": w["felix"],
            "to": [w["lena"]],
            "cc": [w["sven"]],
            "content": "<p>hi all</p>",
            "context": w["offer"],
        },
    }
    assert post(w["de"], "felix", w["at"], cc) == 403
    pump(w["at"], w["de"], w["se"])
    assert messages(w["at"]) == [] and messages(w["de"]) == []


def check_responses_to_unknown_closed_or_private_calls_are_refused(w: dict[str, Any]) -> None:

    def offer(target: str, to: list[str] | None = None) -> dict[str, Any]:
        return {
            "type": "Offer",
            "id": f"{w['se'].base}/responses/{uuid.uuid4()}",
            "to": to or [w["lena"]],
            "target": target,
            "object": {"type": "Agreement"},
            "content": "<p>me!</p>",
        }

    assert post(w["se"], "sven", w["at"], offer(f"{w['at'].base}/calls/nope")) == 404
    # From a server that is not a partner: refused, whoever it is.
    stranger = {**offer(w["call"]), "id": f"{w['x'].base}/responses/{uuid.uuid4()}"}
    assert post(w["x"], "mia", w["at"], stranger) == 403
    internal = add_call(w["at"], "lena", "Internal", visibility="coop")
    assert post(w["se"], "sven", w["at"], offer(f"{w['at'].base}/calls/{internal}")) == 404
    public = [AS + "#Public"]
    assert post(w["se"], "sven", w["at"], offer(w["call"], to=public)) == 400
    with w["at"].session() as s:
        call = call_service.get_by_public_id(s, w["public_id"])
        call_service.set_status(s, call, call.author, "closed")
        s.commit()
    assert post(w["se"], "sven", w["at"], offer(w["call"])) == 409
    pump(w["at"], w["de"], w["se"])
    with w["at"].session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 1  # Felix's only


def check_replays_change_nothing(w: dict[str, Any]) -> None:
    at, de = w["at"], w["de"]
    with de.session() as s:
        row = s.scalar(select(OutboxActivity).where(OutboxActivity.ap_id == w["offer"]))
        offer_doc = json.loads(row.body)
    offer_doc.pop("proof", None)
    # The same Offer again: 202 (already received), still one response, one notification.
    assert post(de, "felix", at, {k: v for k, v in offer_doc.items() if k != "actor"}) == 202
    with at.session() as s:
        collab.decide(s, response_on(at, s, w["offer"]), member(at, s, "lena"), "accepted")
        s.commit()
    pump(at, de, w["se"])
    assert states(w) == ("accepted", "accepted")
    # An older Read or a TentativeAccept arriving late never regresses the accepted state.
    late = {"type": "TentativeAccept", "object": {"id": w["offer"], "type": "Offer"}}
    assert post(at, "lena", de, {**late, "to": [w["felix"]]}) == 202
    pump(at, de, w["se"])
    assert states(w) == ("accepted", "accepted")
    with at.session() as s:
        assert s.scalar(select(func.count()).select_from(Response)) == 1
        got = [n.kind for n in collab.list_notifications(s, member(at, s, "lena"))]
        assert got.count("response_received") == 1


def check_oversized_and_html_messages(w: dict[str, Any]) -> None:

    def note(content: str) -> dict[str, Any]:
        return {
            "type": "Create",
            "to": [w["lena"]],
            "object": {
                "id": f"{w['felix']}/notes/{uuid.uuid4().hex}",
                "type": "Note",
                "attributedTo": w["felix"],
                "to": [w["lena"]],
                "content": content,
                "context": w["offer"],
            },
        }

    assert post(w["de"], "felix", w["at"], note("<p>" + "x" * 5_001 + "</p>")) == 413
    hostile = (
        '<p>@lena Hi <script>alert("pwned")</script><img src=x onerror="alert(2)">'
        '<a href="javascript:alert(3)">click</a> <b>bold</b></p><p>second</p>'
    )
    assert post(w["de"], "felix", w["at"], note(hostile)) == 202
    pump(w["at"], w["de"], w["se"])
    (body,) = messages(w["at"])
    assert body == "Hi click bold\nsecond"
    assert "<" not in body and "alert" not in body and "javascript" not in body
    html = collab.text_to_html('<b>x</b> https://ok.example/a?b=1&c="d"')
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert '<a href="https://ok.example/a?b=1&amp;c=' in html


def test_hostile_collaboration_activities(nodes) -> None:
    """One set of nodes for every case (building three partnered nodes is most of the cost);
    the order matters: the last cases accept the response and close the call."""
    w = make_world(nodes)
    check_decisions_on_someone_elses_call_are_refused(w)
    check_messages_spoofing_a_party_are_refused(w)
    check_oversized_and_html_messages(w)
    check_replays_change_nothing(w)
    check_responses_to_unknown_closed_or_private_calls_are_refused(w)
