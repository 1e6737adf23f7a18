"""The documents a node serves and embeds: its actors (the coop ``Organization``, the calls
``Group``, members' ``Person``), call ``Page``s and the Group's ``Announce`` of a public call.

Building may create keys (an actor document lists its keys); callers commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation import proofs
from federation.keys import main_key_id, public_pem_of
from federation.models import OutboxActivity
from federation.vocab import PUBLIC
from profiles.ap import mapping
from profiles.ap.context import context_for
from profiles.ap.keys import KeyStore
from profiles.context import NodeContext
from profiles.models import Call, Member
from profiles.vocabulary import Vocabulary

# What a bare actor document keeps: identity, endpoints and keys (for viewers the member's
# visibility does not cover, so a partner can still verify what the member sent it).
_BARE_ACTOR_KEYS = (
    *("@context", "id", "type", "preferredUsername", "name", "url", "inbox", "outbox"),
    *("followers", "following", "endpoints", "manuallyApprovesFollowers", "publicKey"),
    "assertionMethod",
    *("coop", "visibility"),
)


class Documents:
    """Documents of one node. ``vocabulary(session)`` gives the current vocabulary (concept
    labels), ``avatar_url(member)`` the public URL of a member's avatar."""

    def __init__(
        self,
        ctx: NodeContext,
        keys: KeyStore,
        *,
        vocabulary: Callable[[Session], Vocabulary],
        avatar_url: Callable[[Member], str | None],
    ) -> None:
        self.ctx = ctx
        self.keys = keys
        self.vocabulary = vocabulary
        self.avatar_url = avatar_url

    def instance_actor(self, session: Session) -> dict[str, Any]:
        """The coop's actor document (may create its keys; the caller commits)."""
        pem = public_pem_of(self.keys.meta_private(session, "coop"))
        iri = self.keys.instance_iri
        return {
            "@context": proofs.actor_context(context_for("actor")),
            "id": iri,
            "type": "Organization",
            "preferredUsername": "coop",
            "name": self.ctx.name,
            "summary": f"The {self.ctx.name} freelancers' cooperative on coopfed.",
            "url": f"{self.ctx.base_url}/about",
            "inbox": f"{iri}/inbox",
            "outbox": f"{iri}/outbox",
            "followers": f"{iri}/followers",
            "following": f"{iri}/following",
            "endpoints": {"sharedInbox": f"{self.ctx.base_url}/inbox"},
            "manuallyApprovesFollowers": True,
            "discoverable": True,
            "country": self.ctx.country,
            "publicKey": {"id": main_key_id(iri), "owner": iri, "publicKeyPem": pem},
            "assertionMethod": self.keys.assertion_method(session, "coop", iri),
        }

    def calls_actor(self, session: Session) -> dict[str, Any]:
        """The project-calls Group's actor document (may create its keys; the caller commits)."""
        pem = public_pem_of(self.keys.meta_private(session, "calls"))
        iri = self.keys.calls_iri
        return {
            "@context": proofs.actor_context(context_for("actor")),
            "id": iri,
            "type": "Group",
            "preferredUsername": "calls",
            "name": f"{self.ctx.name} project calls",
            "summary": (
                f"Public project calls of {self.ctx.name}: freelancers looking for "
                "collaborators. Follow to see new calls."
            ),
            "url": f"{self.ctx.base_url}/calls",
            "inbox": f"{iri}/inbox",
            "outbox": f"{iri}/outbox",
            "followers": f"{iri}/followers",
            "following": f"{iri}/following",
            "endpoints": {"sharedInbox": f"{self.ctx.base_url}/inbox"},
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "publicKey": {"id": main_key_id(iri), "owner": iri, "publicKeyPem": pem},
            "assertionMethod": self.keys.assertion_method(session, "calls", iri),
        }

    def person(self, session: Session, member: Member, *, full: bool = True) -> dict[str, Any]:
        """A local member's actor document. ``full=False`` gives only what identifies the actor
        and verifies its signatures (for viewers the member's visibility does not cover)."""
        doc = mapping.person(self.ctx, member, self.vocabulary(session), self.avatar_url(member))
        if full:
            return doc
        small = {k: doc[k] for k in _BARE_ACTOR_KEYS if k in doc}
        small["discoverable"] = small["indexable"] = False
        return small

    def person_for_wire(self, session: Session, member: Member) -> dict[str, Any]:
        """The Person embedded in an Update: without ``publicKey`` when the member has no key
        yet (a receiver must not replace a key by an empty one; it fetches the actor)."""
        doc = self.person(session, member)
        if not member.public_key_pem:
            doc.pop("publicKey", None)
        return doc

    def page(self, session: Session, call: Call) -> dict[str, Any]:
        return mapping.call_page(self.ctx, call, self.vocabulary(session))

    def announce_id(self, session: Session, call: Call, *, new: bool = False) -> str:
        """Id of the Group's (latest, or with ``new`` the next) Announce of ``call``: derived
        from the call, so the outbox (built from the calls themselves) and what followers
        received agree. A call that left the public and came back is announced again under
        ``…/announces/CALL_ID/2`` (followers had the first one deleted)."""
        base = f"{self.keys.calls_iri}/announces/{call.public_id}"
        sent = (
            session.scalar(
                select(func.count())
                .select_from(OutboxActivity)
                .where(
                    (OutboxActivity.ap_id == base)
                    | OutboxActivity.ap_id.startswith(base + "/", autoescape=True)
                )
            )
            or 0
        )
        n = sent + 1 if new else sent
        return base if n <= 1 else f"{base}/{n}"

    def announce(self, call: Call, page: dict[str, Any], announce_id: str) -> dict[str, Any]:
        """The calls Group's Announce of a public call (``announce_id``: :meth:`announce_id`)."""
        return {
            "@context": context_for("object"),
            "id": announce_id,
            "type": "Announce",
            "actor": self.keys.calls_iri,
            "published": page.get("published"),
            "object": page,
            "to": [PUBLIC],
            "cc": [f"{self.keys.calls_iri}/followers", page["attributedTo"]],
        }


__all__ = ["Documents"]
