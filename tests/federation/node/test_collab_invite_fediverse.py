"""Invitations, withdrawal, fediverse replies and deletion across real nodes.

AT (Lena's call) and DE (Felix) are partners; X is not a partner of anyone: its member Mia
stands for any fediverse account replying to a public call.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select

from federation.models import OutboxActivity
from profiles import calls as call_service
from profiles import collab
from profiles import members as member_service
from profiles.collab.models import Invitation, Message, Notification, Response
from profiles.models import Member

from .conftest import Node, pump
from .test_collab_hostile import post
from .test_collab_three_nodes import copy_of, member, partner_all, response_on
from .test_partnership import add_call, add_member, skills

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def count(node: Node, model: Any, *where: Any) -> int:
    with node.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def invitation_on(node: Node, s: Any, ap_id: str) -> Invitation:
    row = s.scalar(select(Invitation).where(Invitation.ap_id == ap_id))
    assert row is not None
    return row


def test_invite_decline_respond_withdraw_fediverse_and_delete(nodes) -> None:
    at, de = nodes(2)
    (x,) = nodes(1)
    add_member(at, "lena", "partners")
    add_member(de, "felix", "partners")
    add_member(x, "mia", "public")
    add_member(x, "max", "public")
    add_member(de, "shy", "coop")
    partner_all(at, de)
    public_id = add_call(at, "lena", "Sound engineer wanted", visibility="public")
    pump(at, de)
    felix_iri = f"{de.base}/members/felix"

    # Lena invites Felix (her node's copy of him); he declines; she invites again.
    def invite() -> str:
        with at.session() as s:
            call = call_service.get_by_public_id(s, public_id)
            felix = s.scalar(select(Member).where(Member.ap_id == felix_iri))
            inv = collab.invite(s, call, member(at, s, "lena"), felix, "Your mixing fits!")
            s.commit()
            return inv.ap_id

    first = invite()
    pump(at, de)
    with de.session() as s:
        felix = member(de, s, "felix")
        (got,) = collab.invitations_of(s, felix)
        assert got.ap_id == first and got.message == "Your mixing fits!"
        assert got.call.title == "Sound engineer wanted"
        collab.decline_invitation(s, got, felix)
        s.commit()
    pump(at, de)
    with at.session() as s:
        assert invitation_on(at, s, first).state == "declined"
        kinds = [n.kind for n in collab.list_notifications(s, member(at, s, "lena"))]
        assert kinds == ["invitation"]
    # An invitation the author cancels is withdrawn on the invitee's node too.
    cancelled = invite()
    pump(at, de)
    with at.session() as s:
        collab.cancel_invitation(s, invitation_on(at, s, cancelled), member(at, s, "lena"))
        s.commit()
    pump(at, de)
    with de.session() as s:
        assert invitation_on(de, s, cancelled).state == "cancelled"
    second = invite()
    pump(at, de)

    # He answers the invitation with a response: linked on both nodes.
    with at.session() as s:
        call_iri = call_service.get_by_public_id(s, public_id).ap_id
    with de.session() as s:
        felix = member(de, s, "felix")
        data = collab.ResponseData(message="Happy to", skills=skills(at, 1))
        offer = collab.respond(s, copy_of(de, s, call_iri), felix, data)
        assert offer.invitation is not None and offer.invitation.ap_id == second
        offer_id = offer.ap_id
        s.commit()
    pump(at, de)
    with at.session() as s:
        r = response_on(at, s, offer_id)
        assert r.invitation is not None and r.invitation.ap_id == second
        assert invitation_on(at, s, second).state == "responded"

    # He withdraws: the author's node knows, and Lena is told.
    with de.session() as s:
        collab.withdraw(s, response_on(de, s, offer_id), member(de, s, "felix"))
        s.commit()
    pump(at, de)
    with at.session() as s:
        assert response_on(at, s, offer_id).state == "withdrawn"
        kinds = [n.kind for n in collab.list_notifications(s, member(at, s, "lena"))]
        assert kinds.count("response_status") == 1

    # A fediverse reply is no response while the call does not allow them...
    lena_iri = f"{at.base}/members/lena"
    mia_iri = f"{x.base}/members/mia"

    def reply(text: str, who: str = "mia", parent: str = "") -> tuple[int, str]:
        mia_iri = f"{x.base}/members/{who}"
        note_id = f"{mia_iri}/statuses/{uuid.uuid4().hex}"
        activity = {
            "type": "Create",
            "id": note_id + "/activity",
            "to": [AS_PUBLIC],
            "cc": [f"{mia_iri}/followers", lena_iri],
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": mia_iri,
                "inReplyTo": parent or call_iri,
                "to": [AS_PUBLIC],
                "cc": [f"{mia_iri}/followers", lena_iri],
                "content": f'<p><a href="{lena_iri}" class="mention">@lena</a> {text}</p>',
                "tag": [{"type": "Mention", "href": lena_iri, "name": "@lena"}],
                "url": f"{x.base}/@mia/1",
            },
        }
        return post(x, who, at, activity), note_id

    assert reply("I can do it!")[0] == 202
    pump(at, de, x)
    assert count(at, Response, Response.origin == "fediverse") == 0
    # ... and becomes one when the author allows them; a second reply joins its thread.
    with at.session() as s:
        call = call_service.get_by_public_id(s, public_id)
        collab.set_call_options(s, call, member(at, s, "lena"), allow_fediverse_responses=True)
        s.commit()
    status, note_id = reply("I can do it, really!")
    assert status == 202
    status, reel_note = reply("My showreel: https://mia.example/reel")
    assert status == 202
    pump(at, de, x)
    with at.session() as s:
        fedi = response_on(at, s, note_id)
        assert fedi.origin == "fediverse" and fedi.responder_actor == mia_iri
        assert fedi.message == "I can do it, really!" and fedi.source_url == f"{x.base}/@mia/1"
        assert fedi.responder_name == "Mia"
        lena = member(at, s, "lena")
        bodies = [m.body for m in collab.thread_messages(s, fedi, lena)]
        assert bodies == ["My showreel: https://mia.example/reel"]
        # Lena's message replies to Mia's last Note: one thread on Mastodon.
        assert collab.send_message(s, fedi, lena, "Hi Mia").in_reply_to == reel_note
        # Accepting tells Mia by a direct Note (Mastodon ignores Accept of an Offer).
        collab.decide(s, fedi, lena, "accepted", "Welcome!")
        s.commit()
    pump(at, de, x)
    with at.session() as s:
        sent = [json.loads(b) for b in s.scalars(select(OutboxActivity.body))]
    dm = [a for a in sent if a["type"] == "Create" and a["object"].get("type") == "Note"]
    assert len(dm) == 2 and all(a["to"] == [mia_iri] and a["cc"] == [] for a in dm)
    assert dm[0]["object"]["inReplyTo"] == reel_note
    dm = dm[1:]  # the decision, replying to Mia's first Note
    assert dm[0]["object"]["inReplyTo"] == note_id
    assert dm[0]["object"]["tag"] == [
        {"type": "Mention", "href": mia_iri, "name": "@mia@" + x.domain}
    ]
    assert "was accepted" in dm[0]["object"]["content"]
    assert not [a for a in sent if a["type"] in ("Accept", "Offer") and mia_iri in a["to"]]
    # Mia answers the decision as Mastodon does (a direct reply, no context; Pleroma's
    # ChatMessage the same way): it joins the thread.
    decision_id = dm[0]["object"]["id"]
    for kind, words in (("Note", "Thanks!"), ("ChatMessage", "See you in June")):
        nid = f"{mia_iri}/statuses/{uuid.uuid4().hex}"
        activity = {
            "type": "Create",
            "id": nid + "/activity",
            "to": [lena_iri],
            "object": {
                "id": nid,
                "type": kind,
                "attributedTo": mia_iri,
                "to": [lena_iri],
                "inReplyTo": decision_id,
                "content": f'<p><a href="{lena_iri}">@lena</a> {words}</p>',
                "tag": [{"type": "Mention", "href": lena_iri}],
            },
        }
        assert post(x, "mia", at, activity) == 202
    pump(at, de, x)
    with at.session() as s:
        fedi = response_on(at, s, note_id)
        bodies = [m.body for m in collab.thread_messages(s, fedi, member(at, s, "lena"))]
        assert bodies[-2:] == ["Thanks!", "See you in June"]

    # A reply to the calls Group's Announce of the call counts the same.
    announce = f"{at.base}/groups/calls/announces/{public_id}"
    status, max_note = reply("Me too", who="max", parent=announce)
    assert status == 202
    pump(at, de, x)
    with at.session() as s:
        assert response_on(at, s, max_note).responder_actor == f"{x.base}/members/max"

    # A coop-only member of DE responds after consenting to share their profile with AT.
    with de.session() as s:
        shy = member(de, s, "shy")
        call = copy_of(de, s, call_iri)
        assert collab.needs_consent(s, call, shy)
        shy_offer = collab.respond(s, call, shy, collab.ResponseData(consent=True)).ap_id
        s.commit()
    pump(at, de)
    with at.session() as s:
        got = response_on(at, s, shy_offer)
        assert got.responder is not None and got.responder_name == "Shy"
    # Shy edits their (still coop-only) profile: partners are told it is not theirs, except
    # AT, which Shy agreed to share it with — the response there stays.
    with de.session() as s:
        shy = member(de, s, "shy")
        data = member_service.profile_data(shy)
        data.summary = "Lighting, mostly."
        member_service.update_profile(s, shy, data, de.state.vocabulary.get(s))
        s.commit()
    pump(at, de)
    assert count(at, Response, Response.ap_id == shy_offer) == 1

    # Deleting Felix on DE erases his responses, invitations and notifications on AT too.
    with de.session() as s:
        member_service.delete_member(s, member(de, s, "felix"))
        s.commit()
    pump(at, de)
    assert count(at, Response, Response.responder_actor == felix_iri) == 0
    assert count(at, Invitation) == 0
    assert count(at, Notification, Notification.invitation_id.is_not(None)) == 0
    assert count(de, Response, Response.responder_actor == felix_iri) == 0
    assert count(de, Invitation) == count(de, Notification) == 0
    # Deleting the call ends the fediverse response and its thread.
    with at.session() as s:
        call = call_service.get_by_public_id(s, public_id)
        call_service.delete_call(s, call, call.author)
        s.commit()
    assert count(at, Response) == count(at, Message) == count(at, Notification) == 0
    pump(at, de)  # ... and on the partner that held a copy of the call: shy's response too
    assert count(de, Response) == count(de, Message) == 0
