"""Rows received from partners: parsed documents written through the domain writers.

The writers (:func:`profiles.members.save_remote_member`, :func:`profiles.calls.save_remote_call`)
hold the rules about rows; this module adds what needs the network: finding the author of a
partner's call (fetched if unknown; a coop-only author becomes a name-only stub).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.actors import RemoteActors
from federation.errors import BadRequest
from profiles.ap.mapping import parse_person
from profiles.calls import save_remote_call
from profiles.members import save_remote_member
from profiles.models import Call, Member, Partnership
from profiles.remote import RemoteCall, RemoteProfile
from profiles.visibility import Visibility


def call_author(session: Session, actors: RemoteActors, iri: str, partner: Partnership) -> Member:
    """The row of a partner call's author: known, or fetched and stored."""
    member = session.scalar(select(Member).where(Member.ap_id == iri))
    if member is not None:
        return member
    actor = actors.get(iri)
    raw = actor.raw
    if raw.get("type") == "Person" and raw.get("visibility") == Visibility.COOP.value:
        # A coop-only member of the partner serves us their actor only after agreeing to share
        # their profile with our coop (responding to one of our calls, profiles.collab): for
        # us they are then as a partners-level member.
        raw = {**raw, "visibility": Visibility.PARTNERS.value}
    try:
        record = parse_person(raw, coop_name=partner.name)
    except BadRequest:
        # Not a Person we may see: the partner's calls Group speaking for an author its
        # visibility hides from us. A nameless coop-level stub, shown as "a member of <coop>".
        record = RemoteProfile.stub(
            actor.id, actor.host, actor.preferred_username or "calls", "", partner.name
        )
    return save_remote_member(session, record)


def store_call(
    session: Session, actors: RemoteActors, record: RemoteCall, partner: Partnership
) -> Call:
    """Create or update a partner's call (and its author's row if new)."""
    return save_remote_call(
        session, record, lambda: call_author(session, actors, record.author_ap_id, partner)
    )


__all__ = ["RemoteProfile", "call_author", "save_remote_member", "store_call"]
