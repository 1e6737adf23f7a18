"""Posting a project call in the German UI: fill the form, find and tick a required skill by its
German name, save, see the call page, close the call. Screenshots for a look at the layout."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
TITLE = "Tonmischung für eine Theatertournee"


def test_create_and_close_a_call_in_german(page, live_node, console, sign_in, tmp_path):
    live_node.add_member("jonas", name="Jonas Weber", country="DE", city="Köln")
    sign_in(page, live_node, "jonas")
    page.goto(live_node.url("/calls/new?lang=de"))
    assert page.locator("h1").inner_text() == "Neue Projektausschreibung"
    # The new call starts from the member's place and the UI language.
    assert page.input_value("#country") == "DE"
    assert page.input_value("#language") == "de"
    assert page.is_checked("#lang-de")

    page.fill("#title", TITLE)
    page.fill("#description", "Zwölf Vorstellungen in Köln und Wien.\n\nTechnik ist vorhanden.")
    page.fill("#city", "Köln")
    page.check("#remote")
    page.fill("#starts", "2031-05-01")
    page.fill("#ends", "2031-06-30")
    page.fill("#deadline", "2031-04-15")
    page.fill("#compensation", "450 € pro Tag")
    page.check("#lang-en")
    page.check("#visibility-public")
    page.select_option("#status", "open")

    german = live_node.label(SOUND_MIXING, "de")
    page.fill("#find_required", german)
    page.click("#btn-find-required")
    page.wait_for_load_state()
    box = page.locator(f'#skills_required-live input[name=skills_required][value="{SOUND_MIXING}"]')
    assert box.count() == 1
    box.check()
    # The find step kept everything typed so far.
    assert page.input_value("#title") == TITLE
    assert page.input_value("#deadline") == "2031-04-15"
    assert page.is_checked("#lang-en")
    page.screenshot(path=str(tmp_path / "call_form.png"), full_page=True)

    page.click("#btn-save")
    page.wait_for_url("**/calls/*")
    assert page.locator(".flash").inner_text() == "Die Ausschreibung ist gespeichert."
    assert page.locator("#call-title").inner_text().strip() == TITLE
    assert page.locator("#required-heading").inner_text() == "Geforderte Kompetenzen"
    assert page.locator("#required-heading + ul.tags li").all_inner_texts() == [german]
    facts = page.locator("dl.facts").inner_text()
    assert "450 € pro Tag" in facts
    assert "Englisch" in facts and "Deutsch" in facts  # working languages, named in German
    assert page.locator(".call-page .place").inner_text().startswith("Remote")
    page.screenshot(path=str(tmp_path / "call.png"), full_page=True)

    page.click("#btn-close-call")
    page.wait_for_load_state()
    assert page.locator(".flash").inner_text() == "Die Ausschreibung ist geschlossen."
    assert page.locator("#call-title .badge").inner_text() == "geschlossen"
    assert page.locator("#btn-close-call").count() == 0
    assert page.locator("#btn-reopen-call").inner_text() == "Ausschreibung wieder öffnen"
    console.assert_clean()


def test_the_console_check_sees_csp_violations(page, live_node, console):
    """The CSP forbids inline scripts; a page that used one would be reported."""
    page.goto(live_node.url("/calls"))
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = '1'; "
        "document.body.appendChild(s); }"
    )
    page.wait_for_timeout(100)
    assert any("Content Security Policy" in p for p in console.problems), console.problems
