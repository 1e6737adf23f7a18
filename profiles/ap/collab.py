"""Collaboration on the wire, inbound: who may send which collaboration activity, and what it
changes (FEDERATION.md, "Collaboration"; research/collaboration.md §9).

Every rule is checked twice: by :meth:`CollabInbox.check` when the POST arrives (a refusal is a
4xx and leaves no row — the engine calls it after the signature and origin checks, so
``activity.actor`` is authenticated), and again by the handler when the queued item is
processed (state may have changed in between; a refusal there changes nothing). Replays are
no-ops: the engine dedupes by activity id and every change here is idempotent.

- ``Offer``: from an active partner's actor to the author of an open, federated call of ours
  (not Public, no followers) — else 404/403/409; ``Read``/``TentativeAccept``/``Accept``/
  ``Reject`` of an Offer: only from the call's author on its host, for an Offer a member of ours
  sent — else 403; ``Undo`` of an Offer: only its actor; ``Reject`` of an Invite: only its
  invitee; ``Invite``: from the author of a partner's call we hold, to a member of ours;
- ``Create(Note)`` in a thread: from one party to exactly the other (a local member), over the
  cap 413, HTML reduced to text; replying to a public call of ours (or its Announce): a
  fediverse response when the call allows them, else nothing; ``Update`` of a call's ``#team``
  Collection: only from its author, to an accepted responder of ours. "The author" includes
  whoever speaks for a hidden one (:mod:`profiles.ap.collab_authority`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation import vocab
from federation.errors import (
    BadRequest,
    FederationError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
)
from federation.inbox import HandlerRegistry, InboxContext
from federation.iri import host_of, is_http_iri
from profiles.ap.collab_authority import author_addresses, private_only, speaks_for_author
from profiles.ap.keys import KeyStore
from profiles.ap.partnerships import Partnerships
from profiles.ap.remote_rows import call_author
from profiles.collab import text
from profiles.collab.events import Change, emit_change
from profiles.collab.models import Invitation, Message, Response
from profiles.collab.notifications import notify
from profiles.collab.responses import apply_state, live_response
from profiles.collab.threads import Thread, forget_actor, parties, store_received_message
from profiles.models import Call, Member
from profiles.visibility import federated, is_public

log = logging.getLogger(__name__)

_STATE_OF = {
    "Read": "seen",
    "TentativeAccept": "shortlisted",
    "Accept": "accepted",
    "Reject": "declined",
}
_NOTE_TYPES = ("Note", "ChatMessage")  # Pleroma and older Lemmy send ChatMessage


class Conflict(FederationError):
    status = 409


@dataclass
class NoteTarget:
    thread: Thread | None = None
    recipient: str = ""
    call: Call | None = None  # a reply to a public call of ours


def _text_of(obj: dict[str, Any], cap: int) -> str:
    content = obj.get("content")
    if not isinstance(content, str):
        content = ""
    if len(content) > cap * 8:
        raise PayloadTooLarge(f"at most {cap} characters")
    found = text.html_to_text(content, cap + 1)
    if len(found) > cap:
        raise PayloadTooLarge(f"at most {cap} characters")
    return found


class CollabInbox:
    """The collaboration side of a node's inbox: :meth:`check` and the handlers."""

    def __init__(self, keys: KeyStore, partnerships: Partnerships) -> None:
        self.keys = keys
        self.partnerships = partnerships

    # -- authorisation (shared by check and the handlers; no writes) ----------------------------

    def _offer_call(self, session: Session, activity: vocab.Activity) -> tuple[Call, str]:
        raw = activity.raw
        call = session.scalar(
            select(Call).where(Call.ap_id == vocab.first_iri(raw.get("target")), Call.local)
        )
        if call is None or not federated(call.visibility):
            raise NotFound("no such call")
        if self.partnerships.active_partner_for_host(session, host_of(activity.actor)) is None:
            raise Forbidden("responses come from partner coops")
        if call.author.ap_id == activity.actor:
            raise Forbidden("the author cannot respond to their own call")
        private_only(activity)
        if len(activity.to) != 1 or activity.to[0] not in author_addresses(
            self.keys.calls_iri, call
        ):
            raise BadRequest("an Offer is addressed to the call's author only")
        message = _text_of(raw, text.RESPONSE_MESSAGE_MAX)
        known = session.scalar(select(Response).where(Response.ap_id == activity.id))
        if known is None:
            if call.status != "open":
                raise Conflict("the call is not open")
            live = live_response(session, call, activity.actor)
            if live is not None:
                raise Conflict("a response of this actor is live already")
        return call, message

    def _decided_response(self, session: Session, activity: vocab.Activity) -> Response | None:
        """The Offer (of a member of ours) a decision is about, if the actor may decide."""
        response = session.scalar(select(Response).where(Response.ap_id == activity.object_id))
        if response is None:
            return None
        call = response.call
        if response.responder is None or not response.responder.local:
            raise Forbidden("not an offer a member of ours sent")
        if not speaks_for_author(call, activity.actor) or host_of(call.ap_id) != host_of(
            activity.actor
        ):
            raise Forbidden("only the call's author decides")
        private_only(activity)
        result = activity.raw.get("result")
        if isinstance(result, dict):
            owner = vocab.first_iri(result.get("attributedTo"))
            rid = result.get("id")
            if (owner is not None and not speaks_for_author(call, owner)) or (
                isinstance(rid, str) and host_of(rid) != host_of(activity.actor)
            ):
                raise Forbidden("the Agreement is the author's own")
        _text_of(activity.raw, text.MESSAGE_MAX)
        return response

    def _undone_response(self, session: Session, activity: vocab.Activity) -> Response | None:
        response = session.scalar(select(Response).where(Response.ap_id == activity.object_id))
        if response is None:
            return None
        if activity.actor != response.responder_actor or not response.call.local:
            raise Forbidden("only the responder withdraws")
        return response

    def _rejected_invitation(self, session: Session, activity: vocab.Activity) -> Invitation | None:
        invitation = session.scalar(
            select(Invitation).where(Invitation.ap_id == activity.object_id)
        )
        if invitation is None:
            return None
        if activity.actor != invitation.invitee.ap_id or not invitation.call.local:
            raise Forbidden("only the invitee declines")
        return invitation

    def _cancelled_invitation(
        self, session: Session, activity: vocab.Activity
    ) -> Invitation | None:
        invitation = session.scalar(
            select(Invitation).where(Invitation.ap_id == activity.object_id)
        )
        if invitation is None:
            return None
        by = invitation.inviter.ap_id  # the author (or the Group held for a hidden one)
        inviter = activity.actor == by or speaks_for_author(invitation.call, activity.actor)
        if not inviter or invitation.call.local:
            raise Forbidden("only the inviter cancels")
        return invitation

    def _invite(self, session: Session, activity: vocab.Activity) -> tuple[Call, Member, str]:
        call = session.scalar(
            select(Call).where(Call.ap_id == activity.object_id, Call.local.is_(False))
        )
        if call is None:
            raise NotFound("no such call")
        if not speaks_for_author(call, activity.actor) or host_of(call.ap_id) != host_of(
            activity.actor
        ):
            raise Forbidden("only the call's author invites")
        if self.partnerships.active_partner_for_host(session, host_of(activity.actor)) is None:
            raise Forbidden("invitations come from partner coops")
        private_only(activity)
        invitee_iri = vocab.first_iri(activity.raw.get("target")) or vocab.first_iri(
            list(activity.to)
        )
        invitee = session.scalar(select(Member).where(Member.ap_id == invitee_iri, Member.local))
        if invitee is None or list(activity.to) != [invitee.ap_id]:
            raise NotFound("no such member")
        return call, invitee, _text_of(activity.raw, text.MESSAGE_MAX)

    def _thread_of(self, session: Session, note: dict[str, Any]) -> Thread | None:
        for key in ("context", "conversation"):
            iri = note.get(key)
            if isinstance(iri, str) and is_http_iri(iri):
                found: Thread | None = session.scalar(
                    select(Response).where(Response.ap_id == iri)
                ) or session.scalar(select(Invitation).where(Invitation.ap_id == iri))
                if found is not None:
                    return found
        parent = vocab.first_iri(note.get("inReplyTo"))
        if parent is None:
            return None
        message = session.scalar(select(Message).where(Message.ap_id == parent))
        if message is not None:
            return message.response or message.invitation
        # A fediverse responder answering the decision Note replies to their own first Note.
        return session.scalar(
            select(Response).where(Response.ap_id == parent, Response.origin == "fediverse")
        )

    def _replied_call(self, session: Session, note: dict[str, Any]) -> Call | None:
        parent = vocab.first_iri(note.get("inReplyTo"))
        if parent is None:
            return None
        call = session.scalar(select(Call).where(Call.ap_id == parent, Call.local))
        announces = f"{self.keys.calls_iri}/announces/"
        if call is None and parent.startswith(announces):
            public_id = parent[len(announces) :].split("/")[0]
            call = session.scalar(select(Call).where(Call.public_id == public_id, Call.local))
        return call

    def _note(self, session: Session, activity: vocab.Activity) -> NoteTarget | None:
        note = activity.object
        if not isinstance(note, dict) or note.get("type") not in _NOTE_TYPES:
            return None
        thread = self._thread_of(session, note)
        if thread is None:
            call = self._replied_call(session, note)
            if call is None:
                return None
            _text_of(note, text.MESSAGE_MAX)
            return NoteTarget(call=call)
        a, b = parties(thread)  # (author or inviter, responder or invitee)
        as_author = activity.actor == a or speaks_for_author(thread.call, activity.actor)
        if activity.actor != b and not as_author:
            raise Forbidden("only the two parties write in a thread")
        other = b if as_author and activity.actor != b else a
        addressed = {*vocab.as_list(note.get("to")), *vocab.as_list(note.get("cc"))}
        addressed |= {*activity.to, *activity.cc}
        if (
            other == a
            and thread.call.local
            and addressed <= author_addresses(self.keys.calls_iri, thread.call)
        ):
            addressed = {a}  # the responder wrote to the calls Group speaking for the author
        if addressed != {other}:
            raise Forbidden("a thread message goes to the other party only")
        if session.scalar(select(Member.id).where(Member.ap_id == other, Member.local)) is None:
            raise Forbidden("the other party is not a member of ours")
        if isinstance(thread, Response) and thread.state == "withdrawn":
            raise Conflict("the response was withdrawn")
        _text_of(note, text.MESSAGE_MAX)
        return NoteTarget(thread=thread, recipient=other)

    def _team_call(self, session: Session, activity: vocab.Activity) -> Call | None:
        obj = activity.object
        if not isinstance(obj, dict) or not str(obj.get("id", "")).endswith("#team"):
            return None
        call = session.scalar(
            select(Call).where(Call.ap_id == str(obj["id"])[:-5], Call.local.is_(False))
        )
        if call is None:
            raise NotFound("no such call")
        if not speaks_for_author(call, activity.actor):
            raise Forbidden("only the call's author sends its team")
        private_only(activity)
        return call

    # -- receive-time check ---------------------------------------------------------------------

    def check(self, session: Session, activity: vocab.Activity) -> None:
        """Refuse (raise a 4xx :class:`FederationError`) a collaboration activity its actor may
        not send; anything else passes untouched. Reads only."""
        kind = activity.type
        obj_type = activity.object.get("type") if isinstance(activity.object, dict) else None
        if kind == "Offer":
            self._offer_call(session, activity)
        elif kind in ("Read", "TentativeAccept", "Accept"):
            self._decided_response(session, activity)
        elif kind == "Reject":
            decided = obj_type != "Invite" and self._decided_response(session, activity)
            if not decided:
                self._rejected_invitation(session, activity)
        elif kind == "Undo" and obj_type in ("Offer", None):
            if self._undone_response(session, activity) is None:
                self._cancelled_invitation(session, activity)
        elif kind == "Undo" and obj_type == "Invite":
            self._cancelled_invitation(session, activity)
        elif kind == "Invite":
            self._invite(session, activity)
        elif kind == "Create":
            self._note(session, activity)
        elif kind == "Update" and obj_type == "Collection":
            self._team_call(session, activity)

    # -- handlers -------------------------------------------------------------------------------

    def register(self, registry: HandlerRegistry) -> None:
        registry.register("Offer", None, self._guard(self.on_offer))
        registry.register("Offer", "Agreement", self._guard(self.on_offer))
        for kind in ("Read", "TentativeAccept", "Accept", "Reject"):
            registry.register(kind, "Offer", self._guard(self.on_decision))
        registry.register("Read", None, self._guard(self.on_decision))
        registry.register("TentativeAccept", None, self._guard(self.on_decision))
        registry.register("Reject", "Invite", self._guard(self.on_invite_rejected))
        registry.register("Undo", "Offer", self._guard(self.on_undo))
        registry.register("Undo", "Invite", self._guard(self.on_invite_cancelled))
        registry.register("Invite", None, self._guard(self.on_invite))
        for note_type in _NOTE_TYPES:
            registry.register("Create", note_type, self._guard(self.on_note))
        registry.register("Update", "Collection", self._guard(self.on_team))

    def _guard(self, handler: Any) -> Any:
        """A refusal at processing time changes nothing and is not retried."""

        def run(session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
            try:
                handler(session, activity, ictx)
            except (Forbidden, NotFound, BadRequest, PayloadTooLarge, Conflict) as exc:
                log.info("refused %s %s: %s", activity.type, activity.id, exc)

        return run

    def handle_bare(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> bool:
        """``Accept``/``Reject``/``Undo`` whose object came as a bare IRI: ours if it names a
        response or an invitation (then handled here: True)."""
        oid = activity.object_id
        if oid is None:
            return False
        if session.scalar(select(Response.id).where(Response.ap_id == oid)) is not None:
            handler = self.on_undo if activity.type == "Undo" else self.on_decision
        elif activity.type == "Undo" and session.scalar(
            select(Invitation.id).where(Invitation.ap_id == oid)
        ):
            handler = self.on_invite_cancelled
        elif activity.type == "Reject" and session.scalar(
            select(Invitation.id).where(Invitation.ap_id == oid)
        ):
            handler = self.on_invite_rejected
        else:
            return False
        self._guard(handler)(session, activity, ictx)
        return True

    def on_offer(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        call, message = self._offer_call(session, activity)
        if session.scalar(select(Response.id).where(Response.ap_id == activity.id)):
            return  # a replay under another delivery
        raw = activity.raw
        partner = self.partnerships.active_partner_for_host(session, host_of(activity.actor))
        assert partner is not None  # checked by _offer_call
        member = call_author(session, ictx.actors, activity.actor, partner)
        wanted = {s.concept_iri for s in call.skills}
        skills = [s for s in vocab.as_list(raw.get("coopfed:skills")) if s in wanted]
        links = [
            h
            for h in (vocab.first_iri(a) for a in vocab.as_list(raw.get("attachment")))
            if h and h.startswith("https://") and len(h) <= 500
        ][: text.LINKS_MAX]
        invitation = session.scalar(
            select(Invitation).where(
                Invitation.ap_id == str(raw.get("coopfed:invitation") or ""),
                Invitation.call_id == call.id,
                Invitation.invitee_id == member.id,
            )
        ) or session.scalar(
            select(Invitation).where(
                Invitation.call_id == call.id,
                Invitation.invitee_id == member.id,
                Invitation.state == "pending",
            )
        )
        response = Response(
            ap_id=activity.id,
            call=call,
            responder=member,
            responder_actor=activity.actor,
            responder_name=member.name or member.username,
            responder_url=member.url or activity.actor,
            origin="coopfed",
            state="sent",
            live=True,
            message=message,
            skills=skills,
            available=raw.get("coopfed:available") is True,
            available_note=text.clean_text(_str(raw, "coopfed:availableNote"), text.NOTE_MAX),
            rate=text.clean_text(_str(raw, "coopfed:rate"), text.RATE_MAX),
            links=links,
            team_contact=text.clean_text(_str(raw, "coopfed:teamContact"), text.TEAM_CONTACT_MAX),
            invitation=invitation,
        )
        session.add(response)
        if invitation is not None and invitation.state == "pending":
            invitation.state = "responded"
        session.flush()
        notify(session, call.author, "response_received", response=response)
        emit_change(session, Change("offer", response=response, remote=True))

    def on_decision(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        response = self._decided_response(session, activity)
        if response is None:
            return
        message = text.html_to_text(_str(activity.raw, "content"), text.DECISION_MAX)
        apply_state(
            session, response, _STATE_OF[activity.type], message=message, at=activity.published
        )

    def on_undo(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        response = self._undone_response(session, activity)
        if response is not None:
            apply_state(session, response, "withdrawn", at=activity.published)

    def on_invite_rejected(
        self, session: Session, activity: vocab.Activity, ictx: InboxContext
    ) -> None:
        invitation = self._rejected_invitation(session, activity)
        if invitation is None or invitation.state != "pending":
            return
        invitation.state = "declined"
        session.flush()
        notify(session, invitation.inviter, "invitation", invitation=invitation)
        emit_change(session, Change("invite_declined", invitation=invitation, remote=True))

    def on_invite_cancelled(
        self, session: Session, activity: vocab.Activity, ictx: InboxContext
    ) -> None:
        invitation = self._cancelled_invitation(session, activity)
        if invitation is None or invitation.state != "pending":
            return
        invitation.state = "cancelled"
        session.flush()
        emit_change(session, Change("invite_cancelled", invitation=invitation, remote=True))

    def on_invite(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        call, invitee, message = self._invite(session, activity)
        if session.scalar(select(Invitation.id).where(Invitation.ap_id == activity.id)):
            return
        invitation = Invitation(
            ap_id=activity.id,
            call=call,
            inviter=call.author,
            invitee=invitee,
            message=message,
            state="pending",
        )
        session.add(invitation)
        session.flush()
        notify(session, invitee, "invitation", invitation=invitation)
        emit_change(session, Change("invite", invitation=invitation, remote=True))

    def on_note(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        target = self._note(session, activity)
        if target is None:
            return
        note = activity.object
        assert isinstance(note, dict)
        body = text.html_to_text(_str(note, "content"), text.MESSAGE_MAX)
        if target.thread is not None:
            store_received_message(
                session,
                target.thread,
                ap_id=str(note.get("id") or activity.id),
                sender=activity.actor,
                recipient=target.recipient,
                body=_without_mention(body),
                in_reply_to=vocab.first_iri(note.get("inReplyTo")),
            )
        elif target.call is not None:
            self._fediverse_response(session, activity, target.call, body, ictx)

    def _fediverse_response(
        self,
        session: Session,
        activity: vocab.Activity,
        call: Call,
        body: str,
        ictx: InboxContext,
    ) -> None:
        """A reply to a public call of ours from any fediverse account: a response "from the
        fediverse" when the author allows them; a second reply joins the response's thread."""
        note = activity.object
        assert isinstance(note, dict)
        if not (call.allow_fediverse_responses and call.status == "open"):
            return
        if not is_public(call.visibility) or call.author.ap_id == activity.actor:
            return
        named = {*activity.to, *activity.cc, *vocab.as_list(note.get("to"))}
        named |= {vocab.first_iri(t.get("href")) for t in _tags(note)}
        if call.author.ap_id not in named and self.keys.calls_iri not in named:
            return  # neither the author nor the calls Group was addressed
        note_id = str(note.get("id") or activity.id)
        if session.scalar(select(Response.id).where(Response.ap_id == note_id)):
            return
        live = live_response(session, call, activity.actor)
        if live is not None:
            store_received_message(
                session,
                live,
                ap_id=note_id,
                sender=activity.actor,
                recipient=call.author.ap_id,
                body=_without_mention(body),
                in_reply_to=vocab.first_iri(note.get("inReplyTo")),
            )
            return
        actor = ictx.actors.get(activity.actor)
        member = session.scalar(select(Member).where(Member.ap_id == activity.actor))
        response = Response(
            ap_id=note_id,
            call=call,
            responder=member,
            responder_actor=activity.actor,
            responder_name=(actor.name or actor.preferred_username)[:200],
            responder_url=actor.url or actor.id,
            origin="fediverse",
            state="sent",
            live=True,
            message=_without_mention(body)[: text.RESPONSE_MESSAGE_MAX],
            source_url=(vocab.first_iri(note.get("url")) or note_id)[:512],
        )
        session.add(response)
        session.flush()
        notify(session, call.author, "response_received", response=response)
        emit_change(session, Change("offer", response=response, remote=True))

    def on_team(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        call = self._team_call(session, activity)
        if call is None:
            return
        obj = activity.object
        assert isinstance(obj, dict)
        items = []
        for item in vocab.as_list(obj.get("items"))[:100]:
            if not isinstance(item, dict):
                continue
            url = item.get("url")
            items.append(
                {
                    "actor": str(item.get("coopfed:actor") or "")[:512],
                    "name": text.clean_text(_str(item, "name"), 200),
                    "url": url if isinstance(url, str) and is_http_iri(url) else None,
                    "contact": text.clean_text(_str(item, "coopfed:contact"), 500),
                    "role": "author" if item.get("coopfed:role") == "author" else "member",
                }
            )
        for recipient in activity.to:
            member = session.scalar(select(Member).where(Member.ap_id == recipient, Member.local))
            if member is None:
                continue
            # Whatever its state: the Accept may be processed after this Update (deliveries
            # run in parallel); team() shows it only while the response is accepted.
            mine = session.scalar(
                select(Response)
                .where(Response.call_id == call.id, Response.responder_id == member.id)
                .order_by(Response.id.desc())
                .limit(1)
            )
            if mine is not None:
                mine.team = items
        session.flush()

    def forget(self, session: Session, actor: str) -> None:
        """A deleted actor: their collaboration rows go (see :func:`forget_actor`)."""
        forget_actor(session, actor)


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def _tags(note: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in vocab.as_list(note.get("tag")) if isinstance(t, dict)]


def _without_mention(body: str) -> str:
    """Drop the leading ``@name`` (or ``@name@host``) a direct message starts with: a first
    line of mentions only (our Notes), or a first word (Mastodon's)."""
    first_line, _, rest = body.partition("\n")
    words = first_line.split()
    if words and all(w.startswith("@") for w in words):
        return rest.lstrip() if rest.strip() else body
    if words and words[0].startswith("@") and len(words) > 1:
        return first_line.split(None, 1)[1] + ("\n" + rest if rest else "")
    return body


__all__ = ["CollabInbox", "Conflict"]
