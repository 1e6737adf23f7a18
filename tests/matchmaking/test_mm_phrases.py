"""Issue 11 in the pure ranker: the phrase channel, implied skills, language rules."""

from __future__ import annotations

from mm_helpers import A1, MUSICIAN, B, C, call, profile

from matchmaking import ConceptGraph, MatchIndex
from matchmaking.text import PHRASE_MIN, grams, similarity

OCC = "http://data.europa.eu/esco/occupation/camera-operator"
CAMERA = "http://data.europa.eu/esco/skill/operate-camera"


def index(*profiles, graph=None) -> MatchIndex:
    idx = MatchIndex(graph if graph is not None else ConceptGraph({}), compact_at=2)
    for p in profiles:
        idx.upsert_profile(p)
    return idx


def keys(suggestions) -> list[str]:
    return [s.key.rsplit("/", 1)[-1] for s in suggestions]


def test_similarity_folds_case_accents_and_glued_words():
    assert similarity("Businessplan", "business plan") > 0.9
    assert similarity("koreografi", "coreografia") >= PHRASE_MIN
    assert similarity("Lichtdesign", "koreografi") < 0.2
    assert grams("") == frozenset()


def test_a_call_of_free_text_only_finds_members_who_wrote_it():
    idx = index(
        profile("unity", phrases=("Unity", "C#")),
        profile("koreo", phrases=("koreografi",)),
        profile("none", A1),
    )
    found = idx.match_call(
        call(required_phrases=("Unity 3D", "coreografia")), viewer_node="a.example"
    )
    assert set(keys(found)) == {"unity", "koreo"}
    wrote = {r.code: r for r in found[0].reasons}["wrote"]
    assert wrote.values[1] in ("Unity 3D", "coreografia")  # (theirs, wanted) pairs


def test_phrases_are_weaker_than_concepts():
    idx = index(profile("concept", A1), profile("words", phrases=("a1 skill",)))
    found = idx.match_call(call(A1, required_phrases=("a1 skill",)), viewer_node="a.example")
    assert keys(found)[0] == "concept"


def test_pending_and_compacted_rows_find_phrases_alike():
    idx = MatchIndex(ConceptGraph({}), compact_at=1000)
    idx.upsert_profile(profile("pending", phrases=("bokföring",)))
    c = call(required_phrases=("bokforing",))
    assert keys(idx.match_call(c, viewer_node="a.example")) == ["pending"]
    idx.compact()
    assert keys(idx.match_call(c, viewer_node="a.example")) == ["pending"]


def test_an_occupation_credits_the_skills_it_implies():
    graph = ConceptGraph({}, implies={OCC: [CAMERA]})
    idx = index(profile("camera", occupations=frozenset({OCC})), profile("other", B), graph=graph)
    found = idx.match_call(call(CAMERA), viewer_node="a.example")
    assert keys(found) == ["camera"]
    reason = {r.code: r for r in found[0].reasons}["implied_skill"]
    assert reason.concepts == (CAMERA, OCC)
    assert 0 < found[0].features["required"] < 1  # weaker than declaring the skill


def test_calls_can_need_all_their_languages():
    both = profile("both", A1, languages={"de": "C1", "sv": "native"})
    one = profile("one", A1, languages={"de": "native"})
    idx = index(both, one)
    any_one = call(A1, languages=frozenset({"de", "sv"}))
    every = call(A1, languages=frozenset({"de", "sv"}), all_languages=True)
    assert set(keys(idx.match_call(any_one, viewer_node="a.example"))) == {"both", "one"}
    assert keys(idx.match_call(every, viewer_node="a.example")) == ["both"]


def test_translators_are_filtered_by_language_pair():
    de_sv = profile(
        "desv", C, languages={"de": "C1", "sv": "native"}, pairs=frozenset({("de", "sv")})
    )
    en_fr = profile(
        "enfr", C, languages={"de": "B2", "fr": "native"}, pairs=frozenset({("en", "fr")})
    )
    idx = index(de_sv, en_fr)
    c = call(C, languages=frozenset({"de"}), pairs=frozenset({("de", "sv")}))
    found = idx.match_call(c, viewer_node="a.example")
    assert keys(found) == ["desv"]
    assert {r.code: r for r in found[0].reasons}["language_pair"].values == ("de", "sv")


def test_members_see_calls_written_only_as_phrases():
    idx = index(profile("me", phrases=("Buchhaltung",)))
    c = call(required_phrases=("Buchhaltung",), author_key="https://a.example/users/x")
    idx.upsert_call(c)
    me = idx.profile("https://a.example/users/me")
    assert me is not None
    assert [s.key for s in idx.calls_for_member(me, viewer_node="a.example")] == [c.key]


def test_isco_neighbours_only_when_the_node_says_so():
    # The ranker gives whatever credit the graph has; the node builds it (match_data).
    graph = ConceptGraph({MUSICIAN: ["2652"]}, credit_by_depth={4: 0.3})
    assert graph.related(MUSICIAN, MUSICIAN) == 1.0
