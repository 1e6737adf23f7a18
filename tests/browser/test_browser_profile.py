"""Profile editing in a non-English UI: picking a skill by its Swedish name with the no-JS
"Find" button and with the live suggestions of app.js; labels follow the UI language."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# ESCO "operate an audio mixing console"; Swedish label "ljudmixning" in the curated vocabulary.
SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"


def _skill_tags(page):
    return page.locator("#skills-heading + ul.tags li").all_inner_texts()


def _save_and_check(page, live_node, console):
    page.click("#btn-save")
    page.wait_for_url(live_node.url("/members/anna"))
    assert page.locator(".flash").inner_text() == "Din profil är sparad."
    swedish = live_node.label(SOUND_MIXING, "sv")
    assert swedish == "ljudmixning"
    assert _skill_tags(page) == [swedish]

    # Switch the UI to German with the header switcher: the same skill, its German label.
    page.select_option("#lang-select", "de")
    page.click("form.lang-switch button[type=submit]")
    page.wait_for_load_state()
    german = live_node.label(SOUND_MIXING, "de")
    assert german != swedish
    assert page.locator("#skills-heading").inner_text() == "Kompetenzen"
    assert _skill_tags(page) == [german]
    console.assert_clean()


def test_pick_a_skill_with_the_find_button_in_swedish(page, live_node, console, sign_in, tmp_path):
    live_node.add_member("anna", name="Anna Berg", country="SE")
    sign_in(page, live_node, "anna")
    page.goto(live_node.url("/profile/edit?lang=sv"))
    assert page.locator("h1").inner_text() == "Redigera min profil"
    page.fill("#summary", "Jag mixar ljud för teater.")
    page.fill("#city", "Malmö")
    page.select_option("#language-code-0", "sv")
    page.select_option("#language-level-0", "native")
    page.check("#visibility-public")

    page.fill("#find_skill", "ljudmixning")
    page.click("#btn-find-skill")  # a form submit: works without JavaScript
    page.wait_for_load_state()
    found = page.locator(f'#skills-live input[name=skills][value="{SOUND_MIXING}"]')
    assert found.count() == 1
    assert found.get_attribute("id").startswith("skills-found-")
    # What was typed before the find step is still there.
    assert page.input_value("#summary") == "Jag mixar ljud för teater."
    assert page.input_value("#city") == "Malmö"
    found.check()
    page.screenshot(path=str(tmp_path / "profile_edit.png"), full_page=True)
    _save_and_check(page, live_node, console)
    page.screenshot(path=str(tmp_path / "member.png"), full_page=True)


def test_pick_a_skill_from_live_suggestions_in_swedish(page, live_node, console, sign_in):
    live_node.add_member("anna", name="Anna Berg", country="SE")
    sign_in(page, live_node, "anna")
    page.goto(live_node.url("/profile/edit?lang=sv"))
    page.locator("#find_skill").press_sequentially("ljudmix", delay=20)
    suggestion = page.locator("#skills-suggestions button", has_text="ljudmixning").first
    suggestion.wait_for(state="visible")
    suggestion.click()
    # app.js added a ticked box to the picker's list and cleared the find field.
    added = page.locator(f'#skills-list input[name=skills][value="{SOUND_MIXING}"]')
    assert added.is_checked()
    assert page.input_value("#find_skill") == ""
    assert page.locator("#skills-suggestions").is_hidden()
    _save_and_check(page, live_node, console)
