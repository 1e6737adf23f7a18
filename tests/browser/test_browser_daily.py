"""The daily experience in a real browser: feed discovery and the follow block, keyword and
skill search, a new member's first-run home, the skill picker's floating suggestions, and an
accessibility check (axe-core, vendored) of the main pages in English and German with
screenshots at phone and desktop widths (saved under ``COOPFED_SCREENSHOTS`` when set)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from profiles.calls import CallData, create_call
from profiles.members import get_local

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def add_call(node: Any, username: str, **fields: Any) -> str:
    state = node.app.extensions["coopfed"]
    with state.session() as s:
        author = get_local(s, state.ctx, username)
        fields.setdefault("country", "SE")
        fields.setdefault("visibility", "public")
        call = create_call(s, state.ctx, author, CallData(**fields), state.vocabulary.get(s))
        s.commit()
        return call.public_id


@pytest.fixture
def seeded(live_node: Any) -> Any:
    live_node.add_member(
        "anna",
        name="Anna Berg",
        country="SE",
        city="Malmö",
        skills=[SOUND_MIXING],
        visibility="public",
        languages=[("sv", "native"), ("de", "C1")],
    )
    live_node.add_member("newbie", name="New Member")
    add_call(
        live_node,
        "anna",
        title="Tonmischung für eine Tournee",
        skills_required=[SOUND_MIXING],
        description="<p>Zwölf Vorstellungen in Köln.</p>",
        city="Malmö",
        starts=date(2031, 5, 1),
        ends=date(2031, 6, 30),
        deadline=date(2031, 4, 15),
        languages=["de", "sv"],
    )
    add_call(live_node, "anna", title="Éclairage pour un festival", country="FR")
    return live_node


def test_feeds_are_discoverable_and_the_calls_followable(page, seeded, console):
    page.goto(seeded.url("/calls?country=SE"))
    alternate = page.locator('link[rel=alternate][type="application/atom+xml"]')
    assert alternate.get_attribute("href") == "/calls.atom?country=SE"
    assert page.locator("#link-feed-rss").is_visible()
    handle = page.locator("#follow-handle")
    assert handle.input_value() == "@calls@smart.test"
    page.click("#link-feed-atom")
    assert "Tonmischung" in page.content()
    page.goto(seeded.url("/calls"))
    page.fill("#follow-account", "example.social")
    page.click("#btn-remote-follow")
    page.wait_for_load_state()
    href = page.locator("#link-follow-remote").get_attribute("href")
    assert href.startswith("http://example.social/authorize_interaction?uri=")
    console.assert_clean()


def test_keyword_and_skill_search(page, seeded, console):
    page.goto(seeded.url("/calls"))
    page.fill("#q", "ECLAIRAGE")
    page.click("#btn-filter")
    page.wait_for_load_state()
    assert page.locator("#results h3").all_inner_texts() == ["Éclairage pour un festival"]
    page.goto(seeded.url("/calls?lang=de"))
    page.fill("#skill_q", seeded.label(SOUND_MIXING, "sv"))  # a Swedish skill name, German UI
    page.fill("#q", "tournee")
    page.click("#btn-filter")
    page.wait_for_load_state()
    assert page.locator("#results h3").all_inner_texts() == ["Tonmischung für eine Tournee"]
    assert page.locator("#skill-matches a").count() >= 1
    console.assert_clean()


def test_first_run_home_and_floating_suggestions(page, seeded, sign_in, console):
    sign_in(page, seeded, "newbie")
    page.goto(seeded.url("/?lang=de"))
    assert page.locator("#getting-started").is_visible()
    page.click("#link-add-skills")
    page.wait_for_load_state()
    field, button = page.locator("#find_skill"), page.locator("#btn-find-skill")
    page.locator("#skills-picker").scroll_into_view_if_needed()

    def offset() -> tuple[float, float]:
        f, b = field.bounding_box(), button.bounding_box()
        return b["x"] - f["x"], b["y"] - f["y"]

    before = offset()
    page.fill("#find_skill", "Mischpult")
    page.wait_for_selector("#skills-suggestions li", state="visible")
    assert offset() == before, "the suggestions moved the Find button"
    box = page.locator("#skills-suggestions").bounding_box()
    under = field.bounding_box()
    assert box["y"] >= under["y"] + under["height"] - 1  # right under the field, over the form
    console.assert_clean()


def _axe(page: Any) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(result)


PAGES = ("/", "/calls", "/directory", "/members/anna", "/follow", "/login", "CALL", "/profile/edit")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_main_pages_pass_axe_and_are_screenshot(chromium, seeded, lang, tmp_path, sign_in):
    shots = Path(os.environ.get("COOPFED_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    call_id = seeded.url("/calls")  # resolved below through the list
    problems: list[str] = []
    for width_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        # bypass_csp: the page's CSP (script-src 'self') would refuse the injected checker.
        context = chromium.new_context(viewport=viewport, locale=lang, bypass_csp=True)
        page = context.new_page()
        try:
            for anonymous in (True, False):
                if not anonymous:
                    sign_in(page, seeded, "anna")
                for path in PAGES:
                    if path == "/profile/edit" and anonymous:
                        continue
                    if path == "CALL":
                        page.goto(seeded.url(f"/calls?lang={lang}"))
                        path = page.locator("#results h3 a").first.get_attribute("href")
                    page.goto(seeded.url(f"{path}{'&' if '?' in path else '?'}lang={lang}"))
                    page.wait_for_load_state()
                    problems += [f"{lang} {width_name} {path}: {v}" for v in _axe(page)]
                    name = f"{lang}-{width_name}-{'anon' if anonymous else 'member'}-"
                    name += path.strip("/").replace("/", "_") or "home"
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert call_id and problems == []


def test_the_axe_check_can_fail(chromium):
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.set_content('<html lang="en"><body><img src="x.png"><input id="a"></body></html>')
        found = " ".join(_axe(page))
        assert "image-alt" in found and "label" in found
    finally:
        context.close()
