"""Coop partnerships: mutual follows between instance actors, each approved by its coop's admin.

Partners are the accepted followers of our instance actor. Asking (``request_partnership``)
sends a Follow; the other coop's admin accepts it there, which makes us its follower and it
follows us back; our admin accepts that (``accept_partnership``). Ending one from either side
purges everything the partner sent us.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from federation import vocab
from federation.actors import RemoteActors
from federation.errors import BadRequest, NotFound
from federation.inbox import accept_follower
from federation.iri import is_http_iri
from federation.models import Follower, Following
from federation.webfinger import webfinger_lookup
from profiles import events, privacy
from profiles.ap.addressing import new_id
from profiles.ap.keys import KeyStore
from profiles.ap.publishing import forget_partner_inboxes, send
from profiles.context import NodeContext
from profiles.models import Call, Member, Partnership


class Partnerships:
    def __init__(self, ctx: NodeContext, keys: KeyStore) -> None:
        self.ctx = ctx
        self.keys = keys

    def partnership(self, session: Session, domain_or_actor: str) -> Partnership:
        value = domain_or_actor.strip().lower()
        stmt = select(Partnership).where(
            (Partnership.domain == value) | (Partnership.actor == domain_or_actor.strip())
        )
        found = session.scalar(stmt)
        if found is None:
            raise NotFound(f"no partnership with {domain_or_actor[:100]!r}")
        return found

    def partner_by_actor(self, session: Session, actor_iri: str) -> Partnership | None:
        return session.scalar(select(Partnership).where(Partnership.actor == actor_iri))

    def active_partner_for_host(self, session: Session, host: str) -> Partnership | None:
        stmt = select(Partnership).where(Partnership.domain == host, Partnership.state == "active")
        return session.scalar(stmt)

    def _send_follow(self, session: Session, partner: Partnership) -> None:
        follow_id = new_id(self.keys.instance_iri, "follows")
        row = session.scalar(
            select(Following).where(
                Following.local_actor == self.keys.instance_iri,
                Following.remote_actor == partner.actor,
            )
        )
        if row is None:
            session.add(
                Following(
                    local_actor=self.keys.instance_iri,
                    remote_actor=partner.actor,
                    state="pending",
                    follow_activity_id=follow_id,
                )
            )
        else:
            row.follow_activity_id, row.state = follow_id, "pending"
        activity = {
            "@context": vocab.AS_CONTEXT,
            "id": follow_id,
            "type": "Follow",
            "actor": self.keys.instance_iri,
            "object": partner.actor,
            "to": [partner.actor],
        }
        send(
            session, self.keys, activity, actor_iri=self.keys.instance_iri, targets=[partner.inbox]
        )

    def resolve_coop(self, actors: RemoteActors, target: str) -> vocab.Actor:
        """``URL`` (the coop's actor, or its base URL) or ``DOMAIN`` -> its instance actor."""
        target = target.strip()
        if "://" in target:
            iri = target.rstrip("/")
            if is_http_iri(iri) and iri.count("/") == 2:  # a bare base URL
                iri += "/actor"
        else:
            iri = webfinger_lookup(actors.transport, f"coop@{target}")
        actor = actors.get(iri, refresh=True)
        if actor.type != "Organization":
            raise BadRequest(f"{actor.id} is a {actor.type}, not a coop (Organization)")
        return actor

    def request_partnership(
        self, session: Session, actors: RemoteActors, target: str
    ) -> Partnership:
        """Ask another coop to partner: Follow its instance actor. If it asked us first, this
        is our admin's approval."""
        actor = self.resolve_coop(actors, target)
        if actor.id == self.keys.instance_iri:
            raise BadRequest("a coop cannot partner with itself")
        partner = self.partner_by_actor(session, actor.id)
        if partner is not None and partner.state == "pending":
            return self.accept_partnership(session, partner.domain)
        if partner is None:
            partner = Partnership(actor=actor.id, domain=actor.host, direction="outgoing")
            session.add(partner)
        partner.inbox = actor.shared_inbox or actor.inbox
        partner.name = actor.name
        country = actor.raw.get("country")
        partner.country = country.upper()[:2] if isinstance(country, str) else ""
        if partner.state != "active":
            partner.state = "requested"
        session.flush()
        self._send_follow(session, partner)
        return partner

    def accept_partnership(self, session: Session, domain: str) -> Partnership:
        """The admin approves a pending partnership: Accept their Follow, follow them back."""
        forget_partner_inboxes(session)
        partner = self.partnership(session, domain)
        if partner.state not in ("pending", "rejected"):
            raise BadRequest(f"the partnership with {partner.domain} is {partner.state}")
        if not accept_follower(session, self.keys.instance_iri, partner.actor, partner.inbox):
            raise BadRequest(f"{partner.domain} has no pending follow request")
        partner.state = "active"
        self._send_follow(session, partner)
        session.flush()
        return partner

    def reject_partnership(self, session: Session, domain: str) -> Partnership:
        forget_partner_inboxes(session)
        partner = self.partnership(session, domain)
        row = session.scalar(
            select(Follower).where(
                Follower.local_actor == self.keys.instance_iri, Follower.follower == partner.actor
            )
        )
        if row is not None and row.follow_activity_id:
            send(
                session,
                self.keys,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": new_id(self.keys.instance_iri, "rejects"),
                    "type": "Reject",
                    "actor": self.keys.instance_iri,
                    "object": {
                        "id": row.follow_activity_id,
                        "type": "Follow",
                        "actor": partner.actor,
                        "object": self.keys.instance_iri,
                    },
                    "to": [partner.actor],
                },
                actor_iri=self.keys.instance_iri,
                targets=[partner.inbox],
            )
            session.delete(row)
        partner.state = "rejected"
        session.flush()
        return partner

    def suspend_partnership(self, session: Session, domain: str) -> Partnership | None:
        """The active partnership with ``domain`` ends without a word to them (its domain was
        just blocked: nothing goes there any more): state "suspended", its members and calls
        stay stored (hidden by the block, see profiles.moderation) until purged or removed.
        None when there was no active partnership."""
        partner = self.active_partner_for_host(session, domain.strip().lower())
        if partner is None:
            return None
        forget_partner_inboxes(session)
        partner.state = "suspended"
        session.flush()
        return partner

    def remove_partnership(self, session: Session, domain: str) -> int:
        """End a partnership from our side: Undo our Follow, drop them as follower, purge what
        they sent. Returns how many members and calls were purged."""
        partner = self.partnership(session, domain)
        following = session.scalar(
            select(Following).where(
                Following.local_actor == self.keys.instance_iri,
                Following.remote_actor == partner.actor,
            )
        )
        if following is not None:
            send(
                session,
                self.keys,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": new_id(self.keys.instance_iri, "undos"),
                    "type": "Undo",
                    "actor": self.keys.instance_iri,
                    "object": {
                        "id": following.follow_activity_id,
                        "type": "Follow",
                        "actor": self.keys.instance_iri,
                        "object": partner.actor,
                    },
                    "to": [partner.actor],
                },
                actor_iri=self.keys.instance_iri,
                targets=[partner.inbox],
            )
            session.delete(following)
        return self.end_partnership(session, partner)

    def end_partnership(self, session: Session, partner: Partnership) -> int:
        forget_partner_inboxes(session)
        session.execute(
            delete(Follower).where(
                Follower.local_actor == self.keys.instance_iri, Follower.follower == partner.actor
            )
        )
        session.execute(
            delete(Following).where(
                Following.local_actor == self.keys.instance_iri,
                Following.remote_actor == partner.actor,
            )
        )
        purged = self.purge_host(session, partner.domain)
        privacy.purge_remote_host(session, partner.domain)  # cached actors, inbox bodies
        session.delete(partner)
        session.flush()
        return purged

    def purge_host(self, session: Session, domain: str) -> int:
        """Delete every member and call received from ``domain`` (never local rows)."""
        if domain == self.ctx.domain:
            raise BadRequest("refusing to purge our own domain")
        calls = session.scalars(
            select(Call).where(Call.node == domain, Call.local.is_(False))
        ).all()
        members = session.scalars(
            select(Member).where(Member.node == domain, Member.local.is_(False))
        ).all()
        for call in calls:
            events.emit(session, events.CALL_DELETED, call)
            session.delete(call)
        session.flush()
        for member in members:
            events.emit(session, events.MEMBER_DELETED, member)
            session.delete(member)
        session.flush()
        return len(calls) + len(members)


__all__ = ["Partnerships"]
