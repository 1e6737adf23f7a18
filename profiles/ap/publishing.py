"""Publishing on domain events: what partners and followers receive when a member or a call
of this node is saved or deleted. Runs inside the caller's transaction (transactional outbox):
nothing is sent that was rolled back.

Who receives what is :func:`profiles.visibility.recipients`. Choices forced by peers (see
research/interop-and-security.md):

- a public call is announced by the Group as ``Announce(Page)`` with the Page embedded, never
  ``Announce(Create(Page))`` (Mastodon cannot render the latter);
- edits and closing send ``Update(Page)`` from the *author*, addressed to partners, the author's
  followers and, for public calls, the Group's followers: Mastodon applies an Update of a status
  it knows when the actor is the status' author, whoever it follows — no second Announce;
- deleting a member sends two Deletes to partners: ``Delete(Person)`` signed with the member's
  key kept in the :class:`~profiles.models.Tombstone` (for receivers that cached that key) and
  ``Delete(Tombstone)`` from the instance actor (the engine answers an actor Delete from an
  unknown actor with "nothing to delete", so a partner that only backfilled the member would
  otherwise keep it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from federation import outbox, vocab
from federation.iri import host_of
from federation.models import Follower
from federation.vocab import former_type
from profiles import events
from profiles.ap.addressing import audience, new_id, partners_collection
from profiles.ap.context import context_for
from profiles.ap.documents import Documents
from profiles.ap.keys import KeyStore
from profiles.ap.mapping import wire_actor
from profiles.collab.models import MemberConsent
from profiles.context import NodeContext
from profiles.models import Call, FederatedObject, Member, Tombstone
from profiles.visibility import Recipients, federated, is_public, recipients

_PARTNERS_CACHE = "coopfed_partner_inboxes"
# (transaction, ap_ids of new members with no published record and no follower rows): read by
# one query per kind for a batch of new members (events.MEMBERS_ADDED), each id used once.
_UNSEEN_CACHE = "coopfed_unseen_members"


def forget_partner_inboxes(session: Session) -> None:
    """Drop the per-transaction cache of partner inboxes (the partnerships changed)."""
    session.info.pop(_PARTNERS_CACHE, None)


def consented_hosts(session: Session, member: Member) -> frozenset[str]:
    """Servers a coop-only member agreed to share their profile with (profiles.collab)."""
    rows = session.scalars(select(MemberConsent.host).where(MemberConsent.member_id == member.id))
    return frozenset(rows)


def send(
    session: Session,
    keys: KeyStore,
    activity: dict[str, Any],
    *,
    actor_iri: str,
    targets: list[str],
) -> None:
    """Queue ``activity`` by ``actor_iri`` to ``targets``, with its actor's FEP-8b32 proof."""
    outbox.publish(session, activity, actor_iri=actor_iri, targets=targets, prove=keys.prove)


class Publisher:
    """The domain-event listener of one node (:meth:`on_event`)."""

    def __init__(self, ctx: NodeContext, keys: KeyStore, docs: Documents) -> None:
        self.ctx = ctx
        self.keys = keys
        self.docs = docs

    def partner_inboxes(self, session: Session) -> list[str]:
        """Inboxes of our partners, cached for the current transaction (a bulk import asks
        once per member); the partnership methods here drop the cache when they change it."""
        txn = session.get_transaction()
        cached = session.info.get(_PARTNERS_CACHE)
        if txn is not None and cached is not None and cached[0] is txn:
            return list(cached[1])
        found = outbox.followers_inboxes(session, self.keys.instance_iri)
        session.info[_PARTNERS_CACHE] = (txn, found)
        return list(found)

    def calls_followers_inboxes(self, session: Session) -> list[str]:
        return outbox.followers_inboxes(session, self.keys.calls_iri)

    def on_event(self, session: Session, event: str, obj: Any) -> None:
        """The domain-event listener: publishes in the caller's transaction."""
        if event == events.MEMBER_SAVED and isinstance(obj, Member) and obj.local:
            self._member_saved(session, obj)
        elif event == events.MEMBERS_ADDED:
            self._members_added(session, [m.ap_id for m in obj if m.local])
        elif event == events.MEMBER_DELETED and isinstance(obj, Member) and obj.local:
            self._member_deleted(session, obj)
        elif event == events.CALL_SAVED and isinstance(obj, Call) and obj.local:
            self._call_saved(session, obj)
        elif event == events.CALL_DELETED and isinstance(obj, Call) and obj.local:
            self._call_deleted(session, obj)

    def _members_added(self, session: Session, ap_ids: list[str]) -> None:
        """Which of these new members nothing refers to yet: no published record, no follower
        (two queries per chunk instead of up to four per member in :meth:`_member_saved`)."""
        unseen = set(ap_ids)
        for i in range(0, len(ap_ids), 500):  # SQLite's bound-parameter limit
            chunk = ap_ids[i : i + 500]
            found = select(FederatedObject.ap_id).where(FederatedObject.ap_id.in_(chunk))
            followed = select(Follower.local_actor).where(Follower.local_actor.in_(chunk))
            unseen.difference_update(session.scalars(found), session.scalars(followed))
        session.info[_UNSEEN_CACHE] = (session.get_transaction(), unseen)

    def _unseen(self, session: Session, ap_id: str) -> bool:
        """True once for a member :meth:`_members_added` found unseen in this transaction."""
        cached = session.info.get(_UNSEEN_CACHE)
        if cached is None or cached[0] is not session.get_transaction() or ap_id not in cached[1]:
            return False
        cached[1].discard(ap_id)
        return True

    def _published(self, session: Session, ap_id: str) -> FederatedObject | None:
        return session.get(FederatedObject, ap_id)

    def _mark_published(self, session: Session, ap_id: str, kind: str, visibility: str) -> None:
        row = session.get(FederatedObject, ap_id)
        if row is None:
            session.add(FederatedObject(ap_id=ap_id, kind=kind, visibility=visibility))
        else:
            row.visibility = visibility
        session.flush()

    def _member_saved(self, session: Session, member: Member) -> None:
        # A new member nothing refers to yet has no record and no follower to look up.
        unseen = self._unseen(session, member.ap_id)
        seen = None if unseen else self._published(session, member.ap_id)
        if not is_public(member.visibility) and federated(member.visibility) and not unseen:
            self._leave_fediverse(session, member)  # (a deactivated member: retracted below)
        left = member.deactivated_at is not None  # left the coop's register (profiles.register)
        if left or not federated(member.visibility):
            # Partners may hold it from a backfill even if we never sent it ourselves. Not the
            # coops this member agreed to share their profile with when responding to one of
            # their calls (profiles.collab): a Delete there would end those responses; unless
            # the member left the coop, which ends everything they shared. A member just
            # created ("unseen") is nowhere yet: a Delete would only tell partners the
            # username exists.
            if seen is not None or (not unseen and self.partner_inboxes(session)):
                self._retract_person(
                    session,
                    member.ap_id,
                    signed_by_member=True,
                    keep_hosts=frozenset() if left else consented_hosts(session, member),
                )
            if seen is not None:
                session.delete(seen)
            # Told above; for them the member is now no such actor.
            if not unseen:
                session.execute(delete(Follower).where(Follower.local_actor == member.ap_id))
            session.flush()
            return
        targets: list[str] = self.partner_inboxes(session)
        if Recipients.FOLLOWERS in recipients(member.visibility, kind="member") and not unseen:
            targets.extend(outbox.followers_inboxes(session, member.ap_id))
        if targets:  # nobody listening (e.g. a bulk import before any partner): no outbox row
            # Before building the Person: it must list the key that proves the Update.
            self.keys.ensure_member_proof_key(session, member)
            to, cc = audience(self.ctx, member, member.visibility)
            activity = {
                "@context": context_for("actor"),
                "id": new_id(member.ap_id, "updates"),
                "type": "Update",
                "actor": member.ap_id,
                "object": self.docs.person_for_wire(session, member),
                "to": to,
                "cc": cc,
            }
            send(session, self.keys, activity, actor_iri=member.ap_id, targets=targets)
            self._mark_published(session, member.ap_id, "Person", member.visibility)

    def _leave_fediverse(self, session: Session, member: Member) -> None:
        """A profile that is no longer public: its fediverse followers (those not on a partner
        coop's server) get ``Delete`` of the actor, as for a deleted account — Mastodon then
        drops the account and every post it has of it — and stop being followers (the member
        is now, for them, no such actor). Partners keep the profile (``Update`` follows)."""
        followers = session.scalars(
            select(Follower).where(Follower.local_actor == member.ap_id)
        ).all()
        partners = set(self.partner_inboxes(session))
        gone = [f for f in followers if (f.shared_inbox or f.follower_inbox) not in partners]
        if not gone:
            return
        inboxes = list(dict.fromkeys(f.shared_inbox or f.follower_inbox for f in gone))
        send(
            session,
            self.keys,
            {
                "@context": vocab.AS_CONTEXT,
                "id": new_id(member.ap_id, "delete"),
                "type": "Delete",
                "actor": member.ap_id,
                "object": member.ap_id,
                "to": [vocab.PUBLIC],
            },
            actor_iri=member.ap_id,
            targets=[i for i in inboxes if i],
        )
        for row in gone:
            session.delete(row)
        session.flush()

    def _retract_person(
        self,
        session: Session,
        ap_id: str,
        *,
        signed_by_member: bool,
        keep_hosts: frozenset[str] = frozenset(),
    ) -> None:
        """Tell partners (and the member's followers) that a profile is gone for them; not
        the servers in ``keep_hosts``."""
        tombstone = {"id": ap_id, "type": "Tombstone", "formerType": former_type("Person")}
        partners = [i for i in self.partner_inboxes(session) if host_of(i) not in keep_hosts]
        followers = [
            i for i in outbox.followers_inboxes(session, ap_id) if host_of(i) not in keep_hosts
        ]
        if signed_by_member and (partners or followers):
            send(
                session,
                self.keys,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": new_id(ap_id, "delete"),
                    "type": "Delete",
                    "actor": ap_id,
                    "object": ap_id,
                    "to": [vocab.PUBLIC],
                },
                actor_iri=ap_id,
                targets=[*partners, *followers],
            )
        if partners:
            send(
                session,
                self.keys,
                {
                    "@context": vocab.AS_CONTEXT,
                    "id": new_id(self.keys.instance_iri, "deletes"),
                    "type": "Delete",
                    "actor": self.keys.instance_iri,
                    "object": tombstone,
                    "to": [partners_collection(self.ctx)],
                },
                actor_iri=self.keys.instance_iri,
                targets=partners,
            )

    def _member_deleted(self, session: Session, member: Member) -> None:
        if session.scalar(select(Tombstone.id).where(Tombstone.ap_id == member.ap_id)) is None:
            session.add(
                Tombstone(ap_id=member.ap_id, kind="Person", private_key_pem=member.private_key_pem)
            )
            session.flush()
        for call in session.scalars(select(Call).where(Call.author_id == member.id)).all():
            self._call_deleted(session, call)
        seen = self._published(session, member.ap_id)
        # A member without a key was never fetched, so nobody can verify its own Delete.
        self._retract_person(session, member.ap_id, signed_by_member=bool(member.private_key_pem))
        if seen is not None:
            session.delete(seen)
        session.execute(delete(Follower).where(Follower.local_actor == member.ap_id))
        session.flush()

    def _call_saved(self, session: Session, call: Call) -> None:
        seen = self._published(session, call.ap_id)
        if not federated(call.visibility):
            self._call_deleted(session, call, tombstone=False)
            return
        author = wire_actor(self.ctx, call)
        partners = self.partner_inboxes(session)
        reach = recipients(call.visibility, kind="call")
        was_public = seen is not None and is_public(seen.visibility)
        group_inboxes = self.calls_followers_inboxes(session)
        if was_public and not is_public(call.visibility):
            self._unpublicize(session, call, partners, group_inboxes)
            was_public = False
        targets: list[str] = list(partners)
        if Recipients.FOLLOWERS in reach and author == call.author.ap_id:
            # partners-only calls stay with partners; a hidden author's followers get nothing
            targets.extend(outbox.followers_inboxes(session, author))
        if Recipients.GROUP_FOLLOWERS in reach:
            targets.extend(group_inboxes)
        # Back to public: the public audience never had it (or had it deleted): a Create.
        returning = is_public(call.visibility) and seen is not None and not was_public
        kind = "Create" if seen is None or returning else "Update"
        if not targets:
            # Nobody listening now: partners that come later backfill it. A public call's
            # Create is still written (without deliveries): the author's outbox is the public
            # record of what they published, and Mastodon shows its totalItems as the post
            # count (issue 8, defect 6). Later edits then send Updates, as for any post.
            if Recipients.FOLLOWERS in reach and kind == "Create":
                self._send_page(session, call, kind, [])
            if seen is not None or Recipients.FOLLOWERS in reach:
                self._mark_published(session, call.ap_id, "Page", call.visibility)
            return
        page = self._send_page(session, call, kind, targets)
        if Recipients.GROUP_FOLLOWERS in reach and not was_public and group_inboxes:
            announce_id = self.docs.announce_id(session, call, new=True)
            announce = self.docs.announce(call, page, announce_id)
            send(session, self.keys, announce, actor_iri=self.keys.calls_iri, targets=group_inboxes)
        self._mark_published(session, call.ap_id, "Page", call.visibility)

    def _send_page(
        self, session: Session, call: Call, kind: str, targets: list[str]
    ) -> dict[str, Any]:
        """Queue ``kind`` (Create or Update) of the call's Page by its author; returns the
        Page."""
        page = self.docs.page(session, call)
        actor = page["attributedTo"]
        activity = {
            "@context": context_for("object"),
            "id": new_id(call.ap_id, kind.lower()),
            "type": kind,
            "actor": actor,
            "object": page,
            "to": page["to"],
            "cc": page["cc"],
        }
        send(session, self.keys, activity, actor_iri=actor, targets=targets)
        return page

    def _unpublicize(
        self, session: Session, call: Call, partners: list[str], group_inboxes: list[str]
    ) -> None:
        """Public → partners only: the public audience must lose it (Mastodon applies an
        Update's new text to the status it has, whatever the new addressing says)."""
        author_followers = outbox.followers_inboxes(session, call.author.ap_id)
        # The Group's outbox listed it while it was public, whether or not anyone followed
        # then: its followers (and the author's) lose it now.
        public_audience = [
            i for i in dict.fromkeys(author_followers + group_inboxes) if i not in partners
        ]
        self._retract_call(session, call, public_audience, public=True)

    def _retract_call(
        self, session: Session, call: Call, targets: list[str], *, public: bool
    ) -> None:
        """Delete(Tombstone) of ``call`` to ``targets`` (nothing if there are none)."""
        if not targets:
            return
        actor = wire_actor(self.ctx, call)
        activity = {
            "@context": vocab.AS_CONTEXT,
            "id": new_id(call.ap_id, "delete"),
            "type": "Delete",
            "actor": actor,
            "object": {"id": call.ap_id, "type": "Tombstone", "formerType": former_type("Page")},
            "to": [vocab.PUBLIC] if public else [partners_collection(self.ctx)],
        }
        send(session, self.keys, activity, actor_iri=actor, targets=targets)

    def _call_deleted(self, session: Session, call: Call, *, tombstone: bool = True) -> None:
        seen = self._published(session, call.ap_id)
        if (
            tombstone
            and session.scalar(select(Tombstone.id).where(Tombstone.ap_id == call.ap_id)) is None
        ):
            session.add(Tombstone(ap_id=call.ap_id, kind="Page"))
        partners = self.partner_inboxes(session)
        if seen is None and not partners:
            session.flush()
            return  # never sent, and no partner could have backfilled it
        author = call.author.ap_id
        was_public = is_public(seen.visibility if seen is not None else call.visibility)
        reach = recipients(seen.visibility if seen is not None else call.visibility, kind="call")
        targets: list[str] = list(partners)
        if Recipients.FOLLOWERS in reach:
            targets.extend(outbox.followers_inboxes(session, author))
        if Recipients.GROUP_FOLLOWERS in reach:
            targets.extend(self.calls_followers_inboxes(session))
        self._retract_call(session, call, targets, public=was_public)
        if seen is not None:
            session.delete(seen)
        session.flush()


__all__ = ["Publisher", "forget_partner_inboxes", "send"]
