"""A partner's call Page that carries only ``contentMap`` (no ``content``): the description comes
from the map, the language from its keys (issue 14)."""

from __future__ import annotations

from profiles.ap.mapping import parse_call

PAGE = {
    "id": "https://smart.fr/calls/xyz",
    "type": "Page",
    "attributedTo": "https://smart.fr/members/lea",
    "name": "Régisseuse son pour une tournée",
}
MAP = {
    "fr": "<p>Nous cherchons une régisseuse son.</p>",
    "en": "<p>We are looking for a sound engineer.</p>",
}


def test_content_map_only_takes_the_first_language_without_in_language() -> None:
    call = parse_call({**PAGE, "contentMap": MAP})
    assert call.description == "<p>Nous cherchons une régisseuse son.</p>"
    assert call.language == "fr"


def test_content_map_prefers_the_declared_language() -> None:
    call = parse_call({**PAGE, "contentMap": MAP, "inLanguage": "en"})
    assert call.description == "<p>We are looking for a sound engineer.</p>"
    assert call.language == "en"


def test_declared_language_missing_from_the_map() -> None:
    call = parse_call({**PAGE, "contentMap": {"nl": "<p>Geluidstechnicus gezocht.</p>"}})
    assert call.description == "<p>Geluidstechnicus gezocht.</p>" and call.language == "nl"
    call = parse_call({**PAGE, "contentMap": MAP, "inLanguage": "de"})
    assert call.description.startswith("<p>Nous") and call.language == "de"


def test_content_wins_over_the_map_and_name_map_is_read() -> None:
    doc = {**PAGE, "content": "<p>Plain.</p>", "contentMap": MAP}
    assert parse_call(doc).description == "<p>Plain.</p>"
    doc = {k: v for k, v in PAGE.items() if k != "name"}
    call = parse_call({**doc, "nameMap": {"fr": "Régie son"}, "contentMap": MAP})
    assert call.title == "Régie son" and call.language == "fr"
