"""Who may see, edit and receive what: the one set of visibility rules of a coopfed node.

Every path that serves or sends a member or a call — web pages, the JSON API, ActivityPub
routes, collections and feeds, delivery audiences, the directory, the match index — asks here.
Nothing else compares visibility strings.

A member chooses how far their profile travels, and an author how far a call travels:

- ``public``: everyone — anonymous visitors, any fediverse server, search engines;
- ``partners``: this coop and the partner coops (their nodes receive it over ActivityPub and
  show it to their own signed-in members), never anyone else;
- ``coop``: signed-in members of this coop only; never federated.

Who asks is an :class:`Audience`, relative to the node answering: the public (anonymous, an
unsigned fetch, a signed fetch by a non-partner or a blocked server), a partner coop (a fetch
signed by an active partner's instance actor), or the coop itself (a member signed in here, or
an admin). A row's reach is the :class:`Visibility` level it needs.

Copies received from a partner (``local=False``) were sent to us *because* we are partners; our
own members may see them (public and partners-level copies), the public only the public ones.
Coop-level remote rows are stubs naming the author of a partner's call: never listed, never
matched. We never serve remote rows to other servers.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, StrEnum
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_


class Visibility(StrEnum):
    """How far a member's profile or a call travels (stored as its value)."""

    PUBLIC = "public"
    PARTNERS = "partners"
    COOP = "coop"

    @property
    def level(self) -> Audience:
        """The smallest audience this visibility admits."""
        return _LEVEL[self]

    @classmethod
    def parse(cls, value: str | Visibility | None, default: Visibility | None = None) -> Visibility:
        """A stored or submitted value; ``default`` when empty; ValueError when unknown."""
        if isinstance(value, Visibility):
            return value
        if not value:
            if default is None:
                raise ValueError("a visibility is required")
            return default
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError("one of: " + ", ".join(v.value for v in cls)) from None


VALUES: tuple[str, ...] = tuple(v.value for v in Visibility)
DEFAULT_PROFILE = Visibility.PARTNERS  # a new profile: our coop and partners, not the world
DEFAULT_CALL = Visibility.PUBLIC  # a call wants to be found


class Audience(IntEnum):
    """Who is asking, relative to this node; higher sees more."""

    PUBLIC = 0  # anonymous, unsigned, signed non-partner, blocked server
    PARTNER = 1  # a signed fetch by an active partner coop's instance actor
    COOP = 2  # a member signed in on this node (and admins)


_LEVEL = {
    Visibility.PUBLIC: Audience.PUBLIC,
    Visibility.PARTNERS: Audience.PARTNER,
    Visibility.COOP: Audience.COOP,
}


def viewer_audience(viewer: Any | None) -> Audience:
    """The audience of a person viewing pages or the API of this node: a member signed in here
    (``viewer.local``) is the coop; anyone else, signed in or not, is the public."""
    if viewer is not None and bool(viewer.local):
        return Audience.COOP
    return Audience.PUBLIC


def _vis(value: str | Visibility) -> Visibility:
    return Visibility.parse(value)


# -- viewing ------------------------------------------------------------------------------------


def may_view(visibility: str | Visibility, *, local: bool, audience: Audience) -> bool:
    """May ``audience`` see a row of this visibility? ``local``: the row is this node's own.

    Remote copies are shown to our own members unless they are coop-level stubs, and to the
    public only when public; partners never get remote rows from us (we serve only our own).
    """
    vis = _vis(visibility)
    if local:
        return audience >= vis.level
    if audience == Audience.COOP:
        return vis != Visibility.COOP
    if audience == Audience.PUBLIC:
        return vis == Visibility.PUBLIC
    return False


def visible_clause(visibility_col: Any, local_col: Any, audience: Audience) -> ColumnElement[bool]:
    """:func:`may_view` as a SQL condition over a table's ``visibility`` and ``local`` columns."""
    allowed_local = [v.value for v in Visibility if audience >= v.level]
    if audience == Audience.COOP:
        remote = visibility_col != Visibility.COOP.value
    elif audience == Audience.PUBLIC:
        remote = visibility_col == Visibility.PUBLIC.value
    else:
        remote = false()
    local_ok = visibility_col.in_(allowed_local) if allowed_local else false()
    return or_(and_(local_col.is_(True), local_ok), and_(local_col.is_(False), remote))


def served_levels(audience: Audience) -> tuple[str, ...]:
    """Visibilities of our *own* rows an audience may fetch (collections served to partners)."""
    return tuple(v.value for v in Visibility if audience >= v.level)


def actor_served(visibility: str | Visibility, audience: Audience) -> bool:
    """Is a local member there at all for this audience — actor document, WebFinger, inbox,
    collections, follows? Else every one of them answers exactly as for no such member (404,
    no Reject sent as that member): a partners-only member exists only for partner coops, a
    coop-only member for nobody outside the coop.
    """
    return audience >= _vis(visibility).level


def full_actor(visibility: str | Visibility, audience: Audience) -> bool:
    """Does an actor document show the whole profile to this audience? Always, when it is
    served at all (:func:`actor_served`): there is no partial actor any more."""
    return actor_served(visibility, audience)


def follow_decision(
    visibility: str | Visibility, *, follower_is_partner: bool
) -> Literal["accept", "ignore"]:
    """What a Follow of a local member gets: ``"accept"``, or ``"ignore"`` (as a Follow of no
    such actor: nothing stored, nothing answered) when the member is hidden from the follower.
    A follower on a partner coop's server counts as a partner."""
    audience = Audience.PARTNER if follower_is_partner else Audience.PUBLIC
    return "accept" if actor_served(visibility, audience) else "ignore"


def author_shown(author_visibility: str | Visibility, *, local: bool, audience: Audience) -> bool:
    """May ``audience`` learn who wrote a call (name, handle, link)? Else the call names only
    the author's coop ("a member of Smart Sweden"). The author's own visibility decides, never
    the call's: a call never reveals more about its author than the author's profile does."""
    return may_view(author_visibility, local=local, audience=audience)


def call_names_author(
    call_visibility: str | Visibility, author_visibility: str | Visibility
) -> bool:
    """Does a call's ActivityPub form (``attributedTo``, the actor of its activities) name its
    author? Only when everyone the call travels to may see the author's profile; otherwise the
    coop's calls Group speaks for the call (see FEDERATION.md, "Calls by hidden authors")."""
    return _vis(author_visibility).level <= _vis(call_visibility).level


def discoverable(visibility: str | Visibility) -> bool:
    """Answered by WebFinger and flagged ``discoverable``/``indexable`` on the actor."""
    return _vis(visibility) != Visibility.COOP


def searchable(visibility: str | Visibility) -> bool:
    """May search engines and fediverse search index it (``indexable``)?"""
    return _vis(visibility) == Visibility.PUBLIC


# -- matching -------------------------------------------------------------------------------------


def matchable(visibility: str | Visibility, *, local: bool) -> bool:
    """May a row take part in matches shown to this node's members? Own rows always; remote
    rows unless they are coop-level stubs."""
    return local or _vis(visibility) != Visibility.COOP


# -- editing --------------------------------------------------------------------------------------


def may_edit_call(call: Any, member: Any | None) -> bool:
    """The call's author or an admin of this node, for calls of this node only."""
    return (
        member is not None
        and bool(member.local)
        and bool(call.local)
        and (call.author_id == member.id or bool(member.is_admin))
    )


def may_see_matches(call: Any, member: Any | None) -> bool:
    """Suggested collaborators of a call: its author (own calls) or an admin of this node."""
    return member is not None and (
        bool(member.is_admin) or (bool(call.local) and call.author_id == member.id)
    )


# -- the wire -------------------------------------------------------------------------------------


class Recipients(StrEnum):
    """Audiences an activity about a member or a call is delivered to."""

    PARTNERS = "partners"  # followers of our instance actor: the partner coops
    FOLLOWERS = "followers"  # the author's fediverse followers
    GROUP_FOLLOWERS = "group"  # followers of the calls Group (calls only)


def recipients(visibility: str | Visibility, *, kind: str) -> frozenset[Recipients]:
    """Who receives a member's profile (``kind="member"``) or a call (``kind="call"``).

    Public things go to partners and the fediverse; partners-only things to partners only;
    coop-only things to nobody (callers retract what partners may hold).
    """
    vis = _vis(visibility)
    if vis == Visibility.COOP:
        return frozenset()
    if vis == Visibility.PARTNERS:
        return frozenset({Recipients.PARTNERS})
    found = {Recipients.PARTNERS, Recipients.FOLLOWERS}
    if kind == "call":
        found.add(Recipients.GROUP_FOLLOWERS)
    return frozenset(found)


def federated(visibility: str | Visibility) -> bool:
    """Does the row leave this node at all?"""
    return _vis(visibility) != Visibility.COOP


def is_public(visibility: str | Visibility) -> bool:
    return _vis(visibility) == Visibility.PUBLIC


def narrowest(values: Iterable[str | Visibility]) -> Visibility:
    """The most restrictive of several visibilities (a thing is only as visible as its parts)."""
    found = [_vis(v) for v in values]
    return max(found, key=lambda v: v.level) if found else Visibility.PUBLIC


__all__ = [
    "DEFAULT_CALL",
    "DEFAULT_PROFILE",
    "VALUES",
    "Audience",
    "Recipients",
    "Visibility",
    "actor_served",
    "author_shown",
    "call_names_author",
    "discoverable",
    "federated",
    "follow_decision",
    "full_actor",
    "is_public",
    "matchable",
    "may_edit_call",
    "may_see_matches",
    "may_view",
    "narrowest",
    "recipients",
    "searchable",
    "served_levels",
    "viewer_audience",
    "visible_clause",
]
