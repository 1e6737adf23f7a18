"""An imported member accepts the emailed invitation in a German browser: the link from the
message (the node's mail folder), choose a password, signed in; then out and in again."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest

from node.onboarding import invite
from profiles.members import create_member
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Sommer in Malmö 2026"


def _invited(live_node) -> str:
    """Import-style member (no password), invited; returns the link's path from the mail."""
    state = live_node.app.extensions["coopfed"]
    with state.session() as s:
        m = create_member(s, state.ctx, username="lena", email="lena@example.org")
        m.ui_language = "de"
        m.name = "Lena Berg"
        s.commit()
        assert len(invite(state, s, [m.id]).ready) == 1
        s.commit()
    service = state.mail_service()
    assert service.job(state) == 1
    [eml] = list(service.folder.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Content-Language"] == "de"
    body = message.get_body(("plain",)).get_content()
    return urlsplit(re.search(r"https?://\S+/invitation/\S+", body).group(0)).path


def test_accept_invitation_set_password_sign_in_in_german(chromium, live_node, console):
    path = _invited(live_node)
    context = chromium.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", lambda exc: console.problems.append(f"page error: {exc}"))
    try:
        page.goto(live_node.url(path))
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.locator("h1").inner_text() == "Willkommen bei Smart Test"
        page.fill("#password", NEW_PASSWORD)
        page.fill("#confirm", NEW_PASSWORD)
        page.click("#btn-set-password")
        page.wait_for_load_state()
        assert page.url == live_node.url("/profile/edit")
        assert (
            "Willkommen, Lena Berg. Ihr Passwort ist festgelegt."
            in page.locator(".flash").inner_text()
        )

        # The link is spent: opening it again says so, in German.
        console.allow(path)
        page.goto(live_node.url(path))
        assert "bereits verwendet" in page.locator("#link-problem").inner_text()

        # Sign out, then in with the new password.
        page.goto(live_node.url("/"))
        page.locator("header.site nav form button[type=submit]").click()
        page.wait_for_load_state()
        page.goto(live_node.url("/login"))
        assert page.locator("h1").inner_text() == "Anmelden"
        assert page.locator("#link-forgot").inner_text() == "Passwort vergessen?"
        page.fill("#username", "lena")
        page.fill("#password", NEW_PASSWORD)
        page.click("#content form button[type=submit]")
        page.wait_for_load_state()
        assert page.url == live_node.url("/")
        assert "Willkommen zurück, Lena Berg." in page.locator(".flash").inner_text()
        console.assert_clean()
    finally:
        page.close()
        context.close()
