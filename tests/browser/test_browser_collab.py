"""The collaboration loop in Chromium, in Swedish (the responder) and German (the author):
respond to a call with the form, accept the response, read the notification."""

from __future__ import annotations

import pytest

from profiles.calls import CallData, create_call
from profiles.members import get_local
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser

SOUND_MIXING = "http://data.europa.eu/esco/skill/72812eb6-5a0f-48e8-815d-3d2a16b8e963"
TITLE = "Ljud för en teaterturné"


def _call(live_node) -> str:
    state = live_node.app.extensions["coopfed"]
    with state.session() as s:
        author = get_local(s, state.ctx, "anna")
        data = CallData(title=TITLE, country="SE", skills_required=[SOUND_MIXING], languages=["sv"])
        call = create_call(s, state.ctx, author, data, state.vocabulary.get(s))
        s.commit()
        return call.public_id


def test_respond_accept_and_read_the_notification(
    page, chromium, live_node, console, sign_in, tmp_path
):
    live_node.add_member("anna", name="Anna Autorin", country="AT")
    live_node.add_member(
        "felix",
        name="Felix Ljud",
        country="SE",
        skills=[SOUND_MIXING],
        languages=[("sv", "native")],
    )
    public_id = _call(live_node)

    # Felix (Swedish UI) responds.
    sign_in(page, live_node, "felix")
    page.goto(live_node.url(f"/calls/{public_id}?lang=sv"))  # remembered in the session
    page.click("#btn-respond")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"Svara på ”{TITLE}”"
    assert page.is_checked(f'input[name=skills][value="{SOUND_MIXING}"]')  # from his profile
    page.fill("#message", "Jag mixar ljud för teater sedan tio år. https://felix.example/reel")
    page.fill("#team_contact", "felix@ljud.example")
    page.screenshot(path=str(tmp_path / "respond.png"), full_page=True)
    page.click("#btn-send-response")
    page.wait_for_url("**/responses/*")
    assert (
        page.locator(".flash").inner_text() == "Ditt svar är skickat. Författaren får en avisering."
    )
    assert page.locator("#thread-state").inner_text() == "skickat"

    # Anna (German UI) sees one unread notification and accepts.
    author_context = chromium.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    author_context.set_default_timeout(TIMEOUT_MS)
    author = author_context.new_page()
    author.on("console", console.on_console)
    try:
        sign_in(author, live_node, "anna")
        author.goto(live_node.url("/?lang=de"))
        assert author.locator("#unread-count").inner_text() == "1"
        author.click("#link-notifications")
        author.wait_for_load_state()
        link = author.locator("ol.notifications a").first
        assert link.inner_text().startswith(f"Felix Ljud hat auf Ihre Ausschreibung „{TITLE}“")
        link.click()
        author.wait_for_url("**/responses/*")
        assert author.locator("#unread-count").count() == 0  # read by opening it
        assert author.locator("#thread-state").inner_text() == "gesehen"
        assert "Jag mixar ljud" in author.locator(".message-body").first.inner_text()
        author.screenshot(path=str(tmp_path / "thread_author.png"), full_page=True)
        author.goto(live_node.url(f"/calls/{public_id}/responses"))
        assert "Hat die geforderten Kompetenzen" in author.locator("ul.reasons").inner_text()
        author.screenshot(path=str(tmp_path / "responses.png"), full_page=True)
        author.go_back()
        author.fill("#decision-message", "Willkommen im Team!")
        author.click("#btn-accept")
        author.wait_for_load_state()
        assert author.locator(".flash").inner_text().startswith("Angenommen.")
        assert author.locator("#thread-state").inner_text() == "angenommen"
    finally:
        author.close()
        author_context.close()

    # Felix reads the notification of the decision, in Swedish.
    page.goto(live_node.url("/responses"))
    assert page.locator("#unread-count").inner_text() == "1"
    page.click("#link-notifications")
    page.wait_for_load_state()
    note = page.locator("ol.notifications a").first
    assert note.inner_text().startswith(f"Ditt svar på ”{TITLE}” är nu: godkänt.")
    note.click()
    page.wait_for_url("**/responses/*")
    assert page.locator("#thread-state").inner_text() == "godkänt"
    assert "Willkommen im Team!" in page.locator("blockquote.decision").inner_text()
    assert page.locator("#unread-count").count() == 0
    # The team on the call page: the author and Felix with what he shared.
    page.goto(live_node.url(f"/calls/{public_id}"))
    team = page.locator("#team").inner_text()
    assert "Anna Autorin" in team and "felix@ljud.example" in team
    page.screenshot(path=str(tmp_path / "team.png"), full_page=True)
    console.assert_clean()
