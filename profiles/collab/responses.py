"""Responses to calls: respond, withdraw, mark_seen, decide, and what each party may see.

The state machine (``sent → seen → shortlisted → accepted | declined``; ``withdrawn`` from any
state before a final one; ``accepted → declined`` only by an explicit later decision). Local
changes raise on a transition the machine does not allow (409); changes received over the wire
use :func:`apply_state`, which ignores a late or older activity instead (never regresses).
Callers commit; every change emits a :class:`~profiles.collab.events.Change` in the same
transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from federation.db import utcnow
from federation.iri import host_of
from profiles.calls import can_view
from profiles.collab import text
from profiles.collab.events import Change, ChangeKind, emit_change
from profiles.collab.models import (
    FINAL_STATES,
    Invitation,
    MemberConsent,
    Response,
)
from profiles.collab.notifications import notify
from profiles.errors import Conflict, NotFound, PermissionDenied, ValidationError
from profiles.models import Call, Member
from profiles.visibility import Visibility, may_edit_call

# Allowed moves; anything else is a conflict (local) or ignored (received).
TRANSITIONS: dict[str, frozenset[str]] = {
    "sent": frozenset({"seen", "shortlisted", "accepted", "declined", "withdrawn"}),
    "seen": frozenset({"shortlisted", "accepted", "declined", "withdrawn"}),
    "shortlisted": frozenset({"accepted", "declined", "withdrawn"}),
    "accepted": frozenset({"declined"}),
    "declined": frozenset(),
    "withdrawn": frozenset(),
}
DECISIONS = ("shortlisted", "accepted", "declined")
_CHANGE: dict[str, ChangeKind] = {
    "seen": "read",
    "shortlisted": "shortlist",
    "accepted": "accept",
    "declined": "decline",
    "withdrawn": "withdraw",
}


@dataclass
class ResponseData:
    """What a member writes in a response (the web form / API body)."""

    message: str = ""
    skills: list[str] = field(default_factory=list)  # IRIs, each one of the call's skills
    available: bool = False
    available_note: str = ""
    rate: str = ""
    links: list[str] = field(default_factory=list)  # https URLs, at most 5
    team_contact: str = ""  # shared with the team if accepted
    consent: bool = False  # a coop-only member agrees to share their profile with that coop


@dataclass
class TeamEntry:
    actor: str
    name: str
    url: str | None
    contact: str
    role: str  # "author" | "member"


def site_base(member: Member) -> str:
    """The base URL of a local member's node (its IRIs are ``BASE/members/NAME``)."""
    return member.ap_id.rsplit("/members/", 1)[0]


def _validate(call: Call, data: ResponseData) -> ResponseData:
    errors: dict[str, str] = {}
    if len(data.message or "") > text.RESPONSE_MESSAGE_MAX:
        errors["message"] = f"at most {text.RESPONSE_MESSAGE_MAX} characters"
    message = text.clean_text(data.message, text.RESPONSE_MESSAGE_MAX)
    wanted = {s.concept_iri for s in call.skills}
    skills = list(dict.fromkeys(data.skills))
    if any(s not in wanted for s in skills):
        errors["skills"] = "only skills the call asks for"
    links = [u.strip() for u in data.links if u and u.strip()]
    if len(links) > text.LINKS_MAX:
        errors["links"] = f"at most {text.LINKS_MAX} links"
    if any(not u.startswith("https://") or len(u) > 500 or " " in u for u in links):
        errors["links"] = "https:// links only"
    if len(data.rate or "") > text.RATE_MAX:
        errors["rate"] = f"at most {text.RATE_MAX} characters"
    if len(data.team_contact or "") > text.TEAM_CONTACT_MAX:
        errors["team_contact"] = f"at most {text.TEAM_CONTACT_MAX} characters"
    if len(data.available_note or "") > text.NOTE_MAX:
        errors["available_note"] = f"at most {text.NOTE_MAX} characters"
    if errors:
        raise ValidationError(errors)
    return ResponseData(
        message=message,
        skills=skills,
        available=bool(data.available),
        available_note=text.clean_text(data.available_note, text.NOTE_MAX),
        rate=text.clean_text(data.rate, text.RATE_MAX),
        links=links,
        team_contact=text.clean_text(data.team_contact, text.TEAM_CONTACT_MAX),
        consent=data.consent,
    )


def live_response(session: Session, call: Call, actor: str) -> Response | None:
    return session.scalar(
        select(Response).where(
            Response.call_id == call.id, Response.responder_actor == actor, Response.live
        )
    )


def needs_consent(session: Session, call: Call, member: Member) -> bool:
    """A coop-only member responding to a partner's call must first agree that their profile
    is shared with that coop (once per coop)."""
    if call.local or Visibility.parse(member.visibility) != Visibility.COOP:
        return False
    host = host_of(call.ap_id)
    found = session.scalar(
        select(MemberConsent.id).where(
            MemberConsent.member_id == member.id, MemberConsent.host == host
        )
    )
    return found is None


def respond(session: Session, call: Call, member: Member, data: ResponseData) -> Response:
    """``member`` (local) responds to ``call`` (ours or a partner's copy).

    404 if the member may not see the call; 403 for the call's own author; 409 if the call is
    not open or the member already has a live response; 422 for bad data, or ``consent``
    missing for a coop-only member and a partner's call. A pending invitation of this member
    to this call is marked ``responded`` and linked.
    """
    if not member.local or not can_view(call, member):
        raise NotFound("no such call")
    if call.author_id == member.id:
        raise PermissionDenied("the author cannot respond to their own call")
    if call.status != "open":
        raise Conflict("the call is not open")
    clean = _validate(call, data)
    if needs_consent(session, call, member):
        if not data.consent:
            raise ValidationError({"consent": "required to respond to another coop's call"})
        session.add(MemberConsent(member_id=member.id, host=host_of(call.ap_id)))
    if live_response(session, call, member.ap_id) is not None:
        raise Conflict("you already responded to this call")
    invitation = session.scalar(
        select(Invitation).where(
            Invitation.call_id == call.id,
            Invitation.invitee_id == member.id,
            Invitation.state == "pending",
        )
    )
    row = Response(
        ap_id=f"{site_base(member)}/responses/{uuid.uuid4()}",
        call=call,
        responder=member,
        responder_actor=member.ap_id,
        responder_name=member.name or member.username,
        responder_url=member.ap_id,
        origin="coopfed",
        state="sent",
        live=True,
        message=clean.message,
        skills=clean.skills,
        available=clean.available,
        available_note=clean.available_note,
        rate=clean.rate,
        links=clean.links,
        team_contact=clean.team_contact,
        invitation=invitation,
    )
    session.add(row)
    if invitation is not None:
        invitation.state = "responded"
    session.flush()
    notify(session, call.author, "response_received", response=row)
    emit_change(session, Change("offer", response=row))
    return row


def _set_state(
    session: Session,
    response: Response,
    state: str,
    *,
    message: str = "",
    at: datetime | None = None,
    remote: bool,
) -> bool:
    """Move ``response`` to ``state`` if the machine allows; True if it changed."""
    if state == response.state or state not in TRANSITIONS[response.state]:
        return False
    was_accepted = response.state == "accepted"
    response.state = state
    response.state_at = at or utcnow()
    response.live = state not in FINAL_STATES
    if state in DECISIONS:
        response.decision_message = message
    session.flush()
    if state in ("shortlisted", "accepted", "declined") and response.responder is not None:
        notify(session, response.responder, "response_status", response=response)
    if state == "withdrawn":
        notify(session, response.call.author, "response_status", response=response)
    emit_change(session, Change(_CHANGE[state], response=response, remote=remote))
    if response.call.local and (state == "accepted" or was_accepted):
        emit_change(session, Change("team", response=response))
    return True


def apply_state(
    session: Session, response: Response, state: str, *, message: str = "", at: Any = None
) -> bool:
    """A state change received from the other party's node (already authorised by the
    caller): applied if the machine allows, else ignored (replays, late or older activities
    never regress). True if it changed."""
    clean = text.clean_text(message, text.DECISION_MAX)
    return _set_state(session, response, state, message=clean, at=at, remote=True)


def withdraw(session: Session, response: Response, member: Member) -> Response:
    """The responder withdraws (403 for anyone else; 409 once accepted, declined or already
    withdrawn)."""
    if not member.local or response.responder_id != member.id:
        raise PermissionDenied("only the responder withdraws")
    if response.state == "withdrawn":
        return response
    if "withdrawn" not in TRANSITIONS[response.state]:
        raise Conflict(f"a {response.state} response cannot be withdrawn")
    _set_state(session, response, "withdrawn", remote=False)
    return response


def mark_seen(session: Session, response: Response, author: Member) -> Response:
    """The author (or an admin) opened the response: ``sent → seen``; otherwise a no-op."""
    if not may_edit_call(response.call, author):
        raise PermissionDenied("only the call's author")
    if response.state == "sent":
        _set_state(session, response, "seen", remote=False)
    return response


def decide(
    session: Session, response: Response, author: Member, state: str, message: str = ""
) -> Response:
    """The call's author (or an admin of its node) shortlists, accepts or declines.

    Idempotent (the same decision again changes nothing); 409 for a move the machine refuses
    (e.g. deciding on a withdrawn response, shortlisting an accepted one); 422 for an unknown
    decision or a message over :data:`text.DECISION_MAX`.
    """
    if not may_edit_call(response.call, author):
        raise PermissionDenied("only the call's author decides")
    if state not in DECISIONS:
        raise ValidationError({"state": "one of: " + ", ".join(DECISIONS)})
    if len(message or "") > text.DECISION_MAX:
        raise ValidationError({"message": f"at most {text.DECISION_MAX} characters"})
    if response.state == state:
        return response
    if state not in TRANSITIONS[response.state]:
        raise Conflict(f"a {response.state} response cannot be {state}")
    clean = text.clean_text(message, text.DECISION_MAX)
    _set_state(session, response, state, message=clean, remote=False)
    return response


# -- reading ------------------------------------------------------------------------------------


def _loaded() -> Any:
    return (
        selectinload(Response.call).selectinload(Call.author),
        selectinload(Response.responder),
        selectinload(Response.invitation),
    )


def is_party(response: Response, member: Member | None) -> bool:
    """Is ``member`` one of the response's two parties (or an admin of the call's node)?"""
    if member is None or not member.local:
        return False
    return response.responder_id == member.id or may_edit_call(response.call, member)


def get_response(session: Session, response_id: int, viewer: Member | None) -> Response:
    """A response its parties may open; 404 for anybody else (existence is not revealed)."""
    row = session.scalar(select(Response).where(Response.id == response_id).options(*_loaded()))
    if row is None or not is_party(row, viewer):
        raise NotFound("no such response")
    return row


def responses_for_call(session: Session, call: Call, viewer: Member) -> list[Response]:
    """Every response to ``call``, newest first: for its author (or an admin) only (403)."""
    if not may_edit_call(call, viewer):
        raise PermissionDenied("only the call's author sees its responses")
    rows = session.scalars(
        select(Response)
        .where(Response.call_id == call.id)
        .options(*_loaded())
        .order_by(Response.created_at.desc(), Response.id.desc())
    ).all()
    return list(rows)


def responses_of(session: Session, member: Member) -> list[Response]:
    """``member``'s own responses, newest first."""
    rows = session.scalars(
        select(Response)
        .where(Response.responder_id == member.id)
        .options(*_loaded())
        .order_by(Response.created_at.desc(), Response.id.desc())
    ).all()
    return list(rows)


def team_entries(call: Call, accepted: list[Response]) -> list[TeamEntry]:
    """The team of a call of ours: its author, then each accepted responder."""
    author = call.author
    out = [
        TeamEntry(
            actor=author.ap_id,
            name=author.name or author.username,
            url=author.url or author.ap_id,
            contact=call.author_contact,
            role="author",
        )
    ]
    for r in accepted:
        out.append(
            TeamEntry(
                actor=r.responder_actor,
                name=r.responder_name,
                url=r.responder_url,
                contact=r.team_contact,
                role="member",
            )
        )
    return out


def accepted_responses(session: Session, call: Call) -> list[Response]:
    rows = session.scalars(
        select(Response)
        .where(Response.call_id == call.id, Response.state == "accepted")
        .order_by(Response.state_at, Response.id)
    ).all()
    return list(rows)


def team(session: Session, call: Call, viewer: Member | None) -> list[TeamEntry]:
    """The accepted team of ``call`` as ``viewer`` may see it: the author (or an admin) and the
    accepted responders see author + accepted people with their shared contacts; everybody
    else gets an empty list. On a responder's node the team is the author's last ``Update``."""
    if viewer is None or not viewer.local:
        return []
    if call.local:
        accepted = accepted_responses(session, call)
        if may_edit_call(call, viewer) or any(r.responder_id == viewer.id for r in accepted):
            return team_entries(call, accepted)
        return []
    mine = session.scalar(
        select(Response).where(
            Response.call_id == call.id,
            Response.responder_id == viewer.id,
            Response.state == "accepted",
        )
    )
    if mine is None:
        return []
    return [
        TeamEntry(
            actor=str(t.get("actor", "")),
            name=str(t.get("name", "")),
            url=t.get("url") if isinstance(t.get("url"), str) else None,
            contact=str(t.get("contact", "")),
            role=str(t.get("role", "member")),
        )
        for t in (mine.team or [])
        if isinstance(t, dict)
    ]


def set_call_options(
    session: Session,
    call: Call,
    member: Member,
    *,
    author_contact: str | None = None,
    allow_fediverse_responses: bool | None = None,
) -> Call:
    """The author's collaboration settings of a call of ours (403 for anyone else). A changed
    contact is sent to the accepted team."""
    if not may_edit_call(call, member):
        raise PermissionDenied("only the call's author")
    if author_contact is not None:
        if len(author_contact) > text.TEAM_CONTACT_MAX:
            raise ValidationError({"author_contact": f"at most {text.TEAM_CONTACT_MAX}"})
        clean = text.clean_text(author_contact, text.TEAM_CONTACT_MAX)
        if clean != call.author_contact:
            call.author_contact = clean
            for r in accepted_responses(session, call)[:1]:
                emit_change(session, Change("team", response=r))
    if allow_fediverse_responses is not None:
        call.allow_fediverse_responses = bool(allow_fediverse_responses)
    session.flush()
    return call


__all__ = [
    "DECISIONS",
    "TRANSITIONS",
    "ResponseData",
    "TeamEntry",
    "accepted_responses",
    "apply_state",
    "decide",
    "get_response",
    "is_party",
    "live_response",
    "mark_seen",
    "needs_consent",
    "respond",
    "responses_for_call",
    "responses_of",
    "set_call_options",
    "site_base",
    "team",
    "team_entries",
    "withdraw",
]
