"""A partner's language rules and own words, as a hostile peer might send them: kept only as
far as they are what they claim to be, bounded, and plain text."""

from __future__ import annotations

from profiles.ap.mapping import parse_call, parse_person

ESCO = "http://data.europa.eu/esco/skill/84bbad5b-6560-440a-89f0-0e61729e80a0"

PERSON = {
    "id": "https://smart.it/members/giulia",
    "type": "Person",
    "preferredUsername": "giulia",
    "visibility": "partners",
}
PAGE = {
    "id": "https://smart.it/calls/xyz",
    "type": "Page",
    "attributedTo": "https://smart.it/members/giulia",
    "name": "Interprete per una fiera a Monaco",
    "inLanguage": "it",
    "workingLanguage": ["it", "de"],
}


def test_pairs_are_checked_bounded_and_sorted() -> None:
    sent = [
        {"source": "it", "target": "de"},
        "de>it",
        {"source": "it", "target": "it"},  # the same language
        {"source": "it", "target": "<b>de</b>"},
        {"source": "it", "target": "de", "via": "en"},  # more than a pair
        "x" * 10_000,
        42,
        *({"source": "it", "target": code} for code in ("en", "fr", "es", "nl", "sv") * 50),
    ]
    person = parse_person({**PERSON, "languagePair": sent})
    assert person.language_pairs[:2] == (("de", "it"), ("it", "de"))
    assert len(person.language_pairs) <= 20
    assert all(len(p) == 2 and p[0] != p[1] for p in person.language_pairs)
    call = parse_call({**PAGE, "languagePair": sent})
    assert len(call.language_pairs) <= 8 and ("it", "de") in call.language_pairs
    assert parse_call({**PAGE, "languagePair": "it>de"}).language_pairs == (("it", "de"),)


def test_the_every_language_rule_is_a_json_true_only() -> None:
    assert parse_call({**PAGE, "allWorkingLanguages": True}).languages_all is True
    for odd in ("true", 1, [True], {"@value": True}, None):
        assert parse_call({**PAGE, "allWorkingLanguages": odd}).languages_all is False
    assert parse_call(PAGE).languages_all is False  # an older partner sends nothing


def test_own_words_are_plain_bounded_and_claim_no_more_than_an_esco_concept() -> None:
    words = [
        {"text": "<script>alert(1)</script>interpretariato <b>simultaneo</b>", "lang": "it"},
        {"text": "x" * 5_000, "lang": "klingon", "kind": "occupation"},
        {"text": "mixage", "lang": "fr", "status": "proposed", "concept": ESCO},
        {"text": "phishing", "status": "linked", "concept": "https://evil.example/skill"},
        {"text": "   "},
        "not an object",
        {"text": ["nested"]},
        *({"text": f"parola {n}", "lang": "it"} for n in range(500)),
    ]
    person = parse_person({**PERSON, "ownWords": words})
    first, long, proposed, evil = person.phrases[:4]
    assert "<" not in first.text and "alert" not in first.text and "simultaneo" in first.text
    assert (first.lang, first.kind, first.status, first.concept) == (
        "it",
        "skill",
        "unlinked",
        None,
    )
    assert len(long.text) <= 255 and long.lang == "" and long.kind == "occupation"
    assert (proposed.status, proposed.concept) == ("proposed", ESCO)
    assert (evil.status, evil.concept) == ("unlinked", None)
    assert len(person.phrases) == 80

    call = parse_call(
        {**PAGE, "ownWords": [{"text": "Dolmetschen", "lang": "de", "required": False}]}
    )
    assert [(p.text, p.required) for p in call.phrases] == [("Dolmetschen", False)]
