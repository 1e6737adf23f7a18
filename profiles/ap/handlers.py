"""Inbound: what a node does with activities from partners (and anyone's follows).

- ``Create``/``Update`` of a ``Person`` or a call ``Page`` from an active partner: stored as a
  remote row (the actor must be the Person itself, or the Page's author);
- ``Delete``: a partner's member or call, by its owner or by the owner's coop instance actor;
- ``Accept``/``Reject``/``Undo`` of our instance actor's Follow: the partnership's state;
- follows: only coops (``Organization``) may follow the instance actor — each one is a
  partnership request an admin approves; anyone may follow the calls Group and a member whose
  profile leaves the node.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from federation import vocab
from federation.errors import BadRequest, Forbidden
from federation.inbox import FollowDecision, HandlerRegistry, InboxContext
from federation.iri import host_of, same_host
from federation.models import Following
from profiles import events, privacy
from profiles.ap.collab import CollabInbox
from profiles.ap.keys import KeyStore
from profiles.ap.mapping import parse_call, parse_person
from profiles.ap.partnerships import Partnerships
from profiles.ap.publishing import forget_partner_inboxes
from profiles.ap.remote_rows import store_call
from profiles.members import save_remote_member
from profiles.models import Call, Member, Partnership
from profiles.visibility import follow_decision

log = logging.getLogger(__name__)


class InboxHandlers:
    """The domain's inbox handlers of one node (:meth:`registry`)."""

    def __init__(
        self, keys: KeyStore, partnerships: Partnerships, collab: CollabInbox | None = None
    ) -> None:
        self.keys = keys
        self.partnerships = partnerships
        self.collab = collab

    def registry(self) -> HandlerRegistry:
        registry = HandlerRegistry(
            self.keys.locality,
            follow_policy=self.follow_policy,
            on_actor_deleted=self.on_actor_deleted,
        )
        for kind in ("Create", "Update"):
            registry.register(kind, "Person", self._on_person)
            registry.register(kind, "Page", self._on_page)
        registry.register("Delete", None, self._on_delete)
        registry.register("Accept", None, self._on_accept)
        registry.register("Reject", None, self._on_reject)
        registry.register("Undo", None, self._on_undo)
        if self.collab is not None:
            self.collab.register(registry)
        return registry

    def follow_policy(
        self, session: Session, local: str, follower: vocab.Actor, follow: vocab.Activity
    ) -> FollowDecision:
        forget_partner_inboxes(session)
        if local == self.keys.instance_iri:
            # Only coops partner; a person following the coop would read partners-only data.
            if follower.type != "Organization":
                return "reject"
            partner = self.partnerships.partner_by_actor(session, follower.id)
            if partner is not None and partner.state in ("requested", "active"):
                partner.inbox = follower.shared_inbox or follower.inbox
                return "accept"  # our admin asked for this partnership
            if partner is None:
                partner = Partnership(actor=follower.id, domain=follower.host)
                session.add(partner)
            country = follower.raw.get("country")
            partner.country = country.upper()[:2] if isinstance(country, str) else ""
            partner.name = follower.name
            partner.inbox = follower.shared_inbox or follower.inbox
            partner.direction = "incoming"
            partner.state = "pending"
            session.flush()
            return "pending"
        if local == self.keys.calls_iri:
            return "accept"
        member = session.scalar(select(Member).where(Member.ap_id == local, Member.local))
        if member is None:
            return "ignore"
        # A member hidden from the follower is, for it, no such actor: no Reject sent as them.
        partner = self.partnerships.active_partner_for_host(session, follower.host)
        return follow_decision(member.visibility, follower_is_partner=partner is not None)

    def on_actor_deleted(self, session: Session, actor_iri: str) -> None:
        if self.collab is not None:
            self.collab.forget(session, actor_iri)
        member = session.scalar(
            select(Member).where(Member.ap_id == actor_iri, Member.local.is_(False))
        )
        if member is not None:
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
            session.flush()
            privacy.purge_remote_actor(session, actor_iri)  # the cache, not only ``gone``
        partner = self.partnerships.partner_by_actor(session, actor_iri)
        if partner is not None:
            self.partnerships.end_partnership(session, partner)

    def _on_person(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        obj = activity.object
        if not isinstance(obj, dict) or obj.get("id") != activity.actor:
            log.info("ignoring %s of a Person by another actor", activity.type)
            return
        partner = self.partnerships.active_partner_for_host(session, host_of(activity.actor))
        if partner is None:
            return  # a Mastodon user updating itself: not a coop member
        # The embedded Person may lack the key; the cache of actors refreshes itself.
        try:
            record = parse_person(obj, coop_name=partner.name)
        except BadRequest as exc:
            log.info("ignoring Person %s: %s", obj.get("id"), exc)
            return
        save_remote_member(session, record)

    def _on_page(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        obj = activity.object
        if not isinstance(obj, dict):
            return
        partner = self.partnerships.active_partner_for_host(session, host_of(activity.actor))
        if partner is None:
            return
        # attributedTo may be a list or an embedded actor (PeerTube, Lemmy): compare the IRI.
        if vocab.first_iri(obj.get("attributedTo")) != activity.actor:
            raise Forbidden("a call is created or updated by its author only")
        try:
            record = parse_call(obj)
        except BadRequest as exc:
            log.info("ignoring Page %s: %s", obj.get("id"), exc)
            return
        store_call(session, ictx.actors, record, partner)

    def _on_delete(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        target = activity.object_id
        if target is None or not same_host(target, activity.actor):
            return
        partner = self.partnerships.partner_by_actor(session, activity.actor)
        by_coop = partner is not None  # the owner's coop speaks for its members and calls
        member = session.scalar(
            select(Member).where(Member.ap_id == target, Member.local.is_(False))
        )
        if member is not None and (by_coop or activity.actor == target):
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
            if self.collab is not None:
                self.collab.forget(session, target)
            privacy.purge_remote_actor(session, target)
        call = session.scalar(
            select(Call)
            .where(Call.ap_id == target, Call.local.is_(False))
            .options(selectinload(Call.author))
        )
        if call is not None and (by_coop or call.author.ap_id == activity.actor):
            events.emit(session, events.CALL_DELETED, call)
            session.delete(call)
            privacy.purge_remote_object(session, target)
        session.flush()

    def _on_accept(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        if self.collab is not None and self.collab.handle_bare(session, activity, ictx):
            return
        partner = self.partnerships.partner_by_actor(session, activity.actor)
        if partner is None:
            return
        following = session.scalar(
            select(Following).where(
                Following.local_actor == self.keys.instance_iri,
                Following.remote_actor == partner.actor,
            )
        )
        if following is None or following.state != "accepted":
            return
        if partner.state in ("requested", "active"):
            partner.state = "active"
            partner.backfill_due = True

    def _on_reject(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        if self.collab is not None and self.collab.handle_bare(session, activity, ictx):
            return
        partner = self.partnerships.partner_by_actor(session, activity.actor)
        if partner is not None and partner.state == "requested":
            partner.state = "rejected"

    def _on_undo(self, session: Session, activity: vocab.Activity, ictx: InboxContext) -> None:
        if self.collab is not None and self.collab.handle_bare(session, activity, ictx):
            return
        obj = activity.object
        if isinstance(obj, dict) and obj.get("type") != "Follow":
            return
        if isinstance(obj, dict) and obj.get("object") not in (None, self.keys.instance_iri):
            return
        partner = self.partnerships.partner_by_actor(session, activity.actor)
        if partner is not None:
            self.partnerships.end_partnership(session, partner)


__all__ = ["InboxHandlers"]
