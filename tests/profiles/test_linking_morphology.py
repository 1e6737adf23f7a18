"""Language-aware linking: Snowball stems per language, compounds split into known words, and
the concept whose labels cover every part of a query ranked above one that names a part."""

from __future__ import annotations

import pytest

from profiles.linking import Label, Linker, stem


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [
        ("kostymerna", "kostym", "sv"),  # definite plural
        ("riggning", "rigga", "sv"),  # verbal noun and verb
        ("bokföringen", "bokföra", "sv"),
        ("concerten", "concert", "nl"),  # plural
        ("disegnare", "disegno", "it"),  # verb and noun
        ("improviser", "improvisation", "fr"),
        ("dibujos", "dibujo", "es"),
        ("Tontechnikerin", "Tontechniker", "de"),
    ],
)
def test_inflections_share_a_stem(a, b, lang):
    assert stem(a.casefold(), lang) == stem(b.casefold(), lang)


def test_unknown_language_is_only_folded():
    assert stem("Éclairage", "pt") == "eclairage"


def _linker(*rows: tuple[str, str, str]) -> Linker:
    return Linker([Label(iri, lang, text) for iri, lang, text in rows])


def test_compounds_split_into_label_words():
    linker = _linker(
        ("urn:sound", "sv", "ljud"),
        ("urn:tech", "sv", "tekniker"),
        ("urn:g", "nl", "geluid"),
        ("urn:t", "nl", "technicus"),
    )
    assert linker.split_compound("ljudtekniker") == ("ljud", "tekniker")
    # A linking "s" between the parts (sv/de/nl "Fugen-s").
    assert linker.split_compound("geluidstechnicus") == ("geluid", "technicus")
    assert linker.split_compound("tekniker") is None  # no modifier
    assert linker.split_compound("xyzabctekniker") is None  # modifier is no known word


def test_compound_query_links_the_concept_naming_both_parts():
    # "musikmarknadsföring" shares most letters with the short label of the general concept;
    # only the concept about music names both of its parts.
    linker = _linker(
        ("urn:marketing", "sv", "marknadsföring"),
        ("urn:marketing", "sv", "reklam"),
        ("urn:music-marketing", "sv", "marknadsföra musik"),
        ("urn:music-production", "sv", "musikproduktion"),
        ("urn:music", "sv", "musik"),
        ("urn:music", "sv", "musicera"),
    )
    found = linker.link("musikmarknadsföring", "sv", limit=3)
    assert found[0].iri == "urn:music-marketing"


def test_units_fold_function_words_and_split_compounds():
    linker = _linker(("urn:a", "sv", "ljud"), ("urn:b", "sv", "tekniker"))
    assert linker.units("tekniker för ljudtekniker", "sv") == {
        stem("tekniker", "sv"),
        stem("ljud", "sv"),
    }
