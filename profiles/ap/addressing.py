"""Who an activity goes to: the node's actor IRIs and the ``to``/``cc`` of what we publish.

The node's actors: the coop (``Organization`` at ``/actor``), the project-calls ``Group`` at
``/groups/calls`` and every member. Partners are the accepted followers of the instance actor,
so "partners" on the wire is its followers collection. Who receives what is decided by
:func:`profiles.visibility.recipients`; this module only spells it in AS2 addressing.
"""

from __future__ import annotations

import uuid

from federation.vocab import PUBLIC
from profiles import visibility
from profiles.context import NodeContext
from profiles.models import Member
from profiles.visibility import Recipients


def instance_actor_iri(ctx: NodeContext) -> str:
    return f"{ctx.base_url}/actor"


CALLS_GROUP_PATH = "/groups/calls"  # every coopfed node's calls Group


def calls_actor_iri(ctx: NodeContext) -> str:
    return f"{ctx.base_url}{CALLS_GROUP_PATH}"


def partners_collection(ctx: NodeContext) -> str:
    """Followers of the coop's instance actor = the partner coops."""
    return instance_actor_iri(ctx) + "/followers"


def audience(ctx: NodeContext, member: Member, vis: str) -> tuple[list[str], list[str]]:
    """(to, cc) for a member's or a call's activities. Coop-only things never leave the node:
    callers must not publish them at all (they get the partners' addressing here)."""
    if Recipients.FOLLOWERS in visibility.recipients(vis, kind="member"):
        return [PUBLIC], [member.ap_id + "/followers", partners_collection(ctx)]
    return [partners_collection(ctx)], []


def new_id(base: str, kind: str) -> str:
    """A fresh activity id under a local actor or object: ``BASE#KIND/HEX``."""
    return f"{base}#{kind}/{uuid.uuid4().hex}"


__all__ = ["audience", "calls_actor_iri", "instance_actor_iri", "new_id", "partners_collection"]
