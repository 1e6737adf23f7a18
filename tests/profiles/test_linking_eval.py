"""Floors for linking free text in seven languages, on labels the linker has never seen.

A fast slice of bench/bench_linking.py (seed 1): the linker is built without a seeded 20% of
the curated vocabulary's alternative labels, which are then linked back. Floors are the
benchmark's figures minus a margin (numbers in comments), so a weaker linker fails here.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_linking import (  # noqa: E402
    Query,
    Stats,
    all_labels,
    autolink,
    english_only_linker,
    hold_aside,
    load_concepts,
    noisy_queries,
    rank_of,
)
from freetext import TYPO_KINDS, FreeText, noisy, typo  # noqa: E402

from profiles.linking import LANGUAGES, Linker, confidence, normalise  # noqa: E402

SEED = 1
# Measured acc@1 on held-aside alt labels, seed 1: en .75 de .70 sv .61 fr .75 nl .68 it .74
# es .70 (other seeds move them by up to ~0.05; adding synonyms reshuffles which are held).
ALT_ACC1_FLOOR = {"en": 0.65, "de": 0.6, "sv": 0.5, "fr": 0.62, "nl": 0.58, "it": 0.62, "es": 0.6}


@pytest.fixture(scope="module")
def setup():
    concepts = load_concepts()
    split = hold_aside(concepts, SEED)
    linker = Linker(split.labels, split.kinds)
    sample = random.Random(SEED).sample(concepts, 30)
    typos = [q for q in noisy_queries(sample, SEED) if q.variant in TYPO_KINDS]
    return concepts, split, linker, sample, typos


@pytest.fixture(scope="module")
def own_ranks(setup):
    """Rank of the right concept for every held-aside label and typo, own-language linker."""
    _, split, linker, _, typos = setup
    return {q: rank_of(linker, q) for q in split.held + typos}


def test_held_aside_labels_are_not_in_the_linker(setup):
    _, split, _, _, _ = setup
    assert len(split.held) > 1000
    indexed = {(lab.iri, normalise(lab.text)) for lab in split.labels if not lab.preferred}
    assert not any((q.iri, normalise(q.text)) in indexed for q in split.held)


def by_lang(queries, ranks):
    out = defaultdict(Stats)
    for q in queries:
        out[q.lang].add(ranks[q])
        out["all"].add(ranks[q])
    return out


def test_own_language_alt_labels_floor_per_language(setup, own_ranks):
    _, split, _, _, _ = setup
    stats = by_lang(split.held, own_ranks)
    for lang in LANGUAGES:
        acc1, acc5, mrr = stats[lang].row()
        assert stats[lang].n >= 80, lang
        assert acc1 >= ALT_ACC1_FLOOR[lang], (lang, acc1)
        assert acc5 >= 0.7, (lang, acc5)  # measured >= .76 (sv), .85-.92 elsewhere
    assert stats["all"].row()[2] >= 0.7  # MRR, measured .77


def test_typo_variants_floor(setup, own_ranks):
    _, _, _, _, typos = setup
    stats = by_lang(typos, own_ranks)
    for lang in LANGUAGES:
        acc1, acc5, _ = stats[lang].row()
        assert acc5 >= 0.95, (lang, acc5)  # measured >= .995
        assert acc1 >= 0.9, (lang, acc1)  # measured >= .97


def test_own_language_beats_english_only_for_non_english_queries(setup, own_ranks):
    _, split, _, sample, typos = setup
    fold = {c["iri"] for c in sample}
    en_only = english_only_linker(split, fold)
    queries = [q for q in split.held + typos if q.iri in fold and q.lang != "en"]
    for lang in LANGUAGES[1:]:
        mine = [q for q in queries if q.lang == lang]
        own = sum(own_ranks[q] == 1 for q in mine) / len(mine)
        eng = sum(rank_of(en_only, q) == 1 for q in mine) / len(mine)
        # measured over all concepts: own .96, English-only .15-.29
        assert own >= eng + 0.4, (lang, own, eng)


def test_auto_link_precision_and_coverage(setup):
    _, split, linker, _, typos = setup
    n, linked, right = autolink(linker, typos)["all"]
    assert right / linked >= 0.97  # measured .99
    assert linked / n >= 0.75  # measured .86 over all changes
    # Synonyms the vocabulary lacks are the hard case. Issue 11: below AUTO_LINK_MIN_SCORE they
    # are proposed to the member instead of linked; measured precision .88 (was .79 at the
    # old 0.62 threshold), coverage .48, and linked-or-proposed .85.
    n, linked, right = autolink(linker, split.held)["all"]
    assert right / linked >= 0.85
    assert linked / n >= 0.45
    asked = sum(
        confidence(q.text, linker.link(q.text, q.lang, kind=q.kind, limit=2)) != "none"
        for q in split.held
    )
    assert asked / n >= 0.8


def test_typos_are_one_edit():
    rng = random.Random(3)
    word = "Tontechnik"
    assert len(typo(word, "deletion", rng)) == len(word) - 1
    assert len(typo(word, "doubled", rng)) == len(word) + 1
    swapped = typo(word, "transposition", rng)
    assert sorted(swapped) == sorted(word) and swapped != word
    sub = typo(word, "substitution", rng)
    assert len(sub) == len(word) and sum(a != b for a, b in zip(sub, word, strict=True)) == 1
    assert typo("web", "deletion", rng) == "web"  # no word long enough to mistype
    assert noisy("Éclairage scénique", "case_accents", rng) == "eclairage scenique"
    assert noisy("sound mixing", "spacing", rng) in ("soundmixing", "sound-mixing")


def test_benchmark_inputs_are_seeded(setup):
    concepts = setup[0]
    again = hold_aside(concepts, SEED)
    assert [q.text for q in again.held] == [q.text for q in setup[1].held]
    assert [q.text for q in hold_aside(concepts, SEED + 1).held] != [q.text for q in again.held]
    one, two = FreeText(concepts, 5), FreeText(concepts, 5)
    texts = [one.text_of(c["iri"], "de") for c in concepts[:30]]
    assert texts == [two.text_of(c["iri"], "de") for c in concepts[:30]]
    assert texts != [FreeText(concepts, 6).text_of(c["iri"], "de") for c in concepts[:30]]


def test_free_text_writes_in_the_members_language(setup):
    concepts, _, _, sample, _ = setup
    clean = FreeText(concepts, 0, p_typo=0, p_filler=0, p_lower=0)
    for c in sample[:20]:
        names = c["labels"]["sv"]
        allowed = {names["preferred"], *names["alt"]}
        allowed |= {part.strip() for label in allowed for part in label.split("/")}
        assert clean.text_of(c["iri"], "sv") in allowed
    # Same seed, same stream up to the filler: the label is kept, words are added around it.
    iri = sample[0]["iri"]
    plain = FreeText(concepts, 7, p_typo=0, p_filler=0, p_lower=0).text_of(iri, "de")
    filled = FreeText(concepts, 7, p_typo=0, p_filler=1.0, p_lower=0).text_of(iri, "de")
    assert plain in filled and len(filled) > len(plain)


def test_free_text_round_trip_mostly_links_back(setup):
    concepts, _, _, sample, _ = setup
    linker = Linker(all_labels(concepts), {c["iri"]: c["kind"] for c in concepts})
    writer = FreeText(concepts, SEED)
    for lang in ("de", "sv", "fr"):
        qs = [
            Query(writer.text_of(c["iri"], lang), lang, c["iri"], c["kind"], "free") for c in sample
        ]
        n, linked, right = autolink(linker, qs)["all"]
        assert right / n >= 0.8, (lang, right / n)  # bench_match --free-text measured .92-.95
