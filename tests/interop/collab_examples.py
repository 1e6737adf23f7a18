"""FEDERATION.md's collaboration examples (issue 9), made by the example node of
federation_examples.py through the collaboration services: alice (ours) and felix, a member of
the partner coop ``coop-partner.example``, respond, decide, invite, decline and write to each
other. What the node queued for the partner is what FEDERATION.md shows."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from federation.models import OutboxActivity

PARTNER_HOST = "coop-partner.example"
FELIX = f"https://{PARTNER_HOST}/members/felix"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _partner_rows(s: Any, skill: str) -> tuple[Any, Any]:
    """The partnership, felix and felix's call, as the inbox would have stored them."""
    from profiles.models import Call, CallSkill, Member, Partnership

    s.add(
        Partnership(
            actor=f"https://{PARTNER_HOST}/actor",
            domain=PARTNER_HOST,
            inbox=f"https://{PARTNER_HOST}/inbox",
            name="Partner coop",
            state="active",
        )
    )
    felix = Member(
        ap_id=FELIX,
        local=False,
        node=PARTNER_HOST,
        username="felix",
        name="Felix Fischer",
        visibility="partners",
        url=f"https://{PARTNER_HOST}/members/felix",
    )
    call = Call(
        ap_id=f"https://{PARTNER_HOST}/calls/p1",
        public_id="partner-p1",
        local=False,
        node=PARTNER_HOST,
        author=felix,
        title="Stage manager for a dance festival",
        visibility="partners",
        skills=[CallSkill(concept_iri=skill, required=True)],
    )
    s.add_all([felix, call])
    s.flush()
    return felix, call


def make_collab_examples(state: Any, call_iri: str) -> dict[str, dict[str, Any]]:
    """Raw (not yet normalised) collaboration activities by example name."""
    from profiles import collab
    from profiles import members as member_service
    from profiles.collab.models import Invitation, Response
    from profiles.models import Call

    with state.session() as s:
        start = s.scalar(select(OutboxActivity.id).order_by(OutboxActivity.id.desc()).limit(1))
        alice = member_service.get_local(s, state.ctx, "alice")
        call = s.scalar(select(Call).where(Call.ap_id == call_iri))
        skill = call.required_skills[0]
        felix, theirs = _partner_rows(s, skill)
        alice.name = alice.name or "Alice"
        # alice responds to felix's call, then withdraws (Offer, Undo).
        mine = collab.respond(
            s,
            theirs,
            alice,
            collab.ResponseData(
                message="Hello Felix,\nI ran the stage of Malmöfestivalen 2026.",
                skills=[skill],
                available=True,
                available_note="all of June",
                rate="EUR 380 a day",
                links=["https://alice.example/portfolio"],
                team_contact="alice@coop.example, +46 70 123 45 67",
            ),
        )
        collab.withdraw(s, mine, alice)
        # felix's response to alice's call, as received: Read, TentativeAccept, a message,
        # Accept (+ the team), and a later Reject.
        theirs_response = Response(
            ap_id=f"https://{PARTNER_HOST}/responses/7f3c0000-0000-4000-8000-000000000001",
            call=call,
            responder=felix,
            responder_actor=FELIX,
            responder_name="Felix Fischer",
            responder_url=FELIX,
            team_contact="felix@coop-partner.example",
        )
        s.add(theirs_response)
        s.flush()
        collab.set_call_options(s, call, alice, author_contact="alice@coop.example")
        collab.mark_seen(s, theirs_response, alice)
        collab.decide(s, theirs_response, alice, "shortlisted")
        collab.send_message(s, theirs_response, alice, "Could you start on 1 June?\nSee you!")
        collab.decide(s, theirs_response, alice, "accepted", "Welcome to the team!")
        collab.decide(s, theirs_response, alice, "declined", "The festival was cancelled.")
        # alice invites felix; felix invited alice to his call and she declines.
        sent = collab.invite(s, call, alice, felix, "Your stage work fits this call.")
        collab.cancel_invitation(s, sent, alice)
        invitation = Invitation(
            ap_id=f"{theirs.ap_id}/invitations/9e1d0000-0000-4000-8000-000000000002",
            call=theirs,
            inviter=felix,
            invitee=alice,
            state="pending",
        )
        s.add(invitation)
        s.flush()
        collab.decline_invitation(s, invitation, alice)
        s.commit()
        rows = s.scalars(
            select(OutboxActivity)
            .where(OutboxActivity.id > (start or 0))
            .order_by(OutboxActivity.id)
        ).all()
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        body = json.loads(row.body)
        obj = body.get("object")
        kind = body["type"]
        if isinstance(obj, dict) and obj.get("type"):
            kind = f"{kind}({obj['type']})"
        found.setdefault(f"collaboration: {kind}", body)
    numbered: dict[str, str] = {}
    text = _UUID.sub(
        lambda m: numbered.setdefault(
            m.group(0), f"00000000-0000-4000-8000-{len(numbered) + 1:012x}"
        ),
        json.dumps(found),
    )
    return dict(json.loads(text))


__all__ = ["make_collab_examples"]
