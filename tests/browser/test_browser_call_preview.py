"""Issue 11 in a real browser, German UI: the author writes required skills in their own words,
checks what was understood, picks a concept for the line that was not, publishes, and sees the
result on the call page. Accessibility of the form with its review list (axe-core, vendored).
Screenshots for a look at the layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
GRANTS = "http://data.europa.eu/esco/skill/4f22e52e-5714-4de1-88f7-b3cdbb4f184e"
GRANT_LINE = "Fördermittelanträge für Creative Europe schreiben"


def _serious_axe_violations(page: Any) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(found)


def test_check_pick_and_publish_free_text_skills(page, live_node, console, sign_in, tmp_path):
    live_node.add_member("jonas", name="Jonas Weber", country="DE", city="Köln")
    sign_in(page, live_node, "jonas")
    page.goto(live_node.url("/calls/new?lang=de"))
    page.fill("#title", "Antrag für eine Tournee")
    page.fill("#city", "Köln")
    page.fill("#said_required", f"Buchhaltung\n{GRANT_LINE}")

    page.click("#btn-check-said")
    page.wait_for_load_state()
    review = page.locator("#said-review")
    assert "Was wir verstanden haben" in review.inner_text()
    first, second = review.locator("li.linked"), review.locator("li.unlinked")
    assert "verstanden als: Buchhaltung" in first.inner_text()
    assert "nicht verstanden" in second.inner_text()
    # Nothing saved, nothing lost.
    assert page.input_value("#title") == "Antrag für eine Tournee"
    assert page.input_value("#said_required") == f"Buchhaltung\n{GRANT_LINE}"
    assert _serious_axe_violations(page) == []
    second.locator(f'input[type=radio][value="{GRANTS}"]').check()
    page.locator("#said-fieldset").screenshot(path=str(tmp_path / "call_preview_review.png"))

    page.click("#btn-save")
    page.wait_for_url("**/calls/*")
    assert page.locator(".flash").inner_text() == "Die Ausschreibung ist gespeichert."
    assert "Förderanträge verwalten" in page.locator("#required-heading + ul.tags").inner_text()
    understood = page.locator("ul.understood").inner_text()
    assert "verstanden als: Buchhaltung" in understood
    assert "verstanden als: Förderanträge verwalten" in understood
    page.screenshot(path=str(tmp_path / "call_preview_published.png"), full_page=True)

    # Back in the form, the lines and the choice are still there.
    page.click("#link-review-said")
    page.wait_for_load_state()
    assert page.input_value("#said_required") == f"Buchhaltung\n{GRANT_LINE}"
    assert page.locator(f'#said-review input[value="{GRANTS}"]').is_checked()
    console.assert_clean()
