"""The visibility rules, table-driven: every (visibility, local?, audience) combination."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from profiles.visibility import (
    Audience,
    Recipients,
    Visibility,
    actor_served,
    author_shown,
    call_names_author,
    follow_decision,
    full_actor,
    matchable,
    may_view,
    recipients,
    visible_clause,
)

P, R, C = Visibility.PUBLIC, Visibility.PARTNERS, Visibility.COOP
PUB, PART, COOP = Audience.PUBLIC, Audience.PARTNER, Audience.COOP

# (visibility, local, audience) -> may view
VIEW = {
    (P, True, PUB): True,
    (P, True, PART): True,
    (P, True, COOP): True,
    (R, True, PUB): False,
    (R, True, PART): True,
    (R, True, COOP): True,
    (C, True, PUB): False,
    (C, True, PART): False,
    (C, True, COOP): True,
    # copies a partner sent us: our members see them, the public only public ones,
    # other servers never get them from us; coop-level rows are author stubs
    (P, False, PUB): True,
    (P, False, PART): False,
    (P, False, COOP): True,
    (R, False, PUB): False,
    (R, False, PART): False,
    (R, False, COOP): True,
    (C, False, PUB): False,
    (C, False, PART): False,
    (C, False, COOP): False,
}


@pytest.mark.parametrize(("key", "expected"), sorted(VIEW.items(), key=str))
def test_may_view_follows_the_table(key, expected):
    vis, local, audience = key
    assert may_view(vis, local=local, audience=audience) is expected
    assert may_view(vis.value, local=local, audience=audience) is expected


@pytest.mark.parametrize("audience", list(Audience))
def test_the_sql_clause_selects_exactly_what_may_view_allows(audience):
    meta = MetaData()
    rows = Table(
        "rows",
        meta,
        Column("id", Integer, primary_key=True),
        Column("visibility", String(16)),
        Column("local", Boolean),
    )
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    combos = [(v, loc) for v in Visibility for loc in (True, False)]
    with engine.begin() as conn:
        for i, (v, loc) in enumerate(combos):
            conn.execute(insert(rows).values(id=i, visibility=v.value, local=loc))
        got = set(
            conn.scalars(
                select(rows.c.id).where(visible_clause(rows.c.visibility, rows.c.local, audience))
            )
        )
    expected = {i for i, (v, loc) in enumerate(combos) if VIEW[(v, loc, audience)]}
    assert got == expected


def test_a_member_exists_only_for_the_audience_the_member_chose():
    # Issue 10, leaks 1-3: no bare actor any more; hidden = as if there were no such member.
    assert full_actor(P, PUB) and full_actor(R, PART) and not full_actor(R, PUB)
    assert not full_actor(C, PART) and full_actor(C, COOP)
    assert actor_served(P, PUB) and actor_served(R, PART) and not actor_served(R, PUB)
    assert not actor_served(C, PUB) and not actor_served(C, PART) and actor_served(C, COOP)
    assert follow_decision(P, follower_is_partner=False) == "accept"
    assert follow_decision(R, follower_is_partner=True) == "accept"
    assert follow_decision(R, follower_is_partner=False) == "ignore"
    assert follow_decision(C, follower_is_partner=True) == "ignore"


def test_a_call_never_reveals_more_of_its_author_than_the_author_allows():
    for author in (P, R, C):
        for audience in (PUB, PART, COOP):
            shown = author_shown(author, local=True, audience=audience)
            assert shown == actor_served(author, audience)
    assert not author_shown(C, local=False, audience=COOP)  # a partner's stub: never named
    assert author_shown(R, local=False, audience=COOP) and not author_shown(
        R, local=False, audience=PUB
    )
    # On the wire the author is named only if everyone the call reaches may see them.
    assert call_names_author(P, P) and call_names_author(R, R) and call_names_author(R, P)
    assert not call_names_author(P, R) and not call_names_author(P, C)
    assert not call_names_author(R, C)


def test_only_public_things_reach_the_fediverse_and_coop_things_reach_nobody():
    assert recipients(P, kind="call") == {
        Recipients.PARTNERS,
        Recipients.FOLLOWERS,
        Recipients.GROUP_FOLLOWERS,
    }
    assert recipients(P, kind="member") == {Recipients.PARTNERS, Recipients.FOLLOWERS}
    assert recipients(R, kind="call") == {Recipients.PARTNERS}
    assert recipients(C, kind="member") == frozenset()


def test_remote_coop_stubs_are_never_matched_but_own_coop_members_are():
    assert matchable(C, local=True)
    assert not matchable(C, local=False)
    assert matchable(R, local=False)


def test_unknown_values_are_refused_with_the_allowed_list():
    with pytest.raises(ValueError, match="public, partners, coop"):
        Visibility.parse("friends")
    assert Visibility.parse("", Visibility.PUBLIC) is Visibility.PUBLIC
    assert Visibility.parse(" Partners ") is Visibility.PARTNERS
