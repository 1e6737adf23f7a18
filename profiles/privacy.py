"""A member's data: erasure that reaches every copy on this node, export, retention.

**Providers.** Features that keep per-member data outside the profile and calls (responses and
messages of issue 9, notifications, …) register a :class:`Provider` here, with what they add to
a member's export and how they erase it; :func:`erase_local_member` and :func:`export_member`
call every registered provider. Register at import time of the feature's module::

    privacy.register(Provider("responses", export=my_export, erase=my_erase))

**Erasure on the origin** (:func:`erase_local_member`, called by
:func:`profiles.members.delete_member` after the Deletes are queued): outbox bodies that carry
the member (their ``Update(Person)``, their calls' ``Create``/``Update``/``Announce``) except
the pending ``Delete`` activities, inbox bodies that name them, follows, sessions, login
attempts, mail already sent (queued mail still goes out), and every provider's rows. The
tombstone keeps the actor IRI (to answer 410 and refuse re-use) and, until the Deletes are
delivered, the key that signs them: :func:`prune` drops that key afterwards.

**Erasure on a partner** (:func:`purge_remote_actor`, on a ``Delete`` and when a partnership
ends): the cached actor document (the row, not only ``gone``), inbox bodies from or about it.

**Retention** (:func:`prune`, a worker job): processed inbox items and cached remote actors
older than the retention period are deleted (actors are fetched again when needed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from federation.db import utcnow
from federation.models import (
    Delivery,
    Following,
    InboxItem,
    OutboxActivity,
    RemoteActor,
)
from profiles.models import Call, LoginAttempt, Member, MemberSession, Tombstone

ERASED_BODY = "{}"


@dataclass(frozen=True)
class Provider:
    """Per-member data of one feature: ``export(session, member)`` gives a JSON-able value
    (stored as ``NAME.json`` in the export), ``erase(session, member)`` deletes the rows."""

    name: str
    export: Callable[[Session, Member], Any] | None = None
    erase: Callable[[Session, Member], None] | None = None


_PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    """Add (or replace, by name) a provider."""
    _PROVIDERS[provider.name] = provider


def providers() -> list[Provider]:
    return list(_PROVIDERS.values())


# -- erasure on the origin ------------------------------------------------------------------------


def _like(iri: str) -> str:
    return "%" + iri.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _drop_outbox(session: Session, *conditions: Any) -> int:
    """Delete outbox rows (and their deliveries) matching ``conditions``, never a Delete."""
    stmt = select(OutboxActivity.id).where(OutboxActivity.type != "Delete", *conditions)
    ids = list(session.scalars(stmt))
    if not ids:
        return 0
    session.execute(delete(Delivery).where(Delivery.activity_id.in_(ids)))
    session.execute(delete(OutboxActivity).where(OutboxActivity.id.in_(ids)))
    return len(ids)


def _blank_inbox(session: Session, iri: str) -> None:
    session.execute(
        update(InboxItem)
        .where(or_(InboxItem.actor == iri, InboxItem.body.like(_like(iri), escape="\\")))
        .values(body=ERASED_BODY, error=None)
    )


def erase_local_member(session: Session, member: Member) -> None:
    """Remove what this node keeps of a local member besides the rows cascading from it.
    Runs in the caller's transaction, after the publisher queued the Deletes."""
    iri = member.ap_id
    call_iris = list(session.scalars(select(Call.ap_id).where(Call.author_id == member.id)))
    _drop_outbox(session, OutboxActivity.actor == iri)
    for call_iri in call_iris:
        _drop_outbox(session, OutboxActivity.body.like(_like(call_iri), escape="\\"))
    _drop_outbox(session, OutboxActivity.body.like(_like(iri), escape="\\"))
    _blank_inbox(session, iri)
    session.execute(delete(Following).where(Following.local_actor == iri))
    session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))
    name = member.username
    session.execute(
        delete(LoginAttempt).where(
            or_(LoginAttempt.key == f"user:{name}", LoginAttempt.key.like(f"pair:{name}|%"))
        )
    )
    _erase_mail(session, member)
    for provider in providers():
        if provider.erase is not None:
            provider.erase(session, member)
    session.flush()


def _erase_mail(session: Session, member: Member) -> None:
    """Mail already sent or given up is deleted; queued mail still goes out (e.g. the
    confirmation of the erasure), then the mail queue's own retention deletes it."""
    from profiles.mail import MailMessage, MailPreference

    cond = [MailMessage.member_id == member.id]
    if member.email:
        cond.append(MailMessage.recipient == member.email)
    session.execute(delete(MailMessage).where(or_(*cond), MailMessage.state != "pending"))
    session.execute(delete(MailPreference).where(MailPreference.member_id == member.id))


# -- erasure on a partner -------------------------------------------------------------------------


def purge_remote_actor(session: Session, iri: str) -> None:
    """A partner's member was deleted (or the partnership ended): forget its cached actor
    document and the bodies of what it sent or what named it."""
    session.execute(delete(RemoteActor).where(RemoteActor.ap_id == iri))
    _blank_inbox(session, iri)


def purge_remote_object(session: Session, iri: str) -> None:
    """A partner's call was deleted: the bodies of what carried it."""
    _blank_inbox(session, iri)


def purge_remote_host(session: Session, domain: str) -> None:
    """Everything cached from a partner's server (the partnership ended)."""
    for scheme in ("https", "http"):
        prefix = f"{scheme}://{domain}/"
        pattern = prefix.replace("%", "\\%").replace("_", "\\_") + "%"
        session.execute(delete(RemoteActor).where(RemoteActor.ap_id.like(pattern, escape="\\")))
        session.execute(
            update(InboxItem)
            .where(InboxItem.actor.like(pattern, escape="\\"))
            .values(body=ERASED_BODY, error=None)
        )


# -- retention ------------------------------------------------------------------------------------


def prune(session: Session, retention: timedelta, now: datetime | None = None) -> int:
    """Delete processed inbox items and cached remote actors older than ``retention``, and the
    private keys of tombstones whose Deletes have all been delivered (or given up). Returns how
    many rows were touched; the caller commits."""
    cutoff = (now or utcnow()) - retention
    touched = 0
    result = session.execute(
        delete(InboxItem).where(InboxItem.state != "pending", InboxItem.received_at < cutoff)
    )
    touched += int(result.rowcount or 0)  # type: ignore[attr-defined]
    result = session.execute(delete(RemoteActor).where(RemoteActor.fetched_at < cutoff))
    touched += int(result.rowcount or 0)  # type: ignore[attr-defined]
    keyed = session.scalars(select(Tombstone).where(Tombstone.private_key_pem.is_not(None))).all()
    for tomb in keyed:
        pending = session.scalar(
            select(Delivery.id)
            .join(OutboxActivity, Delivery.activity_id == OutboxActivity.id)
            .where(OutboxActivity.actor == tomb.ap_id, Delivery.state == "pending")
            .limit(1)
        )
        if pending is None:
            tomb.private_key_pem = None
            touched += 1
    session.flush()
    return touched


# -- "delete my account" ---------------------------------------------------------------------------


def request_deletion(session: Session, member: Member, grace: timedelta) -> bool:
    """The member asked to be deleted: at once (True, erased) when ``grace`` is zero, else
    scheduled (False; :func:`erase_due` erases it, :func:`cancel_deletion` cancels it). Every
    session of the member ends either way. The caller commits."""
    from profiles.members import delete_member

    session.execute(delete(MemberSession).where(MemberSession.member_id == member.id))
    if grace <= timedelta(0):
        delete_member(session, member)
        return True
    member.deletion_due_at = utcnow() + grace
    session.flush()
    return False


def cancel_deletion(member: Member) -> None:
    member.deletion_due_at = None


def erase_due(session: Session, now: datetime | None = None) -> int:
    """Erase the members whose grace period is over (a worker job); the caller commits."""
    from profiles.members import delete_member

    due = session.scalars(
        select(Member).where(
            Member.local,
            Member.deletion_due_at.is_not(None),
            Member.deletion_due_at <= (now or utcnow()),
        )
    ).all()
    for member in due:
        delete_member(session, member)
    return len(due)


# -- export ---------------------------------------------------------------------------------------


def export_member(
    session: Session,
    member: Member,
    *,
    as_person: Callable[[Member], dict[str, Any]],
    as_page: Callable[[Call], dict[str, Any]],
) -> dict[str, bytes]:
    """A member's data as files (name -> bytes): ``profile.json``, ``calls.json``,
    ``settings.json``, ``activitystreams/actor.json`` and ``activitystreams/calls.json`` (the
    documents partners receive), and one ``NAME.json`` per provider. The avatar is the
    caller's (it lives in the instance folder)."""
    from profiles.members import profile_data

    data = profile_data(member)
    profile = {
        "username": member.username,
        "email": member.email,
        "ap_id": member.ap_id,
        "created_at": member.created_at.isoformat(),
        "updated_at": member.updated_at.isoformat(),
        **{k: _jsonable(v) for k, v in vars(data).items()},
    }
    calls = list(session.scalars(select(Call).where(Call.author_id == member.id)))
    from profiles.mail import MailPreference

    settings = {
        "ui_language": member.ui_language,
        "visibility": member.visibility,
        "is_admin": member.is_admin,
        "mail": sorted(
            session.scalars(
                select(MailPreference.kind).where(MailPreference.member_id == member.id)
            )
        ),
    }
    files: dict[str, Any] = {
        "profile.json": profile,
        "calls.json": [_call_json(c) for c in calls],
        "settings.json": settings,
        "activitystreams/actor.json": as_person(member),
        "activitystreams/calls.json": [as_page(c) for c in calls],
    }
    for provider in providers():
        if provider.export is not None:
            files[f"{provider.name}.json"] = provider.export(session, member)
    return {
        name: json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()
        for name, value in files.items()
    }


def _call_json(call: Call) -> dict[str, Any]:
    from profiles.calls import call_data

    return {
        "ap_id": call.ap_id,
        "public_id": call.public_id,
        "status": call.status,
        "created_at": call.created_at.isoformat(),
        **{k: _jsonable(v) for k, v in vars(call_data(call)).items()},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in vars(value).items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


__all__ = [
    "Provider",
    "cancel_deletion",
    "erase_due",
    "erase_local_member",
    "export_member",
    "providers",
    "prune",
    "purge_remote_actor",
    "purge_remote_object",
    "purge_remote_host",
    "register",
    "request_deletion",
]
