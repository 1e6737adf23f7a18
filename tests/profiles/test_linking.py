"""Free text in seven languages -> ESCO concepts, with the shipped vocabulary."""

from __future__ import annotations

import pytest

from profiles.linking import Label, Linker, normalise
from profiles.vocabulary import load_curated_file


@pytest.fixture(scope="module")
def curated():
    data = load_curated_file()
    labels, kinds, en = [], {}, {}
    for c in data["concepts"]:
        kinds[c["iri"]] = c["kind"]
        en[c["iri"]] = c["labels"]["en"]["preferred"]
        for lang, names in c["labels"].items():
            labels.append(Label(c["iri"], lang, names["preferred"], True))
            labels.extend(Label(c["iri"], lang, alt) for alt in names.get("alt", []))
    return Linker(labels, kinds), en


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("  Éclairage   scénique! ") == "eclairage scenique"


@pytest.mark.parametrize(
    ("text", "lang"),
    [("ljudmixning", "sv"), ("Tontechnik", "de"), ("sound mixing", "en"), ("ljudmixnig", "sv")],
)
def test_sound_phrases_link_to_a_sound_concept(curated, text, lang):
    linker, en = curated
    best = linker.link(text, lang, kind="skill", limit=1)
    assert best, text
    assert any(w in en[best[0].iri].lower() for w in ("audio", "sound")), en[best[0].iri]


def test_exact_label_scores_one_and_typo_scores_less(curated):
    linker, _ = curated
    exact = linker.link("ljudmixning", "sv", limit=1)[0]
    typo = linker.link("ljudmixnig", "sv", limit=1)[0]
    assert exact.score == 1.0
    assert exact.iri == typo.iri
    assert 0.5 < typo.score < 1.0


def test_gibberish_is_not_auto_linked(curated):
    linker, _ = curated
    assert linker.link_one("zzzz qqqq xxyy", "en") is None


def test_kind_filter(curated):
    linker, _ = curated
    for s in linker.link("Tontechniker", "de", kind="occupation", limit=3):
        assert linker._kinds[s.iri] == "occupation"


def test_extract_finds_labels_inside_a_bio(curated):
    linker, en = curated
    found = linker.extract("Jag jobbar med ljudmixning och fotografering i Malmö", "sv")
    names = {en[i] for i in found}
    assert "photography" in names
    assert any("audio" in n or "sound" in n for n in names)


def test_node_actor_names_are_reserved_usernames():
    from profiles import validation

    for name in ("calls", "coop"):
        with pytest.raises(ValueError, match="reserved"):
            validation.username(name)
    assert validation.username("Anna_L") == "anna_l"
