"""The blind labelled evaluation set (bench/eval_blind.py) through the quality benchmark's
harness: no forbidden suggestion ever (a coop-only member of another node, or the author).

Only that is asserted: the set's other figures (nDCG@10, success@10, trap rate, cross-language
recall) are measurements for the report of bench_match_quality.py, not pass/fail bars here.
"""

from __future__ import annotations

import bench_match_quality as bench
import eval_blind
import pytest

from profiles.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_curated()


def test_blind_set_labels_are_consistent():
    eval_blind.check()
    assert {m.wrote for m in eval_blind.MEMBERS} == set(eval_blind.LANGS)
    by_key = {m.key: m for m in eval_blind.MEMBERS}
    # Not vacuous: calls have coop-only members of other nodes and members as authors.
    assert any(
        eval_blind.forbidden(c, m) and m.key != c.author
        for c in eval_blind.CALLS
        for m in eval_blind.MEMBERS
    )
    assert any(c.author in by_key for c in eval_blind.CALLS)


@pytest.mark.parametrize("pipeline", ["product", "concepts-only"])
def test_blind_set_has_no_forbidden_suggestion(vocab, pipeline):
    got = bench.run(pipeline, vocab, evalset="blind")
    assert got["forbidden"] == 0
