import pytest
from mm_helpers import A1, A2, COMPOSER, MUSICIAN, TEACHER, B, C

from matchmaking import ConceptGraph, code_path


def test_code_paths_for_the_three_code_families():
    assert code_path("S4.5.0") == ("S", "S4", "S4.5", "S4.5.0")
    assert code_path("T4") == ("T", "T4")
    assert code_path("K0613") == ("K", "K06", "K061", "K0613")
    assert code_path("2652") == ("2", "26", "265", "2652")


def test_related_gives_credit_by_deepest_shared_code(graph):
    assert graph.related(A1, A1) == 1.0
    assert graph.related(A1, A2) == 0.3  # same leaf group S1.1.1
    assert graph.related(A1, B) == 0.1  # share S1.1 only
    assert graph.related(A1, C) == 0.0  # share only "S"
    assert graph.related(MUSICIAN, COMPOSER) == 0.1  # same ISCO minor group 265
    assert graph.related(MUSICIAN, TEACHER) == 0.0  # major group 2 is too broad
    assert graph.related(A1, "http://unknown") == 0.0
    assert graph.related(A1, A2) == graph.related(A2, A1)


def test_several_codes_per_concept_take_the_best():
    g = ConceptGraph({"x": ["S1.1.1", "S9.9.9"], "y": ["S9.9.9"], "z": ["S1.1.7"]})
    assert g.related("x", "y") == pytest.approx(0.3)
    assert g.related("y", "z") == 0.0


def test_credit_must_stay_below_identity():
    with pytest.raises(ValueError):
        ConceptGraph({}, credit_by_depth={4: 1.0})
