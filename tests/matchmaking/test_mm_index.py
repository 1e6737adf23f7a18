import pytest
from mm_helpers import A1, A2, B, C, D, call, profile, span

from matchmaking import MatchIndex, Weights, visible
from matchmaking.model import Profile


def keys(res):
    return [s.key for s in res]


def test_visibility_coop_profile_of_other_node_never_shown(graph):
    idx = MatchIndex(graph)
    coop_b = profile("coop", A1, node="b.example", visibility="coop")
    partners_b = profile("partners", A1, node="b.example", visibility="partners")
    coop_a = profile("local", A1, node="a.example", visibility="coop")
    for p in (coop_b, partners_b, coop_a):
        idx.upsert_profile(p)
    for compacted in (False, True):  # pending buffer and main segment obey the same rule
        if compacted:
            idx.compact()
        seen = keys(idx.match_call(call(A1), viewer_node="a.example"))
        assert coop_b.key not in seen
        assert set(seen) == {partners_b.key, coop_a.key}
        assert coop_b.key in keys(
            idx.match_call(call(A1, node="b.example"), viewer_node="b.example")
        )
        assert coop_b.key not in keys(idx.people_for_member(coop_a, viewer_node="a.example"))
        team = idx.team_for_call(call(A1), viewer_node="a.example")
        assert coop_b.key not in [m.key for m in team.members]
    assert not visible(coop_b, "a.example") and visible(coop_b, "b.example")


def test_hard_filters_language_and_availability(graph):
    idx = MatchIndex(graph)
    only_a2 = profile("a2", A1, languages={"fr": "A2", "de": "native"})
    busy = profile("busy", A1, availability=span("2026-01-01", "2026-01-31"))
    free = profile("free", A1, availability=span("2026-02-20", "2026-03-31"))
    unknown = profile("unknown", A1)
    for p in (only_a2, busy, free, unknown):
        idx.upsert_profile(p)
    c = call(A1, starts=free.availability[0].start, ends=free.availability[0].end)
    assert set(keys(idx.match_call(c, viewer_node="a.example"))) == {free.key, unknown.key}
    # fully available beats unknown availability, all else equal
    assert keys(idx.match_call(c, viewer_node="a.example"))[0] == free.key


def test_filters_cross_border_own_node_remote(graph):
    idx = MatchIndex(graph)
    home = profile("home", A1)
    abroad = profile("abroad", A1, node="b.example", country="FR", remote=True)
    for p in (home, abroad):
        idx.upsert_profile(p)
    c = call(A1)
    assert keys(idx.match_call(c, viewer_node="a.example", cross_border_only=True)) == [abroad.key]
    assert keys(idx.match_call(c, viewer_node="a.example", own_node_only=True)) == [home.key]
    assert keys(idx.match_call(c, viewer_node="a.example", remote_only=True)) == [abroad.key]
    assert keys(idx.match_call(c, viewer_node="a.example", exclude=[home.key])) == [abroad.key]


def test_author_excluded_and_irrelevant_people_not_suggested(graph):
    idx = MatchIndex(graph)
    author = profile("author", A1)
    idx.upsert_profile(author)
    idx.upsert_profile(profile("other", D))
    assert idx.match_call(call(A1, author_key=author.key), viewer_node="a.example") == []


def test_related_skill_ranks_below_exact_but_is_found(graph):
    idx = MatchIndex(graph)
    exact, sibling, cousin = profile("exact", A1), profile("sib", A2), profile("cousin", B)
    for p in (cousin, sibling, exact):
        idx.upsert_profile(p)
    assert keys(idx.match_call(call(A1), viewer_node="a.example")) == [
        exact.key,
        sibling.key,
        cousin.key,
    ]


@pytest.mark.parametrize("compact", [False, True])
def test_removal_and_replacement_take_effect_at_once(graph, compact):
    idx = MatchIndex(graph)
    p = profile("x", A1)
    idx.upsert_profile(p)
    if compact:
        idx.compact()
    assert keys(idx.match_call(call(A1), viewer_node="a.example")) == [p.key]
    idx.remove_profile(p.key)
    assert len(idx) == 0
    assert idx.match_call(call(A1), viewer_node="a.example") == []
    idx.upsert_profile(p)
    if compact:
        idx.compact()
    idx.upsert_profile(profile("x", C))  # same key: the member changed their skills
    assert idx.match_call(call(A1), viewer_node="a.example") == []
    assert keys(idx.match_call(call(C), viewer_node="a.example")) == [p.key]
    assert len(idx) == 1


def test_incremental_and_bulk_give_identical_rankings(graph):
    ps = [
        profile(f"p{i}", *[A1, A2, B, C, D][i % 5 : i % 5 + 2], country="BEFR"[i % 2 * 2 :][:2])
        for i in range(40)
    ]
    bulk = MatchIndex(graph, weights=Weights(exposure=0))
    bulk.upsert_profiles(ps)
    inc = MatchIndex(graph, weights=Weights(exposure=0), compact_at=7)
    for p in ps:
        inc.upsert_profile(p)
    for c in (call(A1), call(B, C), call(D, optional=frozenset({A2}))):
        a = bulk.match_call(c, viewer_node="a.example")
        b = inc.match_call(c, viewer_node="a.example")
        assert [(s.key, round(s.score, 9)) for s in a] == [(s.key, round(s.score, 9)) for s in b]


def test_team_covers_required_with_who_covers_what(graph):
    idx = MatchIndex(graph)
    author = profile("author", A1)
    ab = profile("ab", A2, B)
    c_only = profile("c", C)
    cd = profile("cd", C, D)
    for p in (author, ab, c_only, cd):
        idx.upsert_profile(p)
    c = call(A1, A2, B, C, D, author_key=author.key)
    team = idx.team_for_call(c, viewer_node="a.example")
    assert team.uncovered == ()
    covered = {x for m in team.members for x in m.covers}
    assert covered == {A2, B, C, D}  # A1 is the author's own
    assert [m.key for m in team.members] == [ab.key, cd.key] or [m.key for m in team.members] == [
        cd.key,
        ab.key,
    ]
    small = idx.team_for_call(c, viewer_node="a.example", max_size=1)
    assert len(small.members) == 1 and len(small.uncovered) == 2
    pool = idx.match_call(c, viewer_node="a.example", exclude=[cd.key])
    team2 = idx.team_for_call(c, viewer_node="a.example", pool=pool)
    assert cd.key not in [m.key for m in team2.members]
    assert team2.uncovered == (D,)  # the given pool is respected: nobody else holds D


def test_people_are_reciprocal_harmonic_mean(graph):
    idx = MatchIndex(graph, weights=Weights(exposure=0))
    me = profile("me", A1, B)
    twin = profile("twin", A1, B)
    # covers all of me's skills, but me covers a small part of theirs: one-sided fit
    hub = profile("hub", A1, B, C, D, A2)
    for p in (me, twin, hub):
        idx.upsert_profile(p)
    res = idx.people_for_member(me, viewer_node="a.example")
    assert keys(res) == [twin.key, hub.key]
    for s in res:
        f, b = s.features["forward"], s.features["backward"]
        assert s.score == pytest.approx(2 * f * b / (f + b))
    hub_s = res[1]
    assert hub_s.features["backward"] < hub_s.features["forward"]
    assert hub_s.score < (hub_s.features["forward"] + hub_s.features["backward"]) / 2


def test_calls_for_member_skips_closed_own_and_invisible(graph):
    idx = MatchIndex(graph)
    me = profile("me", A1, B)
    fits = call(A1, key="k/fits")
    closed = call(A1, key="k/closed", open=False)
    mine = call(A1, key="k/mine", author_key=me.key)
    hidden = call(A1, key="k/hidden", node="b.example", visibility="coop")
    other_lang = call(A1, key="k/de", languages=frozenset({"de"}))
    weak = call(A2, key="k/weak")
    for c in (fits, closed, mine, hidden, other_lang, weak):
        idx.upsert_call(c)
    assert keys(idx.calls_for_member(me, viewer_node="a.example")) == ["k/fits", "k/weak"]
    idx.remove_call("k/fits")
    assert keys(idx.calls_for_member(me, viewer_node="a.example")) == ["k/weak"]


def _crowd(graph, n=30):
    idx = MatchIndex(graph)
    ps = [profile(f"p{i:02d}", A1) for i in range(n)]
    idx.upsert_profiles(ps)
    return idx


def test_exposure_control_rotates_equally_good_members(graph):
    damped = _crowd(graph)
    plain = MatchIndex(graph, weights=Weights(exposure=0))
    plain.upsert_profiles([profile(f"p{i:02d}", A1) for i in range(30)])
    seen_damped, seen_plain = set(), set()
    for _ in range(10):
        seen_damped |= set(keys(damped.match_call(call(A1), viewer_node="a.example", limit=5)))
        seen_plain |= set(keys(plain.match_call(call(A1), viewer_node="a.example", limit=5)))
    assert len(seen_plain) == 5  # without control the same five get every slot
    assert len(seen_damped) > 10
    assert damped.exposure("https://a.example/users/p00") > 0


def test_exposure_dampens_only_slightly(graph):
    idx = MatchIndex(graph)
    strong = profile("strong", A1, A2)
    weak = profile("weak", A2)
    idx.upsert_profiles([strong, weak])
    for _ in range(200):
        res = idx.match_call(call(A1, A2), viewer_node="a.example", limit=1)
    assert keys(res) == [strong.key]  # a much better fit is never pushed out


def test_deterministic_given_same_sequence(graph):
    def run():
        idx = _crowd(graph)
        return [keys(idx.match_call(call(A1), viewer_node="a.example", limit=5)) for _ in range(6)]

    assert run() == run()


def test_rejects_unknown_visibility(graph):
    with pytest.raises(ValueError):
        MatchIndex(graph).upsert_profile(profile("x", A1, visibility="everyone"))
    assert isinstance(profile("x"), Profile)
