"""Every reason code, produced from data where it must appear (and only there)."""

from mm_helpers import A1, A2, MUSICIAN, B, C, D, F, call, profile, span

from matchmaking import MatchIndex


def codes(s):
    return {r.code: r for r in s.reasons}


def only(index, c, **kw):
    res = index.match_call(c, viewer_node="a.example", **kw)
    assert len(res) == 1, [s.key for s in res]
    return res[0]


def test_coverage_complement_and_related_reasons(graph):
    idx = MatchIndex(graph)
    author = profile("author", A1)
    cand = profile("x", A1, B, C, occupations=frozenset({MUSICIAN}))
    idx.upsert_profile(author)
    idx.upsert_profile(cand)
    c = call(A1, A2, B, MUSICIAN, optional=frozenset({C}))
    r = codes(only(idx, c))
    assert set(r["covers_required"].concepts) == {A1, B, MUSICIAN}
    assert r["covers_optional"].concepts == (C,)
    # A2 is not held but is a sibling of A1 (same ESCO group): partial credit, explained.
    assert r["related_skill"].concepts == (A2, A1)
    # the author already has A1: only what they lack counts as added to the team
    assert set(r["adds_to_team"].concepts) == {B, MUSICIAN, C}
    assert r["occupation_match"].concepts == (MUSICIAN,)
    assert all(x.weight >= 0 for x in r.values())
    weights = [x.weight for x in only(idx, c).reasons]
    assert weights == sorted(weights, reverse=True)


def test_place_language_availability_remote_reasons(graph):
    idx = MatchIndex(graph)
    idx.upsert_profile(
        profile(
            "x",
            D,
            country="SE",
            node="b.example",
            remote=True,
            languages={"sv": "native", "en": "C1", "fr": "B2"},
            availability=span("2026-03-01", "2026-03-10"),
        )
    )
    c = call(
        D,
        languages=frozenset({"en", "fr"}),
        remote=True,
        starts=_d("2026-03-05"),
        ends=_d("2026-03-31"),
    )
    r = codes(only(idx, c))
    assert r["shared_languages"].values == ("en", "fr")
    assert r["availability_overlap"].values == ("6", "2026-03-05", "2026-03-10")
    assert r["cross_border"].values == ("SE", "BE")
    assert "same_country" not in r
    assert "remote_ok" in r


def test_same_country_and_text_match(graph):
    idx = MatchIndex(graph)
    idx.upsert_profile(profile("x", C, text_concepts=frozenset({F})))
    r = codes(only(idx, call(C, F)))
    assert r["same_country"].values == ("BE",)
    assert r["text_match"].concepts == (F,)
    assert "remote_ok" not in r and "cross_border" not in r


def test_reciprocal_reason(graph):
    idx = MatchIndex(graph)
    me = profile("me", A1, B)
    idx.upsert_profile(me)
    idx.upsert_profile(profile("x", A1, C))
    (s,) = idx.people_for_member(me, viewer_node="a.example")
    r = codes(s)
    assert r["reciprocal"].values == (
        f"{s.features['forward']:.3f}",
        f"{s.features['backward']:.3f}",
    )


def _d(s):
    from datetime import date

    return date.fromisoformat(s)
